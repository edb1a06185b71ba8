/**
 * Figure 7 of `npm run bench`: the inaudible watermark (src/audio/watermark). Distinct eSpeak clips
 * of 1–15 s at 16, 24 and 44.1 kHz (the main set), the same kind at 8 kHz, and utterances of one to
 * four words at all four rates; each detected marked, unmarked, and both again after MP3 at
 * 64 kbit/s. Plus what marking costs against real time and against the MP3 encoder on the same audio.
 * Runs in the benchmark process; no server. Standalone:
 *
 *   node --import tsx -e "import('./bench/watermark.ts').then(async m => console.log(m.renderWatermark(await m.measureWatermark())))"
 */
import decodeAudio from 'audio-decode';
import { initDsp, resampleBuffer } from '../src/audio/dsp/index.js';
import { createEncoder } from '../src/audio/encoders/index.js';
import { concatBytes, concatFloat32 } from '../src/audio/pcm.js';
import {
  applyWatermark,
  measureWatermarkFilter,
  detectWatermark,
  WATERMARK_LATENCY_SEC,
  WATERMARK_NARROWBAND_RIPPLE_DB,
  WATERMARK_RIPPLE_DB,
  WATERMARK_THRESHOLD,
} from '../src/audio/watermark/watermark.js';
import { createEspeakEngine } from '../src/engines/espeak/espeak-engine.js';
import { fmtPercent, log, markdownTable, median, now } from './support.js';
import { LONG_TEXT, SENTENCES, SHORT_TEXTS } from './texts.js';

export type ClipSet = 'main' | 'narrowband' | 'short';

/** Distinct clips per set; each yields four files (marked, unmarked, and both through MP3). */
export const WATERMARK_SETS: Readonly<Record<ClipSet, { readonly clips: number; readonly rates: readonly number[]; readonly minSec: number; readonly maxSec: number }>> = {
  main: { clips: 120, rates: [16_000, 24_000, 44_100], minSec: 1, maxSec: 15 },
  narrowband: { clips: 40, rates: [8000], minSec: 1, maxSec: 15 },
  short: { clips: 60, rates: [8000, 16_000, 24_000, 44_100], minSec: 0.3, maxSec: 1.5 },
};
/** eSpeak's default rate is close to this; only used to aim clip lengths. */
const WORDS_PER_SEC = 2.7;
const MP3_KBPS = 64;

export const GOAL_DETECTION = 0.99;
export const GOAL_FALSE_POSITIVE = 0.01;

const FFMPEG_PATH = process.env['CHORUS_FFMPEG_PATH'] ?? 'ffmpeg';
const never = new AbortController().signal;

export interface WatermarkClip {
  readonly set: ClipSet;
  readonly durationSec: number;
  readonly sampleRate: number;
  readonly voice: string;
  readonly words: number;
  /** Detection scores (z). */
  readonly marked: number;
  readonly unmarked: number;
  readonly markedMp3: number;
  readonly unmarkedMp3: number;
  /** Power of the clip over power of (marked − clip), dB. */
  readonly snrDb: number;
}

export interface WatermarkResult {
  readonly clips: readonly WatermarkClip[];
  readonly threshold: number;
  readonly audioSec: number;
  /** Wall time of applyWatermark over all clips, of the MP3 encoder over the marked clips, of every detection. */
  readonly embedMs: number;
  readonly mp3Ms: number;
  readonly detectMs: number;
  readonly detections: number;
  /** Magnitude response of the filter: largest |dB| and rms dB over 300 Hz – 8 kHz at 24 kHz, and over 300–3680 Hz at 8 kHz. */
  readonly ripple: { readonly maxDb: number; readonly rmsDb: number };
  readonly narrowbandRipple: { readonly maxDb: number; readonly rmsDb: number };
}


