/**
 * Chorus benchmarks: `npm run bench`. Measures sixteen figures, each against a baseline taken in the
 * same run, and writes docs/benchmarks.md. Every server it starts is a child process on 127.0.0.1
 * with a random port, and every one is stopped before the script ends.
 *
 * `npm run bench -- --only 13,14` measures just the figures that stand alone (7, 11, 12, 13, 14, 15, 16) and
 * puts their sections into docs/benchmarks.md in place of the old ones; the rest of the page stays.
 *
 *   1. real-time factor through the server vs the raw engine (500-word text)
 *   2. time to first audio byte when streaming
 *   3. throughput with 1 vs 2 worker threads
 *   4. peak memory of a 2-worker server under load
 *   5. encoder cost per response format
 *   6. job API overhead: /runsync and /run against the OpenAI route, job throughput, cache hits (job-api.ts)
 *   7. watermark: detection of marked / unmarked speech, also after MP3, and its cost (watermark.ts)
 *   8. voice matching and conversion: speed, and the pitch and duration goals (voices.ts)
 *   9. word timings: the pipeline's after speed and gaps, and the forced aligner's (alignment.ts)
 *  10. result cache on the OpenAI route: hit latency and hit rate under a replayed workload (cache.ts)
 *  11. scale-out on Redis: throughput with 1, 2, 4 worker processes, added latency of the Redis path (scale-out.ts)
 *  12. chat agent: first audio against the moment the model finished its first sentence (agent.ts)
 *  13. memory under 40 streams whose clients never read, against the same server idle (backpressure.ts)
 *  14. /health latency while 4 clients poll a ~37 MB job result, against no pollers (big-results.ts)
 *  15. neural engines: Chorus over the raw sherpa-onnx call on generated models, first audio, memory per model (neural-engines.ts)
 *  16. remote engines: first byte added over calling a paced model-server stub directly, throughput at 1, 2, 4 at once (remote-engines.ts)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIO_FORMATS, type AudioFormat } from '../src/audio/encoders/audio-encoder.js';
import { createEncoder, ffmpegAvailable } from '../src/audio/encoders/index.js';
import { loadConfig } from '../src/config/config.js';
import type { SpeechEngine } from '../src/engine/speech-engine.js';
import { createEspeakEngine } from '../src/engines/espeak/espeak-engine.js';
import type { SpeechRequest } from '../src/pipeline/speech-request.js';
import { synthesizeSpeech } from '../src/pipeline/synthesize-speech.js';
import { chunkText, detectScriptLanguage, normalizeText } from '../src/text/index.js';
import {
  buildToTempDir,
  codeState,
  fmtPercent,
  fmtSummary,
  log,
  machineInfo,
  markdownTable,
  median,
  verdict,
  modelsRequest,
  now,
  readProcMemory,
  REPO_ROOT,
  rotate,
  sleep,
  speechRequest,
  startServerProcess,
  stopAllChildren,
  streamingRequest,
  summarize,
  type CodeState,
  type ProcMemory,
  type ServerMode,
  type ServerProcess,
  type SpeechBody,
  type Summary,
} from './support.js';
import { JOB_LATENCY_ROUNDS, JOB_THROUGHPUT_ROUNDS, measureJobLatency, measureJobThroughput, renderJobApi, type JobLatencyResult, type JobThroughputResult } from './job-api.js';
import { countWords, LONG_TEXT, SHORT_TEXTS } from './texts.js';
import { measureWatermark, renderWatermark, type WatermarkResult } from './watermark.js';
import { measureVoices, renderVoices, type VoiceBenchResult } from './voices.js';
import { measureCache, renderCache, type CacheBenchResult } from './cache.js';
import { measureAlignment, renderAlignment, type AlignmentBenchResult } from './alignment.js';
import { measureScaleOut, renderScaleOut, type ScaleOutResult } from './scale-out.js';
import { measureAgent, renderAgent, type AgentBenchResult } from './agent.js';
import { measureBackpressure, renderBackpressure, type BackpressureResult } from './backpressure.js';
import { measureBigResults, renderBigResults, type BigResultBenchResult } from './big-results.js';
import { measureNeuralEngines, renderNeuralEngines, type NeuralBenchResult } from './neural-engines.js';
import { measureRemoteEngines, renderRemoteEngines, type RemoteBenchResult } from './remote-engines.js';

// ---------------------------------------------------------------------------------------------
// Settings. The run must stay under about seven minutes on a 2-core machine (figure 6 adds about a minute;
// its own settings are in job-api.ts; figure 7 another minute, settings in watermark.ts; figure 9 about a minute,
// settings in alignment.ts; figure 11 about four minutes, settings in scale-out.ts; figures 13 and 14 about four
// and a half minutes together, settings in backpressure.ts and big-results.ts).

/** Rounds of figure 1 and the server half of figure 5 (raw engine, pipeline, every format). */
const SPEED_ROUNDS = 6;
/** Streamed requests per format for figure 2, after one warm-up each. */
const TTFB_RUNS = 10;
/** Paired rounds (1 worker, 2 workers) for figure 3. */
const THROUGHPUT_ROUNDS = 7;
/** Fresh servers for figure 4 (compiled build, then tsx), and how many times each one runs the load. */
const MEMORY_SERVERS_BUILD = 3;
const MEMORY_SERVERS_SOURCE = 2;
const MEMORY_LOAD_REPEATS = 2;
/** Runs per format of the raw encoders, after one warm-up. */
const ENCODER_RUNS = 7;
const ENCODER_SECONDS = 60;

/** What the server does by default for OpenAI requests. */
const SAMPLE_RATE = 24_000;
const MAX_CHUNK_CHARS = loadConfig({}).maxCharsPerChunk;
/** The pipeline's first streamed chunk limit (FIRST_STREAM_CHUNK_CHARS in synthesize-speech.ts). */
const FIRST_STREAM_CHUNK_CHARS = 120;
const OPENAI_VOICE = 'alloy';
/** The engine voice the server maps `alloy` to (OPENAI_VOICE_ALIASES). */
const ENGINE_VOICE = 'Ashley';
const FFMPEG_PATH = process.env['CHORUS_FFMPEG_PATH'] ?? 'ffmpeg';

