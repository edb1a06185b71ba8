import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { probeAudio } from './support/ffprobe.js';
import { fliteReference } from './support/reference-voices.js';
import { startTestServer, type TestServer } from './support/server.js';

const ARTIFACTS = join('test-artifacts', 'playground');
const KEY = 'playground-test-key';
/** Debian's chromium, headless; without the background-networking flags it dials out and is refused. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The page's objects as the callbacks below use them: the project compiles without the DOM library
 * (it is a Node program), and these functions run in the browser, not here. They are passed as
 * functions, not strings: the page's CSP forbids eval, and Playwright evaluates strings with it.
 */
interface HTMLElementLike {
  dataset: Record<string, string>;
  textContent: string | null;
  querySelector(selector: string): HTMLElementLike | null;
}
interface WordChange {
  index: number;
  at: number;
  start: number;
}

interface Playback {
  state: string;
  bytes: number;
  playedSeconds: number;
  duration: number;
  words: number;
  mode: string;
}

/** What the page exposes about the current playback (data-* of #playback). */
async function playback(page: Page): Promise<Playback> {
  const data: Record<string, string> = await page.$eval('#playback', (element) => ({ ...(element as HTMLElementLike).dataset }));
  return {
    state: data['state'] ?? '',
    bytes: Number(data['bytes']),
    playedSeconds: Number(data['playedSeconds']),
    duration: Number(data['duration']),
    words: Number(data['words']),
    mode: data['mode'] ?? '',
  };
}

async function playedToEnd(page: Page): Promise<Playback> {
  await page.waitForSelector('#playback[data-state="done"], #playback[data-state="error"]', { timeout: 60_000 });
  const result = await playback(page);
  assert.equal(result.state, 'done', `playback ended with: ${await page.textContent('#playback')} ${await page.textContent('#speak-message')}`);
  return result;
}

/** The file the page's Download link saves, downloaded as a user would. */
async function downloadedAudio(page: Page): Promise<Buffer> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-link')]);
  return readFile(await download.path());
}

