import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ChorusError } from '../../errors.js';
import { FAMILY_FILES, type ModelManifest } from '../../models/model-manifest.js';
import { OnnxFormatError, readOnnxMetadata } from './onnx-metadata.js';

/**
 * Checks an installed model before sherpa-onnx sees it. sherpa's C++ ends the whole process with
 * `_Exit` on a missing metadata key, a voices.bin of the wrong size, a malformed tokens.txt or an
 * espeak-ng-data directory it cannot initialise, with the reason only on native stderr; every one of
 * those is found here first and reported naming the file and what is wrong. What the check reads
 * (speakers, sample rate, token limit) is also what the engine needs, so sherpa's own numbers are
 * never needed in the parent process.
 */
export interface CheckedModel {
  readonly manifest: ModelManifest;
  readonly dir: string;
  readonly sampleRate: number;
  /** Speaker names in sid order (Kokoro/Kitten metadata, Piper's speaker_id_map, or `speaker_<sid>`). */
  readonly speakers: readonly string[];
  /** True when `speakers` came from the model itself rather than being made up from their number. */
  readonly speakersNamed: boolean;
  /** The longest token sequence one generate call may hold (Kokoro's style_dim S). */
  readonly maxTokens?: number;
  /** Kokoro `version` ≥ 2: the multi-language frontend, which takes a language per request. */
  readonly multiLanguage: boolean;
  /** The eSpeak voice the model speaks unless told otherwise (metadata `voice`). */
  readonly espeakVoice: string | undefined;
  /** Language tag (lowercase) → eSpeak voice file name in the model's espeak-ng-data. */
  readonly espeakLanguages: ReadonlyMap<string, string>;
  /** Reference clips shipped with a cloning model (Pocket's test_wavs/*.wav), by name. */
  readonly referenceClips: ReadonlyMap<string, string>;
  /** The sherpa-onnx `model.<family>` block, paths absolute. */
  readonly familyConfig: Readonly<Record<string, string>>;
  /** The key sherpa-onnx knows the family by. */
  readonly sherpaFamily: 'vits' | 'kokoro' | 'kitten' | 'pocket';
}

export async function checkModel(manifest: ModelManifest, dir: string): Promise<CheckedModel> {
  const problem = (file: string, message: string): ChorusError =>
    new ChorusError({ code: 'engine_unavailable', message: `Model '${manifest.name}': ${file}: ${message}` });

  const spec = FAMILY_FILES[manifest.family];
  const familyConfig: Record<string, string> = {};
  for (const key of [...spec.required, ...spec.optional]) {
    const relative = manifest.files[key];
    if (relative === undefined) {
      if ((spec.required as readonly string[]).includes(key)) {
        throw problem('chorus-model.json', `files.${key} is missing; a ${manifest.family} model needs ${spec.required.join(', ')}.`);
      }
      continue;
    }
    // sherpa takes several lexicons as one comma-separated value.
    const paths = relative.split(',').map((part) => join(dir, part.trim()));
    for (const path of paths) {
      const kind = await stat(path).then(
        (stats) => (stats.isDirectory() ? 'directory' : 'file'),
        () => 'missing',
      );
      const wanted = key === 'dataDir' ? 'directory' : 'file';
      if (kind !== wanted) throw problem(basename(path), kind === 'missing' ? `does not exist (files.${key}).` : `is a ${kind}, expected a ${wanted} (files.${key}).`);
    }
    familyConfig[key] = paths.join(',');
  }

  switch (manifest.family) {
    case 'piper':
      return checkPiper(manifest, dir, familyConfig, problem);
    case 'kokoro':
      return checkKokoro(manifest, dir, familyConfig, problem);
    case 'kitten':
      return checkKitten(manifest, dir, familyConfig, problem);
    case 'pocket':
      return checkPocket(manifest, dir, familyConfig, problem);
  }
}

type Problem = (file: string, message: string) => ChorusError;
type Files = Readonly<Record<string, string>>;

async function metadataOf(path: string, problem: Problem): Promise<Map<string, string>> {
  try {
    return await readOnnxMetadata(path);
  } catch (error) {
    if (error instanceof OnnxFormatError) throw problem(basename(path), `is not an ONNX model (${error.message}).`);
    throw error;
  }
}

