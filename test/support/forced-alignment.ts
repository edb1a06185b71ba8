// "Does this audio still say these words?" — forced alignment with Debian's pocketsphinx
// (packages pocketsphinx + pocketsphinx-en-us; scripts/ensure-test-tools.mjs installs them).
//
// pocketsphinx_batch decodes the audio against a JSGF grammar holding exactly the expected text (with
// optional silences between words), and -hypseg reports each word's start frame and acoustic score.
// A clean match explains the audio well (high score per 10 ms frame); the wrong text explains it much
// worse (or, when the audio is too short for it, not at all). Scores are pocketsphinx's internal log
// units: compare them on the same audio (right vs wrong text); across voices they differ a lot (flite
// about −30, eSpeak about −65). English only; every word must be in the CMU dictionary (spell numbers out).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { wavBytes } from './reference-voices.js';

const execFileAsync = promisify(execFile);

export const SPHINX_MODEL_DIR = process.env['CHORUS_SPHINX_MODEL'] ?? '/usr/share/pocketsphinx/model/en-us';
const ACOUSTIC_MODEL = join(SPHINX_MODEL_DIR, 'en-us');
const DICTIONARY = join(SPHINX_MODEL_DIR, 'cmudict-en-us.dict');
const FRAME_SEC = 0.01;

/*
 * Thresholds, measured here with test/support/reference-voices and the eSpeak engine: 5 sentences,
 * each checked against the 4 others (20 contentChecks per row); scores per 10 ms frame.
 *
 * | audio                                             | right     | right − phone loop | right − wrong | separates |
 * |---------------------------------------------------|-----------|--------------------|---------------|-----------|
 * | flite slt/rms/awb/kal16 (16 kHz)                  | −43…−27   | +2…+21             | 64…107        | 80/80     |
 * | flite kal (8 kHz)                                 | −49…−44   | +4…+9              | 40…80         | 20/20     |
 * | flite ±4 st (asetrate+atempo)                     | −44…−24   | +6…+28             | 62…109        | 40/40     |
 * | eSpeak default/Amy/Aaron/Abigail/Adrian           | −76…−56   | −20…−1             | 18…72         | 100/100   |
 * | eSpeak Alan (Scottish), Brian (Caribbean), Carl   |           | −31…−7             | 11…65         | 60/60     |
 * | eSpeak ±4 st, rubberband formant=preserved        | −66…−53   | −14…+1             | 30…77         | 60/60     |
 * | eSpeak ±4 st, asetrate+atempo (formants move too) | −90…−58   | −34…−2             | −6…64         | 59/80     |
 * | silence, white/pink noise, 150 Hz hum (3 s)       | (aligns!) | −106…−11           | −60…+60       | 0/100     |
 *
 * Swapping one word of the right sentence costs 0–15 per frame, so this is a sentence-level check.
 */

/**
 * How much better the right text must explain the audio than the wrong text. 10 is about half the
 * smallest clean-speech gap (eSpeak Adrian, 18) and below the accented eSpeak voices' 11, so
 * moderately degraded speech still passes, while formant-shifted eSpeak — which pocketsphinx can
 * barely read — passes only when its gap is real.
 */
export const CONTENT_MARGIN_PER_FRAME = 10;
/**
 * Lowest right-text score relative to a free phone loop over the same frames. Every voice measured
 * stays above −31; it rejects hum-like sounds. (−20 would also reject noise, but fails accented eSpeak.)
 */
export const MIN_RIGHT_VS_PHONE_LOOP = -35;
/** contentCheck treats audio quieter than this (RMS, full scale 1; −60 dBFS) as silence. */
export const MIN_SPEECH_RMS = 0.001;
/**
 * contentCheck wants at least this share of the active frames voiced (see voicedFraction). Measured:
 * every eSpeak voice ≥ 0.14 (the 'croak' variant; most 0.4–0.8), flite ≥ 0.57, white/pink/brown noise ≤ 0.01.
 * On silence and noise the texts score differently by luck (up to ±60 per frame), so this guard is needed.
 */
