import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { concatBytes } from '../audio/pcm.js';
import { loadConfig } from '../config/config.js';
import type { EngineSynthesisRequest, SpeechEngine, VoiceReference } from '../engine/speech-engine.js';
import { createEspeakEngine } from '../engines/espeak/espeak-engine.js';
import { engineRegistrations } from '../engines/registry.js';
import { createSpeechService, type SpeechService } from '../speech/speech-service.js';
import { LocalBlobStore } from '../storage/local-blob-store.js';
import { SqliteVoiceStore } from './sqlite-voice-store.js';
import { speechRequestFor, voiceMethod, VoiceLibrary } from './voice-library.js';

/**
 * A library voice cloned with a neural engine is spoken zero-shot: the engine gets the stored
 * recording as `reference` and its own `prepareVoice` result, computed once. The engine here is a
 * main-placement test engine (eSpeak underneath) that declares `cloning: 'neural'` and records what
 * it was given; the real one (sherpa's Pocket) plugs into the same registration.
 */
describe('Zero-shot library voices on a neural-cloning engine', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-zero-shot-'));
  const received: EngineSynthesisRequest[] = [];
  const prepared: VoiceReference[] = [];
  let speech: SpeechService;
  let library: VoiceLibrary;
  let store: SqliteVoiceStore;
  let recording: Uint8Array;

  before(async () => {
    const espeak = await createEspeakEngine();
    const cloner: SpeechEngine = {
      id: 'cloner',
      version: 'test-1',
      capabilities: { ...espeak.capabilities, cloning: 'neural', wordTimings: true },
      listVoices: () => [{ id: 'base', name: 'Base', gender: 'neutral', language: 'en-us', description: 'speaks as the reference' }],
      async *synthesize(request, signal) {
        received.push(request);
        yield* espeak.synthesize({ ...request, voiceId: 'default' }, signal);
      },
      async prepareVoice(reference) {
        prepared.push(reference);
        return { embedding: reference.samples.length };
      },
    };
    const config = loadConfig({ CHORUS_WORKERS: '1', CHORUS_DATA_DIR: dataDir });
    speech = await createSpeechService(config, {
      registrations: [...(await engineRegistrations()), { id: 'cloner', placement: 'main', create: async () => cloner }],
    });
    store = new SqliteVoiceStore(join(dataDir, 'voices.sqlite'));
    const blobs = await LocalBlobStore.open({ dataDir, publicUrl: () => 'http://127.0.0.1:1' });
    library = new VoiceLibrary({ store, blobs, speech, dataDir });
    // Eight seconds of someone speaking: eSpeak's Amanda, as a WAV file an API would receive.
    const text = 'This is the voice to clone. It speaks for several seconds, in plain sentences, so that the reference is long enough.';
    const bytes: Uint8Array[] = [];
    const request = { engine: 'espeak', text, voiceId: 'Amanda', speed: 1, pitchSemitones: 0, sampleRate: 24_000, format: 'wav', normalization: 'none', maxChunkChars: 500, delivery: 'buffered' } as const;
    for await (const part of speech.synthesize(request, new AbortController().signal)) if (part.type === 'audio') bytes.push(part.bytes);
    recording = concatBytes(bytes);
  });
  after(async () => {
    await speech.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('clones with the first neural engine loaded and stores the voice as zero-shot, with a match for eSpeak too', async () => {
    assert.equal(library.cloningEngine(undefined).id, 'cloner');
    const record = await library.create(
      '',
      { name: 'Neural One', type: 'user_cloned_voice', audio: recording, param: 'reference_audio', nameParam: 'voice_name', transcript: 'This is the voice to clone.' },
      new AbortController().signal,
    );
    assert.equal(record.method, 'zero_shot');
    assert.match(record.engine, /^cloner@test-1$/);
    assert.equal(record.match.method, 'voice_matching');
  });

  it('speaks it zero-shot: the engine receives the decoded reference and a voice prepared once', async () => {
    const voice = await library.resolve('', { name: 'neural one' }, 'voice');
    assert.equal(voiceMethod(voice), 'zero_shot');
    assert.equal(voice.engine, 'cloner');
    assert.equal(voice.engineVoiceId, 'base');
    assert.ok(voice.reference !== undefined);
    assert.ok(voice.reference.samples.length / voice.reference.sampleRate > 5, 'seconds of reference');
    assert.equal(voice.reference.transcript, 'This is the voice to clone.');
    await library.resolve('', { name: 'Neural One' }, 'voice');
    assert.equal(prepared.length, 1, 'prepareVoice once per voice, not per request');

    const before = received.length;
    const request = speechRequestFor(voice, { text: 'Hello in the cloned voice.', speed: 1, pitchSemitones: 0, sampleRate: 24_000, format: 'wav', normalization: 'none', maxChunkChars: 500, delivery: 'buffered' } as const);
    assert.equal(request.voiceMatch, undefined, 'no voice matching on top of a clone');
    let audio = 0;
    for await (const part of speech.synthesize(request, new AbortController().signal)) if (part.type === 'audio') audio += part.bytes.length;
    assert.ok(audio > 1000);
    const call = received[before]!;
    assert.equal(call.reference?.samples.length, voice.reference.samples.length);
    assert.equal(call.reference?.key, voice.voiceId);
    assert.deepEqual(call.prepared, { embedding: voice.reference.samples.length });
  });

  it('falls back to voice matching on eSpeak when the request chooses eSpeak', async () => {
    const voice = await library.resolve('', { name: 'Neural One' }, 'voice', 'espeak');
    assert.equal(voiceMethod(voice), 'voice_matching');
    assert.equal(voice.engine, 'espeak');
    assert.equal(voice.reference, undefined);
  });

  it('clones an inline reference zero-shot too (prompt_speech_url, reference_audio)', async () => {
    const voice = await library.referenceVoice(recording, 'reference_audio', { minSec: 1, maxSec: 60 }, new AbortController().signal, { transcript: 'hello' });
    assert.equal(voiceMethod(voice), 'zero_shot');
    assert.equal(voice.reference?.transcript, 'hello');
    const matched = await library.referenceVoice(recording, 'reference_audio', { minSec: 1, maxSec: 60 }, new AbortController().signal, { engine: 'espeak' });
    assert.equal(voiceMethod(matched), 'voice_matching');
  });
});
