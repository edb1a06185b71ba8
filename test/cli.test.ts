import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { probeAudio } from './support/ffprobe.js';
import { chorusCli } from './support/chorus-cli.js';

const run = promisify(execFile);
const CLI = chorusCli();

describe('chorus CLI', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'chorus-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('say writes a file in the format its extension names, with any voice', async () => {
    const file = join(dir, 'hello.flac');
    await run(process.execPath, [...CLI, 'say', 'Hello from the command line.', '--voice', 'Catherine', '-o', file]);
    const probe = probeAudio(readFileSync(file), 'flac');
    assert.equal(probe.codec, 'flac');
    assert.ok(probe.duration > 1);
  });

  it('say reads standard input and writes audio to standard output', async () => {
    const child = spawn(process.execPath, [...CLI, 'say', '--format', 'mp3', '--speed', '1.5', '--timings'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end('Text from a pipe, spoken quickly.');
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    assert.equal(probeAudio(Buffer.concat(chunks), 'mp3').codec, 'mp3');
    const words = stderr.trim().split('\n').map((line) => JSON.parse(line) as { word: string });
    assert.deepEqual(words.map((w) => w.word), ['Text', 'from', 'a', 'pipe', 'spoken', 'quickly']);
  });

  it('voices lists the 38 built-in voices', async () => {
    const { stdout } = await run(process.execPath, [...CLI, 'voices', '--json']);
    const voices = JSON.parse(stdout) as { id: string; gender: string }[];
    assert.equal(voices.length, 38);
    assert.ok(voices.some((voice) => voice.id === 'Christopher' && voice.gender === 'male'));
  });

  it('bad options fail with a clear message and exit code 1', async () => {
    await assert.rejects(run(process.execPath, [...CLI, 'say', 'Hi', '--speed', '9']), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /--speed must be a number from 0.25 to 4/);
      return true;
    });
  });

  it('serve starts a server that answers /health and speech, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [...CLI, 'serve', '--port', '0'], {
      env: { ...process.env, CHORUS_DATA_DIR: join(dir, 'data'), CHORUS_LOG_LEVEL: 'warn', CHORUS_WORKERS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /listening on (http:\/\/\S+)/.exec(out);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await fetch(`${url}/health`)).status, 200);
      const speech = await fetch(`${url}/v1/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: 'Served.', response_format: 'wav' }),
      });
      assert.equal(speech.status, 200);
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise((resolve) => child.once('close', resolve));
      assert.equal(code, 0);
    }
  });
});
