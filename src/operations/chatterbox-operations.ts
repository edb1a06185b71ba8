import { createHash } from 'node:crypto';
import { z } from 'zod';
import { numberInRange, validate } from '../api/validation.js';
import { wavHeader } from '../audio/encoders/wav-encoder.js';
import { concatBytes } from '../audio/pcm.js';
import type { EngineVoice } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import type { LoudnessNormalization, SpeechRequest } from '../pipeline/speech-request.js';
import type { SpeechService } from '../pipeline/speech-service.js';
import { normalizeText } from '../text/index.js';
import { decodeBase64Audio } from './base64-audio.js';
import type { EndpointProfile, OperationContext } from './endpoint-profile.js';
import { renderSpeech } from './render-speech.js';

/**
 * The Chatterbox operations worker (002): one endpoint, an `operation` field.
 *
 * - `tts` (`mode` basic | streaming | streaming_voice_cloning): text to a base64 WAV. The streaming
 *   modes also send each chunk of audio to /stream as it is made (see StreamElement).
 * - `list_local_voices`: the 37 built-in voices in the documented shape.
 * - `voice_cloning`, `voice_conversion`, `voice_transfer`: validated in full, then refused at
 *   submission with a 400 saying they arrive with the voice library; `reference_audio` on `tts` is
 *   decoded and checked, then refused the same way.
 *
 * Chatterbox's sampling controls (`exaggeration`, `cfg_weight`, `temperature`) are validated and
 * reported under `ignored_parameters`: eSpeak has no equivalent. Output is never watermarked, so
 * `no_watermark` is accepted and changes nothing.
 */

export const OPERATIONS = ['tts', 'list_local_voices', 'voice_cloning', 'voice_conversion', 'voice_transfer'] as const;
type Operation = (typeof OPERATIONS)[number];
export const TTS_MODES = ['basic', 'streaming', 'streaming_voice_cloning'] as const;

/** `chunk_size` counts words (as the original does); the pipeline cuts by characters. */
export const CHARS_PER_WORD = 6;
const DEFAULT_CHUNK_WORDS = 50;
const DEFAULT_SAMPLE_RATE = 24_000;
/** Largest PCM payload of one /stream element: base64 of it stays under RunPod's 1 MB per chunk. */
const MAX_STREAM_PIECE_BYTES = 700 * 1024;
/** Audio after a chunk's end that proves the next chunk began, seconds (shorter tails are the resampler's). */
const NEXT_CHUNK_EVIDENCE_SEC = 0.05;

const ttsSchema = z.object({
  operation: z.literal('tts'),
  mode: z.enum(TTS_MODES),
  text: z.string().min(1).max(5000),
  sample_rate: numberInRange('sample_rate', 8000, 48000, { integer: true }).optional(),
  audio_normalization: z.enum(['peak', 'rms']).nullable().optional(),
  voice_name: z.string().min(1).optional(),
  voice_id: z.string().min(1).optional(),
  reference_audio: z.string().optional(),
  max_reference_duration_sec: numberInRange('max_reference_duration_sec', 1, 300).optional(),
  chunk_size: numberInRange('chunk_size', 1, 100, { integer: true }).optional(),
  exaggeration: numberInRange('exaggeration', 0, 1).optional(),
  cfg_weight: numberInRange('cfg_weight', 0, 1).optional(),
  temperature: numberInRange('temperature', 0.1, 2).optional(),
  print_metrics: z.boolean().optional(),
  no_watermark: z.boolean().optional(),
});
type TtsInput = z.infer<typeof ttsSchema>;

