import type { ChatModel, ChatRequest } from '../llm/chat-model.js';
import type { SpeechRequest } from '../pipeline/speech-request.js';
import type { SpeechService } from '../speech/speech-service.js';
import { ChorusError } from '../errors.js';
import { hasSpeakableText, sentenceStream } from '../text/index.js';
import { AsyncQueue } from '../util/async-queue.js';
import { speakableText } from './speakable-text.js';

/**
 * How every sentence of the reply is spoken: a speech request but for its text. Its `maxAudioSec`
 * bounds the whole reply, not each sentence.
 */
export type SentenceVoice = Omit<SpeechRequest, 'text'>;

/** What a spoken reply yields, in the order it is made. */
export type ReplyPart =
  /** A piece of the reply's text as the model writes it. */
  | { readonly type: 'text'; readonly text: string }
  /** Audio of the sentence `sentence` (0, 1, …), in the voice's format (PCM for the agent), in order. */
  | { readonly type: 'audio'; readonly bytes: Uint8Array; readonly sampleRate: number; readonly sentence: number };

/**
 * A language model's reply and its speech, as one stream. The model writes while sentences are
 * spoken: each sentence goes to the speech service as soon as it is complete, so the first one is
 * heard while the rest is still being written. A sentence's text always comes before its audio.
 * `voice` may still be resolving (a reference recording being analysed) while the model starts.
 * Stopping the iteration or `signal` stops both the model and the speech. A reply whose speech
 * would pass `voice.maxAudioSec` fails with `text_too_long` (naming `max_tokens`, which bounds it).
 */
export async function* spokenReply(
  chat: ChatModel,
  speech: SpeechService,
  request: ChatRequest,
  voice: Promise<SentenceVoice>,
  signal: AbortSignal,
): AsyncIterable<ReplyPart> {
  const stop = new AbortController();
  const stopped = AbortSignal.any([signal, stop.signal]);
  const parts = new AsyncQueue<ReplyPart>();
  const sentences = new AsyncQueue<string>();
  // Not awaited until it is needed; a rejection meanwhile is not unhandled.
  voice.catch(() => undefined);

  async function* written(): AsyncIterable<string> {
    for await (const text of chat.stream(request, stopped)) {
      parts.push({ type: 'text', text });
      yield text;
    }
  }
  const writing = (async () => {
    for await (const sentence of sentenceStream(written())) sentences.push(sentence);
    sentences.end();
  })().catch((error: unknown) => sentences.fail(error));

  const speaking = (async () => {
    let index = 0;
    let spokenSec = 0;
    for await (const sentence of sentences) {
      const text = speakableText(sentence);
      if (!hasSpeakableText(text)) continue;
      const sentenceIndex = index++;
      const sentenceVoice = await voice;
      const maxAudioSec = sentenceVoice.maxAudioSec;
      let sampleRate = 0;
      try {
        const request = { ...sentenceVoice, text, ...(maxAudioSec === undefined ? {} : { maxAudioSec: maxAudioSec - spokenSec }) };
        for await (const part of speech.synthesize(request, stopped)) {
          if (part.type === 'start') sampleRate = part.sampleRate;
          else if (part.type === 'audio' && part.bytes.length > 0) parts.push({ type: 'audio', bytes: part.bytes, sampleRate, sentence: sentenceIndex });
          else if (part.type === 'end') spokenSec += part.durationSec;
        }
      } catch (error) {
        if (!ChorusError.isInstance(error) || error.code !== 'text_too_long' || maxAudioSec === undefined) throw error;
        throw new ChorusError({
          code: 'text_too_long',
          param: 'max_tokens',
          message: `The spoken reply makes more than ${maxAudioSec} s of audio (CHORUS_MAX_AUDIO_SECONDS): ask for a shorter answer or lower 'max_tokens'.`,
        });
      }
    }
  })().then(
    () => parts.end(),
    (error: unknown) => parts.fail(error),
  );

  try {
    yield* parts;
  } finally {
    stop.abort();
    await Promise.allSettled([writing, speaking]);
  }
}
