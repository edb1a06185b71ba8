/**
 * Figure 15: what Chorus adds to a sherpa-onnx engine. No real weights can be downloaded here, so
 * the models are generated (test/support/tiny-models): the tiny Kokoro of the tests, which
 * computes in a few milliseconds, and the same model made to work like a real one (a chain of
 * matrix products per token, multiplied by zero, so the audio is unchanged and the engine takes
 * about a tenth of a second per second of audio).
 *
 * Baseline: `OfflineTts.generateAsync` on the same model file, text and speaker, called in this
 * process with one thread, as a program using sherpa-onnx-node directly would. Measured, round by
 * round in turn: the same request through the engine host (the child process, in this process's
 * engine client) and through a running server (`/v1/audio/speech`, pcm, whole body and streamed).
 * Also the memory each loaded model adds to the engine host.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpeechEngine } from '../src/engine/speech-engine.js';
import { loadInstalledNeuralEngines, type InstalledNeuralEngines } from '../src/engines/sherpa/installed-engines.js';
import { buildKokoro, buildPiper, type TinyModel } from '../test/support/tiny-models/tiny-models.js';
import {
  fmtSummary,
  log,
  markdownTable,
  median,
  modelsRequest,
  now,
  readProcMemory,
  rotate,
  speechRequest,
  startServerProcess,
  streamingRequest,
  summarize,
  type ServerMode,
} from './support.js';

/** One sentence: sherpa and Chorus each make one engine call of it. */
const SENTENCE = 'The quick brown fox jumps over the lazy dog, and then it rests for a while in the warm sun.';
/** Two sentences for time to first audio: both stop at the first sentence. */
const TWO_SENTENCES = `${SENTENCE} After that it runs back home across the fields before the evening rain begins.`;
const VOICE = 'af_heart';
/** af_heart's speaker id in the generated Kokoro (TINY_KOKORO_SPEAKERS). */
const SPEAKER_ID = 1;
/** Matrix products per token that make the generated Kokoro take about 0.1 s per second of audio here. */
const WORK = { layers: 600, width: 1024 } as const;
const MODELS = [
  { name: 'kokoro-tiny', label: 'tiny Kokoro (tests’ model)', rounds: 20, work: undefined },
  { name: 'kokoro-weighted', label: 'Kokoro made to compute (≈ RTF 0.1)', rounds: 8, work: WORK },
] as const;
const GOAL_OVERHEAD_MS = 10;
const GOAL_OVERHEAD_SHARE = 0.05;

interface RawTts {
  generateAsync(request: { text: string; generationConfig: object; onProgress: (info: { samples: Float32Array }) => number }): Promise<{ samples: Float32Array }>;
}
interface Sherpa {
  OfflineTts: { createAsync(config: object): Promise<RawTts> };
  GenerationConfig: new (fields: object) => object;
}

interface Timing {
  readonly totalMs: number;
  readonly firstMs: number;
}

export interface NeuralModelResult {
  readonly name: string;
  readonly label: string;
  readonly fileMB: number;
  readonly audioSec: number;
  readonly raw: number[];
  readonly host: number[];
  readonly server: number[];
  /** The same with `no_watermark`: the watermark is the one optional cost on this path. */
  readonly serverUnmarked: number[];
  readonly rawFirst: number[];
  readonly hostFirst: number[];
  readonly serverFirst: number[];
  /** `GET /v1/models` on the same server in the same rounds: the HTTP floor. */
  readonly http: number[];
}

export interface NeuralBenchResult {
  readonly models: NeuralModelResult[];
  readonly memory: {
    /** Engine host RSS with only the tiny Kokoro loaded: Node, onnxruntime, the eSpeak data. */
    readonly hostMB: number;
    readonly added: { readonly label: string; readonly fileMB: number; readonly addedMB: number }[];
    /** The weighted model loaded with two instances (CHORUS_SHERPA_INSTANCES=2) against one. */
    readonly secondInstanceMB: number;
  };
}

async function rawRun(tts: RawTts, sherpa: Sherpa, text: string): Promise<Timing & { samples: number }> {
  const start = now();
  let firstMs = Number.NaN;
  const audio = await tts.generateAsync({
    text,
    generationConfig: new sherpa.GenerationConfig({ sid: SPEAKER_ID, speed: 1, silenceScale: 1 }),
    onProgress: () => {
      if (Number.isNaN(firstMs)) firstMs = now() - start;
      return 1;
    },
  });
  return { totalMs: now() - start, firstMs, samples: audio.samples.length };
}