function requireInteger(metadata: Map<string, string>, key: string, file: string, problem: Problem, min = 1): number {
  const value = metadata.get(key);
  if (value === undefined) throw problem(file, `metadata '${key}' is missing; sherpa-onnx requires it.`);
  const parsed = Number(value.trim());
  if (!Number.isInteger(parsed) || parsed < min) throw problem(file, `metadata '${key}' is '${value}', expected an integer ≥ ${min}.`);
  return parsed;
}

/** `style_dim` as sherpa reads it: comma-separated integers. */
function requireDims(metadata: Map<string, string>, file: string, problem: Problem, pattern: string, count: number): number[] {
  const value = metadata.get('style_dim');
  if (value === undefined) throw problem(file, `metadata 'style_dim' is missing; sherpa-onnx requires it (${pattern}).`);
  const dims = value.split(',').map((part) => Number(part.trim()));
  if (dims.length !== count || dims.some((dim) => !Number.isInteger(dim) || dim < 1)) {
    throw problem(file, `metadata 'style_dim' is '${value}', expected ${pattern}.`);
  }
  return dims;
}

function speakerNames(metadata: Map<string, string>, count: number, file: string, problem: Problem): string[] | undefined {
  const value = metadata.get('speaker_names');
  if (value === undefined || value.trim() === '') return undefined;
  const names = value.split(',').map((name) => name.trim());
  if (names.length !== count) throw problem(file, `metadata 'speaker_names' lists ${names.length} speakers but 'n_speakers' is ${count}.`);
  if (new Set(names).size !== names.length || names.some((name) => name === '')) throw problem(file, `metadata 'speaker_names' has empty or repeated names.`);
  return names;
}

async function requireVoicesSize(path: string, floats: number, shape: string, problem: Problem): Promise<void> {
  const { size } = await stat(path);
  if (size !== floats * 4) {
    throw problem(basename(path), `is ${size} bytes, expected ${floats * 4} (${shape} float32 values); the file is corrupt or belongs to another model.`);
  }
}

/**
 * tokens.txt as sherpa's ReadTokens takes it: `<symbol> <id>` per line, each symbol one code point
 * and listed once (a space symbol is written as a line starting with a space).
 */
async function checkTokens(path: string, required: readonly string[], problem: Problem): Promise<void> {
  const text = await readFile(path, 'utf8');
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.replace(/\r$/, '');
    if (line === '') continue;
    const at = line.lastIndexOf(' ');
    if (at < 0 || !/^\d+$/.test(line.slice(at + 1))) throw problem(basename(path), `line ${index + 1} ('${line}') is not '<symbol> <id>'.`);
    // sherpa reads a line holding only ' <id>' as the space symbol.
    const symbol = at === 0 ? ' ' : line.slice(0, at);
    if ([...symbol].length !== 1) throw problem(basename(path), `line ${index + 1}: symbol '${symbol}' is not a single character.`);
    if (seen.has(symbol)) throw problem(basename(path), `line ${index + 1}: symbol '${symbol}' is listed twice.`);
    seen.add(symbol);
  }
  const missing = required.filter((symbol) => !seen.has(symbol));
  if (missing.length > 0) {
    throw problem(basename(path), `lacks the symbol${missing.length > 1 ? 's' : ''} ${missing.map((symbol) => `'${symbol}'`).join(', ')} the model's frontend needs.`);
  }
}

/** The files eSpeak NG's initialisation opens; without them sherpa `_Exit`s. */
const ESPEAK_DATA_FILES = ['phontab', 'phonindex', 'phondata', 'intonations'];

/** Checks espeak-ng-data and indexes its voices: language codes → voice file names. */
async function checkEspeakData(path: string, problem: Problem): Promise<Map<string, string>> {
  for (const file of ESPEAK_DATA_FILES) {
    const present = await stat(join(path, file)).then((stats) => stats.isFile(), () => false);
    if (!present) throw problem(basename(path), `is not an espeak-ng-data directory: '${file}' is missing.`);
  }
  const languages = new Map<string, { voice: string; priority: number }>();
  const consider = (code: string, voice: string, priority: number): void => {
    const known = languages.get(code);
    if (known === undefined || priority < known.priority) languages.set(code, { voice, priority });
  };
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const entryPath = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(entryPath);
        continue;
      }
      consider(entry.name.toLowerCase(), entry.name, 0);
      for (const line of (await readFile(entryPath, 'latin1')).split('\n')) {
        const match = /^\s*language\s+(\S+)(?:\s+(\d+))?/.exec(line);
        if (match !== null) consider(match[1]!.toLowerCase(), entry.name, Number(match[2] ?? 5));
      }
    }
  };
  try {
    await walk(join(path, 'lang'));
  } catch {
    throw problem(basename(path), `is not an espeak-ng-data directory: 'lang/' is missing or unreadable.`);
  }
  return new Map([...languages].map(([code, { voice }]) => [code, voice]));
}

