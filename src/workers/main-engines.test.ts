import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChorusError } from '../errors.js';
import type { EngineSynthesisRequest, SpeechEngine } from '../engine/speech-engine.js';
import { createEspeakEngine } from '../engines/espeak/espeak-engine.js';
import { findWords } from '../text/index.js';
import type { SpeechPart, SpeechRequest, WordTiming } from '../pipeline/speech-request.js';
import { buildSubtitles } from '../subtitles/index.js';
import { EnginePool } from './engine-pool.js';

/**
 * A main-placement engine as the sherpa engine-host client will be: made on the main thread, reached
 * by the pipeline in a worker through the proxy. It speaks with eSpeak underneath but reports no
 * word timings, declares another sample rate than its parts carry, clones "neurally" (it records the
 * reference it was given) and has one knob.
 */
function wrappedEngine(espeak: SpeechEngine) {
  const seen: { request: EngineSynthesisRequest; aborted: boolean }[] = [];
  const engine: SpeechEngine = {
    id: 'wrapped',
    version: 'test-1',
    capabilities: {
      languages: [{ tag: 'en-US', code: 'en-us' }],
      // Not the rate of its parts (eSpeak's 22050): the pipeline must go by each part's own.
      sampleRate: 24_000,
      streaming: 'sentence',
      wordTimings: false,
      cloning: 'neural',
      maxInputChars: 60,
      options: { exaggeration: { type: 'number', min: 0, max: 1, default: 0.5, description: 'emotion' } },
    },
    listVoices: () => [{ id: 'speaker', name: 'Speaker', gender: 'neutral', language: 'en-us', description: 'the one voice' }],
    async *synthesize(request, signal) {
      const record = { request, aborted: false };
      seen.push(record);
      signal.addEventListener('abort', () => (record.aborted = true), { once: true });
      if (request.voiceId !== 'speaker') throw new ChorusError({ code: 'voice_not_found', param: 'voice', message: `no voice ${request.voiceId}` });
      for await (const part of espeak.synthesize({ ...request, voiceId: 'default' }, signal)) {
        if (part.type === 'audio') yield part;
      }
    },
  };
  return { engine, seen };
}

const baseRequest = {
  engine: 'wrapped',
  voiceId: 'speaker',
  speed: 1,
  pitchSemitones: 0,
  sampleRate: 16_000,
  format: 'wav',
  normalization: 'none',
  maxChunkChars: 500,
  delivery: 'buffered',
} as const;

async function collect(pool: EnginePool, request: SpeechRequest, signal = new AbortController().signal): Promise<SpeechPart[]> {
  const parts: SpeechPart[] = [];
  for await (const part of pool.synthesize(request, signal)) parts.push(part);
  return parts;
}

const wordsOf = (parts: readonly SpeechPart[]): WordTiming[] => parts.flatMap((part) => (part.type === 'words' ? part.words : []));
const durationOf = (parts: readonly SpeechPart[]): number => (parts.at(-1) as Extract<SpeechPart, { type: 'end' }>).durationSec;

