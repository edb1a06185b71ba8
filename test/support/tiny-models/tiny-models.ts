import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, type ModelFamily, type ModelManifest } from '../../../src/models/model-manifest.js';
import { wavBytes } from '../reference-voices.js';
import { espeakDataDir } from './espeak-data.js';
import { constant, encodeModel, FLOAT, INT32, INT64, newGraph, node, randomValues, valueInfo, type Graph } from './onnx-builder.js';

/**
 * Random-weight stand-ins for each sherpa-onnx family, 40–200 KB each, written exactly as
 * `chorus models pull` installs a real model: the family's files, an `espeak-ng-data` directory
 * where the family phonemizes with eSpeak, and `chorus-model.json`. Their graphs are not the
 * families' architectures, only their contracts (input order, outputs, metadata), so the real
 * sherpa loading and generation code runs on them and produces non-silent audio whose length grows
 * with the text.
 */

/**
 * Phoneme symbols covering what eSpeak emits for the languages the tests use, one code point each
 * (sherpa's tokens.txt format); Piper's framing symbols `_ ^ $` first and the space Kokoro needs.
 */
const PHONEMES = [
  '_', '^', '$', ' ', '!', "'", '(', ')', ',', '-', '.', ':', ';', '?', '"', '“', '”', '—', '…',
  ...'abcdefghijklmnopqrstuvwxyzAIOQSTWY',
  ...'æçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱʰʤʧʣʥʦʨᵝꭧᵊ↓→↗↘',
  '\u0303', '\u0329', '\u032a', '\u032f', '\u033a',
];

export interface TinyModel {
  readonly dir: string;
  readonly manifest: ModelManifest;
}

export interface TinyModelOptions {
  /** Overrides `manifest.name` (the directory name too). */
  readonly name?: string;
  /** Metadata keys to leave out of the ONNX file (to make a model sherpa would `_Exit` on). */
  readonly omitMetadata?: readonly string[];
  /** Metadata values to replace. */
  readonly metadata?: Readonly<Record<string, string>>;
}

