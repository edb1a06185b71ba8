import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChorusError } from '../errors.js';
import { engineRegistrations, selectEngines, type EngineRegistration } from './registry.js';

const remote: EngineRegistration = { id: 'remote', placement: 'main', create: () => Promise.reject(new Error('not made in this test')) };

describe('engine registry', () => {
  it('registers eSpeak as a worker engine', async () => {
    const registrations = await engineRegistrations();
    assert.deepEqual(registrations.map((registration) => [registration.id, registration.placement]), [['espeak', 'worker']]);
  });

  it('loads every registered engine when CHORUS_ENGINES is empty, and only the listed ones (plus the default) otherwise', async () => {
    const registrations = [...(await engineRegistrations()), remote];
    const all = selectEngines(registrations, [], 'espeak');
    assert.deepEqual([all.worker.map((r) => r.id), all.main.map((r) => r.id)], [['espeak'], ['remote']]);
    const some = selectEngines(registrations, ['remote'], 'remote');
    assert.deepEqual([some.worker.map((r) => r.id), some.main.map((r) => r.id)], [[], ['remote']]);
    const withDefault = selectEngines(registrations, ['remote'], 'espeak');
    assert.deepEqual(withDefault.worker.map((r) => r.id), ['espeak']);
  });

  it('refuses an engine that is not registered, naming the ones that are', async () => {
    const registrations = await engineRegistrations();
    for (const [wanted, defaultEngine] of [[['kokoro'], 'espeak'], [[], 'kokoro']] as const) {
      assert.throws(() => selectEngines(registrations, wanted, defaultEngine), (error: unknown) => {
        assert.ok(ChorusError.isInstance(error));
        assert.equal(error.code, 'engine_unavailable');
        assert.match(error.message, /'kokoro'.*available: espeak/);
        return true;
      });
    }
  });
});
