/**
 * Figure 9: word timings.
 *
 *   a. The pipeline's timings after the steps that move time (native and time-stretched speed, sentence gaps,
 *      pitch shift, resampling), against the engine's own events. Ground truth is acoustic: in a reference
 *      render (same voice and native speed, nothing else) every word that starts after a pause has a sound
 *      onset at a fixed distance from its event time. In the processed audio that onset is found again; the
 *      true start is the onset minus that distance (scaled by the time-stretch). Words inside a phrase have no
 *      clean onset and are not measured.
 *   b. The forced aligner on synthesized speech: eSpeak voices other than the aligner's reference, at other
 *      speeds and with gaps (truth: the engine's events), flite voices (truth: flite's own phone durations),
 *      and flite with white noise at 20 dB SNR.
 *   c. Cost: what asking for timings adds per synthesized second on the OpenAI route (`/extended` with
 *      `timestamps` against `/v1/audio/speech`), and the aligner's time per second of audio against the raw
 *      engine rendering the same text.
 */
import { alignWords } from '../src/alignment/forced-aligner.js';
import type { SpeechEngine } from '../src/engine/speech-engine.js';
import { renderPcm, type RenderedPcm } from '../src/pipeline/render-pcm.js';
import { fliteTimedReference, type FliteVoice } from '../test/support/reference-voices.js';
import { fmtSummary, log, markdownTable, median, now, summarize, type ServerProcess } from './support.js';
import { LONG_TEXT, SHORT_TEXTS } from './texts.js';

export const TIMING_COST_ROUNDS = 8;
const ENGINE_RATE = 22_050;
/** eSpeak's native speed range (nativeSpeedRange of the engine); outside it the pipeline time-stretches. */
const NATIVE_SPEED: readonly [number, number] = [0.5, 2];
/** An onset further than this from where the reported start puts it counts as this error. */
const ONSET_SEARCH_SEC = 0.2;
const GOAL_PIPELINE_MS = 10;
const GOAL_ALIGNER_MS = 40;

interface PipelineCase {
  readonly label: string;
  readonly voice: string;
  readonly speed: number;
  readonly gap?: number;
  readonly pitch?: number;
  readonly rate?: number;
}

const PIPELINE_CASES: readonly PipelineCase[] = [
  { label: 'speed 1.3 (native), 0.8 s gaps', voice: 'Amy', speed: 1.3, gap: 0.8 },
  { label: 'speed 0.8 (native), 0.3 s gaps', voice: 'Brian', speed: 0.8, gap: 0.3 },
  { label: 'speed 3 (native 2, stretched 1.5x)', voice: 'Albert', speed: 3 },
  { label: 'speed 0.35 (native 0.5, stretched 0.7x)', voice: 'Amy', speed: 0.35 },
  { label: 'pitch +4 semitones, 0.5 s gaps', voice: 'Carolyn', speed: 1, pitch: 4, gap: 0.5 },
  { label: 'speed 1.5, 0.5 s gaps, resampled to 16 kHz', voice: 'Brian', speed: 1.5, gap: 0.5, rate: 16_000 },
];

export interface ErrorRow {
  readonly label: string;
  /** Absolute word-start errors, seconds. */
  readonly errors: number[];
  readonly words: number;
}

export interface AlignmentBenchResult {
  readonly pipeline: ErrorRow[];
  readonly aligner: ErrorRow[];
  readonly alignerSkipped: string[];
  /** Per round: ms per synthesized second, without and with timings. */
  readonly plainMsPerSec: number[];
  readonly timedMsPerSec: number[];
  /** Per aligned clip: aligner ms and raw-engine ms per second of audio. */
  readonly alignerMsPerSec: number[];
  readonly engineMsPerSec: number[];
}

function render(engine: SpeechEngine, text: string, options: Omit<PipelineCase, 'label'>): Promise<RenderedPcm> {
  const request = {
    text,
    voiceId: options.voice,
    speed: options.speed,
    pitchSemitones: options.pitch ?? 0,
    sampleRate: options.rate ?? ENGINE_RATE,
    normalization: 'none' as const,
    maxChunkChars: 400,
    delivery: 'buffered' as const,
    watermark: false,
    ...(options.gap === undefined ? {} : { sentenceGapSec: options.gap }),
  };
  return renderPcm({ engine, ffmpegPath: 'ffmpeg' }, request, new AbortController().signal);
}

/** A reference word counts when its sound starts after at least this much quiet... */
const PAUSE_SEC = 0.05;
/**
 * ...and within this long after its event. Later onsets are the closure of a plosive (the quiet is
 * inside the word), which eSpeak renders a little differently when it speaks a sentence alone, as
 * gaps need, so they are no stable landmark.
 */