const audioField = z.string().min(1);
const voiceCloningSchema = z.object({
  reference_audio: audioField,
  voice_name: z.string().min(1).max(100),
  voice_description: z.string().max(1000).optional(),
  save_to_library: z.boolean().optional(),
});
const voiceConversionSchema = z.object({
  input_audio: audioField,
  voice_name: z.string().min(1).optional(),
  voice_id: z.string().min(1).optional(),
  target_speaker: audioField.optional(),
  no_watermark: z.boolean().optional(),
});
const voiceTransferSchema = z.object({
  transfer_mode: z.enum(['embedding', 'audio']),
  input_audio: audioField,
  voice_name: z.string().min(1).optional(),
  voice_id: z.string().min(1).optional(),
  target_audio: audioField.optional(),
  no_watermark: z.boolean().optional(),
});

/** A built-in voice's stable id: the first 8 hex digits of sha256 of its name. */
export function builtinVoiceId(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 8);
}

/** One element of /stream for the streaming modes (each is `{"output": StreamElement}` on the wire). */
export interface StreamElement {
  /** 0, 1, 2, … over the elements of this job. */
  readonly chunk_index: number;
  /** The text chunk this audio speaks (a long chunk's audio may be split over several elements). */
  readonly text_chunk_index: number;
  readonly text: string;
  /** A complete base64 WAV (16-bit mono); the final `audio` holds the same samples, in order. */
  readonly audio: string;
  readonly format: 'wav';
  readonly sample_rate: number;
  /** Where this piece starts in the complete audio, and how long it is, seconds. */
  readonly start_sec: number;
  readonly duration_sec: number;
}

interface VoiceLibrary {
  resolve(name: string | undefined, id: string | undefined): EngineVoice;
  list(): EngineVoice[];
}

function voiceLibrary(speech: SpeechService): VoiceLibrary {
  const byId = new Map(speech.voices.voices.map((voice) => [builtinVoiceId(voice.id), voice]));
  const notFound = (value: string, param: string) =>
    new ChorusError({ code: 'voice_not_found', param, message: `Voice '${value}' not found in any library` });
  return {
    // voice_name wins when both are sent (voice_id is documented as its alternative).
    resolve(name, id) {
      if (name !== undefined) {
        const voice = speech.voices.find(name);
        if (voice === undefined) throw notFound(name, 'voice_name');
        return voice;
      }
      if (id !== undefined) {
        const voice = byId.get(id.trim().toLowerCase());
        if (voice === undefined) throw notFound(id, 'voice_id');
        return voice;
      }
      return speech.voices.resolve('default', 'voice_name');
    },
    list: () => speech.voices.voices.filter((voice) => voice.id !== 'default').sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function notYetAvailable(operation: string, param = 'operation'): ChorusError {
  const what = param === 'operation' ? `Operation '${operation}'` : `Voice cloning from '${param}'`;
  return new ChorusError({
    code: 'invalid_request',
    param,
    message: `${what} is not available yet: it arrives with the voice library. Available now: operation 'tts' with a built-in voice (voice_name or voice_id; see 'list_local_voices').`,
  });
}

function readOperation(input: unknown): Operation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ChorusError({ code: 'invalid_request', param: 'input', message: "'input' must be a JSON object." });
  }
  const operation = (input as Record<string, unknown>)['operation'];
  if (operation === undefined || operation === null || operation === '') {
    throw new ChorusError({
      code: 'invalid_request',
      param: 'operation',
      message: `Missing required parameter: 'operation' (one of ${OPERATIONS.join(', ')}).`,
      detail: 'missing_required_parameter',
    });
  }
  if (typeof operation !== 'string' || !(OPERATIONS as readonly string[]).includes(operation)) {
    throw new ChorusError({ code: 'invalid_request', param: 'operation', message: `Unknown operation: ${typeof operation === 'string' ? operation : JSON.stringify(operation)}` });
  }
  return operation as Operation;
}