const GOAL_SERVER_SHARE = 0.8;
const GOAL_TTFB_MS = 100;
const GOAL_SCALING = 1.7;
const GOAL_PEAK_MB = 300;

// ---------------------------------------------------------------------------------------------

const body = (input: string, format: AudioFormat): SpeechBody => ({ model: 'tts-1', voice: OPENAI_VOICE, input, response_format: format });
const pcmSeconds = (bytes: number): number => bytes / 2 / SAMPLE_RATE;
const never = new AbortController().signal;

interface Notes {
  readonly items: string[];
}

async function main(): Promise<void> {
  const only = onlyFigures(process.argv.slice(2));
  if (only !== undefined) return measureOnly(only);
  const startedAt = new Date();
  const t0 = now();
  const machine = machineInfo();
  const codeAtStart = codeState();
  const notes: Notes = { items: [] };
  const longWords = countWords(LONG_TEXT);
  if (LONG_TEXT.length > 4096) throw new Error(`LONG_TEXT has ${LONG_TEXT.length} characters; the API takes at most 4096`);
  log(`machine: ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, load ${machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}`);
  log(`long text: ${longWords} words, ${LONG_TEXT.length} characters`);

  const aacAvailable = await ffmpegAvailable(FFMPEG_PATH);
  const formats: AudioFormat[] = AUDIO_FORMATS.filter((format) => format !== 'aac' || aacAvailable);
  // pcm first: it is the baseline of figure 5.
  formats.sort((a, b) => (a === 'pcm' ? -1 : b === 'pcm' ? 1 : 0));
  if (!aacAvailable) notes.items.push(`ffmpeg ('${FFMPEG_PATH}') is not installed, so aac was not measured.`);

  const mode = await serverMode(notes);

  const servers: ServerProcess[] = [];
  const start = async (workers: number, serverMode: ServerMode, label: string): Promise<ServerProcess> => {
    const server = await startServerProcess({ workers, mode: serverMode, label });
    servers.push(server);
    return server;
  };

  try {
    // Server and in-process engine start in parallel; neither is being measured yet.
    log('starting the 1-worker server and the in-process engine');
    const [one, engine] = await Promise.all([start(1, mode, '1-worker server'), createEspeakEngine()]);

    // ---- Figures 1 and 5 (server half): speed, interleaved round by round -------------------
    const speed = await measureSpeed(engine, one, formats);

    // ---- Figure 2: time to first byte -------------------------------------------------------
    const ttfb = await measureTtfb(one);

    // ---- Figure 5 (encoder half): raw encoders on 60 s of pipeline output --------------------
    const encoders = await measureEncoders(engine, formats);

    // ---- Figure 3: throughput with 1 and 2 workers -------------------------------------------
    log('starting the 2-worker server');
    const two = await start(2, mode, '2-worker server');
    const throughput = await measureThroughput(one, two);

    // ---- Figure 6: job API, on the same two servers ------------------------------------------
    const jobLatency = await measureJobLatency(one);
    const jobThroughput = await measureJobThroughput(one, two);

    // ---- Figure 8: voice matching and conversion (in-process, then through the 2-worker server)
    const voices = await measureVoices(engine, two);

    // ---- Figure 9: word timings (in-process, and their cost through the 1-worker server)
    const alignment = await measureAlignment(engine, one);

    // ---- Figure 10: result cache, on the 1-worker server --------------------------------------
    const cache = await measureCache(one);
    await one.stop();
    await two.stop();

    // ---- Figure 4: peak memory ---------------------------------------------------------------
    const memoryBuild = mode.kind === 'build' ? await measureMemory(mode, 'compiled build', MEMORY_SERVERS_BUILD) : undefined;
    const memorySource = await measureMemory({ kind: 'source' }, 'sources under tsx', MEMORY_SERVERS_SOURCE);

    // ---- Figure 7: watermark, in this process (no server) -------------------------------------
    const watermark = await measureWatermark();

    // ---- Figure 12: the chat agent's first audio (its own server and scripted chat server) ----
    const agent = await measureAgent(engine, mode);

    // ---- Figure 11: API and worker processes on Redis (their own servers, started per run) ----
    const scaleOut = await measureScaleOut(mode);
    if (scaleOut.skipped !== undefined) notes.items.push(`Figure 11 was not measured: ${scaleOut.skipped}.`);

    // ---- Figures 13 and 14: big answers (their own servers) -------------------------------------
    const backpressure = await measureBackpressure(mode);
    const bigResults = await measureBigResults(mode);

    // ---- Figure 15: neural engines on generated models (its own server and engine hosts) -------
    const neural = await measureNeuralEngines(mode);

    // ---- Figure 16: remote engines (a paced stub on loopback, its own server) -------------------
    const remote = await measureRemoteEngines(mode);

    const codeAtEnd = codeState();
    if (codeAtEnd.commit !== codeAtStart.commit || codeAtEnd.changes.join('\n') !== codeAtStart.changes.join('\n')) {
      notes.items.push(
        `The code under src/ changed while the benchmark ran (at the end: commit ${codeAtEnd.commit}` +
          `${codeAtEnd.changes.length > 0 ? `, uncommitted: ${codeAtEnd.changes.join(', ')}` : ''}). The compiled build the servers ran ` +
          'and the modules the benchmark process loaded are snapshots from the start; only servers started from the sources ' +
          '(the tsx row of figure 4) may have run the newer code.',
      );
    }
    const elapsedSec = (now() - t0) / 1000;
    const report = renderReport({
      startedAt,
      elapsedSec,
      machine,
      code: codeAtStart,
      loadAtEnd: machineInfo().loadAverage,
      longWords,
      mode,
      formats,
      speed,
      ttfb,
      encoders,
      throughput,
      jobLatency,
      jobThroughput,
      memoryBuild,
      memorySource,
      watermark,
      voices,
      alignment,
      scaleOut,
      cache,
      agent,
      backpressure,
      bigResults,
      neural,
      remote,
      notes,
    });
    const docs = join(REPO_ROOT, 'docs');
    mkdirSync(docs, { recursive: true });
    writeFileSync(join(docs, 'benchmarks.md'), report);
    log(`wrote docs/benchmarks.md (${elapsedSec.toFixed(0)} s)`);
    process.stdout.write(report);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await stopAllChildren();
  }
}

