import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EngineDescription } from '../engine/engine-description.js';
import type { EngineVoice } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import { EngineDirectory } from './voice-catalog.js';

const voice = (id: string, aliases?: string[]): EngineVoice => ({ id, name: id, gender: 'female', language: 'en-us', description: id, ...(aliases === undefined ? {} : { aliases }) });
const engine = (id: string, voices: EngineVoice[]): EngineDescription => ({
  id,
  version: '1',
  placement: id === 'espeak' ? 'worker' : 'main',
  voices,
  capabilities: { languages: [{ tag: 'en-US', code: 'en-us' }], sampleRate: 24_000, streaming: 'sentence', wordTimings: false, cloning: 'none' },
});

describe('EngineDirectory: voices per engine', () => {
  const directory = new EngineDirectory(
    [engine('espeak', [voice('default'), voice('Aaron'), voice('Ashley')]), engine('kokoro', [voice('af_alloy', ['alloy']), voice('Aaron')])],
    'espeak',
  );

  it('keeps bare names on the default engine, OpenAI names included', () => {
    assert.deepEqual([directory.find('aaron')?.engine.id, directory.find('aaron')?.voice.id], ['espeak', 'Aaron']);
    assert.equal(directory.find('alloy')?.voice.id, 'Ashley', "OpenAI's alloy is eSpeak's Ashley on eSpeak");
  });

  it('addresses another engine as <engine>:<voice>, or bare with that engine chosen; the same name on two engines never collides', () => {
    assert.deepEqual([directory.find('kokoro:Aaron')?.engine.id, directory.find('kokoro:Aaron')?.voice.id], ['kokoro', 'Aaron']);
    assert.equal(directory.find('Aaron', 'kokoro')?.engine.id, 'kokoro');
    assert.equal(directory.find('alloy', 'kokoro')?.voice.id, 'af_alloy', "the engine's own aliases are honoured");
    assert.equal(directory.find('kokoro:Ashley'), undefined);
    assert.equal(directory.find('espeak:Ashley', 'kokoro'), undefined, 'a prefix for another engine than the chosen one is no voice of it');
    assert.equal(directory.qualifiedName('kokoro', 'Aaron'), 'kokoro:Aaron');
    assert.equal(directory.qualifiedName('espeak', 'Aaron'), 'Aaron');
  });

  it('refuses an unknown engine with model_not_found, listing the engines', () => {
    assert.throws(() => directory.engine('piper', 'model'), (error: unknown) => {
      assert.ok(ChorusError.isInstance(error));
      assert.equal(error.code, 'model_not_found');
      assert.equal(error.param, 'model');
      assert.match(error.message, /espeak, kokoro/);
      return true;
    });
  });
});