/** The documented checks the schema cannot phrase well; then the schema; then the text itself. */
function parseTts(input: Record<string, unknown>): TtsInput {
  if (input['mode'] === undefined || input['mode'] === null) {
    throw new ChorusError({
      code: 'invalid_request',
      param: 'mode',
      message: `Missing required parameter: 'mode' (one of ${TTS_MODES.join(', ')}).`,
      detail: 'missing_required_parameter',
    });
  }
  const normalization = input['audio_normalization'];
  if (normalization !== undefined && normalization !== null && normalization !== 'peak' && normalization !== 'rms') {
    throw new ChorusError({
      code: 'invalid_request',
      param: 'audio_normalization',
      message: `'audio_normalization' must be "peak", "rms" or null; got ${JSON.stringify(normalization)}.`,
    });
  }
  const parsed = validate(ttsSchema, input);
  if (normalizeText(parsed.text).text.length === 0) {
    throw new ChorusError({ code: 'invalid_request', param: 'text', message: "'text' contains nothing that can be spoken." });
  }
  return parsed;
}

export function createChatterboxOperationsProfile(options: { maxCharsPerChunk: number }): EndpointProfile {
  return {
    name: 'chatterbox-v2',
    description: 'Chatterbox operations worker: tts (basic and streaming), list_local_voices; voice cloning, conversion and transfer arrive with the voice library',
    async validate(input, { speech }) {
      const operation = readOperation(input);
      const fields = input as Record<string, unknown>;
      const library = voiceLibrary(speech);
      switch (operation) {
        case 'tts': {
          const parsed = parseTts(fields);
          library.resolve(parsed.voice_name, parsed.voice_id);
          if (parsed.reference_audio !== undefined) {
            await decodeBase64Audio(parsed.reference_audio, 'reference_audio');
            throw notYetAvailable(operation, 'reference_audio');
          }
          return;
        }
        case 'list_local_voices':
          return;
        case 'voice_cloning': {
          const parsed = validate(voiceCloningSchema, fields);
          await decodeBase64Audio(parsed.reference_audio, 'reference_audio');
          throw notYetAvailable(operation);
        }
        case 'voice_conversion': {
          const parsed = validate(voiceConversionSchema, fields);
          await decodeBase64Audio(parsed.input_audio, 'input_audio');
          if (parsed.voice_name !== undefined || parsed.voice_id !== undefined) library.resolve(parsed.voice_name, parsed.voice_id);
          else if (parsed.target_speaker !== undefined) await decodeBase64Audio(parsed.target_speaker, 'target_speaker');
          else {
            throw new ChorusError({
              code: 'invalid_request',
              param: 'voice_name',
              message: "voice_conversion needs a target voice: 'voice_name', 'voice_id' or 'target_speaker'.",
            });
          }
          throw notYetAvailable(operation);
        }
        case 'voice_transfer': {
          const parsed = validate(voiceTransferSchema, fields);
          await decodeBase64Audio(parsed.input_audio, 'input_audio');
          if (parsed.transfer_mode === 'embedding') {
            if (parsed.voice_name === undefined && parsed.voice_id === undefined) {
              throw new ChorusError({
                code: 'invalid_request',
                param: 'voice_name',
                message: "Missing required parameter: 'voice_name' (or 'voice_id') for transfer_mode 'embedding'.",
              });
            }
            library.resolve(parsed.voice_name, parsed.voice_id);
          } else {
            if (parsed.target_audio === undefined) {
              throw new ChorusError({ code: 'invalid_request', param: 'target_audio', message: "Missing required parameter: 'target_audio' for transfer_mode 'audio'." });
            }
            await decodeBase64Audio(parsed.target_audio, 'target_audio');
          }
          throw notYetAvailable(operation);
        }
      }
    },
    async run(input, context) {
      const operation = readOperation(input);
      if (operation === 'list_local_voices') return listLocalVoices(voiceLibrary(context.speech));
      if (operation !== 'tts') throw notYetAvailable(operation);
      const parsed = parseTts(input as Record<string, unknown>);
      if (parsed.reference_audio !== undefined) throw notYetAvailable(operation, 'reference_audio');
      return runTts(parsed, context, options.maxCharsPerChunk);
    },
  };
}

