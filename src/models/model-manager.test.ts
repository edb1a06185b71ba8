import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import compressjs from 'compressjs';
import { buildTarball, familyFiles } from '../../test/support/model-fixtures.js';
import { ChorusError } from '../errors.js';
import { extractArchive } from './archive.js';
import { bunzip2File } from './bunzip2.js';
import { FAMILY_FILES } from './model-manifest.js';
import { DEFAULT_MODEL_CHECKS, importModel, listCatalogue, listInstalled, type ModelCheck } from './model-manager.js';

describe('model manager internals', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'chorus-model-manager-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the built-in catalogue parses and every entry names its family’s required files', async () => {
    const catalogue = await listCatalogue();
    assert.ok(catalogue.length >= 10);
    for (const required of ['kokoro-multi-lang-v1_0', 'kokoro-int8-multi-lang-v1_1', 'kokoro-en-v0_19', 'vits-piper-en_us-lessac-medium', 'kitten-nano-en-v0_2-fp16', 'sherpa-onnx-pocket-tts-int8-2026-01-26']) {
      assert.ok(catalogue.some((entry) => entry.name === required), required);
    }
    for (const entry of catalogue) for (const key of FAMILY_FILES[entry.family].required) assert.ok(key in entry.files, `${entry.name} ${key}`);
    const pocket = catalogue.find((entry) => entry.family === 'pocket')!;
    assert.match(pocket.licenseNote ?? '', /NON-COMMERCIAL/);
  });

  it('bunzip2 decodes concatenated streams block by block and refuses a truncated file', async () => {
    const parts = [randomBytes(250_000), Buffer.alloc(300_000, 'a')];
    const compressed = Buffer.concat(parts.map((part) => Buffer.from(compressjs.Bzip2.compressFile(part, undefined, 1) as Uint8Array)));
    const path = join(dir, 'two-streams.bz2');
    writeFileSync(path, compressed);
    const blocks: Buffer[] = [];
    for await (const block of bunzip2File(path)) blocks.push(block);
    assert.ok(blocks.length >= 4, `${blocks.length} blocks`);
    assert.ok(Buffer.concat(blocks).equals(Buffer.concat(parts)));

    writeFileSync(path, compressed.subarray(0, 100_000));
    await assert.rejects(async () => {
      for await (const block of bunzip2File(path)) void block;
    }, /truncated/);
  });

  it('extractArchive refuses absolute paths, hard links and ../ paths', async () => {
    const cases: [Parameters<typeof buildTarball>[0], RegExp][] = [
      [[{ name: '/etc/evil', content: 'x' }], /absolute path/],
      [[{ name: 'm/a', content: 'x' }, { name: 'm/b', type: 'link', linkname: 'm/a' }], /'m\/b' is a link/],
      [[{ name: '../up', content: 'x' }], /would land outside/],
    ];
    for (const [entries, message] of cases) {
      const archive = join(dir, 'bad.tar.gz');
      writeFileSync(archive, await buildTarball(entries, 'gz'));
      const target = mkdtempSync(join(dir, 'out-'));
      await assert.rejects(extractArchive(archive, target), (error: unknown) => ChorusError.isInstance(error) && error.detail === 'unsafe_archive' && message.test(error.message));
    }
  });

  it('a failing check (the hook for sherpa’s checkModel) refuses the install and leaves nothing', async () => {
    const modelsDir = join(dir, 'models');
    mkdirSync(modelsDir, { recursive: true });
    const archive = join(dir, 'kokoro-hook.tar.bz2');
    writeFileSync(archive, await buildTarball(await familyFiles('kokoro', 'kokoro-hook')));
    const seen: string[] = [];
    const refuse: ModelCheck = (manifest, modelDir) => {
      seen.push(manifest.name, String(existsSync(join(modelDir, 'voices.bin'))), String(existsSync(join(modelDir, 'chorus-model.json'))));
      throw new ChorusError({ code: 'invalid_request', message: 'bad metadata: no speaker_names' });
    };
    await assert.rejects(importModel(archive, { modelsDir, checks: [...DEFAULT_MODEL_CHECKS, refuse] }), /bad metadata/);
    assert.deepEqual(seen, ['kokoro-hook', 'true', 'false'], 'the check sees the unpacked files before the manifest is written');
    assert.deepEqual(readdirSync(modelsDir).filter((name) => !name.startsWith('.downloads')), []);

    const result = await importModel(archive, { modelsDir });
    assert.equal(result.status, 'installed');
    const { models, broken } = await listInstalled(modelsDir);
    assert.deepEqual(models.map((model) => [model.name, model.manifest.family]), [['kokoro-hook', 'kokoro']]);
    assert.deepEqual(broken, []);

    writeFileSync(join(modelsDir, 'kokoro-hook', 'chorus-model.json'), '{"name": "kokoro-hook"}');
    mkdirSync(join(modelsDir, 'unfinished'));
    const after = await listInstalled(modelsDir);
    assert.deepEqual(after.models, []);
    assert.equal(after.broken.length, 1, 'an invalid manifest is reported; a directory without one is an unfinished install and ignored');
    assert.match(after.broken[0]!.problem, /chorus-model\.json is invalid/);
    assert.ok(readFileSync(join(modelsDir, 'kokoro-hook', 'voices.bin')).length > 0);
  });
});
