/**
 * Loads the two WebAssembly DSP libraries (Speex resampler, Sonic time-stretcher) once per thread.
 *
 * The emscripten factories are asynchronous, so `initDsp()` must be awaited once (at startup of the
 * main thread or of a worker) before any of the synchronous DSP factories are used. Each JS realm
 * (worker thread) has its own module graph, so the memo below is naturally per thread.
 *
 * Heap views (`HEAPF32`, `HEAP32`) are re-created by emscripten whenever wasm memory grows, so callers
 * must read `module.HEAPF32` afresh after every call that may allocate (never cache the view).
 */

/** The subset of the emscripten Speex resampler module that Chorus uses. */
export interface SpeexModule {
  readonly HEAPF32: Float32Array;
  readonly HEAP32: Int32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_init_frac(
    channels: number,
    ratioNum: number,
    ratioDen: number,
    inRate: number,
    outRate: number,
    quality: number,
    errPtr: number,
  ): number;
  _speex_resampler_process_float(
    state: number,
    channel: number,
    inPtr: number,
    inLenPtr: number,
    outPtr: number,
    outLenPtr: number,
  ): number;
  _speex_resampler_get_input_latency(state: number): number;
  _speex_resampler_get_output_latency(state: number): number;
  _speex_resampler_skip_zeros(state: number): number;
  _speex_resampler_destroy(state: number): void;
}

/** The subset of the emscripten Sonic module that Chorus uses. */
export interface SonicModule {
  readonly HEAPF32: Float32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _sonicCreateStream(sampleRate: number, channels: number): number;
  _sonicDestroyStream(stream: number): void;
  _sonicSetSpeed(stream: number, speed: number): void;
  _sonicSetPitch(stream: number, pitch: number): void;
  _sonicSetRate(stream: number, rate: number): void;
  _sonicSetQuality(stream: number, quality: number): void;
  _sonicWriteFloatToStream(stream: number, ptr: number, numSamples: number): number;
  _sonicReadFloatFromStream(stream: number, ptr: number, maxSamples: number): number;
  _sonicSamplesAvailable(stream: number): number;
  _sonicFlushStream(stream: number): number;
}

type EmscriptenFactory<T> = (moduleArg?: Record<string, unknown>) => Promise<T>;

// The packages ship no type declarations; importing through a variable keeps the compiler from
// demanding them (the result is `any`, narrowed to the interfaces above right here).
const SPEEX_SIMD = '@echogarden/speex-resampler-wasm/simd';
const SPEEX_PLAIN = '@echogarden/speex-resampler-wasm';
const SONIC = '@echogarden/sonic-wasm';

let speex: SpeexModule | undefined;
let sonic: SonicModule | undefined;
let speexSimd = false;
let loading: Promise<void> | undefined;

async function loadFactory<T>(specifier: string): Promise<EmscriptenFactory<T>> {
  const ns = (await import(specifier)) as { default?: unknown };
  if (typeof ns.default !== 'function') throw new Error(`${specifier} has no default factory export`);
  return ns.default as EmscriptenFactory<T>;
}

async function loadSpeex(): Promise<void> {
  try {
    speex = await (await loadFactory<SpeexModule>(SPEEX_SIMD))();
    speexSimd = true;
  } catch {
    // Runtimes without wasm SIMD fail at instantiation; the plain build works everywhere.
    speex = await (await loadFactory<SpeexModule>(SPEEX_PLAIN))();
    speexSimd = false;
  }
}

async function loadSonic(): Promise<void> {
  sonic = await (await loadFactory<SonicModule>(SONIC))();
}

/** Loads both DSP wasm modules. Memoised: concurrent and repeated calls share one load. */
export function initDsp(): Promise<void> {
  loading ??= Promise.all([speex ? undefined : loadSpeex(), sonic ? undefined : loadSonic()]).then(
    () => undefined,
    (error: unknown) => {
      loading = undefined; // allow a retry after a failed load
      throw new Error(`failed to load DSP wasm modules: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    },
  );
  return loading;
}

export function isDspReady(): boolean {
  return speex !== undefined && sonic !== undefined;
}

/** Which Speex build was loaded (for diagnostics / the health endpoint). */
export function dspInfo(): { ready: boolean; speexSimd: boolean } {
  return { ready: isDspReady(), speexSimd };
}

export function getSpeex(): SpeexModule {
  if (!speex) throw new Error('DSP not initialised: await initDsp() (once per thread) before creating a resampler');
  return speex;
}

export function getSonic(): SonicModule {
  if (!sonic) {
    throw new Error('DSP not initialised: await initDsp() (once per thread) before creating a tempo/pitch transform');
  }
  return sonic;
}