export const MIN_VOICED_FRACTION = 0.1;

/**
 * Share of "active" 40 ms frames (hop 20 ms; RMS within 30 dB of the loudest frame) whose normalised
 * autocorrelation peaks above 0.6 at a lag of 2.5–14 ms (a 70–400 Hz period), after first dipping
 * below zero. Speech is roughly half voiced; white or coloured noise is not periodic. A guard, not a
 * pitch tracker.
 */
export function voicedFraction(samples: Float32Array, sampleRate: number): number {
  const length = Math.round(0.04 * sampleRate);
  const hop = Math.round(0.02 * sampleRate);
  const minLag = Math.floor(sampleRate / 400);
  const maxLag = Math.ceil(sampleRate / 70);
  const frames: { start: number; rms: number }[] = [];
  for (let start = 0; start + length + maxLag <= samples.length; start += hop) {
    let energy = 0;
    for (let i = start; i < start + length; i++) energy += (samples[i] ?? 0) ** 2;
    frames.push({ start, rms: Math.sqrt(energy / length) });
  }
  const loudest = frames.reduce((max, frame) => Math.max(max, frame.rms), 0);
  const active = frames.filter((frame) => frame.rms > 0 && frame.rms >= loudest / 31.6);
  if (active.length === 0) return 0;
  let voiced = 0;
  for (const { start } of active) {
    // The peak only counts after the autocorrelation has dipped below zero: low-passed noise decays
    // slowly from lag 0 and would otherwise look periodic.
    let dipped = false;
    let best = 0;
    for (let lag = 1; lag <= maxLag; lag++) {
      let cross = 0;
      let a = 0;
      let b = 0;
      for (let i = start; i < start + length; i++) {
        const x = samples[i] ?? 0;
        const y = samples[i + lag] ?? 0;
        cross += x * y;
        a += x * x;
        b += y * y;
      }
      const r = a > 0 && b > 0 ? cross / Math.sqrt(a * b) : 0;
      if (r < 0) dipped = true;
      if (dipped && lag >= minLag) best = Math.max(best, r);
    }
    if (best > 0.6) voiced++;
  }
  return voiced / active.length;
}

export interface AlignedWord {
  word: string;
  startSec: number;
  endSec: number;
}

export interface AlignmentResult {
  /** The decoder found a path through exactly the expected words. */
  readonly aligned: boolean;
  /**
   * Acoustic score per 10 ms frame over the speech span (first word's start to last word's end, pauses
   * between words included), relative to the best senone of each frame, so 0 is the best possible and
   * higher (less negative) is better. Undefined when not aligned. Leading/trailing material that is not
   * the text (silence, or extra speech) is absorbed by the edge pauses and not scored: look at `words`.
   */
  readonly scorePerFrame: number | undefined;
  readonly words: readonly AlignedWord[];
}

let dictionary: Promise<Map<string, string[]>> | undefined;
/** cmudict-en-us.dict as word → its lines (the word's pronunciations, `word`, `word(2)`, …). */
function loadDictionary(): Promise<Map<string, string[]>> {
  dictionary ??= readFile(DICTIONARY, 'utf8').then((text) => {
    const words = new Map<string, string[]>();
    for (const line of text.split('\n')) {
      const space = line.indexOf(' ');
      if (space <= 0) continue;
      const word = line.slice(0, space).replace(/\(\d+\)$/, '');
      const lines = words.get(word);
      if (lines === undefined) words.set(word, [line]);
      else lines.push(line);
    }
    return words;
  });
  return dictionary;
}

/** Lower-cases and strips punctuation (keeping in-word apostrophes): "Don't stop, Bob!" → ["don't", "stop", "bob"]. */
export function alignmentWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[^a-z0-9']+/g, ' ')
    .split(' ')
    .map((word) => word.replace(/^'+|'+$/g, ''))
    .filter((word) => word.length > 0);
}