// ---------------------------------------------------------------------------------------------
// Figure 1 and the server half of figure 5

interface SpeedResult {
  /** Raw engine: audio seconds / wall seconds, per round. */
  readonly rawXrt: number[];
  readonly rawAudioSec: number;
  /** Raw engine time for the first streamed chunk (≤120 characters), ms. */
  readonly firstChunkMs: number[];
  readonly firstChunkChars: number;
  /** synthesizeSpeech() in this process, pcm, buffered: the pipeline without server or threads. */
  readonly pipelineXrt: number[];
  /** Server wall time per format, ms, per round. */
  readonly serverMs: Map<AudioFormat, number[]>;
  /** Audio seconds of the server's pcm answer. */
  readonly serverAudioSec: number;
  readonly chunkCount: number;
}

async function measureSpeed(engine: SpeechEngine, server: ServerProcess, formats: readonly AudioFormat[]): Promise<SpeedResult> {
  const normalized = normalizeText(LONG_TEXT).text;
  const language = detectScriptLanguage(normalized);
  const spans = chunkText(normalized, { maxChars: MAX_CHUNK_CHARS });
  const firstSpan = chunkText(normalized, { maxChars: MAX_CHUNK_CHARS, firstChunkMaxChars: FIRST_STREAM_CHUNK_CHARS })[0]!;

  const engineRun = async (texts: readonly string[]): Promise<{ ms: number; samples: number }> => {
    const startMs = now();
    let samples = 0;
    for (const text of texts) {
      const request = { text, voiceId: ENGINE_VOICE, speed: 1, ...(language === undefined ? {} : { language }) };
      for await (const part of engine.synthesize(request, never)) if (part.type === 'audio') samples += part.samples.length;
    }
    return { ms: now() - startMs, samples };
  };
  const pipelineRun = async (): Promise<{ ms: number; bytes: number }> => {
    const startMs = now();
    let bytes = 0;
    for await (const part of synthesizeSpeech({ engine, ffmpegPath: FFMPEG_PATH }, pipelineRequest(LONG_TEXT, 'pcm'), never)) {
      if (part.type === 'audio') bytes += part.bytes.length;
    }
    return { ms: now() - startMs, bytes };
  };

  log('figure 1/5: warm-up');
  await engineRun(spans.map((span) => span.text));
  await pipelineRun();
  for (const format of formats) await speechRequest(server.url, body(LONG_TEXT, format));

  const rawXrt: number[] = [];
  const firstChunkMs: number[] = [];
  const pipelineXrt: number[] = [];
  const serverMs = new Map<AudioFormat, number[]>(formats.map((format) => [format, []]));
  const serverAudio: number[] = [];
  let rawAudioSec = 0;
  for (let round = 0; round < SPEED_ROUNDS; round++) {
    const raw = await engineRun(spans.map((span) => span.text));
    rawAudioSec = raw.samples / engine.capabilities.sampleRate;
    rawXrt.push(rawAudioSec / (raw.ms / 1000));
    firstChunkMs.push((await engineRun([firstSpan.text])).ms);
    const pipeline = await pipelineRun();
    pipelineXrt.push(pcmSeconds(pipeline.bytes) / (pipeline.ms / 1000));
    for (const format of rotate(formats, round)) {
      const result = await speechRequest(server.url, body(LONG_TEXT, format));
      serverMs.get(format)!.push(result.ms);
      if (format === 'pcm') serverAudio.push(pcmSeconds(result.bytes));
    }
    log(`figure 1/5: round ${round + 1}/${SPEED_ROUNDS}: raw ${rawXrt.at(-1)!.toFixed(0)}x, server pcm ${serverMs.get('pcm')!.at(-1)!.toFixed(0)} ms`);
  }
  return {
    rawXrt,
    rawAudioSec,
    firstChunkMs,
    firstChunkChars: firstSpan.text.length,
    pipelineXrt,
    serverMs,
    serverAudioSec: median(serverAudio),
    chunkCount: spans.length,
  };
}

function pipelineRequest(text: string, format: AudioFormat): SpeechRequest {
  // Exactly what the OpenAI route builds for a non-streaming request with default options.
  return {
    text,
    engine: 'espeak',
    voiceId: ENGINE_VOICE,
    speed: 1,
    pitchSemitones: 0,
    sampleRate: SAMPLE_RATE,
    format,
    normalization: 'none',
    maxChunkChars: MAX_CHUNK_CHARS,
    delivery: 'buffered',
  };
}

// ---------------------------------------------------------------------------------------------
// Figure 2

interface TtfbResult {
  readonly formats: Map<AudioFormat, { firstByteMs: number[]; totalMs: number[] }>;
  readonly httpFloorMs: number[];
}

async function measureTtfb(server: ServerProcess): Promise<TtfbResult> {
  const formats: AudioFormat[] = ['pcm', 'mp3'];
  const result = new Map(formats.map((format) => [format, { firstByteMs: [] as number[], totalMs: [] as number[] }]));
  const httpFloorMs: number[] = [];
  log('figure 2: warm-up');
  await modelsRequest(server.url);
  for (const format of formats) await streamingRequest(server.url, body(LONG_TEXT, format));
  for (let run = 0; run < TTFB_RUNS; run++) {
    httpFloorMs.push(await modelsRequest(server.url));
    for (const format of rotate(formats, run)) {
      const { firstByteMs, totalMs } = await streamingRequest(server.url, body(LONG_TEXT, format));
      result.get(format)!.firstByteMs.push(firstByteMs);
      result.get(format)!.totalMs.push(totalMs);
    }
  }
  log(`figure 2: pcm first byte ${median(result.get('pcm')!.firstByteMs).toFixed(1)} ms, mp3 ${median(result.get('mp3')!.firstByteMs).toFixed(1)} ms`);
  return { formats: result, httpFloorMs };
}

