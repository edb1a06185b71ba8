import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { spokenReply, type SentenceVoice } from '../agent/spoken-reply.js';
import { checkTextLength, numberInRange, validate } from '../validation/validation.js';
import { wavHeader } from '../audio/encoders/wav-encoder.js';
import { concatBytes } from '../audio/pcm.js';
import type { ConversationLimits, ConversationStore } from '../conversations/conversation-store.js';
import { ChorusError } from '../errors.js';
import type { ChatMessage, ChatModel } from '../llm/chat-model.js';
import type { SpeechService } from '../speech/speech-service.js';
import { speechRequestFor, voiceMethodFields, type ResolvedVoice } from '../voices/voice-library.js';
import { decodeBase64Audio, decodeBase64Field } from './base64-audio.js';
import type { EndpointProfile, OperationContext, ValidationContext } from './endpoint-profile.js';

/**
 * The Fish Speech chat agent (004): a `message` answered by a language model, the answer spoken,
 * context kept per `conversation_id`. `/run` answers with the finished reply in the document's
 * envelope, or streams it (`stream: true`): the reply's text as the model writes it, each sentence's
 * audio as soon as that sentence is complete. Audio is 44.1 kHz float samples in [-1, 1]
 * (`audio_format: "wav"` sends base64 WAV instead, a quarter of the size).
 *
 * A turn is saved to the conversation only once the whole reply was written and spoken; a reply
 * that fails or is cancelled leaves the conversation as it was.
 */

export interface FishSpeechAgentOptions {
  /** Absent: no language model is configured, and every request is refused naming CHORUS_LLM_URL. */
  readonly chat: ChatModel | undefined;
  readonly conversations: ConversationStore;
  readonly limits: ConversationLimits;
  readonly systemPrompt: string | undefined;
}

const AGENT_SAMPLE_RATE = 44_100;
/** Longest audio in one /stream element, s: small enough that streamed float audio flows evenly. */
const STREAM_ELEMENT_SEC = 0.25;
/** reference_audio: what the chatterbox `tts` operation accepts, and the stretch that is analysed. */
const REFERENCE_LIMITS = { minSec: 1, maxSec: 300, maxAnalysedSec: 30 } as const;

const chatSchema = z.object({
  /** At most CHORUS_MAX_INPUT_CHARS (checkTextLength), as the speech text of every API. */
  message: z.string(),
  conversation_id: z.string().min(1).max(200).nullable().optional(),
  temperature: numberInRange('temperature', 0.1, 1).optional(),
  max_tokens: numberInRange('max_tokens', 1, 32_768, { integer: true }).optional(),
  reference_audio: z.string().nullable().optional(),
  stream: z.boolean().optional(),
  /** Chorus extensions: a library voice for the reply, the compact audio form, no watermark. */
  voice: z.string().min(1).max(100).optional(),
  /** The speech engine (`model` here names the language model's reply, so only `engine` picks it). */
  engine: z.string().min(1).optional(),
  audio_format: z.enum(['float', 'wav']).optional(),
  no_watermark: z.boolean().optional(),
});
type ChatInput = z.infer<typeof chatSchema>;

/** One element of the job's /stream: a piece of the reply's text, or a piece of its audio. */
type AgentStreamElement = { readonly text: string } | { readonly audio: number[] | string; readonly sample_rate: number };

function parseChat(input: unknown, speech: SpeechService): ChatInput {
  const parsed = validate(chatSchema, input);
  checkTextLength('message', parsed.message, speech.maxInputChars);
  if (parsed.engine !== undefined) speech.engines.engine(parsed.engine, 'engine');
  if (parsed.message.trim() === '') {
    throw new ChorusError({ code: 'invalid_request', param: 'message', message: "'message' is empty: send the text the agent should answer." });
  }
  if (parsed.voice !== undefined && typeof parsed.reference_audio === 'string') {
    throw new ChorusError({ code: 'invalid_request', param: 'voice', message: "Send either 'voice' (a library voice) or 'reference_audio' (a recording to speak like), not both." });
  }
  return parsed;
}