async function hostRun(engine: SpeechEngine, text: string): Promise<Timing> {
  const start = now();
  let firstMs = Number.NaN;
  for await (const part of engine.synthesize({ text, voiceId: VOICE }, new AbortController().signal)) {
    if (part.type === 'audio' && Number.isNaN(firstMs)) firstMs = now() - start;
  }
  return { totalMs: now() - start, firstMs };
}

const sizeMB = async (model: TinyModel): Promise<number> => (await stat(join(model.dir, model.manifest.files['model']!))).size / 1e6;

export async function measureNeuralEngines(mode: ServerMode): Promise<NeuralBenchResult> {
  const modelsDir = await mkdtemp(join(tmpdir(), 'chorus-bench-models-'));
  const sherpa = createRequire(import.meta.url)('sherpa-onnx-node') as Sherpa;
  const installs: InstalledNeuralEngines[] = [];
  try {
    log('figure 15: generating the models');
    const built = new Map<string, TinyModel>();
    // 512 tokens a call, as real Kokoro takes (510): one sentence is one engine call on every path.
    for (const model of MODELS) built.set(model.name, await buildKokoro(modelsDir, { name: model.name, version: 1, maxTokens: 512, ...(model.work === undefined ? {} : { work: model.work }) }));
    const server = await startServerProcess({
      workers: 1,
      mode,
      label: 'neural-engine server',
      env: { CHORUS_MODELS_DIR: modelsDir, CHORUS_SHERPA_THREADS: '1', CHORUS_SHERPA_INSTANCES: '1' },
    });
    const installed = await loadInstalledNeuralEngines({ modelsDir, instances: 1, threads: 1 });
    installs.push(installed);
    const models: NeuralModelResult[] = [];
    try {
      for (const model of MODELS) {
        const tiny = built.get(model.name)!;
        const files = Object.fromEntries(Object.entries(tiny.manifest.files).map(([key, path]) => [key, join(tiny.dir, path)]));
        const raw = await sherpa.OfflineTts.createAsync({ model: { kokoro: files, numThreads: 1 }, maxNumSentences: 1, silenceScale: 1 });
        const engine = await installed.registrations.find((registration) => registration.id === model.name)!.create();
        const body = { model: model.name, voice: VOICE, response_format: 'pcm' } as const;
        const paths = {
          raw: async () => rawRun(raw, sherpa, SENTENCE),
          host: async () => hostRun(engine, SENTENCE),
          server: async () => ({ totalMs: (await speechRequest(server.url, { ...body, input: SENTENCE })).ms, firstMs: Number.NaN }),
          serverUnmarked: async () => ({ totalMs: (await speechRequest(server.url, { ...body, input: SENTENCE, no_watermark: true })).ms, firstMs: Number.NaN }),
          rawFirst: async () => rawRun(raw, sherpa, TWO_SENTENCES),
          hostFirst: async () => hostRun(engine, TWO_SENTENCES),
          serverFirst: async () => ({ totalMs: Number.NaN, firstMs: (await streamingRequest(server.url, { ...body, input: TWO_SENTENCES })).firstByteMs }),
          http: async () => ({ totalMs: await modelsRequest(server.url), firstMs: Number.NaN }),
        };
        type Path = keyof typeof paths;
        const order = Object.keys(paths) as Path[];
        const times = new Map<Path, number[]>(order.map((path) => [path, []]));
        for (const path of order) await paths[path]();
        for (const path of order) await paths[path]();
        for (let round = 0; round < model.rounds; round++) {
          for (const path of rotate(order, round)) {
            const timing = await paths[path]();
            times.get(path)!.push(path.endsWith('First') ? timing.firstMs : timing.totalMs);
          }
        }
        const audioSec = (await rawRun(raw, sherpa, SENTENCE)).samples / 24_000;
        models.push({
          name: model.name,
          label: model.label,
          fileMB: await sizeMB(tiny),
          audioSec,
          raw: times.get('raw')!,
          host: times.get('host')!,
          server: times.get('server')!,
          serverUnmarked: times.get('serverUnmarked')!,
          rawFirst: times.get('rawFirst')!,
          hostFirst: times.get('hostFirst')!,
          serverFirst: times.get('serverFirst')!,
          http: times.get('http')!,
        });
        log(`figure 15: ${model.name}: raw ${median(times.get('raw')!).toFixed(1)} ms, host ${median(times.get('host')!).toFixed(1)} ms, server ${median(times.get('server')!).toFixed(1)} ms`);
      }
    } finally {
      await server.stop();
      await installed.close();
      installs.pop();
    }

    log('figure 15: memory per loaded model');
    const piper = await buildPiper(modelsDir, { name: 'piper-tiny' });
    const memory = await measureMemory(modelsDir, built, piper, installs);
    return { models, memory };
  } finally {
    for (const installed of installs) await installed.close();
    await rm(modelsDir, { recursive: true, force: true });
  }
}