const MAX_ONSET_LEAD_SEC = 0.025;

/** Times (s) where sound starts after at least `quietSec` below -35 dB of the loudest 2.5 ms frame. */
function soundOnsets(samples: Float32Array, sampleRate: number, quietSec: number): number[] {
  const hop = Math.round(0.0025 * sampleRate);
  const frames = Math.floor(samples.length / hop);
  const rms = new Float64Array(frames);
  let loudest = 0;
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let i = f * hop; i < (f + 1) * hop; i++) sum += samples[i]! * samples[i]!;
    rms[f] = Math.sqrt(sum / hop);
    loudest = Math.max(loudest, rms[f]!);
  }
  const threshold = loudest * 10 ** (-35 / 20);
  const quietFrames = Math.round(quietSec / 0.0025);
  const onsets: number[] = [];
  let quiet = 0;
  for (let f = 0; f < frames; f++) {
    if (rms[f]! < threshold) quiet++;
    else {
      if (quiet >= quietFrames) onsets.push((f * hop) / sampleRate);
      quiet = 0;
    }
  }
  return onsets;
}

const nearest = (values: readonly number[], target: number): number | undefined => {
  let best: number | undefined;
  for (const value of values) if (best === undefined || Math.abs(value - target) < Math.abs(best - target)) best = value;
  return best;
};

async function measurePipelineCase(engine: SpeechEngine, text: string, testCase: PipelineCase): Promise<{ errors: number[]; words: number }> {
  const nativeSpeed = Math.min(NATIVE_SPEED[1], Math.max(NATIVE_SPEED[0], testCase.speed));
  const stretch = testCase.speed / nativeSpeed;
  const reference = await render(engine, text, { voice: testCase.voice, speed: nativeSpeed });
  const processed = await render(engine, text, testCase);
  const referenceOnsets = soundOnsets(reference.samples, reference.sampleRate, PAUSE_SEC);
  // The same pauses, shortened by the time-stretch (with a margin).
  const processedOnsets = soundOnsets(processed.samples, processed.sampleRate, (0.7 * PAUSE_SEC) / stretch);
  const reported = new Map(processed.words.map((w) => [w.charStart, w.start]));
  const errors: number[] = [];
  for (const word of reference.words) {
    // A word with a clean onset: sound starts just after its event, following a pause.
    const onset = nearest(referenceOnsets, word.start);
    if (onset === undefined || onset < word.start - 0.03 || onset > word.start + MAX_ONSET_LEAD_SEC) continue;
    const start = reported.get(word.charStart);
    if (start === undefined) throw new Error(`figure 9: "${word.word}" has no timing after ${testCase.label}`);
    const lead = (onset - word.start) / stretch;
    const found = nearest(processedOnsets, start + lead);
    errors.push(found === undefined ? ONSET_SEARCH_SEC : Math.min(ONSET_SEARCH_SEC, Math.abs(found - lead - start)));
  }
  return { errors, words: processed.words.length };
}

function meanMs(values: readonly number[]): number {
  return (values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)) * 1000;
}

function percentileMs(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0) * 1000;
}

function addNoise(samples: Float32Array, snrDb: number): Float32Array {
  let energy = 0;
  for (const x of samples) energy += x * x;
  // Uniform noise in [-a, a] has RMS a / sqrt(3).
  const amplitude = Math.sqrt(energy / samples.length) * 10 ** (-snrDb / 20) * Math.sqrt(3);
  let seed = 1;
  const noisy = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    noisy[i] = samples[i]! + ((seed / 2147483648) * 2 - 1) * amplitude;
  }
  return noisy;
}

async function rawEngineMs(engine: SpeechEngine, text: string): Promise<number> {
  const started = now();
  for await (const part of engine.synthesize({ text, voiceId: 'default' }, new AbortController().signal)) void part;
  return now() - started;
}

async function speechMsPerSec(server: ServerProcess, path: string, body: Record<string, unknown>): Promise<number> {
  const started = now();
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const ms = now() - started;
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  let seconds: number;
  if (path.endsWith('/extended')) {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as { duration: number; word_timings: unknown[] };
    if (json.word_timings.length === 0) throw new Error('figure 9: /extended returned no timings');
    seconds = json.duration;
  } else {
    seconds = (bytes.length - 44) / 2 / 24_000;
  }
  return ms / seconds;
}