async function encodeMp3(samples: Float32Array, sampleRate: number): Promise<Uint8Array> {
  const encoder = createEncoder('mp3', { sampleRate, bitrateKbps: MP3_KBPS, totalSamples: samples.length }, { ffmpegPath: FFMPEG_PATH });
  try {
    return concatBytes([await encoder.write(samples), await encoder.end()]);
  } finally {
    encoder.dispose();
  }
}

async function decodeMono(bytes: Uint8Array): Promise<{ samples: Float32Array; sampleRate: number }> {
  const decoded = await decodeAudio(bytes);
  return { samples: decoded.channelData[0]!, sampleRate: decoded.sampleRate };
}

/**
 * Clip i of a set: a window of the benchmark prose aimed at a length spread evenly on a log scale
 * over the set's range (every tenth clip of the main set is one of the twelve sentences instead).
 * `offset` gives each set its own stretch of the text.
 */
function clipText(words: readonly string[], set: ClipSet, index: number, offset: number): string {
  const { minSec, maxSec } = WATERMARK_SETS[set];
  if (set === 'main' && index % 10 === 0) return SENTENCES[(index / 10) % SENTENCES.length]!;
  const targetSec = minSec * (maxSec / minSec) ** ((index * 0.618034) % 1);
  const count = Math.max(1, Math.round(targetSec * WORDS_PER_SEC));
  // Every clip starts at another word (5 apart), so no two windows coincide.
  const start = (offset + index * 5) % (words.length - count);
  return words.slice(start, start + count).join(' ');
}

function filterRipple(rate: number, topHz: number): { maxDb: number; rmsDb: number } {
  const { maxDb, rmsDb } = measureWatermarkFilter(rate, 300, topHz);
  return { maxDb, rmsDb };
}

export async function measureWatermark(): Promise<WatermarkResult> {
  await initDsp();
  const engine = await createEspeakEngine();
  const voices = engine.listVoices().map((voice) => voice.id);
  const words = [...SHORT_TEXTS, LONG_TEXT].join(' ').split(/\s+/).filter((word) => word.length > 0);
  const clips: WatermarkClip[] = [];
  let embedMs = 0;
  let mp3Ms = 0;
  let detectMs = 0;
  let detections = 0;
  let audioSec = 0;
  const detect = (samples: Float32Array, sampleRate: number): number => {
    const start = now();
    const { score } = detectWatermark(samples, sampleRate);
    detectMs += now() - start;
    detections++;
    return score;
  };
  // Warm-up: the JIT, and the filter designs of every rate (cached from then on, as in the server).
  for (const sampleRate of WATERMARK_SETS.short.rates) detectWatermark(applyWatermark(new Float32Array(sampleRate), sampleRate), sampleRate);
  await encodeMp3(new Float32Array(16_000), 16_000);

  const total = Object.values(WATERMARK_SETS).reduce((sum, set) => sum + set.clips, 0);
  log(`figure 7: ${total} clips, four detections each`);
  const seen = new Set<string>();
  const order: [ClipSet, number][] = (Object.keys(WATERMARK_SETS) as ClipSet[]).flatMap((set) =>
    Array.from({ length: WATERMARK_SETS[set].clips }, (_, index): [ClipSet, number] => [set, index]),
  );
  for (const [set, index] of order) {
    const text = clipText(words, set, index, set === 'main' ? 0 : set === 'narrowband' ? 333 : 666);
    // A one-word window can repeat a word ("the"); in another voice it is still another recording,
    // so distinctness is checked on text and voice together.
    const voice = voices[(index * 7 + (set === 'main' ? 0 : set === 'narrowband' ? 3 : 5)) % voices.length]!;
    if (seen.has(`${text}|${voice}`)) throw new Error(`watermark benchmark: ${set} clip ${index} repeats an earlier one`);
    seen.add(`${text}|${voice}`);
    const rates = WATERMARK_SETS[set].rates;
    const sampleRate = rates[index % rates.length]!;
    const parts: Float32Array[] = [];
    for await (const part of engine.synthesize({ text, voiceId: voice }, never)) if (part.type === 'audio') parts.push(part.samples);
    const clip = resampleBuffer(concatFloat32(parts), engine.capabilities.sampleRate, sampleRate, 3);

    const embedStart = now();
    const marked = applyWatermark(clip, sampleRate);
    embedMs += now() - embedStart;
    const mp3Start = now();
    const markedMp3Bytes = await encodeMp3(marked, sampleRate);
    mp3Ms += now() - mp3Start;
    const markedMp3 = await decodeMono(markedMp3Bytes);
    const unmarkedMp3 = await decodeMono(await encodeMp3(clip, sampleRate));

    let signal = 0;
    let difference = 0;
    for (let i = 0; i < clip.length; i++) {
      signal += clip[i]! ** 2;
      difference += (marked[i]! - clip[i]!) ** 2;
    }
    const durationSec = clip.length / sampleRate;
    audioSec += durationSec;
    clips.push({
      set,
      durationSec,
      sampleRate,
      voice,
      words: text.split(/\s+/).length,
      marked: detect(marked, sampleRate),
      unmarked: detect(clip, sampleRate),
      markedMp3: detect(markedMp3.samples, markedMp3.sampleRate),
      unmarkedMp3: detect(unmarkedMp3.samples, unmarkedMp3.sampleRate),
      snrDb: 10 * Math.log10(signal / difference),
    });
    if (clips.length % 40 === 0) log(`figure 7: ${clips.length}/${total} clips`);
  }
  return {
    clips,
    threshold: WATERMARK_THRESHOLD,
    audioSec,
    embedMs,
    mp3Ms,
    detectMs,
    detections,
    ripple: filterRipple(24_000, 8000),
    narrowbandRipple: filterRipple(8000, 3680),
  };
}

