import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { concatFloat32 } from '../../audio/pcm.js';
import type { EnginePart, EngineSynthesisRequest, SpeechEngine } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import {
  buildKitten,
  buildKokoro,
  buildPiper,
  buildPocket,
  TINY_KOKORO_SPEAKERS,
} from '../../../test/support/tiny-models/tiny-models.js';
import { loadInstalledNeuralEngines, type InstalledNeuralEngines } from './installed-engines.js';

// Every model here is a random-weight stand-in (test/support/tiny-models) run through the real
// sherpa-onnx loading and generation code inside the real engine host process.

interface Synthesized {
  readonly samples: number;
  readonly sampleRate: number;
  readonly rms: number;
  readonly audio: Float32Array;
}

async function synthesize(engine: SpeechEngine, request: Partial<EngineSynthesisRequest>, signal = new AbortController().signal): Promise<Synthesized> {
  const chunks: Float32Array[] = [];
  let sampleRate = 0;
  for await (const part of engine.synthesize({ text: 'Hello world.', voiceId: 'default', ...request }, signal)) {
    if (part.type !== 'audio') continue;
    chunks.push(part.samples);
    sampleRate = part.sampleRate;
  }
  const audio = concatFloat32(chunks);
  let energy = 0;
  for (const sample of audio) energy += sample * sample;
  return { samples: audio.length, sampleRate, rms: Math.sqrt(energy / Math.max(1, audio.length)), audio };
}

async function engineOf(installed: InstalledNeuralEngines, id: string): Promise<SpeechEngine> {
  const registration = installed.registrations.find((candidate) => candidate.id === id);
  assert.ok(registration, `engine ${id} registered`);
  assert.equal(registration.placement, 'main');
  return registration.create();
}