function listLocalVoices(library: VoiceLibrary) {
  const voices = library.list();
  const local_voices = voices.map((voice) => ({
    voice_id: builtinVoiceId(voice.id),
    speaker_name: voice.name,
    gender: voice.gender,
    // A built-in eSpeak voice has no training recording: no duration, no original file.
    duration: null,
    original_file: null,
    type: 'espeak_builtin',
  }));
  return {
    local_voices,
    total_local_voices: local_voices.length,
    stats: {
      total_voices: local_voices.length,
      gender_distribution: {
        male: voices.filter((voice) => voice.gender === 'male').length,
        female: voices.filter((voice) => voice.gender === 'female').length,
      },
    },
  };
}

async function runTts(parsed: TtsInput, context: OperationContext, maxCharsPerChunk: number): Promise<Record<string, unknown>> {
  const started = performance.now();
  const { speech } = context;
  const voice = voiceLibrary(speech).resolve(parsed.voice_name, parsed.voice_id);
  const streaming = parsed.mode !== 'basic';
  const sampleRate = parsed.sample_rate ?? DEFAULT_SAMPLE_RATE;
  const normalization: LoudnessNormalization = parsed.audio_normalization ?? 'none';
  const chunkWords = parsed.chunk_size ?? DEFAULT_CHUNK_WORDS;
  const request: SpeechRequest = {
    text: parsed.text,
    voiceId: voice.id,
    speed: 1,
    pitchSemitones: 0,
    sampleRate,
    format: streaming ? 'pcm' : 'wav',
    normalization,
    // Basic mode speaks in the server's largest chunks; streaming cuts at chunk_size words.
    maxChunkChars: streaming ? Math.min(maxCharsPerChunk, chunkWords * CHARS_PER_WORD) : maxCharsPerChunk,
    delivery: streaming ? 'stream' : 'buffered',
  };

  let audio: Uint8Array;
  let durationSec: number;
  let chunkCount: number;
  let streamed: { elements: number; firstChunkSec: number | undefined } | undefined;
  if (streaming) {
    const result = await streamTts(request, context);
    audio = result.wav;
    durationSec = result.durationSec;
    chunkCount = result.textChunks;
    streamed = { elements: result.elements, firstChunkSec: result.firstChunkSec };
  } else {
    const result = await renderSpeech(speech, request, context.signal, undefined, context.progress);
    audio = result.audio;
    durationSec = result.durationSec;
    chunkCount = result.chunkCount;
  }
  const generationSec = (performance.now() - started) / 1000;
  const ignored = (['exaggeration', 'cfg_weight', 'temperature'] as const).filter((name) => parsed[name] !== undefined);
  const output: Record<string, unknown> = {
    audio: Buffer.from(audio).toString('base64'),
    sample_rate: sampleRate,
    duration: round(durationSec, 3),
    format: 'wav',
    operation: 'tts',
    mode: parsed.mode,
    voice: voice.name,
    voice_id: builtinVoiceId(voice.id),
    chunks_processed: chunkCount,
  };
  if (streamed !== undefined) output['stream_chunks'] = streamed.elements;
  if (ignored.length > 0) output['ignored_parameters'] = ignored;
  // Documented default: on for the streaming modes; basic mode reports metrics when asked.
  if (parsed.print_metrics ?? streaming) {
    output['metrics'] = {
      generation_time_sec: round(generationSec, 3),
      audio_duration_sec: round(durationSec, 3),
      rtf: durationSec > 0 ? round(generationSec / durationSec, 4) : null,
      ...(streamed === undefined ? {} : { first_chunk_latency_sec: streamed.firstChunkSec === undefined ? null : round(streamed.firstChunkSec, 3) }),
      chunk_count: chunkCount,
      characters: parsed.text.length,
    };
  }
  return output;
}

/**
 * One synthesis in `stream` delivery (raw PCM). Audio is grouped by the engine's text chunks: the
 * pipeline reports a chunk's words right after its audio, so a `words` part closes a chunk. A closed
 * chunk goes to /stream as soon as 50 ms of the next chunk's audio exist (or at the end, together
 * with the resampler's last samples), split into pieces under 1 MB.
 */