export async function measureAlignment(engine: SpeechEngine, server: ServerProcess): Promise<AlignmentBenchResult> {
  // ---- a. pipeline timings
  const pipeline: ErrorRow[] = [];
  for (const testCase of PIPELINE_CASES) {
    const errors: number[] = [];
    let words = 0;
    for (const text of SHORT_TEXTS.slice(0, 4)) {
      const result = await measurePipelineCase(engine, text, testCase);
      errors.push(...result.errors);
      words += result.words;
    }
    pipeline.push({ label: testCase.label, errors, words });
    log(`figure 9a: ${testCase.label}: mean ${meanMs(errors).toFixed(1)} ms over ${errors.length} words`);
  }

  // ---- b. the forced aligner
  const aligner: ErrorRow[] = [];
  const alignerSkipped: string[] = [];
  const alignerMsPerSec: number[] = [];
  const engineMsPerSec: number[] = [];
  const timeAlignment = async (samples: Float32Array, sampleRate: number, text: string) => {
    const started = now();
    const aligned = await alignWords(engine, samples, sampleRate, text);
    const seconds = samples.length / sampleRate;
    alignerMsPerSec.push((now() - started) / seconds);
    engineMsPerSec.push((await rawEngineMs(engine, text)) / seconds);
    return aligned;
  };
  for (const [voice, speed, gap] of [
    ['Albert', 1, undefined],
    ['Amy', 0.8, undefined],
    ['Brian', 1.3, 0.6],
    ['Carolyn', 1, 0.6],
  ] as const) {
    const errors: number[] = [];
    let words = 0;
    for (const text of SHORT_TEXTS.slice(4, 8)) {
      const audio = await render(engine, text, { voice, speed, ...(gap === undefined ? {} : { gap }) });
      const aligned = await timeAlignment(audio.samples, audio.sampleRate, text);
      const truth = new Map(audio.words.map((w) => [w.charStart, w.start]));
      for (const word of aligned) {
        const start = truth.get(word.charStart);
        if (start !== undefined) errors.push(Math.abs(word.start - start));
      }
      words += aligned.length;
    }
    aligner.push({ label: `eSpeak ${voice}, speed ${speed}${gap === undefined ? '' : `, ${gap} s gaps`}`, errors, words });
    log(`figure 9b: eSpeak ${voice}: mean ${meanMs(errors).toFixed(1)} ms`);
  }
  const sentences = LONG_TEXT.split(/(?<=[.!?])\s+/);
  const fliteTexts = [0, 1].map((k) =>
    sentences
      .slice(k * 4, k * 4 + 4)
      .join(' ')
      .replace(/[^A-Za-z ]/g, ' ')
      .split(/\s+/)
      .filter((word) => word.length > 0),
  );
  for (const [voice, snr] of [
    ['slt', undefined],
    ['rms', undefined],
    ['awb', undefined],
    ['slt', 20],
    ['rms', 20],
  ] as [FliteVoice, number | undefined][]) {
    const errors: number[] = [];
    let words = 0;
    for (const wordList of fliteTexts) {
      let reference;
      try {
        reference = await fliteTimedReference(wordList, voice);
      } catch (error) {
        alignerSkipped.push(`flite ${voice}: ${(error as Error).message}`);
        continue;
      }
      const samples = snr === undefined ? reference.samples : addNoise(reference.samples, snr);
      const aligned = await timeAlignment(samples, reference.sampleRate, reference.text);
      aligned.forEach((word, i) => errors.push(Math.abs(word.start - reference.wordStarts[i]!)));
      words += aligned.length;
    }
    aligner.push({ label: `flite ${voice}${snr === undefined ? '' : `, white noise at ${snr} dB SNR`}`, errors, words });
    log(`figure 9b: flite ${voice}${snr === undefined ? '' : ` + noise`}: mean ${meanMs(errors).toFixed(1)} ms`);
  }

  // ---- c. cost of timings on the OpenAI route (texts made unique so the result cache never answers)
  const plainMsPerSec: number[] = [];
  const timedMsPerSec: number[] = [];
  for (let round = 0; round < TIMING_COST_ROUNDS; round++) {
    const text = (suffix: string) => `${SHORT_TEXTS[round % SHORT_TEXTS.length]} (Timing round ${round}, ${suffix}.)`;
    const base = { model: 'tts-1', voice: 'Amy', response_format: 'wav' };
    const pair = [
      async () => plainMsPerSec.push(await speechMsPerSec(server, '/v1/audio/speech', { ...base, input: text('plain') })),
      async () => timedMsPerSec.push(await speechMsPerSec(server, '/v1/audio/speech/extended', { ...base, input: text('timed'), timestamps: true })),
    ];
    if (round % 2 === 1) pair.reverse();
    for (const run of pair) await run();
  }
  log(`figure 9c: ${median(plainMsPerSec).toFixed(1)} vs ${median(timedMsPerSec).toFixed(1)} ms per synthesized second`);
  return { pipeline, aligner, alignerSkipped, plainMsPerSec, timedMsPerSec, alignerMsPerSec, engineMsPerSec };
}