describe('EnginePool with a main-thread engine behind the worker proxy', () => {
  let pool: EnginePool;
  let seen: ReturnType<typeof wrappedEngine>['seen'];
  before(async () => {
    const wrapped = wrappedEngine(await createEspeakEngine());
    seen = wrapped.seen;
    pool = await EnginePool.start({ workerEngines: ['espeak'], mainEngines: [wrapped.engine], defaultEngine: 'espeak', ffmpegPath: 'ffmpeg', size: 1, streamBufferBytes: 64 * 1024 });
  });
  after(() => pool.close());

  it('lists both engines, the default first', () => {
    assert.deepEqual(pool.engines.map((engine) => [engine.id, engine.placement]), [['espeak', 'worker'], ['wrapped', 'main']]);
    assert.equal(pool.description.id, 'espeak');
  });

  it('speaks through the proxy: reference and declared options reach the engine, chunks stay under its input limit, undeclared knobs are reported', async () => {
    const text = 'The reference voice reaches the engine. Every chunk of this text stays short, as the engine asks.';
    const reference = { samples: new Float32Array(16_000).fill(0.1), sampleRate: 16_000, transcript: 'hello', key: 'voice-1' };
    const before = seen.length;
    const parts = await collect(pool, { ...baseRequest, text, reference, prepared: { embedding: [1, 2, 3] }, engineOptions: { exaggeration: 0.7, temperature: 0.4 } });
    const calls = seen.slice(before);
    assert.ok(calls.length >= 2, `${calls.length} engine calls`);
    for (const { request } of calls) {
      assert.ok(request.text.length <= 60, `chunk of ${request.text.length} chars`);
      assert.equal(request.reference?.samples.length, 16_000);
      assert.equal(request.reference?.transcript, 'hello');
      assert.deepEqual(request.prepared, { embedding: [1, 2, 3] });
      assert.deepEqual(request.options, { exaggeration: 0.7 });
    }
    const start = parts[0] as Extract<SpeechPart, { type: 'start' }>;
    assert.ok(start.warnings.some((warning) => warning.setting === 'temperature'), JSON.stringify(start.warnings));
    assert.ok(start.warnings.some((warning) => warning.setting === 'word_timings'));
    const chunkEnds = parts.filter((part) => part.type === 'chunk-end');
    assert.equal(chunkEnds.length, calls.length, 'one chunk-end per chunk');
  });

  it('times the words of an engine without timings by forced alignment: every word, in order, inside the audio; subtitles follow', async () => {
    const text = 'Forced alignment gives every word a time. Subtitles come out of those times.';
    const parts = await collect(pool, { ...baseRequest, text });
    const words = wordsOf(parts);
    const duration = durationOf(parts);
    assert.equal(words.length, findWords(text).length);
    let previous = 0;
    for (const word of words) {
      assert.ok(word.start >= previous - 1e-6 && word.end >= word.start && word.end <= duration + 0.01, JSON.stringify(word));
      assert.equal(text.slice(word.charStart, word.charEnd), word.word);
      previous = word.start;
    }
    // Plausible: speech spread over the audio, not bunched at one end.
    assert.ok(words[0]!.start < duration * 0.2 && words.at(-1)!.end > duration * 0.7, `${words[0]!.start}..${words.at(-1)!.end} of ${duration}`);
    const subtitles = buildSubtitles('srt', words, { text, karaoke: false });
    assert.match(subtitles.text, /00:00:0\d,\d{3} --> /);
  });

  it('goes by each part\'s own sample rate: the audio lasts as long as eSpeak\'s own rendering', async () => {
    const text = 'The same words at their own rate.';
    const wrapped = durationOf(await collect(pool, { ...baseRequest, text }));
    const direct = durationOf(await collect(pool, { ...baseRequest, engine: 'espeak', voiceId: 'default', text }));
    assert.ok(Math.abs(wrapped - direct) / direct < 0.02, `${wrapped} s through the proxy, ${direct} s directly`);
  });

  it('refuses an out-of-range knob the engine declares, naming it', async () => {
    await assert.rejects(collect(pool, { ...baseRequest, text: 'Too much.', engineOptions: { exaggeration: 3 } }), (error: unknown) => {
      assert.ok(ChorusError.isInstance(error));
      assert.equal(error.code, 'invalid_request');
      assert.equal(error.param, 'exaggeration');
      return true;
    });
  });

  it('keeps its error codes across the proxy', async () => {
    await assert.rejects(collect(pool, { ...baseRequest, text: 'Nobody.', voiceId: 'nobody' }), (error: unknown) => {
      assert.ok(ChorusError.isInstance(error));
      assert.equal(error.code, 'voice_not_found');
      return true;
    });
  });

  it('forwards an abort to the main-thread engine', async () => {
    const controller = new AbortController();
    const before = seen.length;
    const text = Array.from({ length: 30 }, (_, i) => `Sentence number ${i + 1} goes on.`).join(' ');
    for await (const part of pool.synthesize({ ...baseRequest, text, delivery: 'stream' }, controller.signal)) {
      if (part.type === 'chunk-end') controller.abort();
    }
    const deadline = Date.now() + 30_000;
    while (pool.activeEngineCalls() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(pool.activeEngineCalls(), 0);
    const calls = seen.slice(before);
    assert.ok(calls.length < 30, `${calls.length} engine calls, not the whole text`);
    assert.ok(calls.at(-1)!.aborted || calls.length <= 2, 'the call under way saw the abort');
  });

  it('keeps concurrent requests apart', async () => {
    const first = 'The first request speaks of apples and pears.';
    const second = 'A second one, about rivers.';
    const alone = [await collect(pool, { ...baseRequest, text: first }), await collect(pool, { ...baseRequest, text: second })];
    const together = await Promise.all([collect(pool, { ...baseRequest, text: first }), collect(pool, { ...baseRequest, text: second })]);
    for (let i = 0; i < 2; i++) {
      const text = i === 0 ? first : second;
      assert.deepEqual(wordsOf(together[i]!).map((word) => word.word), findWords(text).map((word) => text.slice(word.start, word.end)));
      assert.ok(Math.abs(durationOf(together[i]!) - durationOf(alone[i]!)) < 0.05);
    }
  });
});
