import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Hono } from 'hono';
import { createFileRoutes } from './file-routes.js';
import { LocalBlobStore } from './local-blob-store.js';

describe('LocalBlobStore', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-blobs-'));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  const appFor = (store: LocalBlobStore) => {
    const app = new Hono();
    app.route('/files', createFileRoutes(store));
    return app;
  };
  const pathOf = (url: string) => url.slice('http://chorus.test'.length);

  it('put, get, delete keep bytes and content type under <dataDir>/files', async () => {
    const dir = dataDir();
    const store = await LocalBlobStore.open({ dataDir: dir, publicUrl: () => 'http://chorus.test' });
    const bytes = new Uint8Array([1, 2, 3, 250]);
    await store.put('a/b_1.wav', bytes, 'audio/wav');
    assert.deepEqual(readFileSync(join(dir, 'files', 'a', 'b_1.wav')), Buffer.from(bytes));
    const blob = await store.get('a/b_1.wav');
    assert.deepEqual(blob, { bytes, contentType: 'audio/wav' });
    await store.delete('a/b_1.wav');
    assert.equal(await store.get('a/b_1.wav'), undefined);
    await store.delete('a/b_1.wav'); // twice is fine
  });

  it('refuses keys that could leave the directory', async () => {
    const store = await LocalBlobStore.open({ dataDir: dataDir(), publicUrl: () => 'http://chorus.test' });
    for (const key of ['../x', 'a/../../x', '/abs', '.meta/x.json', 'a//b', '', 'a\\b', 'sp ace']) {
      await assert.rejects(store.put(key, new Uint8Array(1), 'text/plain'), /Invalid storage key/, key);
      assert.equal(await store.get(key), undefined);
    }
  });

  it('a signed link serves the file with its content type; tampering, expiry and missing files are refused', async () => {
    const store = await LocalBlobStore.open({ dataDir: dataDir(), publicUrl: () => 'http://chorus.test' });
    const app = appFor(store);
    const bytes = new TextEncoder().encode('RIFF fake wav');
    await store.put('out_1.wav', bytes, 'audio/wav');
    const url = await store.signedUrl('out_1.wav', 60);
    assert.match(url, /^http:\/\/chorus\.test\/files\/out_1\.wav\?expires=\d+&sig=[0-9a-f]{64}$/);
    const ok = await app.request(pathOf(url));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'audio/wav');
    assert.deepEqual(new Uint8Array(await ok.arrayBuffer()), bytes);

    const sig = new URL(url).searchParams.get('sig')!;
    const expires = Number(new URL(url).searchParams.get('expires'));
    const forged = [
      `/files/out_1.wav?expires=${expires + 1000}&sig=${sig}`, // longer life, same signature
      `/files/out_1.wav?expires=${expires}&sig=${sig.replace(/^./, (c) => (c === '0' ? '1' : '0'))}`,
      `/files/other.wav?expires=${expires}&sig=${sig}`,
      `/files/out_1.wav?expires=${expires}`,
      `/files/out_1.wav`,
      `/files/out_1.wav?expires=abc&sig=${sig}`,
    ];
    for (const path of forged) {
      const response = await app.request(path);
      assert.equal(response.status, 403, path);
      assert.equal(typeof ((await response.json()) as { error: unknown }).error, 'string');
    }

    const expired = await store.signedUrl('out_1.wav', 1);
    const access = await store.open('out_1.wav', new URL(expired).searchParams.get('expires')!, new URL(expired).searchParams.get('sig')!, Date.now() / 1000 + 5);
    assert.deepEqual(access, { ok: false, status: 403, error: 'This link has expired.' });

    await store.delete('out_1.wav');
    const gone = await app.request(pathOf(url));
    assert.equal(gone.status, 404);
    assert.match(((await gone.json()) as { error: string }).error, /no longer exists/);
  });

  it('nested keys and subtitle content types round-trip through the route', async () => {
    const store = await LocalBlobStore.open({ dataDir: dataDir(), publicUrl: () => 'http://chorus.test' });
    await store.put('subtitles/x_1.ass', new TextEncoder().encode('[Script Info]'), 'text/x-ssa; charset=utf-8');
    const response = await appFor(store).request(pathOf(await store.signedUrl('subtitles/x_1.ass', 60)));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/x-ssa; charset=utf-8');
    assert.equal(await response.text(), '[Script Info]');
  });

  it('the generated secret is persisted (0600), so links survive a restart; a configured secret is used as given', async () => {
    const dir = dataDir();
    const first = await LocalBlobStore.open({ dataDir: dir, publicUrl: () => 'http://chorus.test' });
    await first.put('k.wav', new Uint8Array([9]), 'audio/wav');
    const url = await first.signedUrl('k.wav', 60);
    assert.ok(existsSync(join(dir, 'url-signing-secret')));
    assert.equal(statSync(join(dir, 'url-signing-secret')).mode & 0o777, 0o600);
    const second = await LocalBlobStore.open({ dataDir: dir, publicUrl: () => 'http://chorus.test' });
    assert.equal((await appFor(second).request(pathOf(url))).status, 200);

    const configured = await LocalBlobStore.open({ dataDir: dir, publicUrl: () => 'http://chorus.test', secret: 'from-config' });
    assert.equal((await appFor(configured).request(pathOf(url))).status, 403);
    const again = await LocalBlobStore.open({ dataDir: dir, publicUrl: () => 'http://chorus.test', secret: 'from-config' });
    assert.equal((await appFor(again).request(pathOf(await configured.signedUrl('k.wav', 60)))).status, 200);
  });
});