// ---------------------------------------------------------------------------------------------
// Figure 5, encoder half

interface EncoderResult {
  /** Audio seconds / wall seconds per run, per format. */
  readonly xrt: Map<AudioFormat, number[]>;
  readonly bytes: Map<AudioFormat, number>;
}

async function measureEncoders(engine: SpeechEngine, formats: readonly AudioFormat[]): Promise<EncoderResult> {
  // The exact signal the encoders see in the server: pipeline output at 24 kHz (resampled eSpeak).
  const chunks: Uint8Array[] = [];
  for await (const part of synthesizeSpeech({ engine, ffmpegPath: FFMPEG_PATH }, pipelineRequest(LONG_TEXT, 'pcm'), never)) {
    if (part.type === 'audio') chunks.push(part.bytes);
  }
  const pcm = Buffer.concat(chunks);
  const total = ENCODER_SECONDS * SAMPLE_RATE;
  if (pcm.length / 2 < total) throw new Error(`the long text gives only ${pcm.length / 2 / SAMPLE_RATE} s of audio`);
  const samples = new Float32Array(total);
  for (let i = 0; i < total; i++) samples[i] = pcm.readInt16LE(i * 2) / 32768;

  const encode = async (format: AudioFormat): Promise<{ ms: number; bytes: number }> => {
    const startMs = now();
    const encoder = createEncoder(format, { sampleRate: SAMPLE_RATE, totalSamples: samples.length }, { ffmpegPath: FFMPEG_PATH });
    try {
      const head = await encoder.write(samples);
      const tail = await encoder.end();
      return { ms: now() - startMs, bytes: head.length + tail.length };
    } finally {
      encoder.dispose();
    }
  };

  log('figure 5: raw encoders');
  const xrt = new Map<AudioFormat, number[]>(formats.map((format) => [format, []]));
  const bytes = new Map<AudioFormat, number>();
  for (const format of formats) bytes.set(format, (await encode(format)).bytes);
  for (let run = 0; run < ENCODER_RUNS; run++) {
    for (const format of rotate(formats, run)) {
      const { ms } = await encode(format);
      xrt.get(format)!.push(ENCODER_SECONDS / (ms / 1000));
    }
  }
  return { xrt, bytes };
}

// ---------------------------------------------------------------------------------------------
// Figure 3

interface ThroughputResult {
  /** Audio seconds / wall seconds per round. */
  readonly one: number[];
  readonly two: number[];
  readonly audioSec: number;
}

/** The throughput load: every short text at once, pcm, non-streaming. Returns audio seconds and wall ms. */
async function concurrentLoad(server: ServerProcess, extra?: () => Promise<unknown>): Promise<{ audioSec: number; ms: number }> {
  const startMs = now();
  const [results] = await Promise.all([
    Promise.all(SHORT_TEXTS.map((text) => speechRequest(server.url, body(text, 'pcm')))),
    extra?.(),
  ]);
  const ms = now() - startMs;
  return { audioSec: results.reduce((sum, result) => sum + pcmSeconds(result.bytes), 0), ms };
}