function modelFile(files: Files, key: string): string {
  return files[key]!;
}

/** What every single-graph family's metadata must say: the rate and the number of speakers. */
async function readModelMetadata(files: Files, problem: Problem): Promise<{ name: string; metadata: Map<string, string>; sampleRate: number; count: number }> {
  const name = basename(modelFile(files, 'model'));
  const metadata = await metadataOf(modelFile(files, 'model'), problem);
  return { name, metadata, sampleRate: requireInteger(metadata, 'sample_rate', name, problem), count: requireInteger(metadata, 'n_speakers', name, problem) };
}

async function checkPiper(manifest: ModelManifest, dir: string, files: Files, problem: Problem): Promise<CheckedModel> {
  const { name, metadata, sampleRate, count } = await readModelMetadata(files, problem);
  if ((metadata.get('language') ?? '').trim() === '') throw problem(name, `metadata 'language' is missing or empty; sherpa-onnx requires it.`);
  const comment = metadata.get('comment');
  if (comment === undefined) throw problem(name, `metadata 'comment' is missing; sherpa-onnx requires it.`);
  if (!comment.includes('piper')) throw problem(name, `metadata 'comment' is '${comment}'; a Piper voice says 'piper' there (sherpa frames its phonemes by it).`);
  await checkTokens(modelFile(files, 'tokens'), ['_', '^', '$'], problem);
  const espeakLanguages = await checkEspeakData(modelFile(files, 'dataDir'), problem);
  const fromConfig = await piperSpeakerMap(`${modelFile(files, 'model')}.json`, count, problem);
  return {
    manifest,
    dir,
    sampleRate,
    speakers: fromConfig ?? speakerNames(metadata, count, name, problem) ?? numberedSpeakers(count),
    speakersNamed: fromConfig !== undefined || metadata.has('speaker_names'),
    multiLanguage: false,
    espeakVoice: metadata.get('voice'),
    espeakLanguages,
    referenceClips: new Map(),
    familyConfig: files,
    sherpaFamily: 'vits',
  };
}

function numberedSpeakers(count: number): string[] {
  return count === 1 ? ['default'] : Array.from({ length: count }, (_, sid) => `speaker_${sid}`);
}

/** Piper's `<model>.onnx.json` names multi-speaker voices' speakers (`speaker_id_map`). */
async function piperSpeakerMap(path: string, count: number, problem: Problem): Promise<string[] | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let map: unknown;
  try {
    map = (JSON.parse(text) as { speaker_id_map?: unknown }).speaker_id_map;
  } catch {
    throw problem(basename(path), 'is not valid JSON.');
  }
  if (map === undefined || map === null || typeof map !== 'object' || Object.keys(map).length === 0) return undefined;
  const names = numberedSpeakers(count);
  for (const [speaker, id] of Object.entries(map)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= count) {
      throw problem(basename(path), `speaker_id_map.${speaker} is ${JSON.stringify(id)}, expected an id below ${count}.`);
    }
    names[id] = speaker;
  }
  return names;
}

async function checkKokoro(manifest: ModelManifest, dir: string, files: Files, problem: Problem): Promise<CheckedModel> {
  const { name, metadata, sampleRate, count } = await readModelMetadata(files, problem);
  requireInteger(metadata, 'has_espeak', name, problem, 0);
  const version = metadata.has('version') ? requireInteger(metadata, 'version', name, problem) : 1;
  const [maxTokens, middle, styleWidth] = requireDims(metadata, name, problem, "'S,1,D'", 3) as [number, number, number];
  if (middle !== 1) throw problem(name, `metadata 'style_dim' is '${metadata.get('style_dim')}', expected 'S,1,D' with 1 in the middle.`);
  await requireVoicesSize(modelFile(files, 'voices'), count * maxTokens * styleWidth, `${count} speakers × ${maxTokens} × ${styleWidth}`, problem);
  await checkTokens(modelFile(files, 'tokens'), [' '], problem);
  const espeakLanguages = await checkEspeakData(modelFile(files, 'dataDir'), problem);
  const espeakVoice = metadata.get('voice') ?? 'en-us';
  if (version >= 2 && !espeakLanguages.has(espeakVoice.toLowerCase())) {
    throw problem(basename(modelFile(files, 'dataDir')), `has no eSpeak voice '${espeakVoice}', the language the model speaks by default.`);
  }
  return {
    manifest,
    dir,
    sampleRate,
    speakers: speakerNames(metadata, count, name, problem) ?? numberedSpeakers(count),
    speakersNamed: metadata.has('speaker_names'),
    maxTokens,
    multiLanguage: version >= 2,
    espeakVoice,
    espeakLanguages,
    referenceClips: new Map(),
    familyConfig: files,
    sherpaFamily: 'kokoro',
  };
}