describe('Web playground in headless Chromium', () => {
  let server: TestServer;
  let keyed: TestServer;
  let withoutPlayground: TestServer;
  let browser: Browser;
  let page: Page;
  const pageProblems: string[] = [];
  const requestedOrigins = new Set<string>();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // One browser for the file: Chromium takes seconds to start on two cores.
    [server, keyed, withoutPlayground, browser] = await Promise.all([
      startTestServer(),
      startTestServer({ CHORUS_API_KEYS: KEY }),
      startTestServer({ CHORUS_PLAYGROUND: 'false', CHORUS_WORKERS: '1' }),
      chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS }),
    ]);
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') pageProblems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    page.on('request', (request) => requestedOrigins.add(new URL(request.url()).origin));
  });

  after(async () => {
    await browser?.close();
    await Promise.all([server?.close(), keyed?.close(), withoutPlayground?.close()]);
  });

  it('a browser asking for / lands on the playground, which loads without errors under its CSP', async () => {
    const response = await page.goto(`${server.url}/`);
    assert.equal(new URL(page.url()).pathname, '/playground');
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    assert.match((await page.textContent('#server-status')) ?? '', /1 engine, \d+ voices/);
    const engines = await page.$$eval('#speak-engine option', (options) => options.map((option) => option.getAttribute('value')));
    assert.deepEqual(engines, ['espeak']);
    assert.ok((await page.$$('#speak-voice option')).length > 30, 'the built-in voices are listed');
    await page.screenshot({ path: join(ARTIFACTS, 'loaded.png'), fullPage: true });
    assert.deepEqual(pageProblems, []);

    // API clients keep what / answered before: a JSON 404.
    const api = await fetch(`${server.url}/`, { headers: { accept: 'application/json' }, redirect: 'manual' });
    assert.equal(api.status, 404);
    assert.equal((await api.json() as { error: { code: string } }).error.code, 'not_found');
  });

  it('speaks pcm through Web Audio as it streams and highlights every word in order during playback', async () => {
    // The page's own clock of played audio drives the highlight; record each change it makes.
    await page.evaluate(() => {
      const browser = globalThis as unknown as {
        document: { getElementById(id: string): HTMLElementLike };
        performance: { now(): number };
        MutationObserver: new (callback: () => void) => { observe(target: unknown, options: unknown): void };
        wordLog: WordChange[];
      };
      browser.wordLog = [];
      const readAlong = browser.document.getElementById('read-along');
      new browser.MutationObserver(() => {
        const index = Number(readAlong.dataset['currentWord']);
        const last = browser.wordLog[browser.wordLog.length - 1];
        if (index >= 0 && (last === undefined || last.index !== index)) {
          const word = readAlong.querySelector(`.word[data-index="${index}"]`);
          browser.wordLog.push({ index, at: browser.performance.now(), start: Number(word?.dataset['start']) });
        }
      }).observe(readAlong, { attributes: true, attributeFilter: ['data-current-word'] });
    });
    await page.selectOption('#speak-format', 'pcm');
    await page.fill('#speak-text', 'The quick brown fox jumps over the lazy dog, then it runs back home.');
    await page.click('#speak-button');
    await page.waitForSelector('#playback[data-state="playing"], #playback[data-state="streaming"]');
    await page.waitForSelector('#read-along .word.spoken[data-index="3"]');
    await page.screenshot({ path: join(ARTIFACTS, 'read-along.png'), fullPage: true });
    const result = await playedToEnd(page);

    assert.match(result.mode, /Web Audio/);
    assert.ok(result.bytes > 24_000 * 2, `got ${result.bytes} bytes of 24 kHz pcm`);
    assert.ok(Math.abs(result.playedSeconds - result.duration) < 0.05, `played ${result.playedSeconds} s of ${result.duration} s`);
    assert.equal(result.words, 14);
    const log = await page.evaluate(() => (globalThis as unknown as { wordLog: WordChange[] }).wordLog);
    // The first word lights first (its timing was there when sound began), then later words only;
    // a slow frame on a busy machine may pass over a word, never go back.
    const order = log.map((entry) => entry.index);
    assert.equal(order[0], 0, `highlight order ${order.join(',')}`);
    assert.equal(order.at(-1), 13, `highlight order ${order.join(',')}`);
    assert.ok(order.every((index, i) => i === 0 || index > order[i - 1]!), `highlight order ${order.join(',')}`);
    assert.ok(order.length >= 7, `only ${order.length} of 14 words were seen lit: ${order.join(',')}`);
    // Highlights follow the audio clock: no word lights before its time has come.
    const first = log[0]!;
    for (const entry of log) {
      const elapsedSeconds = (entry.at - first.at) / 1000;
      assert.ok(elapsedSeconds >= entry.start - first.start - 0.1, `word ${entry.index} (at ${entry.start} s) lit ${elapsedSeconds.toFixed(2)} s after the first`);
    }
    assert.deepEqual(
      await page.$$eval('#read-along .word', (words) => words.map((word) => word.textContent)),
      ['The', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog', 'then', 'it', 'runs', 'back', 'home'],
    );

    const wav = probeAudio(await downloadedAudio(page), 'wav');
    assert.equal(wav.codec, 'pcm_s16le');
    assert.ok(Math.abs(wav.decodedDuration - result.duration) < 0.01, `the download holds the ${result.duration} s that played`);
    assert.deepEqual(pageProblems, []);
  });

  it('speaks mp3 through MediaSource, with speed and pitch', async () => {
    await page.selectOption('#speak-format', 'mp3');
    await page.fill('#speak-speed', '1.5');
    await page.fill('#speak-pitch', '3');
    await page.fill('#speak-text', 'Faster and a little higher.');
    await page.click('#speak-button');
    const result = await playedToEnd(page);
    assert.match(result.mode, /MediaSource/);
    assert.ok(result.bytes > 1000);
    assert.ok(result.playedSeconds > 0.5, `played ${result.playedSeconds} s`);
    const mp3 = probeAudio(await downloadedAudio(page), 'mp3');
    assert.equal(mp3.codec, 'mp3');
    assert.ok(Math.abs(mp3.decodedDuration - result.duration) < 0.1);
    await page.fill('#speak-speed', '1');
    await page.fill('#speak-pitch', '0');
    assert.deepEqual(pageProblems, []);
  });

  it('clones a voice from an uploaded WAV: it is listed, speaks, and can be deleted', async () => {
    const reference = await fliteReference('This is the reference recording of my own voice. I read it slowly and clearly, so that the server has enough to listen to.', 'slt');
    const dir = mkdtempSync(join(tmpdir(), 'chorus-playground-'));
    try {
      const file = join(dir, 'my-reference.wav');
      writeFileSync(file, reference.wav);
      await page.fill('#clone-name', 'browser-voice');
      await page.setInputFiles('#clone-audio', file);
      await page.click('#clone-button');
      await page.waitForSelector('#voice-table tr[data-voice="browser-voice"], #voices-message:has-text("failed")', { timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match((await page.textContent('#voices-message')) ?? '', /Reference 'browser-voice' added/);
    const cells = await page.$$eval('#voice-table tr[data-voice="browser-voice"] td', (tds) => tds.map((td) => td.textContent));
    assert.equal(cells[2], 'espeak');
    assert.equal(cells[3], 'voice_matching');
    // The Speak panel offers it among "Your voices".
    await page.waitForSelector('#speak-voice optgroup[label="Your voices"] option[value="browser-voice"]', { state: 'attached' });

    await page.selectOption('#speak-format', 'pcm');
    await page.click('#voice-table tr[data-voice="browser-voice"] .try-voice');
    await page.waitForSelector('#playback[data-state="streaming"], #playback[data-state="playing"]');
    const result = await playedToEnd(page);
    assert.equal(await page.inputValue('#speak-voice'), 'browser-voice');
    assert.match((await page.textContent('#speak-message')) ?? '', /voice_matching/);
    assert.ok(result.bytes > 24_000, `got ${result.bytes} bytes`);
    await page.screenshot({ path: join(ARTIFACTS, 'voice-cloned.png'), fullPage: true });

    await page.click('#voice-table tr[data-voice="browser-voice"] .delete-voice');
    await page.waitForSelector('#voice-table tr[data-voice="browser-voice"]', { state: 'detached' });
    await page.waitForSelector('#speak-voice option[value="browser-voice"]', { state: 'detached' });
    const listed = (await (await fetch(`${server.url}/v1/references`)).json()) as { reference_ids: string[] };
    assert.deepEqual(listed.reference_ids, []);
    assert.deepEqual(pageProblems, []);
  });

  it('submits a job and follows it to COMPLETED, with its audio playable', async () => {
    await page.fill('#job-endpoint', 'chatterbox');
    await page.dispatchEvent('#job-endpoint', 'change');
    await page.click('#job-button');
    const row = await page.waitForSelector('#job-table tr[data-status="COMPLETED"], #job-table tr[data-status="FAILED"]', { timeout: 60_000 });
    assert.equal(await row.getAttribute('data-status'), 'COMPLETED', (await row.textContent()) ?? '');
    const audio = await row.$('audio');
    assert.ok(audio !== null, 'the job output became a player');
    await page.waitForFunction(() => ((globalThis as unknown as { document: { querySelector(s: string): { duration: number } } }).document.querySelector('#job-table audio').duration > 0.5));
    await page.screenshot({ path: join(ARTIFACTS, 'job.png'), fullPage: true });
    assert.deepEqual(pageProblems, []);
  });

  it('sent every request to its own origin only', () => {
    assert.deepEqual([...requestedOrigins].filter((origin) => !origin.startsWith('blob:') && origin !== 'null'), [server.url.replace(/\/$/, '')]);
  });

  it('CHORUS_PLAYGROUND=false serves neither the page nor the redirect', async () => {
    for (const path of ['/playground', '/playground/app.js', '/']) {
      const response = await fetch(`${withoutPlayground.url}${path}`, { headers: { accept: 'text/html' }, redirect: 'manual' });
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
  });

  describe('with CHORUS_API_KEYS set', () => {
    it('asks for the key, asks again after a refusal, then sends it as Bearer', async () => {
      // A context of its own: its sessionStorage starts empty.
      const context = await browser.newContext();
      const keyedPage = await context.newPage();
      const authorizations: (string | undefined)[] = [];
      keyedPage.on('request', (request) => {
        if (new URL(request.url()).pathname.startsWith('/v1/')) authorizations.push(request.headers()['authorization']);
      });
      const problems: string[] = [];
      keyedPage.on('pageerror', (error) => problems.push(error.message));
      try {
        await keyedPage.goto(`${keyed.url}/playground`);
        await keyedPage.waitForSelector('#key-dialog[open]');
        assert.match((await keyedPage.textContent('#key-message')) ?? '', /needs an API key/);
        await keyedPage.screenshot({ path: join(ARTIFACTS, 'key-dialog.png') });

        await keyedPage.fill('#key-input', 'not-the-key');
        await keyedPage.click('#key-submit');
        await keyedPage.waitForSelector('#key-message:has-text("refused")');
        assert.equal(await keyedPage.isVisible('#key-dialog'), true);
        assert.match((await keyedPage.textContent('#key-message')) ?? '', /Incorrect API key/);

        await keyedPage.fill('#key-input', KEY);
        await keyedPage.click('#key-submit');
        await keyedPage.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
        assert.equal(await keyedPage.isVisible('#key-dialog'), false);
        assert.ok(authorizations.includes(`Bearer ${KEY}`));
        assert.ok(authorizations.includes('Bearer not-the-key'));
        assert.ok(authorizations.includes(undefined), 'the first requests went without a key');

        await keyedPage.selectOption('#speak-format', 'pcm');
        await keyedPage.click('#speak-button');
        const result = await playedToEnd(keyedPage);
        assert.ok(result.bytes > 0);
        // The key stays in the tab: a reload does not ask again.
        await keyedPage.reload();
        await keyedPage.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
        assert.equal(await keyedPage.isVisible('#key-dialog'), false);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });
  });
});
