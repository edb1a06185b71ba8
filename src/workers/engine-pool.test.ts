import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SpeechPart, SpeechRequest } from '../pipeline/speech-request.js';
import { EnginePool, type EnginePoolStats } from './engine-pool.js';

const WINDOW = 64 * 1024;

/** About three minutes of speech, streamed as wav: far more than one window. */
const request: SpeechRequest = {
  text: Array.from({ length: 120 }, (_, i) => `This is sentence ${i + 1} of a long text that nobody reads.`).join(' '),
  engine: 'espeak',
  voiceId: 'default',
  speed: 1,
  pitchSemitones: 0,
  sampleRate: 24_000,
  format: 'wav',
  normalization: 'none',
  maxChunkChars: 500,
  delivery: 'stream',
};

describe('EnginePool flow control', () => {
  let pool: EnginePool;
  before(async () => {
    pool = await EnginePool.start({ workerEngines: ['espeak'], defaultEngine: 'espeak', ffmpegPath: 'ffmpeg', size: 1, streamBufferBytes: WINDOW });
  });
  after(() => pool.close());

  /** Polls the pool until `done` holds (the worker runs on its own thread meanwhile). */
  const waitFor = async (done: (stats: EnginePoolStats) => boolean): Promise<EnginePoolStats> => {
    const deadline = Date.now() + 60_000;
    while (!done(pool.stats())) {
      if (Date.now() > deadline) assert.fail(`stats still ${JSON.stringify(pool.stats())}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return pool.stats();
  };

  it('pauses a synthesis whose consumer stops taking parts, and loses nothing when it resumes', async () => {
    const parts = pool.synthesize(request, new AbortController().signal)[Symbol.asyncIterator]();
    const received: SpeechPart[] = [(await parts.next()).value as SpeechPart];
    const paused = await waitFor((stats) => stats.pausedJobs === 1 || stats.completedJobs > 0);
    assert.equal(paused.completedJobs, 0, 'the worker did not run to the end while nobody took its parts');
    assert.equal(paused.pausedJobs, 1);
    assert.ok(paused.unreadBytes >= WINDOW && paused.unreadBytes < 2 * WINDOW, `${paused.unreadBytes} bytes unread`);

    for (let next = await parts.next(); !next.done; next = await parts.next()) received.push(next.value);
    const audio = Buffer.concat(received.flatMap((part) => (part.type === 'audio' ? [part.bytes] : [])));
    const end = received.at(-1);
    assert.equal(end?.type, 'end');
    // Every sample arrived: the wav's data is exactly the duration the pipeline reports.
    const expectedSamples = Math.round((end as Extract<SpeechPart, { type: 'end' }>).durationSec * 24_000);
    assert.equal((audio.length - 44) / 2, expectedSamples);
    assert.ok(expectedSamples > 24_000 * 60, 'minutes of audio, many windows');
    const finished = await waitFor((stats) => stats.completedJobs === 1);
    assert.equal(finished.unreadBytes, 0);
    assert.equal(finished.pausedJobs, 0);
  });

  it('ends a paused synthesis at once when it is aborted, and frees its parts', async () => {
    const controller = new AbortController();
    const before = pool.stats();
    const parts = pool.synthesize(request, controller.signal)[Symbol.asyncIterator]();
    await parts.next();
    const paused = await waitFor((stats) => stats.pausedJobs === 1 || stats.completedJobs > before.completedJobs);
    assert.equal(paused.pausedJobs, 1, 'paused before it is aborted');
    controller.abort();
    const after = await waitFor((stats) => stats.abortedJobs === before.abortedJobs + 1);
    assert.equal(after.completedJobs, before.completedJobs);
    assert.equal(after.activeJobs, 0);
    assert.equal(after.unreadBytes, 0);
    await parts.return?.(undefined);
  });
});