async function rejection(promise: Promise<unknown>): Promise<ChorusError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(ChorusError.isInstance(error), `a ChorusError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

const SENTENCE = 'The quick brown fox jumps over the lazy dog.';

describe('sherpa-onnx engines in the engine host', () => {
  let modelsDir: string;
  let installed: InstalledNeuralEngines;

  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'chorus-sherpa-'));
    await buildPiper(modelsDir, { name: 'piper-tiny', speakers: 3, speakerIdMap: { amy: 0, bob: 1, cleo: 2 } });
    await buildKokoro(modelsDir, { name: 'kokoro-tiny-en', version: 1 });
    await buildKokoro(modelsDir, { name: 'kokoro-tiny-multi-lang', version: 2 });
    await buildKitten(modelsDir, { name: 'kitten-tiny', withoutSpeakerNames: true });
    await buildPocket(modelsDir, { name: 'pocket-tiny', referenceWavs: ['bria', 'loona'] });
    await buildPocket(modelsDir, { name: 'pocket-bare' });
    installed = await loadInstalledNeuralEngines({ modelsDir, instances: 1, threads: 1 });
  });

  after(async () => {
    await installed?.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('loads every family and says so in its status', async () => {
    assert.deepEqual(
      installed.registrations.map((registration) => registration.id),
      ['kitten-tiny', 'kokoro-tiny-en', 'kokoro-tiny-multi-lang', 'piper-tiny', 'pocket-bare', 'pocket-tiny'],
    );
    await Promise.all(installed.registrations.map((registration) => registration.create()));
    for (const status of installed.status()) assert.equal(status.state, 'ready', `${status.id}: ${status.reason}`);
  });

  for (const [id, voiceId, sampleRate] of [
    ['piper-tiny', 'bob', 22050],
    ['kokoro-tiny-en', 'af_heart', 24000],
    ['kokoro-tiny-multi-lang', 'am_echo', 24000],
    ['kitten-tiny', 'expr-voice-3-f', 24000],
  ] as const) {
    it(`${id} speaks non-silent audio whose length follows the text`, async () => {
      const engine = await engineOf(installed, id);
      assert.equal(engine.capabilities.sampleRate, sampleRate);
      assert.equal(engine.capabilities.wordTimings, false);
      const short = await synthesize(engine, { text: SENTENCE, voiceId });
      assert.equal(short.sampleRate, sampleRate);
      assert.ok(short.rms > 0.05, `rms ${short.rms}`);
      const seconds = short.samples / sampleRate;
      assert.ok(seconds > 0.8 && seconds < 10, `${seconds} s for one sentence`);
      const long = await synthesize(engine, { text: `${SENTENCE} ${SENTENCE} ${SENTENCE}`, voiceId });
      assert.ok(long.samples > short.samples * 2.5, `${long.samples} vs ${short.samples}`);
    });
  }

  it('lists speakers from the model: Kokoro and Kitten metadata, Piper speaker_id_map', async () => {
    const kokoro = await engineOf(installed, 'kokoro-tiny-multi-lang');
    assert.deepEqual(kokoro.listVoices().map((voice) => voice.id), TINY_KOKORO_SPEAKERS);
    const heart = kokoro.listVoices().find((voice) => voice.id === 'af_heart')!;
    assert.equal(heart.gender, 'female');
    assert.equal(heart.language, 'en-US');
    assert.equal(kokoro.listVoices().find((voice) => voice.id === 'bm_fable')!.language, 'en-GB');
    const kitten = await engineOf(installed, 'kitten-tiny');
    assert.equal(kitten.listVoices().length, 8);
    assert.equal(kitten.listVoices()[0]!.id, 'expr-voice-2-m');
    assert.equal(kitten.listVoices()[1]!.gender, 'female');
    const piper = await engineOf(installed, 'piper-tiny');
    assert.deepEqual(piper.listVoices().map((voice) => voice.id), ['amy', 'bob', 'cleo']);
  });

  it("maps OpenAI's and the named voices to Kokoro speakers of the same gender and accent", async () => {
    const kokoro = await engineOf(installed, 'kokoro-tiny-multi-lang');
    const owner = (alias: string) => kokoro.listVoices().find((voice) => voice.aliases?.includes(alias))?.id;
    assert.equal(owner('alloy'), 'af_alloy');
    assert.equal(owner('echo'), 'am_echo');
    assert.equal(owner('onyx'), 'am_onyx');
    assert.equal(owner('fable'), 'bm_fable');
    assert.equal(owner('nova'), 'af_alloy', 'no af_nova in this model: another American female');
    assert.equal(owner('Adrian'), 'bm_fable', 'British (RP) male');
    assert.equal(owner('Amy'), 'bf_emma', 'British female');
    assert.match(owner('Aaron') ?? '', /^am_/);
    const viaAlias = await synthesize(kokoro, { text: SENTENCE, voiceId: 'onyx' });
    const direct = await synthesize(kokoro, { text: SENTENCE, voiceId: 'am_onyx' });
    assert.deepEqual(viaAlias.audio, direct.audio);
    const unknown = await rejection(synthesize(kokoro, { voiceId: 'nobody' }));
    assert.equal(unknown.code, 'voice_not_found');
  });

  it('speaks the language of each request on multi-language Kokoro, and refuses one it lacks', async () => {
    const kokoro = await engineOf(installed, 'kokoro-tiny-multi-lang');
    assert.deepEqual(
      kokoro.capabilities.languages.map((language) => language.tag),
      ['en-US', 'en-GB', 'es', 'fr', 'cmn'],
    );
    // The engine's own code is what the pipeline passes back (engineLanguage); it must be accepted too.
    const byCode = await synthesize(kokoro, { text: 'Bonjour tout le monde.', voiceId: 'ff_siwis', language: kokoro.capabilities.languages.find((language) => language.tag === 'fr')!.code });
    assert.ok(byCode.rms > 0.05);
    const english = await synthesize(kokoro, { text: 'Bonjour tout le monde, comment allez-vous?', voiceId: 'ff_siwis', language: 'en-US' });
    const french = await synthesize(kokoro, { text: 'Bonjour tout le monde, comment allez-vous?', voiceId: 'ff_siwis', language: 'fr' });
    assert.ok(french.rms > 0.05);
    assert.notEqual(french.samples, english.samples, 'French phonemes differ from English ones');
    // Without a language, a speaker speaks its own: ef_dora is Spanish.
    const spanish = 'Buenos días, ¿cómo estás? Hace un día precioso.';
    const ownLanguage = await synthesize(kokoro, { text: spanish, voiceId: 'ef_dora' });
    assert.deepEqual(ownLanguage.audio, (await synthesize(kokoro, { text: spanish, voiceId: 'ef_dora', language: 'es' })).audio);
    assert.notEqual(ownLanguage.samples, (await synthesize(kokoro, { text: spanish, voiceId: 'ef_dora', language: 'en-US' })).samples);
    const refused = await rejection(synthesize(kokoro, { language: 'de' }));
    assert.equal(refused.code, 'invalid_request');
    assert.equal(refused.param, 'language');
    assert.match(refused.message, /en-US, en-GB, es, fr, cmn/);
  });

  it('clones a reference with Pocket, speaks as its shipped clips, and asks for a reference when it has none', async () => {
    const pocket = await engineOf(installed, 'pocket-tiny');
    assert.equal(pocket.capabilities.cloning, 'neural');
    assert.deepEqual(Object.keys(pocket.capabilities.options ?? {}), ['temperature', 'numSteps', 'seed']);
    assert.deepEqual(pocket.listVoices().map((voice) => voice.id), ['bria', 'loona']);
    const reference = { samples: Float32Array.from({ length: 16000 }, (_, i) => 0.3 * Math.sin(i / 9)), sampleRate: 16000 };
    const cloned = await synthesize(pocket, { text: SENTENCE, voiceId: 'anything', reference, options: { temperature: 0.5, numSteps: 3 } });
    assert.equal(cloned.sampleRate, 24000);
    assert.ok(cloned.rms > 0.01 && cloned.samples / 24000 > 1, `${cloned.samples} samples, rms ${cloned.rms}`);
    const clip = await synthesize(pocket, { text: SENTENCE, voiceId: 'Bria' });
    assert.ok(clip.samples > 0);

    const bare = await engineOf(installed, 'pocket-bare');
    const missing = await rejection(synthesize(bare, { text: SENTENCE }));
    assert.equal(missing.code, 'invalid_request');
    assert.equal(missing.param, 'reference');
    assert.match(missing.message, /reference/);
  });

  it('stops promptly when aborted mid-generation, and serves the next request', async () => {
    const piper = await engineOf(installed, 'piper-tiny');
    const controller = new AbortController();
    const text = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} is here to make the audio long.`).join(' ');
    let parts = 0;
    for await (const part of piper.synthesize({ text, voiceId: 'amy' }, controller.signal)) {
      if (part.type === 'audio') parts++;
      if (parts === 1) controller.abort();
    }
    assert.equal(parts, 1, 'nothing is forwarded after the abort');
    const next = await synthesize(piper, { text: SENTENCE, voiceId: 'amy' });
    assert.ok(next.rms > 0.05);
  });

  it('keeps concurrent requests apart', async () => {
    const kokoro = await engineOf(installed, 'kokoro-tiny-en');
    const requests = [
      { text: SENTENCE, voiceId: 'af_alloy' },
      { text: 'A different sentence, spoken by somebody else entirely.', voiceId: 'bm_fable' },
      { text: `${SENTENCE} Twice over. ${SENTENCE}`, voiceId: 'am_echo', speed: 1.5 },
    ];
    const alone = [];
    for (const request of requests) alone.push(await synthesize(kokoro, request));
    const together = await Promise.all(requests.map((request) => synthesize(kokoro, request)));
    for (const [index, result] of together.entries()) assert.deepEqual(result.audio, alone[index]!.audio, `request ${index}`);
  });

  it('splits digit-heavy text below the token limit instead of letting sherpa exit', async () => {
    const kokoro = await engineOf(installed, 'kokoro-tiny-en');
    const limit = kokoro.capabilities.maxInputChars!;
    assert.ok(limit > 0 && limit < 128, `maxInputChars ${limit} below style_dim S=128`);
    const digits = '1234567890 '.repeat(Math.floor(limit / 11));
    const spoken = await synthesize(kokoro, { text: digits, voiceId: 'af_heart' });
    assert.ok(spoken.samples > 0);
    assert.ok(installed.status().every((status) => status.state === 'ready'));
  });
});