/** KittenTTS v0.8's voices in sid order, for exports that do not name them. */
const KITTEN_V08_SPEAKERS = ['expr-voice-2-m', 'expr-voice-2-f', 'expr-voice-3-m', 'expr-voice-3-f', 'expr-voice-4-m', 'expr-voice-4-f', 'expr-voice-5-m', 'expr-voice-5-f'];

async function checkKitten(manifest: ModelManifest, dir: string, files: Files, problem: Problem): Promise<CheckedModel> {
  const { name, metadata, sampleRate, count } = await readModelMetadata(files, problem);
  const modelType = metadata.get('model_type');
  if (modelType !== 'kitten-tts') throw problem(name, `metadata 'model_type' is ${modelType === undefined ? 'missing' : `'${modelType}'`}, expected 'kitten-tts'.`);
  if (requireInteger(metadata, 'has_espeak', name, problem, 0) !== 1) throw problem(name, `metadata 'has_espeak' must be 1: Kitten phonemizes with eSpeak.`);
  const [first, styleWidth] = requireDims(metadata, name, problem, "'1,D'", 2) as [number, number];
  if (first !== 1) throw problem(name, `metadata 'style_dim' is '${metadata.get('style_dim')}', expected '1,D'.`);
  await requireVoicesSize(modelFile(files, 'voices'), count * styleWidth, `${count} speakers × ${styleWidth}`, problem);
  await checkTokens(modelFile(files, 'tokens'), [' '], problem);
  const espeakLanguages = await checkEspeakData(modelFile(files, 'dataDir'), problem);
  const named = speakerNames(metadata, count, name, problem);
  return {
    manifest,
    dir,
    sampleRate,
    speakers: named ?? (count === KITTEN_V08_SPEAKERS.length ? KITTEN_V08_SPEAKERS : numberedSpeakers(count)),
    speakersNamed: named !== undefined || count === KITTEN_V08_SPEAKERS.length,
    // Kitten is StyleTTS 2 like Kokoro, with the same 512-position text encoder; sherpa does not
    // check the length itself, so Chorus keeps to Kokoro's limit.
    maxTokens: 510,
    multiLanguage: false,
    espeakVoice: metadata.get('voice') ?? 'en-us',
    espeakLanguages,
    referenceClips: new Map(),
    familyConfig: files,
    sherpaFamily: 'kitten',
  };
}

async function checkPocket(manifest: ModelManifest, dir: string, files: Files, problem: Problem): Promise<CheckedModel> {
  for (const key of ['lmFlow', 'lmMain', 'encoder', 'decoder', 'textConditioner']) await metadataOf(modelFile(files, key), problem);
  for (const key of ['vocabJson', 'tokenScoresJson']) {
    const path = modelFile(files, key);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(path, 'utf8'));
    } catch {
      throw problem(basename(path), 'is not valid JSON.');
    }
    const values = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? Object.values(parsed) : [];
    if (values.length === 0 || values.some((value) => typeof value !== 'number')) {
      throw problem(basename(path), `must be a non-empty JSON object of piece → ${key === 'vocabJson' ? 'id' : 'score'} numbers.`);
    }
  }
  const referenceClips = new Map<string, string>();
  const clipsDir = join(dir, 'test_wavs');
  for (const entry of await readdir(clipsDir).catch(() => [] as string[])) {
    if (entry.toLowerCase().endsWith('.wav')) referenceClips.set(entry.slice(0, -4), join(clipsDir, entry));
  }
  return {
    manifest,
    dir,
    sampleRate: 24000,
    speakers: [],
    speakersNamed: false,
    multiLanguage: false,
    espeakVoice: undefined,
    espeakLanguages: new Map(),
    referenceClips,
    familyConfig: files,
    sherpaFamily: 'pocket',
  };
}