async function prepareDir(modelsDir: string, name: string): Promise<string> {
  const dir = join(modelsDir, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

async function linkEspeakData(dir: string): Promise<void> {
  await symlink(await espeakDataDir(), join(dir, 'espeak-ng-data'), 'dir');
}

function tokensTxt(): string {
  return PHONEMES.map((symbol, id) => `${symbol} ${id}`).join('\n') + '\n';
}

function withOverrides(metadata: Record<string, string>, options: TinyModelOptions): Record<string, string> {
  const result = { ...metadata, ...options.metadata };
  for (const key of options.omitMetadata ?? []) delete result[key];
  return result;
}

async function writeManifest(
  dir: string,
  name: string,
  family: ModelFamily,
  languages: readonly string[],
  files: Record<string, string>,
): Promise<ModelManifest> {
  const manifest: ModelManifest = {
    name,
    family,
    license: 'test model: random weights, no licence terms',
    languages: [...languages],
    source: 'test',
    installedAt: new Date().toISOString(),
    files,
  };
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
  return manifest;
}

/** `x [...]` → `tanh(x)` as the graph's float output `name` with the given dims. */
function finish(graph: Graph, x: string, name: string, dims: readonly (number | string)[]): void {
  node(graph, 'Tanh', [x], name);
  graph.outputs.push(valueInfo(name, FLOAT, dims));
}

/**
 * Each token id becomes `hop` random samples repeated 16 times, about as long as a real model
 * speaks a phoneme (46 ms for Piper at 22.05 kHz, 64 ms for Kokoro at 24 kHz): audio length grows
 * with the phonemes and is plausible for the text.
 */
function tokenAudio(graph: Graph, tokens: string, hop: number, seed: number): string {
  constant(graph, 'embedding', [...randomValues(PHONEMES.length * hop, seed, 0.8)], [PHONEMES.length, hop]);
  const gathered = node(graph, 'Gather', ['embedding', tokens], 'gathered', { axis: 0 });
  constant(graph, 'phoneme_repeats', [1, 1, 16], [3], INT64);
  const repeated = node(graph, 'Tile', [gathered, 'phoneme_repeats'], 'repeated');
  constant(graph, 'flat_shape', [1, 1, -1], [3], INT64);
  return node(graph, 'Reshape', [repeated, 'flat_shape'], 'flat');
}

/** `layers` products of each token's row with a `width`×`width` matrix, times zero: time spent, nothing changed. */
function busyWork(graph: Graph, rows: string, rowWidth: number, work: { readonly layers: number; readonly width: number }): string {
  constant(graph, 'work_in', [...randomValues(rowWidth * work.width, 91, 0.1)], [rowWidth, work.width]);
  constant(graph, 'work_weight', [...randomValues(work.width * work.width, 92, 1 / Math.sqrt(work.width))], [work.width, work.width]);
  let x = node(graph, 'MatMul', [rows, 'work_in'], 'work_0');
  for (let layer = 1; layer <= work.layers; layer++) x = node(graph, 'Tanh', [node(graph, 'MatMul', [x, 'work_weight'], `work_product_${layer}`)], `work_${layer}`);
  return unused(graph, x, false);
}

/** `0 × sum(input)` (cast to float first when it is an integer input): keeps an input in the graph. */
function unused(graph: Graph, input: string, isInteger: boolean): string {
  const asFloat = isInteger ? node(graph, 'Cast', [input], `${input}_float`, { to: FLOAT }) : input;
  const sum = node(graph, 'ReduceSum', [asFloat], `${input}_sum`, { keepdims: 0 });
  constant(graph, `${input}_zero`, [0]);
  return node(graph, 'Mul', [sum, `${input}_zero`], `${input}_nothing`);
}

export interface PiperOptions extends TinyModelOptions {
  /** Speakers (a `sid` input when more than one). */
  readonly speakers?: number;
  /** Writes the `.onnx.json` Piper ships, with this speaker_id_map. */
  readonly speakerIdMap?: Readonly<Record<string, number>>;
  /** Adds a node of an operator that does not exist: onnxruntime refuses the graph when sherpa loads it. */
  readonly brokenGraph?: boolean;
}

/** A Piper voice as sherpa's export makes it (`vits`, `comment=piper`), 22.05 kHz. */
export async function buildPiper(modelsDir: string, options: PiperOptions = {}): Promise<TinyModel> {
  const name = options.name ?? 'piper-tiny';
  const speakers = options.speakers ?? 1;
  const dir = await prepareDir(modelsDir, name);
  const graph = newGraph();
  graph.inputs.push(valueInfo('input', INT64, [1, 'phonemes']));
  graph.inputs.push(valueInfo('input_lengths', INT64, [1]));
  graph.inputs.push(valueInfo('scales', FLOAT, [3]));
  let audio = tokenAudio(graph, 'input', 64, 11);
  audio = node(graph, 'Add', [audio, unused(graph, 'input_lengths', true)], 'with_lengths');
  audio = node(graph, 'Add', [audio, unused(graph, 'scales', false)], 'with_scales');
  if (speakers > 1) {
    graph.inputs.push(valueInfo('sid', INT64, [1]));
    constant(graph, 'speaker_gain', Array.from({ length: speakers }, (_, i) => 1 + i * 0.5), [speakers]);
    const gain = node(graph, 'Gather', ['speaker_gain', 'sid'], 'gain', { axis: 0 });
    audio = node(graph, 'Mul', [audio, gain], 'with_speaker');
  }
  if (options.brokenGraph === true) audio = node(graph, 'ChorusNoSuchOperator', [audio], 'broken');
  finish(graph, audio, 'output', [1, 1, 'samples']);
  const metadata = withOverrides(
    {
      model_type: 'vits',
      comment: 'piper',
      language: 'English',
      voice: 'en-us',
      has_espeak: '1',
      n_speakers: String(speakers),
      sample_rate: '22050',
      version: '1',
    },
    options,
  );
  const modelFile = 'en_US-tiny-low.onnx';
  await writeFile(join(dir, modelFile), encodeModel(graph, metadata));
  await writeFile(join(dir, 'tokens.txt'), tokensTxt());
  if (options.speakerIdMap !== undefined) {
    await writeFile(
      join(dir, `${modelFile}.json`),
      JSON.stringify({ num_speakers: speakers, speaker_id_map: options.speakerIdMap, espeak: { voice: 'en-us' } }),
    );
  }
  await linkEspeakData(dir);
  return {
    dir,
    manifest: await writeManifest(dir, name, 'piper', ['en-US'], { model: modelFile, tokens: 'tokens.txt', dataDir: 'espeak-ng-data' }),
  };
}

/** The first speakers of sherpa's kokoro-multi-lang-v1_0 table, in its sid order. */
export const TINY_KOKORO_SPEAKERS = ['af_alloy', 'af_heart', 'am_echo', 'am_onyx', 'bf_emma', 'bm_fable', 'ef_dora', 'ff_siwis'];

export interface KokoroOptions extends TinyModelOptions {
  /** 1: the English-only espeak frontend (kokoro-en-v0_19); 2: multi-lang (v1.0, v1.1). */
  readonly version?: 1 | 2;
  readonly speakers?: readonly string[];
  /** `style_dim` S: the longest token sequence the model takes. */
  readonly maxTokens?: number;
  /** Floats to drop from voices.bin (a corrupt download). */
  readonly truncateVoices?: number;
  /**
   * Extra compute per token, for benchmarks: `layers` matrix products of `width`×`width` on each
   * token's row, whose result is multiplied by zero. The audio is the same; the engine's time grows
   * towards a real model's, so Chorus's fixed costs can be set against a plausible engine time.
   */
  readonly work?: { readonly layers: number; readonly width: number };
}

const KOKORO_STYLE = 16;

/** Kokoro and Kitten share a graph: tokens, a style row and speed in; 24 kHz audio out. */
function styleGraph(tokensName: string, outputName: string, work?: KokoroOptions['work']): Graph {
  const graph = newGraph();
  graph.inputs.push(valueInfo(tokensName, INT64, [1, 'tokens']));
  graph.inputs.push(valueInfo('style', FLOAT, [1, KOKORO_STYLE]));
  graph.inputs.push(valueInfo('speed', FLOAT, [1]));
  const audio = tokenAudio(graph, tokensName, 96, 23);
  // The style row sets the loudness, so speakers sound different; speed resamples the audio.
  const styleSum = node(graph, 'ReduceSum', ['style'], 'style_sum', { keepdims: 0 });
  constant(graph, 'style_weight', [0.05]);
  constant(graph, 'one', [1]);
  const styleGain = node(graph, 'Add', ['one', node(graph, 'Mul', [styleSum, 'style_weight'], 'style_scaled')], 'style_gain');
  const gain = work === undefined ? styleGain : node(graph, 'Add', [styleGain, busyWork(graph, 'gathered', 96, work)], 'gain');
  const styled = node(graph, 'Mul', [audio, gain], 'styled');
  const inverseSpeed = node(graph, 'Reciprocal', ['speed'], 'inverse_speed');
  constant(graph, 'unit_scales', [1, 1], [2]);
  const scales = node(graph, 'Concat', ['unit_scales', inverseSpeed], 'scales', { axis: 0 });
  const resized = node(graph, 'Resize', [styled, '', scales], 'resized', { mode: 'nearest' });
  finish(graph, resized, outputName, ['samples']);
  return graph;
}

/** Kokoro as sherpa's export makes it: model.onnx, voices.bin (n×S×D float32), tokens.txt. */
export async function buildKokoro(modelsDir: string, options: KokoroOptions = {}): Promise<TinyModel> {
  const version = options.version ?? 2;
  const name = options.name ?? (version === 2 ? 'kokoro-tiny-multi-lang' : 'kokoro-tiny-en');
  const speakers = options.speakers ?? TINY_KOKORO_SPEAKERS;
  const maxTokens = options.maxTokens ?? 128;
  const dir = await prepareDir(modelsDir, name);
  const graph = styleGraph('tokens', 'audio', options.work);
  const metadata = withOverrides(
    {
      model_type: 'kokoro',
      language: version === 2 ? 'multi-lang' : 'English',
      has_espeak: '1',
      sample_rate: '24000',
      version: String(version),
      voice: 'en-us',
      n_speakers: String(speakers.length),
      style_dim: `${maxTokens},1,${KOKORO_STYLE}`,
      speaker_names: speakers.join(','),
      speaker2id: speakers.map((speaker, id) => `${speaker}->${id}`).join(','),
      id2speaker: speakers.map((speaker, id) => `${id}->${speaker}`).join(','),
    },
    options,
  );
  await writeFile(join(dir, 'model.onnx'), encodeModel(graph, metadata));
  const voices = randomValues(speakers.length * maxTokens * KOKORO_STYLE - (options.truncateVoices ?? 0), 37, 0.5);
  await writeFile(join(dir, 'voices.bin'), new Uint8Array(voices.buffer));
  await writeFile(join(dir, 'tokens.txt'), tokensTxt());
  await linkEspeakData(dir);
  const files: Record<string, string> = { model: 'model.onnx', voices: 'voices.bin', tokens: 'tokens.txt', dataDir: 'espeak-ng-data' };
  if (version === 2) {
    // The real multi-lang tarball ships lexicons; one line is enough to exercise sherpa's reader.
    await writeFile(join(dir, 'lexicon-us-en.txt'), 'hello h ə l ˈ o ʊ\n');
    files['lexicon'] = 'lexicon-us-en.txt';
  }
  const languages = version === 2 ? ['en-US', 'en-GB', 'es', 'fr', 'cmn'] : ['en-US'];
  return { dir, manifest: await writeManifest(dir, name, 'kokoro', languages, files) };
}

export interface KittenOptions extends TinyModelOptions {
  /** Leaves out `speaker_names`, as kitten exports before v0.8 did. */
  readonly withoutSpeakerNames?: boolean;
}

/** KittenTTS v0.8's voices in sid order (`scripts/kitten-tts/v0_8/generate_voices_bin.py`). */
const KITTEN_SPEAKERS = ['expr-voice-2-m', 'expr-voice-2-f', 'expr-voice-3-m', 'expr-voice-3-f', 'expr-voice-4-m', 'expr-voice-4-f', 'expr-voice-5-m', 'expr-voice-5-f'];

/** Kitten as sherpa's export makes it: 8 voices, voices.bin n×D float32, `model_type=kitten-tts`. */
export async function buildKitten(modelsDir: string, options: KittenOptions = {}): Promise<TinyModel> {
  const name = options.name ?? 'kitten-tiny';
  const dir = await prepareDir(modelsDir, name);
  const graph = styleGraph('input_ids', 'waveform');
  const metadata = withOverrides(
    {
      model_type: 'kitten-tts',
      language: 'English',
      has_espeak: '1',
      sample_rate: '24000',
      version: '1',
      voice: 'en-us',
      n_speakers: String(KITTEN_SPEAKERS.length),
      style_dim: `1,${KOKORO_STYLE}`,
      ...(options.withoutSpeakerNames === true ? {} : { speaker_names: KITTEN_SPEAKERS.join(',') }),
    },
    options,
  );
  await writeFile(join(dir, 'model.fp16.onnx'), encodeModel(graph, metadata));
  const voices = randomValues(KITTEN_SPEAKERS.length * KOKORO_STYLE, 41, 0.5);
  await writeFile(join(dir, 'voices.bin'), new Uint8Array(voices.buffer));
  await writeFile(join(dir, 'tokens.txt'), tokensTxt());
  await linkEspeakData(dir);
  return {
    dir,
    manifest: await writeManifest(dir, name, 'kitten', ['en-US'], {
      model: 'model.fp16.onnx',
      voices: 'voices.bin',
      tokens: 'tokens.txt',
      dataDir: 'espeak-ng-data',
    }),
  };
}

export interface PocketOptions extends TinyModelOptions {
  /** Writes test_wavs/<name>.wav reference clips, as the real tarball ships (bria, loona, …). */
  readonly referenceWavs?: readonly string[];
  /**
   * Gives lm_main an int32 state input, which sherpa cannot make the zero state of: it `_Exit`s
   * while loading. The pre-check reads metadata and files, not graphs, so this reaches sherpa.
   */
  readonly int32State?: boolean;
}

const POCKET_LATENT = 32;
const POCKET_EMBEDDING = 1024;
/** Samples per latent frame: Mimi runs at 12.5 frames a second at 24 kHz. */
const POCKET_FRAME_SAMPLES = 1920;

function writeGraph(dir: string, file: string, graph: Graph): Promise<void> {
  return writeFile(join(dir, file), encodeModel(graph, {}));
}

/** Pocket TTS as sherpa's export makes it: five graphs and a SentencePiece vocabulary, no metadata. */
export async function buildPocket(modelsDir: string, options: PocketOptions = {}): Promise<TinyModel> {
  const name = options.name ?? 'pocket-tiny';
  const dir = await prepareDir(modelsDir, name);

  // text_conditioner: token ids [1,T] → embeddings [1,T,1024].
  const text = newGraph();
  text.inputs.push(valueInfo('token_ids', INT64, [1, 'tokens']));
  const ids = node(text, 'Cast', ['token_ids'], 'ids_float', { to: FLOAT });
  constant(text, 'axis_2', [2], [1], INT64);
  const column = node(text, 'Unsqueeze', [ids, 'axis_2'], 'ids_column');
  constant(text, 'embedding_shape', [1, 1, POCKET_EMBEDDING], [3], INT64);
  text.outputs.push(valueInfo(node(text, 'Expand', [column, 'embedding_shape'], 'embeddings'), FLOAT, [1, 'tokens', POCKET_EMBEDDING]));
  await writeGraph(dir, 'text_conditioner.onnx', text);

  // encoder (Mimi): reference audio [1,1,N] at 24 kHz → voice embedding [1,1,1024].
  const encoder = newGraph();
  encoder.inputs.push(valueInfo('audio', FLOAT, [1, 1, 'samples']));
  const level = node(encoder, 'ReduceMean', ['audio'], 'level', { axes: [2], keepdims: 1 });
  constant(encoder, 'embedding_shape', [1, 1, POCKET_EMBEDDING], [3], INT64);
  encoder.outputs.push(valueInfo(node(encoder, 'Expand', [level, 'embedding_shape'], 'voice_embedding'), FLOAT, [1, 1, POCKET_EMBEDDING]));
  await writeGraph(dir, 'encoder.onnx', encoder);

  // lm_main: the previous latent (NaN at the start), conditioning embeddings and two state
  // counters in; conditioning for the flow, an end-of-speech logit and the counters out. It ends
  // speech after about two frames per text token, so longer text makes longer audio.
  const main = newGraph();
  main.inputs.push(valueInfo('sequence', FLOAT, [1, 'steps', POCKET_LATENT]));
  main.inputs.push(valueInfo('text_embeddings', FLOAT, [1, 'conditioning', POCKET_EMBEDDING]));
  main.inputs.push(valueInfo('state_frames', FLOAT, [1]));
  main.inputs.push(valueInfo('state_tokens', FLOAT, [1]));
  if (options.int32State === true) {
    main.inputs.push(valueInfo('state_int32', INT32, [1]));
    main.outputs.push(valueInfo(node(main, 'Identity', ['state_int32'], 'out_state_int32'), INT32, [1]));
  }
  constant(main, 'zero', [0]);
  const isNan = node(main, 'IsNaN', ['sequence'], 'is_nan');
  const cleaned = node(main, 'Where', [isNan, 'zero', 'sequence'], 'cleaned');
  constant(main, 'axis_1', [1], [1], INT64);
  main.outputs.push(valueInfo(node(main, 'ReduceSum', [cleaned, 'axis_1'], 'conditioning', { keepdims: 0 }), FLOAT, [1, POCKET_LATENT]));
  const shape = node(main, 'Shape', ['text_embeddings'], 'embedding_dims');
  constant(main, 'index_1', [1], [1], INT64);
  const count = node(main, 'Gather', [shape, 'index_1'], 'embedding_count', { axis: 0 });
  const tokens = node(main, 'Add', ['state_tokens', node(main, 'Cast', [count], 'count_float', { to: FLOAT })], 'tokens_next');
  constant(main, 'one', [1]);
  const frames = node(main, 'Add', ['state_frames', 'one'], 'frames_next');
  constant(main, 'frames_per_token', [2]);
  const wanted = node(main, 'Mul', [tokens, 'frames_per_token'], 'wanted_frames');
  constant(main, 'eos_offset', [-8]);
  const logit = node(main, 'Add', [node(main, 'Sub', [frames, wanted], 'frames_left'), 'eos_offset'], 'eos_logit');
  main.outputs.push(valueInfo(logit, FLOAT, [1]));
  main.outputs.push(valueInfo(node(main, 'Identity', [frames], 'out_state_frames'), FLOAT, [1]));
  main.outputs.push(valueInfo(node(main, 'Identity', [tokens], 'out_state_tokens'), FLOAT, [1]));
  await writeGraph(dir, 'lm_main.onnx', main);

  // lm_flow: v(c, s, t, x), integrated over numSteps by sherpa.
  const flow = newGraph();
  flow.inputs.push(valueInfo('c', FLOAT, [1, POCKET_LATENT]));
  flow.inputs.push(valueInfo('s', FLOAT, [1, 1]));
  flow.inputs.push(valueInfo('t', FLOAT, [1, 1]));
  flow.inputs.push(valueInfo('x', FLOAT, [1, POCKET_LATENT]));
  constant(flow, 'half', [0.5]);
  const drift = node(flow, 'Add', [node(flow, 'Mul', ['c', 'half'], 'c_half'), 'x'], 'drift');
  const time = node(flow, 'Add', ['s', 't'], 'time');
  const velocity = node(flow, 'Add', [node(flow, 'Sin', [drift], 'wave'), node(flow, 'Mul', [time, 'half'], 'time_half')], 'velocity');
  flow.outputs.push(valueInfo(node(flow, 'Tanh', [velocity], 'v'), FLOAT, [1, POCKET_LATENT]));
  await writeGraph(dir, 'lm_flow.onnx', flow);

  // decoder (Mimi): latents [1,C,32] and a state → audio [1,1,C×1920].
  const decoder = newGraph();
  decoder.inputs.push(valueInfo('latent', FLOAT, [1, 'frames', POCKET_LATENT]));
  decoder.inputs.push(valueInfo('state_position', FLOAT, [1]));
  constant(decoder, 'projection', [...randomValues(POCKET_LATENT * 240, 53, 0.15)], [POCKET_LATENT, 240]);
  const projected = node(decoder, 'MatMul', ['latent', 'projection'], 'projected');
  constant(decoder, 'repeats', [1, 1, POCKET_FRAME_SAMPLES / 240], [3], INT64);
  const tiled = node(decoder, 'Tile', [projected, 'repeats'], 'tiled');
  constant(decoder, 'flat_shape', [1, 1, -1], [3], INT64);
  const flat = node(decoder, 'Reshape', [tiled, 'flat_shape'], 'flat');
  node(decoder, 'Tanh', [flat], 'audio');
  decoder.outputs.push(valueInfo('audio', FLOAT, [1, 1, 'samples']));
  constant(decoder, 'one', [1]);
  decoder.outputs.push(valueInfo(node(decoder, 'Add', ['state_position', 'one'], 'out_state_position'), FLOAT, [1]));
  await writeGraph(dir, 'decoder.onnx', decoder);

  // A SentencePiece vocabulary: byte fallbacks, the word marker, letters and a few whole words.
  const pieces = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`)];
  pieces.push('▁', ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'-'.split(''));
  pieces.push('▁the', '▁a', '▁hello', '▁world', '▁is', '▁this');
  const vocab: Record<string, number> = {};
  const scores: Record<string, number> = {};
  pieces.forEach((piece, id) => {
    vocab[piece] = id;
    scores[piece] = piece.startsWith('<') ? 0 : -1 - piece.length * 0.1;
  });
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'token_scores.json'), JSON.stringify(scores));

  for (const [index, wav] of (options.referenceWavs ?? []).entries()) {
    await mkdir(join(dir, 'test_wavs'), { recursive: true });
    await writeFile(join(dir, 'test_wavs', `${wav}.wav`), toneWav(16000, 1.5, 150 + index * 60));
  }

  return {
    dir,
    manifest: await writeManifest(dir, name, 'pocket', ['en'], {
      lmFlow: 'lm_flow.onnx',
      lmMain: 'lm_main.onnx',
      encoder: 'encoder.onnx',
      decoder: 'decoder.onnx',
      textConditioner: 'text_conditioner.onnx',
      vocabJson: 'vocab.json',
      tokenScoresJson: 'token_scores.json',
    }),
  };
}

/** A 16-bit mono WAV of a voiced-sounding tone: stands in for a reference recording. */
export function toneWav(sampleRate: number, seconds: number, pitchHz: number): Uint8Array {
  const samples = Float32Array.from({ length: Math.round(sampleRate * seconds) }, (_, i) => {
    const t = i / sampleRate;
    return 0.3 * Math.sin(2 * Math.PI * pitchHz * t) + 0.1 * Math.sin(2 * Math.PI * pitchHz * 2 * t);
  });
  return wavBytes(samples, sampleRate);
}