async function measureThroughput(one: ServerProcess, two: ServerProcess): Promise<ThroughputResult> {
  log('figure 3: warm-up');
  await concurrentLoad(one);
  await concurrentLoad(two);
  const result = { one: [] as number[], two: [] as number[], audioSec: 0 };
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    // Alternate which server goes first, so slow drifts in background load hit both alike.
    const order: [ServerProcess, number[]][] = [
      [one, result.one],
      [two, result.two],
    ];
    for (const [server, into] of rotate(order, round)) {
      const { audioSec, ms } = await concurrentLoad(server);
      result.audioSec = audioSec;
      into.push(audioSec / (ms / 1000));
    }
    log(`figure 3: round ${round + 1}/${THROUGHPUT_ROUNDS}: 1 worker ${result.one.at(-1)!.toFixed(0)}x, 2 workers ${result.two.at(-1)!.toFixed(0)}x`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Figure 4

interface MemoryResult {
  readonly label: string;
  readonly idle: ProcMemory[];
  readonly after: ProcMemory[];
}

async function measureMemory(mode: ServerMode, label: string, count: number): Promise<MemoryResult> {
  const result: MemoryResult = { label, idle: [], after: [] };
  for (let i = 0; i < count; i++) {
    const server = await startServerProcess({ workers: 2, mode, label: `2-worker server (${label})` });
    try {
      await sleep(300);
      result.idle.push(readProcMemory(server.pid));
      for (let repeat = 0; repeat < MEMORY_LOAD_REPEATS; repeat++) {
        // The throughput load plus one long streamed mp3 at the same time.
        await concurrentLoad(server, () => streamingRequest(server.url, body(LONG_TEXT, 'mp3')));
      }
      await sleep(300);
      result.after.push(readProcMemory(server.pid));
    } finally {
      await server.stop();
    }
    log(`figure 4 (${label}): server ${i + 1}/${count}: peak ${result.after.at(-1)!.peakMB.toFixed(0)} MB`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The report

interface ReportInput {
  readonly startedAt: Date;
  readonly elapsedSec: number;
  readonly machine: ReturnType<typeof machineInfo>;
  readonly code: CodeState;
  readonly loadAtEnd: readonly number[];
  readonly longWords: number;
  readonly mode: ServerMode;
  readonly formats: readonly AudioFormat[];
  readonly speed: SpeedResult;
  readonly ttfb: TtfbResult;
  readonly encoders: EncoderResult;
  readonly throughput: ThroughputResult;
  readonly jobLatency: JobLatencyResult;
  readonly jobThroughput: JobThroughputResult;
  readonly memoryBuild: MemoryResult | undefined;
  readonly memorySource: MemoryResult;
  readonly watermark: WatermarkResult;
  readonly voices: VoiceBenchResult;
  readonly alignment: AlignmentBenchResult;
  readonly scaleOut: ScaleOutResult;
  readonly cache: CacheBenchResult;
  readonly agent: AgentBenchResult;
  readonly backpressure: BackpressureResult;
  readonly bigResults: BigResultBenchResult;
  readonly neural: NeuralBenchResult;
  readonly remote: RemoteBenchResult;
  readonly notes: Notes;
}

function renderReport(input: ReportInput): string {
  const { speed, ttfb, encoders, throughput, machine } = input;
  const out: string[] = [];
  const serverLabel = input.mode.kind === 'build' ? 'the compiled build (`node dist/cli/main.js serve`)' : 'the sources under tsx';
  const load = (values: readonly number[]): string => values.map((value) => value.toFixed(2)).join(' / ');

  out.push('# Benchmarks', '');
  out.push(
    'Written by `npm run bench` (`bench/run-benchmarks.ts`); every figure below comes from one run of it.',
    'Re-run it to refresh this page; it takes a few minutes, starts its own servers on 127.0.0.1 and random',
    'ports, and stops them again.',
    '',
  );
  out.push(
    `- **Date:** ${input.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC (run took ${input.elapsedSec.toFixed(0)} s)`,
    `- **Machine:** ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB.toFixed(1)} GiB RAM, Linux`,
    `- **Node:** ${machine.node}`,
    `- **Code:** commit ${input.code.commit}${input.code.changes.length > 0 ? ` with uncommitted changes in ${input.code.changes.join(', ')}` : ', no uncommitted changes under src/'} when the run started`,
    `- **Load average** (1/5/15 min) before the run: ${load(machine.loadAverage)}; at its end (including its own servers): ${load(input.loadAtEnd)}`,
    `- **Servers measured:** ${serverLabel}, as child processes; baselines run in the benchmark process.`,
    '',
  );

  out.push('## Method', '');
  out.push(
    '- Every figure is the **median** of several runs; the range in brackets is min–max over those runs.',
    '  Each figure is compared with a baseline measured in the same run; where both fit in one loop they are',
    '  interleaved round by round (the order rotates every round), so background load hits both alike.',
    '- Every measured path gets one untimed warm-up first (the JIT compiles eSpeak on first use).',
    `- Text: a fixed English paragraph of ${input.longWords} words (${LONG_TEXT.length} characters, under the API's`,
    `  4096-character limit) in \`bench/texts.ts\`, spoken by voice \`${OPENAI_VOICE}\` (eSpeak voice ${ENGINE_VOICE}),`,
    `  ${speed.serverAudioSec.toFixed(1)} s of audio. The throughput load uses eight other paragraphs of about 100 words.`,
    '- Requests are `POST /v1/audio/speech` with `model: tts-1` and default options (24 kHz output).',
    '  Wall time runs from `fetch()` to the last byte of the body; time to first byte to the first non-empty',
    '  body chunk.',
    '- xRT (times real time) = seconds of audio produced / seconds of wall time. Higher is faster.',
    '- Every server runs with `CHORUS_RATE_LIMIT_RPS=0` (rate limiting off: the default 10 requests/s per key',
    '  would turn the 50 concurrent jobs of figure 6 into 429s and waits) and without `CHORUS_API_KEYS`; the',
    '  result cache is on, in each server\'s own empty data directory.',
    `- Rounds: ${SPEED_ROUNDS} (figures 1, 5), ${TTFB_RUNS} (2), ${THROUGHPUT_ROUNDS} (3), ${JOB_LATENCY_ROUNDS} and ${JOB_THROUGHPUT_ROUNDS} (6), as before figure 6 was added; none was trimmed.`,
    '',
  );

  // ---- Figure 1
  const rawXrt = summarize(speed.rawXrt);
  const pipelineXrt = summarize(speed.pipelineXrt);
  const serverXrt = (format: AudioFormat): Summary =>
    summarize(speed.serverMs.get(format)!.map((ms) => speed.serverAudioSec / (ms / 1000)));
  out.push('## 1. Real-time factor: server vs raw engine', '');
  out.push(
    `Baseline: \`createEspeakEngine()\` in the benchmark process, \`synthesize()\` over the text cut into the same`,
    `${speed.chunkCount} chunks of at most ${MAX_CHUNK_CHARS} characters that the pipeline uses (${speed.rawAudioSec.toFixed(1)} s of 22.05 kHz audio).`,
    'Server: a 1-worker server answering a non-streaming request, which adds the worker thread, resampling',
    'to 24 kHz, encoding and HTTP. The in-process pipeline row (`synthesizeSpeech()`, pcm, no server, no',
    `thread) shows where the difference arises. ${SPEED_ROUNDS} rounds. **Goal: server ≥ ${fmtPercent(GOAL_SERVER_SHARE)} of raw speed.**`,
    '',
  );
  const rows1: string[][] = [['Raw engine (baseline)', fmtSummary(rawXrt, 0, 'x'), '100 %', '']];
  rows1.push(['In-process pipeline, pcm', fmtSummary(pipelineXrt, 0, 'x'), fmtPercent(pipelineXrt.median / rawXrt.median), '']);
  for (const format of ['pcm', 'mp3'] as const) {
    const xrt = serverXrt(format);
    const share = xrt.median / rawXrt.median;
    // Rounds are paired (raw and server measured back to back), so per-round shares show the spread.
    const roundShares = summarize(speed.serverMs.get(format)!.map((ms, i) => speed.serverAudioSec / (ms / 1000) / speed.rawXrt[i]!));
    rows1.push([
      `Server, ${format}, 1 worker`,
      fmtSummary(xrt, 0, 'x'),
      `${fmtPercent(share)} (rounds ${fmtPercent(roundShares.min)}–${fmtPercent(roundShares.max)})`,
      verdict({ ...roundShares, median: share }, (value) => value >= GOAL_SERVER_SHARE, `≥ ${fmtPercent(GOAL_SERVER_SHARE)}`),
    ]);
  }
  out.push(markdownTable(['Path', 'xRT, median (min–max)', 'Share of raw speed', 'Goal'], rows1), '');

  // ---- Figure 2
  out.push('## 2. Time to first audio byte when streaming', '');
  out.push(
    `The same ${input.longWords}-word text with \`stream: true\` on the 1-worker server, ${TTFB_RUNS} runs per format after one`,
    'warm-up each. Baselines: the raw engine synthesising the first streamed chunk',
    `(${speed.firstChunkChars} characters; the pipeline keeps the first chunk to ≤ ${FIRST_STREAM_CHUNK_CHARS}) in-process, which is the least any`,
    'server could do before its first byte, and `GET /v1/models`, the HTTP round trip with no synthesis.',
    `**Goal: first byte < ${GOAL_TTFB_MS} ms.**`,
    '',
  );
  const firstChunk = summarize(speed.firstChunkMs);
  const floor = summarize(ttfb.httpFloorMs);
  const rows2: string[][] = [
    ['Raw engine, first chunk (baseline)', fmtSummary(firstChunk, 1, ' ms'), '–', ''],
    ['HTTP round trip, `GET /v1/models` (baseline)', fmtSummary(floor, 1, ' ms'), '–', ''],
  ];
  for (const [format, values] of ttfb.formats) {
    const first = summarize(values.firstByteMs);
    rows2.push([
      `Server, ${format}, streamed`,
      fmtSummary(first, 1, ' ms'),
      fmtSummary(summarize(values.totalMs), 0, ' ms'),
      verdict(first, (value) => value < GOAL_TTFB_MS, `< ${GOAL_TTFB_MS} ms`),
    ]);
  }
  out.push(markdownTable(['Path', 'First byte, median (min–max)', 'Full body, median (min–max)', 'Goal'], rows2), '');
  const pcmFirst = median(ttfb.formats.get('pcm')!.firstByteMs);
  const pcmStreamTotal = median(ttfb.formats.get('pcm')!.totalMs);
  const pcmBuffered = median(speed.serverMs.get('pcm')!);
  out.push(
    `The first pcm byte arrives ${(pcmFirst / firstChunk.median).toFixed(1)}x the raw first-chunk time after the request starts.`,
    `Streaming the whole pcm body takes ${(pcmStreamTotal / pcmBuffered).toFixed(2)}x the time of the non-streaming request of figure 1`,
    `(${pcmStreamTotal.toFixed(0)} ms vs ${pcmBuffered.toFixed(0)} ms).`,
    '',
  );

  // ---- Figure 3
  const one = summarize(throughput.one);
  const two = summarize(throughput.two);
  const pairRatios = throughput.two.map((value, i) => value / throughput.one[i]!);
  const scaling = two.median / one.median;
  out.push('## 3. Throughput with 1 vs 2 worker threads', '');
  out.push(
    `${SHORT_TEXTS.length} different ~100-word texts sent at once (pcm, non-streaming; ${throughput.audioSec.toFixed(0)} s of audio per round) to a`,
    `server with \`CHORUS_WORKERS=1\` (baseline) and one with \`CHORUS_WORKERS=2\`, both running side by side and`,
    `loaded alternately, ${THROUGHPUT_ROUNDS} rounds each after a warm-up round. Throughput = total audio seconds / wall seconds.`,
    `This machine has ${machine.cores} cores, so 2.0x is the ceiling. **Goal: 2 workers ≥ ${GOAL_SCALING}x of 1 worker.**`,
    '',
  );
  out.push(
    markdownTable(
      ['Server', 'Throughput, xRT, median (min–max)', 'vs 1 worker', 'Goal'],
      [
        ['1 worker (baseline)', fmtSummary(one, 0, 'x'), '1.00x', ''],
        [
          '2 workers',
          fmtSummary(two, 0, 'x'),
          `${scaling.toFixed(2)}x (per-round pairs ${Math.min(...pairRatios).toFixed(2)}–${Math.max(...pairRatios).toFixed(2)})`,
          verdict({ ...summarize(pairRatios), median: scaling }, (value) => value >= GOAL_SCALING, `≥ ${GOAL_SCALING}x`),
        ],
      ],
    ),
    '',
  );

  // ---- Figure 4
  out.push('## 4. Peak memory', '');
  out.push(
    `Fresh \`chorus serve\` child processes with \`CHORUS_WORKERS=2\` (${MEMORY_SERVERS_BUILD} of the compiled build, ${MEMORY_SERVERS_SOURCE} under tsx). Each runs the figure 3 load plus one`,
    `streamed mp3 of the ${input.longWords}-word text at the same time, ${MEMORY_LOAD_REPEATS} times; then VmHWM (peak resident set, worker`,
    'threads included) and VmRSS are read from `/proc/<pid>/status`. Baseline: VmRSS of the same process idle',
    'right after start-up (engines loaded and warmed). MB = 10^6 bytes. The compiled build is the main figure;',
    `tsx compiles the sources in memory and adds its own share. **Goal: peak < ${GOAL_PEAK_MB} MB.**`,
    '',
  );
  const rows4: string[][] = [];
  for (const memory of [input.memoryBuild, input.memorySource]) {
    if (memory === undefined) continue;
    const idle = summarize(memory.idle.map((m) => m.rssMB));
    const peak = summarize(memory.after.map((m) => m.peakMB));
    const rss = summarize(memory.after.map((m) => m.rssMB));
    rows4.push([
      memory.label,
      fmtSummary(idle, 0, ' MB'),
      fmtSummary(peak, 0, ' MB'),
      fmtSummary(rss, 0, ' MB'),
      `${(peak.median / idle.median).toFixed(2)}x`,
      verdict(peak, (value) => value < GOAL_PEAK_MB, `< ${GOAL_PEAK_MB} MB`),
    ]);
  }
  out.push(markdownTable(['Server', 'Idle RSS (baseline)', 'Peak RSS (VmHWM)', 'RSS after load', 'Peak / idle', 'Goal'], rows4), '');
  if (input.memoryBuild === undefined) out.push('The compiled build could not be measured (see notes); only the tsx figure is available.', '');

  // ---- Figure 5
  out.push('## 5. Encoder cost per format', '');
  out.push(
    `Left: the raw encoder (\`createEncoder()\`, total length known, as for non-streaming responses) encoding ${ENCODER_SECONDS} s`,
    `of the pipeline's 24 kHz output in one call, ${ENCODER_RUNS} runs after a warm-up. Right: the 1-worker server answering the`,
    `${input.longWords}-word text (${speed.serverAudioSec.toFixed(1)} s of audio) non-streaming in each format, interleaved with figure 1`,
    `(${SPEED_ROUNDS} rounds); baseline pcm, which only converts samples to 16-bit. "Encoder share" is the time the raw encoder`,
    'would need for that audio (from its xRT), as a share of the server time. The issue sets no goal here.',
    '',
  );
  const pcmServer = median(speed.serverMs.get('pcm')!);
  const rows5: string[][] = [];
  for (const format of input.formats) {
    const encXrt = summarize(encoders.xrt.get(format)!);
    const serverTimes = speed.serverMs.get(format)!;
    const server = summarize(serverTimes);
    const encoderMs = (speed.serverAudioSec / encXrt.median) * 1000;
    const kbps = (encoders.bytes.get(format)! * 8) / ENCODER_SECONDS / 1000;
    rows5.push([
      format === 'pcm' ? 'pcm (baseline)' : format,
      fmtSummary(encXrt, 0, 'x'),
      `${kbps.toFixed(0)} kbit/s`,
      fmtSummary(server, 0, ' ms'),
      `${(server.median / pcmServer).toFixed(2)}x`,
      fmtPercent(encoderMs / server.median),
    ]);
  }
  out.push(
    markdownTable(
      ['Format', 'Raw encoder xRT, median (min–max)', 'Output rate', 'Server time, median (min–max)', 'Server time vs pcm', 'Encoder share'],
      rows5,
    ),
    '',
  );

  // ---- Figure 6
  const jobApi = renderJobApi(input.jobLatency, input.jobThroughput, { cores: machine.cores, openaiScaling: scaling, openaiOneXrt: one.median });
  out.push(...jobApi.lines);

  // ---- Figure 7
  out.push(renderWatermark(input.watermark));

  // ---- Figure 8
  out.push(renderVoices(input.voices));

  // ---- Figure 9
  out.push(renderAlignment(input.alignment));

  // ---- Figure 10
  out.push(renderCache(input.cache));

  // ---- Figure 11
  out.push(renderScaleOut(input.scaleOut, machine.cores));

  // ---- Figure 12
  out.push(renderAgent(input.agent));

  // ---- Figures 13 and 14
  out.push(renderBackpressure(input.backpressure));
  out.push(renderBigResults(input.bigResults));
  out.push(renderNeuralEngines(input.neural));
  out.push(renderRemoteEngines(input.remote));

  // ---- Reading
  out.push('## Reading the numbers', '');
  const pcmShare = serverXrt('pcm').median / rawXrt.median;
  const mp3Share = serverXrt('mp3').median / rawXrt.median;
  const byCost = input.formats
    .map((format) => ({ format, ratio: median(speed.serverMs.get(format)!) / pcmServer }))
    .sort((a, b) => a.ratio - b.ratio)
    .map(({ format, ratio }) => `${format} ${ratio.toFixed(2)}x`)
    .join(', ');
  const mp3EncoderXrt = median(encoders.xrt.get('mp3')!);
  const mp3Bound = 1 / (1 / rawXrt.median + 1 / mp3EncoderXrt);
  const mainMemory = input.memoryBuild ?? input.memorySource;
  const idleMB = median(mainMemory.idle.map((m) => m.rssMB));
  const peakMB = median(mainMemory.after.map((m) => m.peakMB));
  const ttfbMet = [...ttfb.formats.values()].every((values) => median(values.firstByteMs) < GOAL_TTFB_MS);
  out.push(
    [
      `The raw engine makes about ${rawXrt.median.toFixed(0)} seconds of speech per second of wall time on one core, so the`,
      `${input.longWords}-word text (${speed.serverAudioSec.toFixed(0)} s of audio) takes ${((speed.rawAudioSec / rawXrt.median) * 1000).toFixed(0)} ms raw and ${pcmBuffered.toFixed(0)} ms through the server as pcm.`,
      `Through the server it runs at ${fmtPercent(pcmShare)} of raw speed as pcm and ${fmtPercent(mp3Share)} as mp3`,
      `(goal ${fmtPercent(GOAL_SERVER_SHARE)}); the in-process pipeline row (${fmtPercent(pipelineXrt.median / rawXrt.median)} of raw) separates what the pipeline`,
      'itself adds (resampling to 24 kHz, 16-bit conversion) from what the worker thread and HTTP add.',
      `The engine and the encoder run one after the other on the same thread, so even with no other overhead mp3 could`,
      `reach at most 1 / (1/${rawXrt.median.toFixed(0)} + 1/${mp3EncoderXrt.toFixed(0)}) = ${mp3Bound.toFixed(0)}x, ${fmtPercent(mp3Bound / rawXrt.median)} of raw speed, with this engine and encoder.`,
      `Server time relative to pcm, cheapest first: ${byCost}; the "encoder share" column says how much of each`,
      'is the encoder alone.',
      `Streaming ${ttfbMet ? 'meets' : 'does not meet'} the ${GOAL_TTFB_MS} ms first-byte goal; the first byte waits only for the first chunk`,
      `(≤ ${FIRST_STREAM_CHUNK_CHARS} characters), not for the whole text.`,
      `Two workers give ${scaling.toFixed(2)}x the throughput of one (goal ${GOAL_SCALING}x, ceiling 2.0x on ${machine.cores} cores); the benchmark client`,
      "and the server's main thread (HTTP, moving bytes) share those cores with the workers.",
      `A 2-worker server (${mainMemory.label}) holds ${idleMB.toFixed(0)} MB idle and peaks at ${peakMB.toFixed(0)} MB under the load (goal < ${GOAL_PEAK_MB} MB).`,
      ...jobApi.reading,
      'Differences of a few percent are within the noise of a shared machine; compare the min–max ranges before',
      'drawing conclusions.',
    ].join('\n'),
    '',
  );

  // At start the load average reflects other work only; later it includes the benchmark's own servers.
  const before = machine.loadAverage[0] ?? 0;
  if (before > machine.cores * 0.5) {
    input.notes.items.push(
      `The 1-minute load average was already ${before.toFixed(2)} on ${machine.cores} cores when the run started, so other work ` +
        'was competing for the CPU or had just stopped (the 1-minute average lags). Figure 3 needs both cores free and suffers most; ratios are less affected than ' +
        'absolute xRT values because baseline and measurement alternate.',
    );
  }
  if (input.notes.items.length > 0) {
    out.push('## Notes', '');
    for (const note of input.notes.items) out.push(`- ${note}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** The servers run the compiled build, as in production; the sources under tsx if the build fails. */
async function serverMode(notes: Notes): Promise<ServerMode> {
  try {
    const buildStart = now();
    const buildRoot = await buildToTempDir();
    log(`compiled build ready in ${((now() - buildStart) / 1000).toFixed(1)} s`);
    return { kind: 'build', buildRoot };
  } catch (error) {
    notes.items.push(`The compiled build failed (${String((error as Error).message).split('\n')[0]}); servers ran from the sources under tsx.`);
    log(`build failed, using tsx: ${(error as Error).message}`);
    return { kind: 'source' };
  }
}

// ---------------------------------------------------------------------------------------------
// --only: figures that need nothing measured for the others

/** Each measures its figure and renders its section of docs/benchmarks.md (starting with `## N.`). */
const STANDALONE_FIGURES: Readonly<Record<number, (mode: ServerMode) => Promise<string>>> = {
  7: async () => renderWatermark(await measureWatermark()),
  11: async (mode) => renderScaleOut(await measureScaleOut(mode), machineInfo().cores),
  12: async (mode) => renderAgent(await measureAgent(await createEspeakEngine(), mode)),
  13: async (mode) => renderBackpressure(await measureBackpressure(mode)),
  14: async (mode) => renderBigResults(await measureBigResults(mode)),
  15: async (mode) => renderNeuralEngines(await measureNeuralEngines(mode)),
  16: async (mode) => renderRemoteEngines(await measureRemoteEngines(mode)),
};

/** `--only 13,14` (or `--only=13,14`): the figures asked for, or undefined for the full run. */
function onlyFigures(args: readonly string[]): number[] | undefined {
  const index = args.findIndex((arg) => arg === '--only' || arg.startsWith('--only='));
  if (index < 0) return undefined;
  const value = args[index]!.startsWith('--only=') ? args[index]!.slice('--only='.length) : (args[index + 1] ?? '');
  const figures = value.split(',').filter((item) => item.trim() !== '').map(Number);
  const unknown = figures.filter((figure) => STANDALONE_FIGURES[figure] === undefined);
  if (figures.length === 0 || unknown.length > 0) {
    throw new Error(`--only takes a comma-separated list of ${Object.keys(STANDALONE_FIGURES).join(', ')} (the figures that stand alone); got '${value}'`);
  }
  return figures;
}

/**
 * Measures the chosen figures and replaces their sections of docs/benchmarks.md (or adds them in
 * figure order), each marked with when and on which code it was measured. The page is written after
 * every figure, so one that fails keeps the others'.
 */
async function measureOnly(figures: readonly number[]): Promise<void> {
  const startedAt = new Date();
  const code = codeState();
  const machine = machineInfo();
  const notes: Notes = { items: [] };
  const page = join(REPO_ROOT, 'docs', 'benchmarks.md');
  try {
    const mode = await serverMode(notes);
    for (const figure of figures) {
      const section = await STANDALONE_FIGURES[figure]!(mode);
      const provenance =
        `_Measured on its own (\`npm run bench -- --only ${figures.join(',')}\`) on ${startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC, ` +
        `commit ${code.commit}${code.changes.length > 0 ? ` with uncommitted changes in ${code.changes.join(', ')}` : ''}, ` +
        `${machine.cores} cores, load ${machine.loadAverage.map((load) => load.toFixed(2)).join(' / ')} at the start` +
        `${notes.items.length > 0 ? `; ${notes.items.join(' ')}` : ''}. The page's header describes the full run._`;
      const [heading, ...rest] = section.split('\n');
      const text = existsSync(page) ? readFileSync(page, 'utf8') : '# Benchmarks\n\n';
      writeFileSync(page, replaceSection(text, figure, [heading, '', provenance, ...rest].join('\n')));
      log(`figure ${figure}: written to docs/benchmarks.md`);
    }
  } finally {
    await stopAllChildren();
  }
}

/** The page with figure `figure`'s section (`## N. …` up to the next `## `) replaced, or inserted in figure order. */
function replaceSection(page: string, figure: number, section: string): string {
  const headings = [...page.matchAll(/^## (\d+)?.*$/gm)].map((match) => ({ at: match.index, figure: match[1] === undefined ? undefined : Number(match[1]) }));
  const own = headings.findIndex((heading) => heading.figure === figure);
  const body = `${section.trimEnd()}\n\n`;
  if (own >= 0) {
    const end = headings[own + 1]?.at ?? page.length;
    return page.slice(0, headings[own]!.at) + body + page.slice(end);
  }
  // Before the first later figure; failing that, before the first section after the figures ("Reading the numbers").
  const later = headings.find((heading) => heading.figure !== undefined && heading.figure > figure);
  const lastFigure = headings.findLast((heading) => heading.figure !== undefined);
  const afterFigures = headings.find((heading) => heading.figure === undefined && heading.at > (lastFigure?.at ?? -1));
  const at = (later ?? afterFigures)?.at ?? page.length;
  return page.slice(0, at) + body + page.slice(at);
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    process.stderr.write(`bench failed: ${String((error as Error)?.stack ?? error)}\n`);
    await stopAllChildren();
    process.exit(1);
  },
);