describe('the model pre-check', () => {
  it('refuses each kind of bad model with the file and the fault, before sherpa sees any', async () => {
    const modelsDir = await mkdtemp(join(tmpdir(), 'chorus-sherpa-bad-'));
    try {
      await buildPiper(modelsDir, { name: 'no-sample-rate', omitMetadata: ['sample_rate'] });
      await buildPiper(modelsDir, { name: 'not-piper', metadata: { comment: 'coqui' } });
      await buildKokoro(modelsDir, { name: 'short-voices', truncateVoices: 16 });
      await buildKokoro(modelsDir, { name: 'flat-style', metadata: { style_dim: '128,16' } });
      await buildKitten(modelsDir, { name: 'wrong-type', metadata: { model_type: 'kokoro' } });
      const duplicate = await buildPiper(modelsDir, { name: 'duplicate-token' });
      await writeFile(join(duplicate.dir, 'tokens.txt'), `${await readFile(join(duplicate.dir, 'tokens.txt'), 'utf8')}a 999\n`);
      const noSpace = await buildKokoro(modelsDir, { name: 'no-space-token', version: 1 });
      const tokens = (await readFile(join(noSpace.dir, 'tokens.txt'), 'utf8')).split('\n').filter((line) => !/^ \d+$|^  \d+$/.test(line));
      await writeFile(join(noSpace.dir, 'tokens.txt'), tokens.join('\n'));
      const noData = await buildKitten(modelsDir, { name: 'no-espeak-data' });
      await rm(join(noData.dir, 'espeak-ng-data'));
      await writeFile(join(noData.dir, 'espeak-ng-data'), 'not a directory');
      await buildPocket(modelsDir, { name: 'bad-vocab' }).then(({ dir }) => writeFile(join(dir, 'vocab.json'), '[1,2'));
      await writeFile(join(modelsDir, 'unfinished'), '');

      const installed = await loadInstalledNeuralEngines({ modelsDir, instances: 1, threads: 1 });
      try {
        assert.deepEqual(installed.registrations, []);
        assert.equal(installed.hostPid(), undefined, 'the engine host (and sherpa) never started');
        const reasons = Object.fromEntries(installed.status().map((status) => [status.id, status.reason]));
        assert.equal(installed.status().every((status) => status.state === 'failed'), true);
        assert.match(reasons['no-sample-rate']!, /en_US-tiny-low\.onnx: metadata 'sample_rate' is missing/);
        assert.match(reasons['not-piper']!, /metadata 'comment' is 'coqui'/);
        assert.match(reasons['short-voices']!, /voices\.bin: is 65472 bytes, expected 65536/);
        assert.match(reasons['flat-style']!, /'style_dim' is '128,16', expected 'S,1,D'/);
        assert.match(reasons['wrong-type']!, /'model_type' is 'kokoro', expected 'kitten-tts'/);
        assert.match(reasons['duplicate-token']!, /tokens\.txt: line \d+: symbol 'a' is listed twice/);
        assert.match(reasons['no-space-token']!, /tokens\.txt: lacks the symbol ' '/);
        assert.match(reasons['no-espeak-data']!, /espeak-ng-data: is a file, expected a directory/);
        assert.match(reasons['bad-vocab']!, /vocab\.json: is not valid JSON/);
      } finally {
        await installed.close();
      }
    } finally {
      await rm(modelsDir, { recursive: true, force: true });
    }
  });
});