/** RSS of a fresh engine host as models are loaded one by one; then the weighted model with two instances. */
async function measureMemory(modelsDir: string, built: Map<string, TinyModel>, piper: TinyModel, installs: InstalledNeuralEngines[]): Promise<NeuralBenchResult['memory']> {
  const settle = async (installed: InstalledNeuralEngines): Promise<number> => {
    // One short generation allocates onnxruntime's buffers, which stay; then the RSS is read.
    await new Promise((resolve) => setTimeout(resolve, 300));
    return readProcMemory(installed.hostPid()!).rssMB;
  };
  const load = async (installed: InstalledNeuralEngines, name: string): Promise<void> => {
    const engine = await installed.registrations.find((registration) => registration.id === name)!.create();
    const voice = engine.listVoices()[0]!.id;
    for await (const _part of engine.synthesize({ text: SENTENCE, voiceId: voice }, new AbortController().signal));
  };
  const one = await loadInstalledNeuralEngines({ modelsDir, instances: 1, threads: 1 });
  installs.push(one);
  await load(one, 'kokoro-tiny');
  const hostMB = await settle(one);
  const added: NeuralBenchResult['memory']['added'][number][] = [];
  let before = hostMB;
  for (const [name, label, model] of [
    ['kokoro-weighted', 'weighted Kokoro', built.get('kokoro-weighted')!],
    ['piper-tiny', 'tiny Piper', piper],
  ] as const) {
    await load(one, name);
    const after = await settle(one);
    added.push({ label, fileMB: await sizeMB(model), addedMB: after - before });
    before = after;
  }
  await one.close();
  installs.pop();

  /** A fresh host's RSS with only the weighted Kokoro loaded, `instances` times. */
  const weightedHost = async (instances: number): Promise<number> => {
    const installed = await loadInstalledNeuralEngines({ modelsDir, instances, threads: 1 });
    installs.push(installed);
    await load(installed, 'kokoro-weighted');
    const rss = await settle(installed);
    await installed.close();
    installs.pop();
    return rss;
  };
  const singleMB = await weightedHost(1);
  const doubleMB = await weightedHost(2);
  return { hostMB, added, secondInstanceMB: doubleMB - singleMB };
}