// ---------------------------------------------------------------------------------------------

const share = (values: readonly number[], threshold: number): number => values.filter((value) => value >= threshold).length / values.length;
const count = (values: readonly number[], threshold: number): string => `${values.filter((value) => value >= threshold).length}/${values.length}`;
const minMedian = (values: readonly number[]): string => `${Math.min(...values).toFixed(1)} / ${median(values).toFixed(1)}`;

/** Figure 7 as a markdown section (heading, method, tables, reading). */
export function renderWatermark(result: WatermarkResult): string {
  const { clips, threshold } = result;
  const out: string[] = [];
  const main = clips.filter((clip) => clip.set === 'main');
  const durations = main.map((clip) => clip.durationSec);
  const rateList = (set: ClipSet): string => WATERMARK_SETS[set].rates.map((rate) => `${rate / 1000}`).join(' / ');
  out.push('## 7. Watermark detection', '');
  out.push(
    `Main set: ${main.length} distinct eSpeak clips (${Math.min(...durations).toFixed(1)}–${Math.max(...durations).toFixed(1)} s, median ${median(durations).toFixed(1)} s; windows of the`,
    `benchmark prose and the twelve sentences, ${new Set(main.map((clip) => clip.voice)).size} voices, ${rateList('main')} kHz in turn). Each clip is`,
    `marked with \`applyWatermark()\` and left unmarked, and both go through MP3 at ${MP3_KBPS} kbit/s as well (encoder`,
    `\`createEncoder('mp3')\`, decoder \`audio-decode\`, so the encoder delay shifts the audio): ${main.length * 4} files. Two more sets`,
    `probe the edges: ${WATERMARK_SETS.narrowband.clips} clips of the same kind at 8 kHz, and ${WATERMARK_SETS.short.clips} utterances of one to four words`,
    `(${WATERMARK_SETS.short.minSec}–${WATERMARK_SETS.short.maxSec} s aimed) at ${rateList('short')} kHz. Detection (\`detectWatermark()\`, default key) reads each`,
    `file at its own rate, without the original. A file counts as marked when its score z ≥ ${threshold}. For audio not`,
    `marked with the key, z is a normalised sum of fair ±1 key signs, so P(z ≥ ${threshold}) ≤ exp(−${threshold}²/2) = ${fmtPercent(Math.exp(-(threshold ** 2) / 2), 2)}`,
    'whatever the audio (Hoeffding; over keys, see `src/audio/watermark/watermark.ts`).',
    `**Goals: detected in ≥ ${fmtPercent(GOAL_DETECTION)} of marked files (also after MP3), in ≤ ${fmtPercent(GOAL_FALSE_POSITIVE)} of unmarked ones.**`,
    '',
  );
  const summary = (values: readonly number[]): string => `${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)} – ${Math.max(...values).toFixed(1)})`;
  const detectionRow = (label: string, values: readonly number[], wantMarked: boolean): string[] => {
    const found = share(values, threshold);
    const ok = wantMarked ? found >= GOAL_DETECTION : found <= GOAL_FALSE_POSITIVE;
    const goal = wantMarked ? `≥ ${fmtPercent(GOAL_DETECTION)}` : `≤ ${fmtPercent(GOAL_FALSE_POSITIVE)}`;
    return [label, `${count(values, threshold)} = ${fmtPercent(found, 1)}`, summary(values), `${ok ? '**met**' : '**not met**'} (${goal})`];
  };
  out.push(
    markdownTable(
      ['Main set', 'Detected', 'Score z, median (min – max)', 'Goal'],
      [
        detectionRow('Marked', main.map((clip) => clip.marked), true),
        detectionRow(`Marked, then MP3 ${MP3_KBPS} kbit/s`, main.map((clip) => clip.markedMp3), true),
        detectionRow('Unmarked (baseline)', main.map((clip) => clip.unmarked), false),
        detectionRow(`Unmarked, then MP3 ${MP3_KBPS} kbit/s`, main.map((clip) => clip.unmarkedMp3), false),
      ],
    ),
    '',
  );

  // Where the margin is thinnest: by length, rate and set.
  const groups: [string, WatermarkClip[]][] = [];
  const within = (set: readonly WatermarkClip[], lo: number, hi: number): WatermarkClip[] => set.filter((clip) => clip.durationSec >= lo && clip.durationSec < hi);
  groups.push(['main, < 2 s', within(main, 0, 2)], ['main, 2–5 s', within(main, 2, 5)], ['main, ≥ 5 s', within(main, 5, Infinity)]);
  for (const rate of WATERMARK_SETS.main.rates) groups.push([`main, ${rate / 1000} kHz`, main.filter((clip) => clip.sampleRate === rate)]);
  groups.push(['8 kHz, all lengths', clips.filter((clip) => clip.set === 'narrowband')]);
  const short = clips.filter((clip) => clip.set === 'short');
  const shortBuckets: [number, number][] = [
    [0, 0.5],
    [0.5, 0.75],
    [0.75, 1],
    [1, Infinity],
  ];
  for (const [lo, hi] of shortBuckets) groups.push([`short, ${hi === Infinity ? `≥ ${lo}` : lo === 0 ? `< ${hi}` : `${lo}–${hi}`} s`, within(short, lo, hi)]);
  const rows2 = groups
    .filter(([, inside]) => inside.length > 0)
    .map(([label, inside]) => {
      const unmarked = inside.flatMap((clip) => [clip.unmarked, clip.unmarkedMp3]);
      return [
        label,
        String(inside.length),
        `${count(inside.map((clip) => clip.marked), threshold)} / ${count(inside.map((clip) => clip.markedMp3), threshold)}`,
        minMedian(inside.map((clip) => clip.marked)),
        minMedian(inside.map((clip) => clip.markedMp3)),
        `${count(unmarked, threshold)}, max ${Math.max(...unmarked).toFixed(1)}`,
      ];
    });
  out.push(
    markdownTable(['Clips', 'n', 'Detected: marked / after MP3', 'Marked z, min / median', 'After MP3 z, min / median', 'Unmarked files detected, max z'], rows2),
    '',
  );

  const allUnmarked = clips.flatMap((clip) => [clip.unmarked, clip.unmarkedMp3]);
  const mean = allUnmarked.reduce((sum, value) => sum + value, 0) / allUnmarked.length;
  const sd = Math.sqrt(allUnmarked.reduce((sum, value) => sum + (value - mean) ** 2, 0) / allUnmarked.length);
  const missed = clips.filter((clip) => clip.marked < threshold || clip.markedMp3 < threshold);
  const longestMiss = Math.max(0, ...missed.map((clip) => clip.durationSec));
  const above = clips.filter((clip) => clip.durationSec > longestMiss);
  const narrow = clips.filter((clip) => clip.sampleRate < 16_000 && clip.durationSec >= 1);
  const narrowFound = share(narrow.flatMap((clip) => [clip.marked, clip.markedMp3]), threshold);
  const embedXrt = result.audioSec / (result.embedMs / 1000);
  const mp3Xrt = result.audioSec / (result.mp3Ms / 1000);
  const detectXrt = (result.audioSec * 4) / (result.detectMs / 1000);
  const snr = clips.map((clip) => clip.snrDb);
  out.push(
    [
      `All ${allUnmarked.length} unmarked files (every set, with and without MP3) score mean ${mean.toFixed(2)}, standard deviation ${sd.toFixed(2)}, highest`,
      `${Math.max(...allUnmarked).toFixed(1)}; ${count(allUnmarked, threshold)} reach the threshold. A mean slightly above 0 is the default key's share of fine spectral`,
      'structure common to all eSpeak output; the spread is the N(0, 1) the statistics predict.',
      missed.length === 0
        ? `Every marked clip was detected, with and without MP3, down to the shortest (${Math.min(...clips.map((clip) => clip.durationSec)).toFixed(2)} s).`
        : `${missed.length} of ${clips.length} marked clips were missed (marked or after MP3), the longest of them ${longestMiss.toFixed(2)} s ` +
          `(${missed.map((clip) => `${clip.durationSec.toFixed(2)} s at ${clip.sampleRate / 1000} kHz, ${clip.voice}`).join('; ')}); ` +
          `all ${above.length} clips longer than that were detected both ways.`,
      `Below 16 kHz (${narrow.length} clips of 1 s or more at 8 kHz, ${fmtPercent(narrowFound, 1)} of their marked files detected, MP3 included) the mark has less than half its bands`,
      `and is ${WATERMARK_NARROWBAND_RIPPLE_DB} dB deep instead of ${WATERMARK_RIPPLE_DB} dB; high-pitched voices, whose harmonics sample the ripple sparsely, score lowest.`,
      `Audibility: ±${WATERMARK_RIPPLE_DB} dB per band by design (±${WATERMARK_NARROWBAND_RIPPLE_DB} dB below 16 kHz); the realised response peaks at`,
      `${result.ripple.maxDb.toFixed(2)} dB (rms ${result.ripple.rmsDb.toFixed(2)} dB; at 8 kHz ${result.narrowbandRipple.maxDb.toFixed(2)} / ${result.narrowbandRipple.rmsDb.toFixed(2)} dB), in bands far narrower than the ear's`,
      `critical bands. Marked vs unmarked speech: SNR ${median(snr).toFixed(1)} dB median (${Math.min(...snr).toFixed(1)}–${Math.max(...snr).toFixed(1)} dB); a fixed colouration, not`,
      `added noise. Streams get ${(WATERMARK_LATENCY_SEC * 1000).toFixed(0)} ms of extra latency.`,
      `Cost: marking ran at ${embedXrt.toFixed(0)}x real time over ${result.audioSec.toFixed(0)} s of audio, ${fmtPercent(result.embedMs / result.mp3Ms)} of the time the MP3 encoder`,
      `(${mp3Xrt.toFixed(0)}x real time) took for the same clips; detection ran at ${detectXrt.toFixed(0)}x real time (${result.detections} files).`,
    ].join('\n'),
    '',
  );
  return `${out.join('\n')}\n`;
}