/** A silence "word" of our own: the grammar uses it instead of pocketsphinx's automatic fillers (see below). */
const PAUSE = '__pause__';
/** Seconds of digital silence added before and after the audio, so the grammar's leading and trailing pause always fit. */
const PAD_SEC = 0.25;
const isFiller = (word: string) => word === PAUSE || word === '(NULL)' || word.startsWith('<') || word.startsWith('[');

interface Segment {
  readonly word: string;
  readonly startFrame: number;
  readonly endFrame: number; // exclusive
  readonly acoustic: number;
}

/** Parses one -hypseg line: `uttid S scale T total A acoustic L lm {startFrame ascr lscr word}* lastFrame`. */
function parseHypseg(line: string): Segment[] | undefined {
  const tokens = line.trim().split(/\s+/);
  if (tokens.length < 14 || tokens[5] !== 'A') return undefined;
  const raw: { start: number; acoustic: number; word: string }[] = [];
  let index = 9;
  for (; index + 3 < tokens.length; index += 4) raw.push({ start: Number(tokens[index]), acoustic: Number(tokens[index + 1]), word: tokens[index + 3] ?? '' });
  const last = Number(tokens[index]);
  if (raw.length === 0 || !Number.isFinite(last) || raw.some((r) => !Number.isFinite(r.start) || !Number.isFinite(r.acoustic))) return undefined;
  return raw.map((r, i) => ({ word: r.word, startFrame: r.start, endFrame: raw[i + 1]?.start ?? last + 1, acoustic: r.acoustic }));
}

