/**
 * The behaviour every VoiceStore must have, run against each implementation (the embedded SQLite
 * store now, a shared one later): owner scoping, unique names per owner, ids global.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { UserVoiceRecord } from './voice-record.js';
import type { VoiceStore } from './voice-store.js';

export function voice(overrides: Partial<UserVoiceRecord> = {}): UserVoiceRecord {
  return {
    voiceId: 'a1b2c3d4',
    owner: 'owner-a',
    name: 'Narrator',
    description: 'test voice',
    gender: 'female',
    type: 'user_cloned_voice',
    transcript: 'Hello there.',
    durationSec: 8.5,
    sampleRate: 16000,
    createdAt: 1_700_000_000_000,
    audioKey: 'voices/owner-a/a1b2c3d4.wav',
    audioContentType: 'audio/wav',
    profile: {
      version: 1,
      durationSec: 8.5,
      speechSec: 7.9,
      medianPitchHz: 210,
      pitchP10Hz: 180,
      pitchP90Hz: 250,
      pitchRangeSemitones: 5.7,
      voicedFraction: 0.6,
      syllablesPerSec: 4.1,
      loudnessDbfs: -21,
      spectralCentroidHz: 1500,
      envelope: [1, 2, 3],
    },
    engine: 'espeak@1',
    match: { method: 'voice_matching', baseVoice: 'Amy', transform: { pitchRatio: 1.1, pitchCenterHz: 190, rangeRatio: 1, formantRatio: 1.05 }, rate: 1 },
    ...overrides,
  };
}

export function voiceStoreConformance(open: () => Promise<VoiceStore>): void {
  const withStore = async (use: (store: VoiceStore) => Promise<void>): Promise<void> => {
    const store = await open();
    try {
      await use(store);
    } finally {
      await store.close();
    }
  };

  it('stores a voice and reads it back by id and by name, case-insensitively', () =>
    withStore(async (store) => {
      await store.insert(voice());
      assert.deepEqual(await store.get('owner-a', 'a1b2c3d4'), voice());
      assert.deepEqual(await store.get('owner-a', 'A1B2C3D4'), voice());
      assert.deepEqual(await store.findByName('owner-a', ' narrator '), voice());
      assert.equal(await store.idTaken('a1b2c3d4'), true);
      assert.equal(await store.idTaken('ffffffff'), false);
    }));

  it('another owner sees nothing, and may use the same name', () =>
    withStore(async (store) => {
      await store.insert(voice());
      assert.equal(await store.get('owner-b', 'a1b2c3d4'), undefined);
      assert.equal(await store.findByName('owner-b', 'Narrator'), undefined);
      assert.deepEqual(await store.list('owner-b'), []);
      assert.equal(await store.delete('owner-b', 'a1b2c3d4'), false);
      await store.insert(voice({ owner: 'owner-b', voiceId: 'b1b2c3d4' }));
      assert.equal((await store.list('owner-b')).length, 1);
      assert.equal((await store.list('owner-a')).length, 1);
    }));

  it('refuses a second voice of the same name for one owner with a conflict', () =>
    withStore(async (store) => {
      await store.insert(voice());
      await assert.rejects(store.insert(voice({ voiceId: 'c1c2c3c4', name: 'NARRATOR' })), (error: Error & { code?: string }) => error.code === 'conflict');
      assert.equal((await store.list('owner-a')).length, 1);
    }));

  it('lists oldest first and deletes', () =>
    withStore(async (store) => {
      await store.insert(voice({ voiceId: '00000002', name: 'Second', createdAt: 2 }));
      await store.insert(voice({ voiceId: '00000001', name: 'First', createdAt: 1 }));
      assert.deepEqual((await store.list('owner-a')).map((v) => v.name), ['First', 'Second']);
      assert.equal(await store.delete('owner-a', '00000001'), true);
      assert.equal(await store.delete('owner-a', '00000001'), false);
      assert.deepEqual((await store.list('owner-a')).map((v) => v.name), ['Second']);
    }));
}
