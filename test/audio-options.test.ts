import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { trackPitch, voicedPitchStats } from '../src/audio/analysis/pitch.js';
import { wavDuration } from './support/ffprobe.js';
import { startTestServer, type TestServer } from './support/server.js';

/** Decodes a canonical 16-bit mono WAV body to floats. */
function wavSamples(bytes: Buffer): Float32Array {
  const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.byteLength));
  return Float32Array.from(pcm, (sample) => sample / 32768);
}

/** Median fundamental frequency of voiced 40 ms frames, by autocorrelation (50–600 Hz). */
/** Median pitch by Chorus's YIN tracker (src/audio/analysis/pitch.ts; its unit tests check it on known pitches). */
function medianPitch(samples: Float32Array, sampleRate: number): number {
  return voicedPitchStats(trackPitch(samples, sampleRate))?.medianHz ?? 0;
}

describe('audio options through the API', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const wav = async (body: Record<string, unknown>, path = '/v1/audio/speech/extended') => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'Adam', response_format: 'wav', input: 'A steady voice reads this sentence for the pitch test, slowly and clearly.', ...body }),
    });
    assert.equal(response.status, 200);
    return Buffer.from(await response.arrayBuffer());
  };

  it('pitch_shift moves the pitch by the given semitones and keeps the duration', async () => {
    const plain = await wav({});
    const basePitch = medianPitch(wavSamples(plain), 24000);
    assert.ok(basePitch > 70 && basePitch < 250, `base pitch ${basePitch}`);
    for (const semitones of [12, 5, -7]) {
      const shifted = await wav({ pitch_shift: semitones });
      const ratio = medianPitch(wavSamples(shifted), 24000) / basePitch;
      const expected = 2 ** (semitones / 12);
      assert.ok(Math.abs(ratio / expected - 1) < 0.1, `${semitones} st: ratio ${ratio}, expected ${expected}`);
      assert.ok(Math.abs(wavDuration(shifted) / wavDuration(plain) - 1) < 0.02, `${semitones} st keeps the duration`);
    }
  });

  it('speed keeps the pitch', async () => {
    // Frame-median pitch of real speech drifts a little at extreme speeds (intonation contours get
    // compressed into fewer frames); the DSP unit tests check the 2% accuracy on steady tones. A
    // resampling speed change would move the pitch by the full factor (0.3x or 3x).
    const plain = medianPitch(wavSamples(await wav({})), 24000);
    for (const speed of [0.3, 0.6, 1.8, 3]) {
      const pitch = medianPitch(wavSamples(await wav({ speed })), 24000);
      assert.ok(Math.abs(pitch / plain - 1) < 0.12, `speed ${speed}: pitch ${pitch} vs ${plain}`);
    }
  });

  it('multi_sentence_gap puts that much silence between sentences', async () => {
    const input = 'First sentence here. Second sentence here. Third sentence here.';
    const short = wavDuration(await wav({ input, multi_sentence_gap: 0.1 }));
    const long = wavDuration(await wav({ input, multi_sentence_gap: 1.1 }));
    assert.ok(Math.abs(long - short - 2) < 0.05, `two gaps 1 s longer each: ${short} → ${long}`);
  });

  it('peak and rms normalisation reach their targets', async () => {
    const peakOf = (samples: Float32Array) => samples.reduce((max, s) => Math.max(max, Math.abs(s)), 0);
    const peak = peakOf(wavSamples(await wav({ normalization: 'peak' })));
    assert.ok(Math.abs(20 * Math.log10(peak) + 1) < 0.3, `peak ${20 * Math.log10(peak)} dBFS`);
    const rmsSamples = wavSamples(await wav({ normalization: 'rms', voice: 'Amy' }));
    assert.ok(peakOf(rmsSamples) <= 10 ** (-1 / 20) + 0.001, 'rms mode respects the -1 dBFS ceiling');
    // RMS over speech only (20 ms frames above -50 dBFS), as the normaliser measures it.
    let energy = 0;
    let count = 0;
    for (let start = 0; start + 480 <= rmsSamples.length; start += 480) {
      let frame = 0;
      for (let i = start; i < start + 480; i++) frame += rmsSamples[i]! ** 2;
      if (Math.sqrt(frame / 480) > 10 ** (-50 / 20)) {
        energy += frame;
        count += 480;
      }
    }
    const speechRmsDb = 10 * Math.log10(energy / count);
    assert.ok(Math.abs(speechRmsDb + 20) < 1.5, `speech RMS ${speechRmsDb} dBFS, target -20`);
  });

  it('speaker_gender picks the female or male default voice when no voice is named', async () => {
    const female = medianPitch(wavSamples(await wav({ voice: undefined, speaker_gender: 'female' })), 24000);
    const male = medianPitch(wavSamples(await wav({ voice: undefined, speaker_gender: 'male' })), 24000);
    assert.ok(female > male * 1.3, `female ${female} Hz vs male ${male} Hz`);
  });
});

describe('a server whose engine is gone', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.speech.close();
  });
  after(() => server.close());

  it('answers 503 with retry-after and reports unhealthy', async () => {
    const response = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: 'Anyone there?' }),
    });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '1');
    const body = (await response.json()) as { error: { type: string; code: string } };
    assert.equal(body.error.code, 'engine_unavailable');
    assert.equal((await fetch(`${server.url}/health`)).status, 503);
  });
});
