import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { buildTarball, familyFiles, ModelHost, sha256, type TarEntry } from './support/model-fixtures.js';
import { chorusCli } from './support/chorus-cli.js';

const CLI = [...chorusCli(), 'models'];

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The real CLI, as an operator runs it; never throws, so exit codes can be asserted. */
function chorus(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...CLI, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

function manifestOf(modelsDir: string, name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(modelsDir, name, 'chorus-model.json'), 'utf8')) as Record<string, unknown>;
}

/** What the manager leaves in the models directory besides installed models. */
function leftovers(modelsDir: string): string[] {
  return existsSync(modelsDir) ? readdirSync(modelsDir).filter((name) => name.startsWith('.staging-') || name.startsWith('.removing-')) : [];
}

describe('chorus models (pull, import, rm, list) against a local model host', () => {
  const host = new ModelHost();
  let work: string;
  let modelsDir: string;
  let catalogue: string;
  let env: Record<string, string>;
  let kokoro: Buffer;
  let piper: Buffer;
  let pocketFiles: TarEntry[];

  before(async () => {
    await host.start();
    work = mkdtempSync(join(tmpdir(), 'chorus-models-'));
    kokoro = await buildTarball(await familyFiles('kokoro', 'kokoro-test'));
    piper = await buildTarball(await familyFiles('piper', 'vits-piper-en_US-test-medium'), 'gz');
    pocketFiles = await familyFiles('pocket', 'x');
  });
  after(async () => {
    await host.stop();
    rmSync(work, { recursive: true, force: true });
  });
  beforeEach((context) => {
    const slug = context.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40);
    modelsDir = join(work, slug, 'models');
    mkdirSync(modelsDir, { recursive: true });
    catalogue = join(work, slug, 'catalogue.json');
    env = { CHORUS_DATA_DIR: join(work, slug, 'data'), CHORUS_MODELS_DIR: modelsDir, CHORUS_MODEL_CATALOG: catalogue, HF_TOKEN: '', HF_ENDPOINT: '' };
  });

  /** A one-entry catalogue: a Kokoro-layout tarball at `path` on the host. */
  function kokoroEntry(name: string, url: string, sha: string | undefined, extra: Record<string, unknown> = {}) {
    return {
      name,
      family: 'kokoro',
      description: 'generated test model',
      license: 'Apache-2.0',
      languages: ['en-US', 'zh'],
      voices: { count: 1 },
      files: { model: 'model.onnx', voices: 'voices.bin', tokens: 'tokens.txt', dataDir: 'espeak-ng-data', lexicon: 'lexicon-us-en.txt,lexicon-zh.txt' },
      sources: [{ type: 'archive', url, ...(sha === undefined ? {} : { sha256: sha }) }],
      ...extra,
    };
  }

  function writeCatalogue(...models: unknown[]): void {
    writeFileSync(catalogue, JSON.stringify({ models }));
  }

  it('pull downloads, verifies, unpacks and installs; a second pull says it is installed; --force replaces', async () => {
    const url = host.host('/releases/kokoro-ok.tar.bz2', { body: kokoro });
    writeCatalogue(kokoroEntry('kokoro-ok', url, sha256(kokoro)));
    const first = await chorus(['pull', 'kokoro-ok'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Installed kokoro-ok \(kokoro\)/);
    assert.match(first.stderr, /downloading kokoro-ok\.tar\.bz2: 100%/, 'plain progress lines when stderr is not a terminal');
    const manifest = manifestOf(modelsDir, 'kokoro-ok');
    assert.equal(manifest['family'], 'kokoro');
    assert.equal(manifest['source'], 'kokoro-ok');
    assert.deepEqual(manifest['downloads'], [{ url, sha256: sha256(kokoro), bytes: kokoro.length, verified: true }]);
    for (const file of ['model.onnx', 'voices.bin', 'tokens.txt', 'lexicon-zh.txt', 'espeak-ng-data/phontab', 'espeak-ng-data/lang/gmw/en-US']) {
      assert.ok(existsSync(join(modelsDir, 'kokoro-ok', file)), file);
    }
    const packed = (await familyFiles('kokoro', 'x')).find((entry) => entry.name === 'x/voices.bin');
    assert.equal(statSync(join(modelsDir, 'kokoro-ok', 'voices.bin')).size, (packed as { content: Buffer }).content.length);
    assert.deepEqual(leftovers(modelsDir), []);
    assert.ok(!existsSync(join(modelsDir, '.downloads', 'kokoro-ok')), 'the downloaded archive is deleted once installed');

    const again = await chorus(['pull', 'KOKORO-OK'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already installed/);
    assert.equal(host.requestsFor('/releases/kokoro-ok.tar.bz2').length, 1, 'nothing downloaded for an installed model');

    const forced = await chorus(['pull', 'kokoro-ok', '--force', '--quiet'], env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.doesNotMatch(forced.stderr, /downloading/, '--quiet prints no progress');
    assert.notEqual(manifestOf(modelsDir, 'kokoro-ok')['installedAt'], manifest['installedAt']);
    assert.deepEqual(leftovers(modelsDir), []);
  });

  it('a Hugging Face source uses HF_ENDPOINT and sends HF_TOKEN as a Bearer token', async () => {
    const repo = 'someone/pocket-test';
    for (const entry of pocketFiles) {
      if ('content' in entry) host.host(`/${repo}/resolve/main/${entry.name.slice(2)}`, { body: Buffer.from(entry.content), token: 'hf_secret', redirect: true });
    }
    writeCatalogue({
      name: 'pocket-test',
      family: 'pocket',
      description: 'generated test model',
      license: 'CC-BY-4.0; ONNX export non-commercial',
      licenseNote: 'NON-COMMERCIAL test note',
      languages: ['en'],
      voices: { count: 1 },
      files: { lmFlow: 'lm_flow.int8.onnx', lmMain: 'lm_main.int8.onnx', encoder: 'encoder.onnx', decoder: 'decoder.int8.onnx', textConditioner: 'text_conditioner.onnx', vocabJson: 'vocab.json', tokenScoresJson: 'token_scores.json' },
      sources: [{ type: 'huggingface', repo, revision: 'main', files: pocketFiles.filter((entry) => 'content' in entry).map((entry) => ({ path: entry.name.slice(2) })) }],
    });
    const refused = await chorus(['pull', 'pocket-test'], { ...env, HF_ENDPOINT: host.url });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HTTP 401.*HF_TOKEN/);
    assert.ok(!existsSync(join(modelsDir, 'pocket-test')));

    const pulled = await chorus(['pull', 'pocket-test'], { ...env, HF_ENDPOINT: host.url, HF_TOKEN: 'hf_secret' });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stderr, /NON-COMMERCIAL test note/, 'the licence note is shown');
    assert.match(pulled.stderr, /no sha256 for .*installed on trust/);
    const resolved = host.requests.filter((request) => request.path === `/${repo}/resolve/main/lm_flow.int8.onnx`);
    assert.equal(resolved.at(-1)!.authorization, 'Bearer hf_secret');
    assert.ok(host.requests.some((request) => request.path === '/cdn/someone/pocket-test/resolve/main/lm_flow.int8.onnx'), 'the redirect was followed');
    const manifest = manifestOf(modelsDir, 'pocket-test');
    assert.equal(manifest['licenseNote'], 'NON-COMMERCIAL test note');
    assert.equal((manifest['downloads'] as { verified: boolean }[]).length, 7);
    assert.ok((manifest['downloads'] as { verified: boolean }[]).every((download) => !download.verified));
    assert.ok(existsSync(join(modelsDir, 'pocket-test', 'token_scores.json')));
  });

  it('resumes with a Range request after the server cuts the connection mid-file', async () => {
    const half = Math.floor(kokoro.length / 2);
    const url = host.host('/releases/kokoro-cut.tar.bz2', { body: kokoro, cutAfter: half });
    writeCatalogue(kokoroEntry('kokoro-cut', url, sha256(kokoro)));
    const result = await chorus(['pull', 'kokoro-cut'], env);
    assert.equal(result.code, 0, result.stderr);
    const [first, second] = host.requestsFor('/releases/kokoro-cut.tar.bz2');
    assert.equal(first!.range, undefined);
    assert.equal(first!.bytesSent, half);
    assert.match(second!.range ?? '', /^bytes=\d+-$/);
    const resumedAt = Number(/\d+/.exec(second!.range!)![0]);
    assert.ok(resumedAt > 0 && resumedAt <= half, `resumed at ${resumedAt}`);
    assert.equal(second!.status, 206);
    assert.equal(second!.bytesSent, kokoro.length - resumedAt, 'only the rest was sent');
    assert.equal((manifestOf(modelsDir, 'kokoro-cut')['downloads'] as { verified: boolean }[])[0]!.verified, true);
  });

  it('a wrong sha256 is an error: nothing installed, the partial download deleted', async () => {
    const url = host.host('/releases/kokoro-bad.tar.bz2', { body: kokoro });
    writeCatalogue(kokoroEntry('kokoro-bad', url, 'ab'.repeat(32)));
    const result = await chorus(['pull', 'kokoro-bad'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`has sha256 ${sha256(kokoro)} .*expects abab.*nothing was installed`));
    assert.ok(!existsSync(join(modelsDir, 'kokoro-bad')));
    assert.deepEqual(readdirSync(join(modelsDir, '.downloads', 'kokoro-bad')), [], 'no partial file kept');
    assert.deepEqual(leftovers(modelsDir), []);
  });

  it('a pull killed mid-download leaves nothing under the model name, and the next pull resumes', async () => {
    const stallAt = Math.floor(kokoro.length * 0.6);
    const url = host.host('/releases/kokoro-kill.tar.bz2', { body: kokoro, stallAfter: stallAt });
    writeCatalogue(kokoroEntry('kokoro-kill', url, sha256(kokoro)));
    const child = spawn(process.execPath, [...CLI, 'pull', 'kokoro-kill'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    try {
      await host.waitForSent('/releases/kokoro-kill.tar.bz2', stallAt);
      const partial = join(modelsDir, '.downloads', 'kokoro-kill', 'kokoro-kill.tar.bz2.partial');
      while (!existsSync(partial) || statSync(partial).size < stallAt) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    assert.ok(!existsSync(join(modelsDir, 'kokoro-kill')), 'nothing under the model name');
    assert.ok(existsSync(join(modelsDir, '.downloads', 'kokoro-kill.lock')), 'the killed process left its lock');

    const resumed = await chorus(['pull', 'kokoro-kill'], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const second = host.requestsFor('/releases/kokoro-kill.tar.bz2')[1]!;
    assert.equal(second.range, `bytes=${stallAt}-`);
    assert.equal(second.bytesSent, kokoro.length - stallAt);
    assert.ok(existsSync(join(modelsDir, 'kokoro-kill', 'chorus-model.json')));
    assert.deepEqual(leftovers(modelsDir), []);
  });

  it('a catalogue entry without a sha256 installs on trust and records the digest', async () => {
    const url = host.host('/releases/kokoro-tofu.tar.bz2', { body: kokoro });
    writeCatalogue(kokoroEntry('kokoro-tofu', url, undefined));
    const result = await chorus(['pull', 'kokoro-tofu'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`could not be verified.*${sha256(kokoro)}`));
    assert.deepEqual(manifestOf(modelsDir, 'kokoro-tofu')['downloads'], [{ url, sha256: sha256(kokoro), bytes: kokoro.length, verified: false }]);
  });

  it('an archive missing a required file is refused and nothing is installed', async () => {
    const incomplete = await buildTarball((await familyFiles('kokoro', 'kokoro-incomplete')).filter((entry) => !entry.name.endsWith('tokens.txt')));
    const url = host.host('/releases/kokoro-incomplete.tar.bz2', { body: incomplete });
    writeCatalogue(kokoroEntry('kokoro-incomplete', url, sha256(incomplete)));
    const result = await chorus(['pull', 'kokoro-incomplete'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /kokoro-incomplete is incomplete: missing or empty tokens\.txt \(tokens\)/);
    assert.ok(!existsSync(join(modelsDir, 'kokoro-incomplete')));
    assert.deepEqual(leftovers(modelsDir), []);
  });

  it('import installs from a tarball and from a directory, finding the family from the files', async () => {
    writeCatalogue();
    const tarball = join(work, 'vits-piper-en_US-test-medium.tar.gz');
    writeFileSync(tarball, piper);
    const fromTarball = await chorus(['import', tarball], env);
    assert.equal(fromTarball.code, 0, fromTarball.stderr);
    const piperManifest = manifestOf(modelsDir, 'vits-piper-en_us-test-medium');
    assert.equal(piperManifest['family'], 'piper');
    assert.equal(piperManifest['source'], 'import');
    assert.deepEqual(piperManifest['files'], { model: 'en_US-test-medium.onnx', tokens: 'tokens.txt', dataDir: 'espeak-ng-data' });
    assert.equal((piperManifest['downloads'] as { sha256: string }[])[0]!.sha256, sha256(piper));

    const directory = join(work, 'my-kokoro');
    mkdirSync(directory, { recursive: true });
    const unpacked = join(work, 'unpacked-kokoro.tar.bz2');
    writeFileSync(unpacked, kokoro);
    const staged = await chorus(['import', unpacked, '--name', 'staged-kokoro'], env);
    assert.equal(staged.code, 0, staged.stderr);
    const fromDirectory = await chorus(['import', join(modelsDir, 'staged-kokoro'), '--name', 'copied-kokoro'], env);
    assert.equal(fromDirectory.code, 0, fromDirectory.stderr);
    const kokoroManifest = manifestOf(modelsDir, 'copied-kokoro');
    assert.equal(kokoroManifest['family'], 'kokoro');
    assert.equal((kokoroManifest['files'] as Record<string, string>)['lexicon'], 'lexicon-us-en.txt,lexicon-zh.txt');
    assert.ok(existsSync(join(modelsDir, 'copied-kokoro', 'espeak-ng-data', 'en_dict')));

    const again = await chorus(['import', tarball], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already installed.*--force replaces it/);
    const overridden = await chorus(['import', tarball, '--family', 'pocket', '--name', 'wrong-family'], env);
    assert.equal(overridden.code, 1);
    assert.match(overridden.stderr, /not look like a complete pocket model/);
    assert.ok(!existsSync(join(modelsDir, 'wrong-family')));
    // A file sherpa-onnx would exit the process on is refused by Chorus's pre-check before it is installed.
    const broken = join(work, 'broken-piper.tar.gz');
    const entries = (await familyFiles('piper', 'broken-piper')).map((entry) =>
      entry.name.endsWith('.onnx') ? { name: entry.name, content: Buffer.from('not an onnx model at all') } : entry,
    );
    writeFileSync(broken, await buildTarball(entries, 'gz'));
    const refused = await chorus(['import', broken], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /en_US-test-medium\.onnx: is not an ONNX model/);
    assert.ok(!existsSync(join(modelsDir, 'broken-piper')));
    assert.deepEqual(leftovers(modelsDir), []);
  });

  it('an archive with a ../ path or a link is refused before anything is installed', async () => {
    writeCatalogue();
    const traversal = join(work, 'evil.tar.bz2');
    writeFileSync(traversal, await buildTarball([...(await familyFiles('piper', 'evil')), { name: 'evil/../../escaped.txt', content: 'gotcha' }]));
    const refused = await chorus(['import', traversal], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Refused the archive .*entry 'evil\/\.\.\/\.\.\/escaped\.txt' would land outside the model directory/);
    assert.ok(!existsSync(join(work, 'escaped.txt')) && !existsSync(join(modelsDir, 'escaped.txt')));

    const linked = join(work, 'linked.tar.gz');
    writeFileSync(linked, await buildTarball([...(await familyFiles('piper', 'linked')), { name: 'linked/espeak-ng-data/passwd', type: 'symlink', linkname: '/etc/passwd' }], 'gz'));
    const linkRefused = await chorus(['import', linked], env);
    assert.equal(linkRefused.code, 1);
    assert.match(linkRefused.stderr, /entry 'linked\/espeak-ng-data\/passwd' is a symlink/);
    assert.deepEqual(readdirSync(modelsDir).filter((name) => !name.startsWith('.')), []);
    assert.deepEqual(leftovers(modelsDir), []);
  });

  it('list shows the catalogue and what is installed; rm uninstalls', async () => {
    const url = host.host('/releases/kokoro-list.tar.bz2', { body: kokoro });
    writeCatalogue(kokoroEntry('kokoro-list', url, sha256(kokoro)), kokoroEntry('kokoro-other', `${host.url}/releases/none.tar.bz2`, undefined, { licenseNote: 'Read this.' }));
    assert.equal((await chorus(['pull', 'kokoro-list', '-q'], env)).code, 0);

    const text = await chorus(['list'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /installed\s+kokoro-list\s+kokoro\s+\d+ kB\s+1\s+en-US zh\s+sha256\s+Apache-2\.0/);
    assert.match(text.stdout, /\n\s+kokoro-other\s+kokoro\s+\?\s+1\s+en-US zh\s+none/);
    assert.match(text.stdout, /kokoro-other: Read this\./);

    const json = JSON.parse((await chorus(['list', '--json'], env)).stdout) as { installed: { name: string; sizeBytes: number }[]; catalogue: { name: string; installed: boolean }[] };
    assert.deepEqual(json.installed.map((model) => model.name), ['kokoro-list']);
    assert.ok(json.installed[0]!.sizeBytes > 500_000);
    assert.deepEqual(json.catalogue.map((entry) => [entry.name, entry.installed]), [['kokoro-list', true], ['kokoro-other', false]]);

    const removed = await chorus(['rm', 'kokoro-list'], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(!existsSync(join(modelsDir, 'kokoro-list')));
    assert.deepEqual(leftovers(modelsDir), []);
    const twice = await chorus(['rm', 'kokoro-list'], env);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /No model named 'kokoro-list' is installed/);
  });

  it('bad usage exits 1 with the reason on stderr', async () => {
    writeCatalogue();
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /Unknown models command 'frobnicate'/],
      [['pull', 'no-such-model'], /No model 'no-such-model' in the catalogue/],
      [['pull'], /Usage: chorus models pull NAME/],
      [['pull', 'x', '--source', 'ftp'], /--source must be archive or huggingface/],
      [['import', join(work, 'missing.tar.bz2')], /does not exist/],
      [['import', catalogue], /is not a \.tar\.bz2, \.tar\.gz or \.tar archive/],
      [['import', catalogue, '--name', 'Bad Name'], /--name must be lower-case/],
    ];
    // Each case is a CLI process of its own that changes nothing: they run side by side.
    const results = await Promise.all(cases.map(([args]) => chorus(args, env)));
    cases.forEach(([args, message], index) => {
      assert.equal(results[index]!.code, 1, args.join(' '));
      assert.match(results[index]!.stderr, message, args.join(' '));
    });
    writeFileSync(catalogue, '{"models": [{"name": "x"}]}');
    const invalid = await chorus(['list'], env);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /model catalogue .* is invalid at models\.0\./);
  });
});
