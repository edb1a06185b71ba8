import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteVoiceStore } from './sqlite-voice-store.js';
import { voice, voiceStoreConformance } from './voice-store.case.js';

describe('SqliteVoiceStore', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const fresh = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-voices-'));
    dirs.push(dir);
    return join(dir, 'voices.sqlite');
  };

  voiceStoreConformance(async () => new SqliteVoiceStore(fresh()));

  it('keeps voices across a reopen (the library survives a restart)', async () => {
    const path = fresh();
    const first = new SqliteVoiceStore(path);
    await first.insert(voice());
    await first.close();
    const second = new SqliteVoiceStore(path);
    try {
      assert.deepEqual(await second.get('owner-a', 'a1b2c3d4'), voice());
    } finally {
      await second.close();
    }
  });
});