async function streamTts(request: SpeechRequest, context: OperationContext) {
  const started = performance.now();
  const pcm: Uint8Array[] = [];
  let current: Uint8Array[] = [];
  let currentText: { start: number; end: number } | undefined;
  let closed: { pieces: Uint8Array[]; text: { start: number; end: number } | undefined } | undefined;
  let sampleRate = request.sampleRate;
  let emittedBytes = 0;
  let elements = 0;
  let textChunks = 0;
  let chunkCount = 0;
  let firstChunkSec: number | undefined;

  const send = async (pieces: Uint8Array[], text: { start: number; end: number } | undefined): Promise<void> => {
    const bytes = concatBytes(pieces);
    if (bytes.length === 0) return;
    const textChunk = textChunks++;
    const spoken = text === undefined ? '' : request.text.slice(text.start, text.end);
    const pieceBytes = MAX_STREAM_PIECE_BYTES - (MAX_STREAM_PIECE_BYTES % 2);
    for (let offset = 0; offset < bytes.length; offset += pieceBytes) {
      const piece = bytes.subarray(offset, Math.min(bytes.length, offset + pieceBytes));
      const element: StreamElement = {
        chunk_index: elements++,
        text_chunk_index: textChunk,
        text: spoken,
        audio: Buffer.from(concatBytes([wavHeader(sampleRate, piece.length), piece])).toString('base64'),
        format: 'wav',
        sample_rate: sampleRate,
        start_sec: round(emittedBytes / 2 / sampleRate, 4),
        duration_sec: round(piece.length / 2 / sampleRate, 4),
      };
      emittedBytes += piece.length;
      if (firstChunkSec === undefined) firstChunkSec = (performance.now() - started) / 1000;
      await context.stream(element);
    }
  };

  let ended = false;
  for await (const part of context.speech.synthesize(request, context.signal)) {
    if (part.type === 'start') sampleRate = part.sampleRate;
    else if (part.type === 'audio') {
      if (part.bytes.length === 0) continue;
      current.push(part.bytes);
      pcm.push(part.bytes);
      // The next chunk has really started (not just the resampler's last few samples): send the last one.
      if (closed !== undefined && byteLength(current) >= sampleRate * 2 * NEXT_CHUNK_EVIDENCE_SEC) {
        await send(closed.pieces, closed.text);
        closed = undefined;
      }
    } else if (part.type === 'words') {
      const first = part.words[0];
      const last = part.words.at(-1);
      if (first !== undefined && last !== undefined) {
        currentText = { start: Math.min(currentText?.start ?? first.charStart, first.charStart), end: last.charEnd };
      }
      if (current.length > 0) {
        closed = { pieces: closed === undefined ? current : [...closed.pieces, ...current], text: spanUnion(closed?.text, currentText) };
        current = [];
        currentText = undefined;
      }
    } else {
      chunkCount = part.chunkCount;
      ended = true;
    }
  }
  if (context.signal.aborted) throw new ChorusError({ code: 'aborted', message: 'The job was stopped.' });
  if (!ended) throw new ChorusError({ code: 'engine_failed', message: 'The engine ended without producing audio.' });
  const tail = closed === undefined ? { pieces: current, text: currentText } : { pieces: [...closed.pieces, ...current], text: spanUnion(closed.text, currentText) };
  await send(tail.pieces, tail.text);
  const data = concatBytes(pcm);
  return {
    wav: concatBytes([wavHeader(sampleRate, data.length), data]),
    durationSec: data.length / 2 / sampleRate,
    elements,
    textChunks: chunkCount,
    firstChunkSec,
  };
}

function byteLength(pieces: readonly Uint8Array[]): number {
  let total = 0;
  for (const piece of pieces) total += piece.length;
  return total;
}

function spanUnion(a: { start: number; end: number } | undefined, b: { start: number; end: number } | undefined) {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