export function renderAlignment(result: AlignmentBenchResult): string {
  const rows = (list: readonly ErrorRow[]) =>
    list.map((row) => [row.label, `${row.errors.length} / ${row.words}`, meanMs(row.errors).toFixed(1), percentileMs(row.errors, 0.95).toFixed(0), percentileMs(row.errors, 1).toFixed(0)]);
  const pipelineAll = result.pipeline.flatMap((row) => row.errors);
  const espeakAll = result.aligner.filter((row) => row.label.startsWith('eSpeak')).flatMap((row) => row.errors);
  const fliteClean = result.aligner.filter((row) => row.label.startsWith('flite') && !row.label.includes('noise')).flatMap((row) => row.errors);
  const synthesized = [...espeakAll, ...fliteClean];
  const plain = median(result.plainMsPerSec);
  const timed = median(result.timedMsPerSec);
  const alignerCost = summarize(result.alignerMsPerSec);
  const engineCost = median(result.engineMsPerSec);
  const header = ['case', 'words measured / timed', 'mean error (ms)', 'p95 (ms)', 'max (ms)'];
  return [
    '## 9. Word timings',
    '',
    '### a. The pipeline\'s timings after speed, gaps, pitch shift and resampling',
    '',
    'Four texts of 60–80 words per case. The truth is acoustic: in a reference render (same voice at the native',
    'speed, nothing else) each word whose sound starts after at least 50 ms of quiet, and at most 25 ms after its',
    'engine event, has that onset as a landmark; the onset is found again in the processed audio (the nearest to',
    'where the reported start puts it; none within 200 ms counts as 200 ms off) and the distance, scaled by the',
    'time-stretch, is taken off. Words inside a phrase, and words opening on a plosive\'s closure, have no stable',
    'landmark and are not counted. Goal: under 10 ms mean.',
    '',
    markdownTable(header, rows(result.pipeline)),
    '',
    `- All cases: mean ${meanMs(pipelineAll).toFixed(1)} ms, p95 ${percentileMs(pipelineAll, 0.95).toFixed(0)} ms over ${pipelineAll.length} words ` +
      `(goal < ${GOAL_PIPELINE_MS} ms mean): **${meanMs(pipelineAll) < GOAL_PIPELINE_MS ? 'met' : 'not met'}**.`,
    '',
    '### b. The forced aligner on synthesized speech',
    '',
    'The aligner hears only the audio and knows only the text; its own reference is eSpeak\'s default voice at',
    'speed 1. eSpeak rows: other voices, speeds and gaps, four texts each, truth from the engine\'s events (through',
    'the pipeline, which part a measures). flite rows: a different synthesizer, eight sentences of the 500-word text',
    'with punctuation removed, truth from flite\'s phone durations (`-psdur`); the noisy rows add white noise at 20 dB SNR.',
    '',
    markdownTable(header, rows(result.aligner)),
    '',
    `- Synthesized speech without noise (eSpeak and flite rows): mean ${meanMs(synthesized).toFixed(1)} ms, p95 ` +
      `${percentileMs(synthesized, 0.95).toFixed(0)} ms over ${synthesized.length} words (goal < ${GOAL_ALIGNER_MS} ms mean): ` +
      `**${meanMs(synthesized) < GOAL_ALIGNER_MS ? 'met' : 'not met'}**. flite alone: mean ${meanMs(fliteClean).toFixed(1)} ms.`,
    ...(result.alignerSkipped.length > 0 ? [`- Not measured: ${result.alignerSkipped.join('; ')}.`] : []),
    '',
    '### c. Cost',
    '',
    markdownTable(
      ['', 'median [min–max]', 'ratio'],
      [
        ['`/v1/audio/speech` (wav), ms per synthesized second', fmtSummary(summarize(result.plainMsPerSec), 1), ''],
        [
          '`/v1/audio/speech/extended` with `timestamps`, ms per synthesized second',
          fmtSummary(summarize(result.timedMsPerSec), 1),
          `${(timed / plain).toFixed(2)}x (${(timed - plain).toFixed(1)} ms extra per second)`,
        ],
        ['forced aligner, ms per second of audio', fmtSummary(alignerCost, 1), `${(alignerCost.median / engineCost).toFixed(2)}x the raw engine speaking the text (${engineCost.toFixed(1)} ms/s)`],
      ],
    ),
    '',
    `Timings from the engine cost ${(timed - plain).toFixed(1)} ms per synthesized second on the OpenAI route (${TIMING_COST_ROUNDS} alternating pairs of`,
    'distinct texts, so the result cache never answers; the JSON answer carries the audio as base64, which accounts for',
    'part of it). The aligner includes rendering its reference, so it costs at least what the engine does.',
    '',
  ].join('\n');
}
