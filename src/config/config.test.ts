import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.dataDir, resolve('./data'));
    assert.deepEqual(config.apiKeys, []);
    assert.equal(config.maxCharsPerChunk, 500);
    assert.ok(config.workers >= 1);
  });

  it('reads the environment, and a config file fills what the environment leaves open', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'chorus-config-')), 'chorus.json');
    writeFileSync(file, JSON.stringify({ port: 9000, apiKeys: ['a', 'b'], maxCharsPerChunk: 300 }));
    const config = loadConfig({ CHORUS_CONFIG: file, PORT: '9100', CHORUS_API_KEYS: ' k1 , k2 ,' });
    assert.equal(config.port, 9100);
    assert.deepEqual(config.apiKeys, ['k1', 'k2']);
    assert.equal(config.maxCharsPerChunk, 300);
  });

  it('reads the engines to load and the default engine, CHORUS_ENGINE still naming the default', () => {
    assert.equal(loadConfig({}).engine, 'espeak');
    assert.deepEqual(loadConfig({}).engines, []);
    assert.deepEqual(loadConfig({ CHORUS_ENGINES: 'espeak, kokoro' }).engines, ['espeak', 'kokoro']);
    assert.equal(loadConfig({ CHORUS_ENGINE: 'kokoro' }).engine, 'kokoro');
    assert.equal(loadConfig({ CHORUS_ENGINE: 'kokoro', CHORUS_DEFAULT_ENGINE: 'piper' }).engine, 'piper');
  });

  it('rejects invalid values naming the variable and what it accepts', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }), (error: unknown) => error instanceof ConfigError && /PORT.*integer from 0 to 65535/.test(error.message));
    assert.throws(() => loadConfig({ MAX_CHARS_PER_CHUNK: '5' }), /MAX_CHARS_PER_CHUNK/);
    assert.throws(() => loadConfig({ CHORUS_LOG_LEVEL: 'loud' }), /one of debug, info/);
    assert.throws(() => loadConfig({ CHORUS_CONFIG: '/nonexistent/chorus.json' }), /Cannot read config file/);
  });

  it('a split role needs Redis; Redis URLs are checked', () => {
    assert.equal(loadConfig({}).role, 'all');
    assert.throws(() => loadConfig({ CHORUS_ROLE: 'worker' }), (error: unknown) => error instanceof ConfigError && /CHORUS_ROLE=worker needs CHORUS_REDIS_URL/.test(error.message));
    assert.throws(() => loadConfig({ CHORUS_ROLE: 'boss' }), /CHORUS_ROLE.*one of all, api, worker/);
    assert.throws(() => loadConfig({ CHORUS_REDIS_URL: 'http://127.0.0.1:6379' }), /CHORUS_REDIS_URL.*redis:\/\//);
    const split = loadConfig({ CHORUS_ROLE: 'api', CHORUS_REDIS_URL: 'redis://127.0.0.1:6379/2' });
    assert.equal(split.role, 'api');
    assert.equal(split.redisUrl, 'redis://127.0.0.1:6379/2');
    assert.equal(split.jobLockMs, 30_000);
  });

  it('shutdown grace and connection timeouts: documented defaults, headers within the request timeout', () => {
    const config = loadConfig({});
    assert.equal(config.shutdownGraceMs, 10_000);
    assert.equal(config.headersTimeoutMs, 10_000);
    assert.equal(config.requestTimeoutMs, 300_000);
    assert.equal(config.keepAliveTimeoutMs, 65_000);
    assert.equal(loadConfig({ CHORUS_SHUTDOWN_GRACE_MS: '0' }).shutdownGraceMs, 0);
    assert.throws(() => loadConfig({ CHORUS_HEADERS_TIMEOUT_MS: '500' }), /CHORUS_HEADERS_TIMEOUT_MS.*integer from 1000/);
    assert.throws(
      () => loadConfig({ CHORUS_HEADERS_TIMEOUT_MS: '20000', CHORUS_REQUEST_TIMEOUT_MS: '15000' }),
      (error: unknown) => error instanceof ConfigError && /CHORUS_HEADERS_TIMEOUT_MS \(20000\) must not exceed CHORUS_REQUEST_TIMEOUT_MS \(15000\)/.test(error.message),
    );
  });

  it('CHORUS_METRICS: open without API keys and off with them by default; on, off, api-keys or a token of its own', () => {
    assert.deepEqual(loadConfig({}).metrics, { mode: 'open' });
    assert.deepEqual(loadConfig({ CHORUS_API_KEYS: 'k1' }).metrics, { mode: 'off' });
    assert.deepEqual(loadConfig({ CHORUS_API_KEYS: 'k1', CHORUS_METRICS: 'on' }).metrics, { mode: 'open' });
    assert.deepEqual(loadConfig({ CHORUS_METRICS: 'off' }).metrics, { mode: 'off' });
    assert.deepEqual(loadConfig({ CHORUS_API_KEYS: 'k1', CHORUS_METRICS: 'api-keys' }).metrics, { mode: 'api-keys' });
    assert.deepEqual(loadConfig({ CHORUS_METRICS: 'scrape-token-0123456789' }).metrics, { mode: 'token', token: 'scrape-token-0123456789' });
    assert.throws(() => loadConfig({ CHORUS_METRICS: 'enabled' }), /Invalid CHORUS_METRICS: expected off, on, api-keys, or a bearer token of at least 16 characters/);
    assert.throws(() => loadConfig({ CHORUS_METRICS: 'api-keys' }), /CHORUS_METRICS=api-keys needs CHORUS_API_KEYS/);
  });
});
