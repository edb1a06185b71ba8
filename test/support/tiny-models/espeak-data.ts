import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The espeak-ng-data directory sherpa's phonemizer needs, cut from the eSpeak package Chorus already
 * depends on: its `espeak-ng.data` is every data file end to end, and `espeak-ng.js` lists where
 * each one starts and ends. Extracted once into the OS temp dir and reused by every test run.
 */
export async function espeakDataDir(): Promise<string> {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('@echogarden/espeak-ng-emscripten/package.json'));
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const target = join(tmpdir(), 'chorus-test-models', `espeak-ng-data-${version}`);
  if (existsSync(join(target, 'phontab'))) return target;

  const loader = await readFile(join(packageDir, 'espeak-ng.js'), 'utf8');
  const data = await readFile(join(packageDir, 'espeak-ng.data'));
  const prefix = '/usr/share/espeak-ng-data/';
  const entries = [...loader.matchAll(/\{filename:"([^"]+)",start:(\d+),end:(\d+)\}/g)];
  if (entries.length === 0) throw new Error('no file list found in espeak-ng.js: the package layout changed');

  // Written beside the target and renamed, so a concurrent or interrupted run never sees half a directory.
  const partial = `${target}.${process.pid}.partial`;
  await rm(partial, { recursive: true, force: true });
  for (const [, filename, start, end] of entries) {
    if (!filename!.startsWith(prefix)) continue;
    const path = join(partial, filename!.slice(prefix.length));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data.subarray(Number(start), Number(end)));
  }
  try {
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(target, 'phontab'))) throw error;
  }
  return target;
}