describe('engine host crashes', () => {
  it('fails only the request in flight with engine_failed, restarts the host and serves the next request', async () => {
    const modelsDir = await mkdtemp(join(tmpdir(), 'chorus-sherpa-crash-'));
    await buildPiper(modelsDir, { name: 'piper-tiny' });
    await buildKokoro(modelsDir, { name: 'kokoro-tiny', version: 1 });
    const installed = await loadInstalledNeuralEngines({ modelsDir, instances: 1, threads: 1 });
    try {
      const piper = await engineOf(installed, 'piper-tiny');
      const kokoro = await engineOf(installed, 'kokoro-tiny');
      const firstPid = installed.hostPid();
      assert.ok(firstPid);
      const text = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} keeps the engine busy.`).join(' ');
      const parts: EnginePart[] = [];
      const crashed = rejection(
        (async () => {
          for await (const part of piper.synthesize({ text, voiceId: 'default' }, new AbortController().signal)) {
            parts.push(part);
            if (parts.length === 1) process.kill(firstPid, 'SIGKILL');
          }
        })(),
      );
      const error = await crashed;
      assert.equal(error.code, 'engine_failed');
      assert.match(error.message, /engine host process died \(signal SIGKILL\)/);
      // The next requests wait for the restarted host and succeed, on both engines.
      const next = await synthesize(piper, { text: SENTENCE });
      assert.ok(next.rms > 0.05);
      assert.ok((await synthesize(kokoro, { text: SENTENCE, voiceId: 'af_alloy' })).samples > 0);
      assert.notEqual(installed.hostPid(), firstPid);
      assert.ok(installed.status().every((status) => status.state === 'ready'));
    } finally {
      await installed.close();
      await rm(modelsDir, { recursive: true, force: true });
    }
  });

  it('marks a model whose loading killed the host as failed, once, and keeps serving the others', async () => {
    const modelsDir = await mkdtemp(join(tmpdir(), 'chorus-sherpa-exit-'));
    await buildPiper(modelsDir, { name: 'a-piper' });
    await buildPocket(modelsDir, { name: 'b-pocket-exits', int32State: true });
    await buildKitten(modelsDir, { name: 'c-kitten' });
    await buildPiper(modelsDir, { name: 'd-graph-refused', brokenGraph: true });
    const installed = await loadInstalledNeuralEngines({ modelsDir, instances: 1, threads: 1 });
    try {
      const failing = installed.registrations.find((registration) => registration.id === 'b-pocket-exits')!;
      const refused = await rejection(failing.create());
      assert.equal(refused.code, 'engine_unavailable');
      assert.match(refused.message, /loading it ended the engine host \(exit code 255\)/);
      const piper = await engineOf(installed, 'a-piper');
      const kitten = await engineOf(installed, 'c-kitten');
      assert.ok((await synthesize(piper, { text: SENTENCE })).rms > 0.05);
      assert.ok((await synthesize(kitten, { text: SENTENCE, voiceId: 'expr-voice-2-f' })).rms > 0.05);
      // A graph onnxruntime refuses is an error sherpa reports without exiting: the host stays up.
      const hostPid = installed.hostPid();
      const graphRefused = await rejection(installed.registrations.find((registration) => registration.id === 'd-graph-refused')!.create());
      assert.match(graphRefused.message, /sherpa-onnx refused it: .*No Op registered for ChorusNoSuchOperator/);
      assert.equal(installed.hostPid(), hostPid);
      const states = Object.fromEntries(installed.status().map((status) => [status.id, status.state]));
      assert.deepEqual(states, { 'a-piper': 'ready', 'b-pocket-exits': 'failed', 'c-kitten': 'ready', 'd-graph-refused': 'failed' });
    } finally {
      await installed.close();
      await rm(modelsDir, { recursive: true, force: true });
    }
  });
});