function requireChat(chat: ChatModel | undefined): ChatModel {
  if (chat !== undefined) return chat;
  throw new ChorusError({
    code: 'engine_unavailable',
    message:
      'The chat agent has no language model configured: set CHORUS_LLM_URL to an OpenAI-compatible chat server (llama.cpp, Ollama, vLLM, OpenAI) and CHORUS_LLM_MODEL to its model, then restart Chorus.',
  });
}

export function createFishSpeechAgentProfile(options: FishSpeechAgentOptions): EndpointProfile {
  return {
    name: 'fish-speech',
    description: 'Fish Speech chat agent: a language model answers `message`, the answer is spoken (44.1 kHz), context kept per conversation_id',
    runAnswer: (input) => ((input as { stream?: unknown }).stream === true ? 'stream' : 'result'),
    input: {
      schema: chatSchema,
      examples: {
        reply: { summary: 'A spoken reply in a conversation', value: { message: 'Hello! What can you do?', conversation_id: 'demo' } },
        streamed: { summary: 'Streamed, audio as base64 WAV', value: { message: 'Tell me a short joke.', stream: true, audio_format: 'wav' } },
      },
    },
    async validate(input, context) {
      const parsed = parseChat(input, context.speech);
      requireChat(options.chat);
      if (typeof parsed.reference_audio === 'string') await decodeBase64Audio(parsed.reference_audio, 'reference_audio', REFERENCE_LIMITS);
      else if (parsed.voice !== undefined) await context.voices.resolve(context.owner, { name: parsed.voice }, 'voice', parsed.engine);
      return parsed;
    },
    async run(input, context) {
      const parsed = parseChat(input, context.speech);
      const chat = requireChat(options.chat);
      return replyTo(parsed, chat, options, context);
    },
  };
}

async function replyTo(parsed: ChatInput, chat: ChatModel, options: FishSpeechAgentOptions, context: OperationContext): Promise<Record<string, unknown>> {
  const started = performance.now();
  const conversationId = parsed.conversation_id ?? `conv-${randomUUID()}`;
  const audioFormat = parsed.audio_format ?? 'float';
  // The reference is analysed while the model starts writing.
  const voice = resolveVoice(parsed, context);
  const sentenceVoice: Promise<SentenceVoice> = voice.then((resolved) => speechRequestFor(resolved, {
    watermark: parsed.no_watermark !== true,
    speed: 1,
    pitchSemitones: 0,
    sampleRate: AGENT_SAMPLE_RATE,
    format: 'pcm',
    normalization: 'none',
    maxChunkChars: context.speech.maxCharsPerChunk,
    delivery: 'stream',
    wordTimings: false,
    // The whole reply's bound (spokenReply shares it out over the sentences).
    maxAudioSec: context.speech.maxAudioSeconds,
  } as const));
  // Awaited by the reply; should the history read fail first, its failure is that one's to report.
  sentenceVoice.catch(() => undefined);
  const history = await options.conversations.history(context.owner, conversationId);
  const messages: ChatMessage[] = [
    ...(options.systemPrompt === undefined ? [] : [{ role: 'system' as const, content: options.systemPrompt }]),
    ...history.flatMap((turn) => [
      { role: 'user' as const, content: turn.user },
      { role: 'assistant' as const, content: turn.assistant },
    ]),
    { role: 'user', content: parsed.message },
  ];

  const stream = parsed.stream === true ? new StreamWriter(context) : undefined;
  let text = '';
  const pcm: Uint8Array[] = [];
  let sentences = 0;
  let firstTextMs: number | undefined;
  let firstAudioMs: number | undefined;
  const reply = spokenReply(chat, context.speech, { messages, temperature: parsed.temperature ?? 0.7, maxTokens: parsed.max_tokens ?? 1000 }, sentenceVoice, context.signal);
  for await (const part of reply) {
    if (part.type === 'text') {
      firstTextMs ??= performance.now() - started;
      text += part.text;
      stream?.add({ text: part.text });
    } else {
      firstAudioMs ??= performance.now() - started;
      sentences = part.sentence + 1;
      pcm.push(part.bytes);
      if (stream !== undefined) for (const piece of streamPieces(part.bytes)) stream.add({ audio: encodeAudio(piece, audioFormat), sample_rate: AGENT_SAMPLE_RATE });
    }
  }
  if (context.signal.aborted) throw new ChorusError({ code: 'aborted', message: 'The reply was stopped.' });
  if (text.trim() === '') throw new ChorusError({ code: 'engine_failed', message: `The language model (${chat.model}) returned an empty reply.` });
  await stream?.flushed();
  await options.conversations.append(context.owner, conversationId, { user: parsed.message, assistant: text, at: Date.now() }, options.limits);

  const resolved = await voice;
  const audio = concatBytes(pcm);
  return {
    text,
    ...(stream === undefined ? { audio: encodeAudio(audio, audioFormat) } : { audio_chunks: stream.audioElements }),
    sample_rate: AGENT_SAMPLE_RATE,
    audio_format: audioFormat,
    duration: Math.round((audio.length / 2 / AGENT_SAMPLE_RATE) * 1000) / 1000,
    conversation_id: conversationId,
    voice: resolved.name,
    engine: resolved.engine,
    ...voiceMethodFields(resolved),
    model: chat.model,
    metrics: {
      sentences,
      first_text_ms: firstTextMs === undefined ? null : Math.round(firstTextMs),
      first_audio_ms: firstAudioMs === undefined ? null : Math.round(firstAudioMs),
      total_ms: Math.round(performance.now() - started),
    },
  };
}

