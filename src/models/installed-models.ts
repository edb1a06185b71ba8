import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChorusError } from '../errors.js';
import { processIsAlive } from '../util/process-alive.js';
import { FAMILY_FILES, MANIFEST_FILE, modelManifestSchema, type ModelManifest } from './model-manifest.js';

/**
 * The models directory: `<name>/` per installed model; dot-names are the manager's own:
 * `.downloads/` (partial downloads, kept for resuming, and per-model locks), `.staging-<pid>-*`
 * (an install being built) and `.removing-<pid>-*` (a model being deleted); those of a process
 * that is gone are deleted by the next pull or import. Names never start with a dot,
 * so nothing of the manager's is ever taken for a model.
 */
export const DOWNLOADS_DIR = '.downloads';

/**
 * Refuses to install a model: throws a ChorusError saying what is wrong. Runs on the finished
 * directory before its manifest is written. sherpa-onnx's metadata check (`checkModel`) is one,
 * so a file that would kill the engine process is refused here instead.
 */
export type ModelCheck = (manifest: ModelManifest, dir: string) => void | Promise<void>;

export interface InstalledModel {
  readonly name: string;
  readonly dir: string;
  readonly manifest: ModelManifest;
  readonly sizeBytes: number;
}

/** A directory with a manifest that does not parse: shown, never loaded. */
export interface BrokenModel {
  readonly name: string;
  readonly dir: string;
  readonly problem: string;
}

/** Installed models, by name. A directory without a manifest is an unfinished install and is left out. */
export async function listInstalled(modelsDir: string): Promise<{ models: InstalledModel[]; broken: BrokenModel[] }> {
  const models: InstalledModel[] = [];
  const broken: BrokenModel[] = [];
  let entries;
  try {
    entries = await readdir(modelsDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { models, broken };
    throw error;
  }
  for (const entry of entries.filter((candidate) => candidate.isDirectory() && !candidate.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = join(modelsDir, entry.name);
    let text: string;
    try {
      text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
    } catch {
      continue;
    }
    try {
      const manifest = modelManifestSchema.parse(JSON.parse(text));
      if (manifest.name !== entry.name) throw new Error(`it names '${manifest.name}', not the directory's name`);
      models.push({ name: entry.name, dir, manifest, sizeBytes: await directorySize(dir) });
    } catch (error) {
      broken.push({ name: entry.name, dir, problem: `${MANIFEST_FILE} is invalid: ${(error as Error).message.split('\n')[0]}` });
    }
  }
  return { models, broken };
}

export async function isInstalled(modelsDir: string, name: string): Promise<boolean> {
  try {
    return (await stat(join(modelsDir, name, MANIFEST_FILE))).isFile();
  } catch {
    return false;
  }
}

/**
 * Runs `work` holding `<models>/.downloads/<name>.lock`, so two pulls of one model never write the
 * same partial file. A lock whose process is gone (killed mid-pull) is taken over.
 */
export async function withModelLock<T>(modelsDir: string, name: string, work: () => Promise<T>): Promise<T> {
  const dir = join(modelsDir, DOWNLOADS_DIR);
  await mkdir(dir, { recursive: true });
  const lock = join(dir, `${name}.lock`);
  try {
    await writeFile(lock, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processIsAlive(holder)) {
      throw new ChorusError({ code: 'conflict', message: `Another chorus process (pid ${holder}) is installing ${name}; wait for it to finish.` });
    }
    await writeFile(lock, String(process.pid));
  }
  try {
    await removeLeftovers(modelsDir);
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

/** A fresh directory inside the models directory (same file system, so the final rename is atomic). */
export async function makeStagingDir(modelsDir: string, name: string): Promise<string> {
  await mkdir(modelsDir, { recursive: true });
  return mkdtemp(join(modelsDir, `.staging-${process.pid}-${name}-`));
}

/**
 * Makes `root` the installed model `manifest.name`: checks the family's files and every `checks`,
 * writes the manifest last, then renames the directory into place. With `replace`, an installed
 * model of that name is first moved aside and deleted after; without it, an installed one is a
 * conflict. The model's name never points at a half-written directory.
 */
export async function installStaged(modelsDir: string, root: string, manifest: ModelManifest, options: { replace: boolean; checks: readonly ModelCheck[] }): Promise<string> {
  for (const check of options.checks) await check(manifest, root);
  await writeFile(join(root, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  const target = join(modelsDir, manifest.name);
  let replaced: string | undefined;
  if (await pathExists(target)) {
    if (!options.replace && (await isInstalled(modelsDir, manifest.name))) {
      throw new ChorusError({ code: 'conflict', message: `A model named ${manifest.name} is already installed in ${target}; --force replaces it.` });
    }
    replaced = join(modelsDir, `.removing-${process.pid}-${manifest.name}-${randomBytes(4).toString('hex')}`);
    await rename(target, replaced);
  }
  await rename(root, target);
  if (replaced !== undefined) await rm(replaced, { recursive: true, force: true });
  return target;
}

/** Uninstalls: the directory is renamed away first, so it is never seen half-deleted. */
export async function removeInstalled(modelsDir: string, name: string): Promise<string> {
  const target = join(modelsDir, name);
  if (name.startsWith('.') || name.includes('/') || name.includes('\\') || !(await pathExists(target))) {
    throw new ChorusError({ code: 'model_not_found', param: 'NAME', message: `No model named '${name}' is installed in ${modelsDir}.` });
  }
  const removing = join(modelsDir, `.removing-${process.pid}-${name}-${randomBytes(4).toString('hex')}`);
  await rename(target, removing);
  await rm(removing, { recursive: true, force: true });
  return target;
}

/** The check every install gets: each file the manifest names exists, and the family's required keys are there. */
export const checkModelFiles: ModelCheck = async (manifest, dir) => {
  const missingKeys = FAMILY_FILES[manifest.family].required.filter((key) => manifest.files[key] === undefined);
  if (missingKeys.length > 0) {
    throw new ChorusError({ code: 'invalid_request', detail: 'incomplete_model', message: `${manifest.name}: a ${manifest.family} model needs ${missingKeys.join(', ')}, which it does not name.` });
  }
  const missing: string[] = [];
  for (const [key, value] of Object.entries(manifest.files)) {
    for (const path of key === 'lexicon' ? value.split(',') : [value]) {
      const found = await stat(join(dir, path)).catch(() => undefined);
      const wantsDirectory = key === 'dataDir';
      if (found === undefined || (wantsDirectory ? !found.isDirectory() : !found.isFile() || found.size === 0)) {
        missing.push(`${path} (${key}${wantsDirectory ? ', a directory' : ''})`);
      }
    }
  }
  if (missing.length > 0) {
    throw new ChorusError({ code: 'invalid_request', detail: 'incomplete_model', message: `${manifest.name} is incomplete: missing or empty ${missing.join(', ')}. Nothing was installed.` });
  }
};

/** Staging and removal directories of processes that are gone (killed mid-install): never anyone's model. */
async function removeLeftovers(modelsDir: string): Promise<void> {
  const entries = await readdir(modelsDir).catch(() => [] as string[]);
  for (const entry of entries) {
    const owner = /^\.(?:staging|removing)-(\d+)-/.exec(entry)?.[1];
    if (owner !== undefined && Number(owner) !== process.pid && !processIsAlive(Number(owner))) await rm(join(modelsDir, entry), { recursive: true, force: true });
  }
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name))).size;
  }
  return total;
}

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