/** Resamples to 16 kHz mono with ffmpeg (unless already 16 kHz), pads PAD_SEC of silence on both sides, and returns a 16-bit WAV with a plain 44-byte header. */
async function prepareAudio(samples: Float32Array, sampleRate: number): Promise<Buffer> {
  let audio = samples;
  if (sampleRate !== 16000) {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-align-'));
    try {
      const input = join(dir, 'input.f32');
      await writeFile(input, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
      const { stdout } = await execFileAsync(
        'ffmpeg',
        ['-v', 'error', '-f', 'f32le', '-ar', String(sampleRate), '-ac', '1', '-i', input, '-ar', '16000', '-f', 'f32le', '-'],
        { encoding: 'buffer', maxBuffer: 1 << 30 },
      );
      const copy = new Uint8Array(stdout.length);
      copy.set(stdout);
      audio = new Float32Array(copy.buffer, 0, Math.floor(copy.length / 4));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const pad = Math.round(PAD_SEC * 16000);
  const padded = new Float32Array(audio.length + 2 * pad);
  padded.set(audio, pad);
  return wavBytes(padded, 16000);
}

/**
 * One exhaustive pocketsphinx_batch decode of `wav` against a JSGF grammar; undefined when no path fits.
 *
 * Settings (each fixes a failure measured on eSpeak and pitch-shifted speech; see the test file):
 * - Our own SIL-word `__pause__` in the grammar and `-fsgusefiller no`: pocketsphinx 5prealpha's
 *   automatic filler insertion often ends with "Final result does not match the grammar" even for
 *   the right text.
 * - Beams 0 (no pruning): the grammars are tiny, so the exact Viterbi path is cheap (~0.2 s for a
 *   3 s sentence); with the default beams the right path for eSpeak voices was often pruned away.
 * - `-compallsen yes`: pocketsphinx scores every frame relative to its best *evaluated* senone. With
 *   all senones evaluated that reference is the same whatever the grammar, so scores of different
 *   texts on the same audio are comparable log-likelihoods.
 * - `-remove_silence no`: the default VAD drops silent frames, which shifts word times.
 */
async function decode(wav: Buffer, dictLines: readonly string[], grammar: string): Promise<Segment[] | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-align-'));
  try {
    await writeFile(join(dir, 'utt.wav'), wav);
    await writeFile(join(dir, 'words.dict'), `${dictLines.join('\n')}\n`);
    await writeFile(join(dir, 'grammar.jsgf'), `#JSGF V1.0;\ngrammar chorus;\n${grammar}\n`);
    await writeFile(join(dir, 'list.ctl'), 'utt\n');
    const log = join(dir, 'sphinx.log');
    const hypseg = join(dir, 'out.hypseg');
    try {
      await execFileAsync('pocketsphinx_batch', [
        '-hmm', ACOUSTIC_MODEL,
        '-dict', join(dir, 'words.dict'),
        '-jsgf', join(dir, 'grammar.jsgf'),
        '-fsgusefiller', 'no',
        '-beam', '0',
        '-pbeam', '0',
        '-wbeam', '0',
        '-lpbeam', '0',
        '-compallsen', 'yes',
        '-remove_silence', 'no',
        '-adcin', 'yes',
        '-adchdr', '44',
        '-cepdir', dir,
        '-cepext', '.wav',
        '-ctl', join(dir, 'list.ctl'),
        '-hypseg', hypseg,
        '-logfn', log,
      ]);
    } catch (error) {
      const details = await readFile(log, 'utf8').catch(() => '');
      const errors = details.split('\n').filter((line) => /ERROR|FATAL/.test(line)).slice(-3).join('\n');
      throw new Error(
        `forced alignment: pocketsphinx_batch failed (is it installed? run node scripts/ensure-test-tools.mjs): ${(error as Error).message}\n${errors}`,
      );
    }
    return parseHypseg((await readFile(hypseg, 'utf8').catch(() => '')).split('\n')[0] ?? '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The dictionary lines for the words (throws naming the first unknown one). */
async function dictionaryFor(words: readonly string[]): Promise<string[]> {
  const known = await loadDictionary();
  const lines = [`${PAUSE} SIL`];
  for (const word of new Set(words)) {
    const entries = known.get(word);
    if (entries === undefined) {
      throw new Error(
        `forced alignment: the word "${word}" is not in the pocketsphinx dictionary ${DICTIONARY}; ` +
          'use dictionary words (spell numbers out) in texts that are checked by alignment',
      );
    }
    lines.push(...entries);
  }
  return lines;
}

interface Alignment {
  readonly result: AlignmentResult;
  /** Padded-audio frames [start, end) that scorePerFrame covers. */
  readonly span?: readonly [number, number];
}

async function alignPrepared(wav: Buffer, expected: readonly string[], dictLines: readonly string[]): Promise<Alignment> {
  const segments = await decode(wav, dictLines, `public <utterance> = ${PAUSE} ${expected.join(` [${PAUSE}] `)} ${PAUSE};`);
  if (segments === undefined) return { result: { aligned: false, scorePerFrame: undefined, words: [] } };
  const spoken = segments.filter((segment) => !isFiller(segment.word));
  const words = spoken.map((segment) => ({
    word: segment.word.replace(/\(\d+\)$/, ''),
    startSec: Math.max(0, segment.startFrame * FRAME_SEC - PAD_SEC),
    endSec: Math.max(0, segment.endFrame * FRAME_SEC - PAD_SEC),
  }));
  const aligned = words.length === expected.length && words.every((w, i) => w.word === expected[i]);
  if (!aligned) return { result: { aligned, scorePerFrame: undefined, words } };
  // Score the speech span only (first word's start to last word's end, pauses between words
  // included): the padding and the recording's own leading/trailing silence would dilute it.
  const first = spoken[0]?.startFrame ?? 0;
  const end = spoken.at(-1)?.endFrame ?? first;
  return { result: { aligned, scorePerFrame: spanScore(segments, first, end), words }, span: [first, end] };
}

/** Acoustic score per frame over frames [first, end); segments that straddle a border count pro rata. */
function spanScore(segments: readonly Segment[], first: number, end: number): number {
  let total = 0;
  for (const segment of segments) {
    const overlap = Math.min(end, segment.endFrame) - Math.max(first, segment.startFrame);
    if (overlap > 0) total += (segment.acoustic * overlap) / Math.max(1, segment.endFrame - segment.startFrame);
  }
  return total / Math.max(1, end - first);
}

const PHONES = 'AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH'.split(' ');
const PHONE_LOOP_DICT = [`${PAUSE} SIL`, ...PHONES.map((phone) => `ph_${phone.toLowerCase()} ${phone}`)];
const PHONE_LOOP_GRAMMAR = `public <utterance> = ${PAUSE} <unit>+ ${PAUSE};\n<unit> = ${[...PHONES.map((phone) => `ph_${phone.toLowerCase()}`), PAUSE].join(' | ')};`;

/**
 * Forced-aligns `text` to the audio. Throws (naming the word) if a word is not in the dictionary, and
 * if pocketsphinx itself fails; returns aligned: false when no path through the text fits the audio
 * (in practice: the audio is too short for the text). Note that *any* audio long enough aligns,
 * silence and noise included, so use contentCheck to decide whether the words are really there.
 */
export async function alignText(samples: Float32Array, sampleRate: number, text: string): Promise<AlignmentResult> {
  const expected = alignmentWords(text);
  if (expected.length === 0) throw new Error(`forced alignment: no words to align in ${JSON.stringify(text)}`);
  const dictLines = await dictionaryFor(expected);
  return (await alignPrepared(await prepareAudio(samples, sampleRate), expected, dictLines)).result;
}

/**
 * Aligns both texts to the same audio, and decodes it with a free phone loop (any sequence of the 39
 * English phones) as a text-independent reference. `separates` when
 * - the audio is speech-like: RMS ≥ MIN_SPEECH_RMS and voicedFraction ≥ MIN_VOICED_FRACTION,
 * - the right text aligns,
 * - it explains its speech span nearly as well as the free phone loop (scorePerFrame − phone loop
 *   ≥ MIN_RIGHT_VS_PHONE_LOOP): otherwise the audio is not recognisably that speech (silence, noise,
 *   or speech pocketsphinx cannot read), where right and wrong texts differ by luck, and
 * - the wrong text does not align or scores at least CONTENT_MARGIN_PER_FRAME worse per frame.
 */
export async function contentCheck(
  samples: Float32Array,
  sampleRate: number,
  rightText: string,
  wrongText: string,
): Promise<{
  right: AlignmentResult;
  wrong: AlignmentResult;
  separates: boolean;
  phoneLoopScorePerFrame: number | undefined;
  voicedFraction: number;
  rms: number;
}> {
  const rightWords = alignmentWords(rightText);
  const wrongWords = alignmentWords(wrongText);
  for (const [words, text] of [[rightWords, rightText], [wrongWords, wrongText]] as const) {
    if (words.length === 0) throw new Error(`forced alignment: no words to align in ${JSON.stringify(text)}`);
  }
  const [rightDict, wrongDict] = await Promise.all([dictionaryFor(rightWords), dictionaryFor(wrongWords)]);
  let energy = 0;
  for (const sample of samples) energy += sample * sample;
  const rms = Math.sqrt(energy / Math.max(1, samples.length));
  const voiced = voicedFraction(samples, sampleRate);
  const speechLike = rms >= MIN_SPEECH_RMS && voiced >= MIN_VOICED_FRACTION;
  const wav = await prepareAudio(samples, sampleRate);
  const [right, wrong, loop] = await Promise.all([
    alignPrepared(wav, rightWords, rightDict),
    alignPrepared(wav, wrongWords, wrongDict),
    decode(wav, PHONE_LOOP_DICT, PHONE_LOOP_GRAMMAR),
  ]);
  const rightScore = right.result.scorePerFrame;
  const wrongScore = wrong.result.scorePerFrame;
  const phoneLoopScorePerFrame = right.span !== undefined && loop !== undefined ? spanScore(loop, right.span[0], right.span[1]) : undefined;
  const separates =
    speechLike &&
    rightScore !== undefined &&
    phoneLoopScorePerFrame !== undefined &&
    rightScore - phoneLoopScorePerFrame >= MIN_RIGHT_VS_PHONE_LOOP &&
    (wrongScore === undefined || rightScore - wrongScore >= CONTENT_MARGIN_PER_FRAME);
  return { right: right.result, wrong: wrong.result, separates, phoneLoopScorePerFrame, voicedFraction: voiced, rms };
}