function resolveVoice(parsed: ChatInput, context: OperationContext | ValidationContext): Promise<ResolvedVoice> {
  if (typeof parsed.reference_audio === 'string') {
    const bytes = decodeBase64Field(parsed.reference_audio, 'reference_audio');
    return context.voices.referenceVoice(bytes, 'reference_audio', REFERENCE_LIMITS, context.signal, parsed.engine === undefined ? {} : { engine: parsed.engine });
  }
  return parsed.voice === undefined ? context.voices.resolve(context.owner, {}, 'voice', parsed.engine) : context.voices.resolve(context.owner, { name: parsed.voice }, 'voice', parsed.engine);
}

/** 16-bit PCM in pieces of at most STREAM_ELEMENT_SEC. */
function* streamPieces(bytes: Uint8Array): Iterable<Uint8Array> {
  const step = Math.round(AGENT_SAMPLE_RATE * STREAM_ELEMENT_SEC) * 2;
  for (let offset = 0; offset < bytes.length; offset += step) yield bytes.subarray(offset, Math.min(bytes.length, offset + step));
}

/**
 * 16-bit PCM as the document's float samples, or as a base64 WAV. Five decimals carry every
 * 16-bit value exactly (they round back to the same sample) in about eight characters each.
 */
function encodeAudio(bytes: Uint8Array, format: 'float' | 'wav'): number[] | string {
  if (format === 'wav') return Buffer.from(concatBytes([wavHeader(AGENT_SAMPLE_RATE, bytes.length), bytes])).toString('base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = new Array<number>(bytes.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round((view.getInt16(i * 2, true) / 32768) * 1e5) / 1e5;
  return samples;
}

/**
 * Appends to the job's /stream in order, one write at a time. Text that arrives while a write is
 * under way joins the text waiting behind it, so a slow store gets fewer, longer text elements
 * instead of a backlog; audio elements are never merged.
 */
class StreamWriter {
  readonly #context: OperationContext;
  readonly #pending: AgentStreamElement[] = [];
  #writing: Promise<void> | undefined;
  #failure: unknown;
  audioElements = 0;

  constructor(context: OperationContext) {
    this.#context = context;
  }

  add(element: AgentStreamElement): void {
    if (this.#failure !== undefined) throw this.#failure;
    const last = this.#pending.at(-1);
    if ('text' in element && last !== undefined && 'text' in last) this.#pending[this.#pending.length - 1] = { text: last.text + element.text };
    else this.#pending.push(element);
    if ('audio' in element) this.audioElements++;
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      for (let next = this.#pending.shift(); next !== undefined; next = this.#pending.shift()) {
        await this.#context.stream(next);
        // The embedded queue writes synchronously: without a turn of the event loop between
        // writes, a burst of audio would hold back everything else, the HTTP writes among them.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      this.#failure = error;
    } finally {
      this.#writing = undefined;
    }
  }

  async flushed(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.#failure !== undefined) throw this.#failure;
  }
}