export function renderNeuralEngines(result: NeuralBenchResult): string {
  const out: string[] = [];
  out.push('## 15. Neural engines: Chorus over the raw sherpa-onnx call', '');
  out.push(
    '**No real model could be downloaded on this machine**, so these figures are for generated models with the real',
    'Kokoro contract (inputs, outputs, metadata, voices.bin, tokens, eSpeak phonemizer), run by the real sherpa-onnx-node',
    '1.13.8: the tests\' tiny Kokoro, which computes in milliseconds, and the same model made to compute like a real',
    `one (${WORK.layers} products of a ${WORK.width}×${WORK.width} matrix per token, multiplied by zero, so the audio is the same: about`,
    'a tenth of a second per second of audio). What they measure is the fixed cost Chorus adds to an engine call; how',
    'real models sound and how fast they run here is not measured.',
    '',
    '**Baseline:** `OfflineTts.generateAsync` on the same model file, sentence and speaker, one thread, in the benchmark',
    'process. **Measured**, in turn each round: the same request through the engine host (the child process that runs',
    'sherpa for Chorus, from the benchmark process\'s engine client), and through a running 1-worker server',
    '(`POST /v1/audio/speech`, pcm, `cache-control: no-store`): the HTTP round trip, the pipeline\'s worker thread, the',
    `proxy to the main thread, the host and back. One ${SENTENCE.length}-character sentence (one engine call on every path);`,
    'for first audio, that sentence and a second one, streamed. Medians (min–max) after two warm-up rounds.',
    `**Goal: Chorus adds ≤ ${GOAL_OVERHEAD_MS} ms per request and ≤ ${GOAL_OVERHEAD_SHARE * 100} % of the engine's time.**`,
    '',
  );
  const rows: string[][] = [];
  const verdict = (added: number, share: number): string =>
    added <= GOAL_OVERHEAD_MS && share <= GOAL_OVERHEAD_SHARE ? 'met' : added <= GOAL_OVERHEAD_MS ? 'ms met, share not met' : share <= GOAL_OVERHEAD_SHARE ? 'share met, ms not met' : 'not met';
  for (const model of result.models) {
    const raw = median(model.raw);
    rows.push([`${model.label}: ${model.fileMB.toFixed(1)} MB, ${model.audioSec.toFixed(2)} s of audio`, 'raw sherpa (baseline)', fmtSummary(summarize(model.raw), 1, ' ms'), '', '', '']);
    for (const [path, times] of [
      ['engine host', model.host],
      ['server, watermarked (default)', model.server],
      ['server, `no_watermark`', model.serverUnmarked],
    ] as const) {
      const added = median(times) - raw;
      const share = added / raw;
      rows.push(['', path, fmtSummary(summarize(times), 1, ' ms'), `+${added.toFixed(1)} ms`, `${(share * 100).toFixed(1)} %`, path === 'engine host' ? '' : verdict(added, share)]);
    }
  }
  out.push(
    markdownTable(['Model', 'Path', 'Median (min–max)', 'Added', 'Added / raw', `Goal ≤ ${GOAL_OVERHEAD_MS} ms and ≤ ${GOAL_OVERHEAD_SHARE * 100} %`], rows),
    '',
    `The HTTP floor on the same server (\`GET /v1/models\`, same rounds): ${result.models.map((model) => `${fmtSummary(summarize(model.http), 1, ' ms')} during the ${model.name} rounds`).join(', ')}.`,
    'On the tiny model the engine itself takes about a millisecond, so any fixed cost is many times its time; the share',
    'that matters is the one against an engine that computes like a real model.',
    '',
  );
  const firstRows = result.models.map((model) => [
    model.label,
    fmtSummary(summarize(model.rawFirst), 1, ' ms'),
    `${fmtSummary(summarize(model.hostFirst), 1, ' ms')}; +${(median(model.hostFirst) - median(model.rawFirst)).toFixed(1)} ms`,
    `${fmtSummary(summarize(model.serverFirst), 1, ' ms')}; +${(median(model.serverFirst) - median(model.rawFirst)).toFixed(1)} ms`,
  ]);
  out.push('Time to first audio, two sentences:', '', markdownTable(['Model', 'Raw sherpa, first callback (baseline)', 'Engine host, first audio part', 'Server, first streamed byte'], firstRows), '');
  const { memory } = result;
  out.push(
    `Memory: the engine host with the tiny Kokoro loaded uses ${memory.hostMB.toFixed(0)} MB RSS (Node, onnxruntime, sherpa and the eSpeak`,
    `data; the model itself is 0.1 MB). Each further model adds: ${memory.added
      .map((model) => `${model.label} (${model.fileMB.toFixed(1)} MB file) +${model.addedMB.toFixed(1)} MB`)
      .join(', ')}; a second instance of the weighted Kokoro (CHORUS_SHERPA_INSTANCES=2) +${memory.secondInstanceMB.toFixed(1)} MB.`,
    'A real model adds at least its file size per instance: published sizes are 330 MB for kokoro-en-v0_19, 61–75 MB for',
    'a medium Piper voice, 23–26 MB for Kitten nano (the sherpa-onnx model tables); Kyutai reports its own (PyTorch) Pocket',
    'TTS at 450 MB of memory, 234 MB with its int8 default, and about 200 ms to the first audio chunk on CPU',
    '(kyutai-labs/pocket-tts README and `docs/quantization.md`).',
    '',
    'Published speeds, for scale (none measurable here): Kokoro-82M ONNX on a 4-core Xeon, RTF 0.57 (heyneo.com CPU TTS',
    'benchmark); sherpa-onnx kokoro-multi-lang-v1_0 on a Raspberry Pi 4B, RTF 7.6 with 1 thread and 3.2 with 4; Piper',
    'medium on sherpa-onnx, RTF 0.77 / 0.36 with 1 / 4 threads on the same Pi (k2-fsa/sherpa `docs/source/onnx/tts/',
    'pretrained_models/rtf.rst`). At RTF 0.57 the sentence above takes about 3.8 s to speak, so the overhead measured',
    'here would be a fraction of a percent of it.',
    '',
  );
  return out.join('\n');
}
