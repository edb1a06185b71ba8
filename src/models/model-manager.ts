import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ChorusError } from '../errors.js';
import { extractArchive, modelRoot } from './archive.js';
import { findCatalogueEntry, loadCatalogue, type CatalogueEntry, type CatalogueSource } from './catalog.js';
import { detectFamily, detectFiles } from './detect-model.js';
import { digestFile, downloadFile, type DownloadedFile } from './download.js';
import {
  DOWNLOADS_DIR,
  checkModelFiles,
  installStaged,
  isInstalled,
  listInstalled,
  makeStagingDir,
  removeInstalled,
  withModelLock,
  type ModelCheck,
} from './installed-models.js';
import { MODEL_FAMILIES, modelManifestSchema, type ModelFamily, type ModelManifest } from './model-manifest.js';

export { listInstalled, type BrokenModel, type InstalledModel, type ModelCheck } from './installed-models.js';

/**
 * Checks every pull and import runs before a model is installed. The coordinator adds sherpa's
 * `checkModel(manifest, dir)` here (ONNX metadata, voices.bin size, tokens), so a model that would
 * make sherpa-onnx `_Exit` is refused at install time, by the CLI and the server alike.
 */
export const DEFAULT_MODEL_CHECKS: readonly ModelCheck[] = [checkModelFiles];

export type ProgressPhase = 'download' | 'verify' | 'extract' | 'install';

export interface ModelManagerOptions {
  readonly modelsDir: string;
  /** `CHORUS_MODEL_CATALOG`: a file or http(s) URL; absent = the built-in catalogue. */
  readonly catalogue?: string | undefined;
  /** `HF_ENDPOINT` (default https://huggingface.co) and `HF_TOKEN`, for Hugging Face sources. */
  readonly hfEndpoint?: string | undefined;
  readonly hfToken?: string | undefined;
  readonly checks?: readonly ModelCheck[];
  readonly signal?: AbortSignal;
  /** `label` is a file name; `total` is absent when the size is not known. */
  readonly onProgress?: (phase: ProgressPhase, label: string, done: number, total: number | undefined) => void;
  /** Things the operator should read: unverified downloads, licences, mismatches. */
  readonly onNotice?: (message: string) => void;
}

export interface InstallResult {
  readonly status: 'installed' | 'already-installed';
  readonly dir: string;
  readonly manifest: ModelManifest | undefined;
}

/** The known models: built in, or from `CHORUS_MODEL_CATALOG`. */
export function listCatalogue(location?: string): Promise<CatalogueEntry[]> {
  return loadCatalogue(location);
}

/**
 * Downloads a catalogue model and installs it under `<modelsDir>/<name>/`. An interrupted or failed
 * pull installs nothing; its partial download stays in `<modelsDir>/.downloads/` and the next pull
 * resumes it.
 */
export async function pull(name: string, options: ModelManagerOptions & { force?: boolean; source?: 'archive' | 'huggingface' }): Promise<InstallResult> {
  const entry = findCatalogueEntry(await loadCatalogue(options.catalogue), name);
  const dir = join(options.modelsDir, entry.name);
  if (!options.force && (await isInstalled(options.modelsDir, entry.name))) return { status: 'already-installed', dir, manifest: undefined };
  const source = pickSource(entry, options.source);
  if (entry.licenseNote !== undefined) options.onNotice?.(`Licence of ${entry.name}: ${entry.license}. ${entry.licenseNote}`);
  return withModelLock(options.modelsDir, entry.name, async () => {
    const downloadDir = join(options.modelsDir, DOWNLOADS_DIR, entry.name);
    await mkdir(downloadDir, { recursive: true });
    const staging = await makeStagingDir(options.modelsDir, entry.name);
    try {
      let root = staging;
      let downloads: DownloadedFile[];
      if (source.type === 'archive') {
        const archive = await download(options, source.url, join(downloadDir, basename(new URL(source.url).pathname)), [source.sha256, ...(source.previousSha256 ?? [])], {});
        downloads = [archive];
        try {
          await extractArchive(archive.path, staging, extractOptions(options, basename(archive.path)));
        } catch (error) {
          // Bytes that do not unpack would not unpack next time either; an interrupted unpack is fine to redo.
          if (!options.signal?.aborted) await rm(archive.path, { force: true });
          throw error;
        }
        root = (await modelRoot(staging)).root;
      } else {
        downloads = [];
        const endpoint = (options.hfEndpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
        const headers: Record<string, string> = options.hfToken ? { authorization: `Bearer ${options.hfToken}` } : {};
        for (const file of source.files) {
          const url = `${endpoint}/${source.repo}/resolve/${encodeURIComponent(source.revision)}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
          const target = join(downloadDir, 'hf', file.path);
          await mkdir(dirname(target), { recursive: true });
          downloads.push(await download(options, url, target, [file.sha256], headers));
        }
        for (const file of source.files) {
          await mkdir(dirname(join(staging, file.path)), { recursive: true });
          await rename(join(downloadDir, 'hf', file.path), join(staging, file.path));
        }
      }
      options.onProgress?.('install', entry.name, 0, undefined);
      const manifest = modelManifestSchema.parse({
        name: entry.name,
        family: entry.family,
        license: entry.license,
        ...(entry.licenseNote === undefined ? {} : { licenseNote: entry.licenseNote }),
        languages: entry.languages,
        source: entry.name,
        installedAt: new Date().toISOString(),
        files: entry.files,
        description: entry.description,
        downloads: downloads.map((file, index) => ({ url: downloadUrl(source, index), sha256: file.sha256, bytes: file.bytes, verified: file.verified })),
      });
      const installed = await installStaged(options.modelsDir, root, manifest, { replace: options.force ?? false, checks: options.checks ?? DEFAULT_MODEL_CHECKS });
      await rm(downloadDir, { recursive: true, force: true });
      return { status: 'installed', dir: installed, manifest };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  });
}

/**
 * Installs a model from a local `.tar.bz2`/`.tar.gz`/`.tgz`/`.tar` or a directory (copied), for
 * machines without internet. The family and files are found from the files unless `family` says;
 * a catalogue entry of the same name supplies licence, languages and, for its tarball, the sha256
 * to compare with.
 */
export async function importModel(path: string, options: ModelManagerOptions & { name?: string; family?: string; force?: boolean }): Promise<InstallResult> {
  const found = await stat(path).catch(() => undefined);
  if (found === undefined) throw new ChorusError({ code: 'invalid_request', param: 'PATH', message: `${path} does not exist.` });
  if (options.family !== undefined && !(MODEL_FAMILIES as readonly string[]).includes(options.family)) {
    throw new ChorusError({ code: 'invalid_request', param: '--family', message: `--family must be one of ${MODEL_FAMILIES.join(', ')}, got '${options.family}'.` });
  }
  if (options.name !== undefined && !modelManifestSchema.shape.name.safeParse(options.name).success) {
    throw new ChorusError({ code: 'invalid_request', param: '--name', message: `--name must be lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (at most 100), got '${options.name}'.` });
  }
  const guessedName = basename(path).replace(/\.(tar\.bz2|tar\.gz|tgz|tar|tbz2)$/i, '');
  const provisional = modelName(options.name ?? guessedName);
  await mkdir(options.modelsDir, { recursive: true });
  const staging = await makeStagingDir(options.modelsDir, provisional);
  try {
    if (found.isDirectory()) {
      // Links are followed: a directory of one's own may link espeak-ng-data to the system's copy.
      await cp(path, join(staging, 'model'), { recursive: true, dereference: true });
    } else {
      await extractArchive(path, staging, extractOptions(options, basename(path)));
    }
    const { root, topName } = found.isDirectory() ? { root: join(staging, 'model'), topName: undefined } : await modelRoot(staging);
    const name = modelName(options.name ?? topName ?? guessedName);
    const catalogue = await loadCatalogue(options.catalogue).catch(() => [] as CatalogueEntry[]);
    const entry = catalogue.find((candidate) => candidate.name === name);
    const family = (options.family as ModelFamily | undefined) ?? entry?.family ?? (await detectFamily(root, `${name} ${basename(path)}`));
    const files = entry !== undefined && entry.family === family ? entry.files : await detectFiles(root, family);
    const downloads = found.isFile() ? [await compareWithCatalogue(path, entry, options)] : [];
    const manifest = modelManifestSchema.parse({
      name,
      family,
      license: entry?.license ?? 'unknown (imported: see the LICENSE, README or MODEL_CARD in the model directory)',
      ...(entry?.licenseNote === undefined ? {} : { licenseNote: entry.licenseNote }),
      languages: entry?.languages ?? [],
      source: 'import',
      installedAt: new Date().toISOString(),
      files,
      ...(entry === undefined ? {} : { description: entry.description }),
      ...(downloads.length > 0 ? { downloads } : {}),
    });
    if (entry?.licenseNote !== undefined) options.onNotice?.(`Licence of ${name}: ${entry.license}. ${entry.licenseNote}`);
    return await withModelLock(options.modelsDir, name, async () => {
      const dir = await installStaged(options.modelsDir, root, manifest, { replace: options.force ?? false, checks: options.checks ?? DEFAULT_MODEL_CHECKS });
      return { status: 'installed', dir, manifest } as const;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Uninstalls `name`: renamed away, then deleted, so it is never seen half-removed. */
export async function remove(modelsDir: string, name: string): Promise<string> {
  return removeInstalled(modelsDir, name);
}

function pickSource(entry: CatalogueEntry, wanted: 'archive' | 'huggingface' | undefined): CatalogueSource {
  const source = wanted === undefined ? entry.sources[0] : entry.sources.find((candidate) => candidate.type === wanted);
  if (source === undefined) {
    throw new ChorusError({ code: 'invalid_request', param: '--source', message: `${entry.name} has no ${wanted} source; it has ${entry.sources.map((candidate) => candidate.type).join(', ')}.` });
  }
  return source;
}

function downloadUrl(source: CatalogueSource, index: number): string {
  return source.type === 'archive' ? source.url : `hf://${source.repo}@${source.revision}/${source.files[index]!.path}`;
}

async function download(options: ModelManagerOptions, url: string, path: string, digests: readonly (string | undefined)[], headers: Record<string, string>): Promise<DownloadedFile> {
  const expected = digests.filter((digest): digest is string => digest !== undefined);
  const label = basename(path);
  const file = await downloadFile({
    url,
    path,
    headers,
    sha256: expected,
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (received, total) => options.onProgress?.('download', label, received, total),
  });
  if (!file.verified) {
    options.onNotice?.(`The catalogue has no sha256 for ${url}, so it could not be verified: installed on trust. Its sha256 is ${file.sha256} (${file.bytes} bytes), recorded in the model's manifest.`);
  }
  return file;
}

function extractOptions(options: ModelManagerOptions, label: string): { signal?: AbortSignal; onBytes: (bytes: number) => void } {
  return { ...(options.signal ? { signal: options.signal } : {}), onBytes: (bytes) => options.onProgress?.('extract', label, bytes, undefined) };
}

/** An imported tarball that a catalogue entry describes is checked against the entry's digest; a mismatch is reported, not refused (it may be a deliberate rebuild). */
async function compareWithCatalogue(path: string, entry: CatalogueEntry | undefined, options: ModelManagerOptions): Promise<{ url: string; sha256: string; bytes: number; verified: boolean }> {
  const { sha256, bytes } = await digestFile(path);
  const archive = entry?.sources.find((source) => source.type === 'archive');
  const known = archive?.type === 'archive' ? [archive.sha256, ...(archive.previousSha256 ?? [])].filter((digest) => digest !== undefined) : [];
  const verified = known.includes(sha256);
  if (known.length > 0 && !verified) options.onNotice?.(`${path} has sha256 ${sha256}, not the catalogue's ${known.join(' or ')} for ${entry!.name}: installed as given, marked unverified.`);
  return { url: `file://${path}`, sha256, bytes, verified };
}

/** A directory-safe model name: lower case, `[a-z0-9._-]`, as the manifest requires. */
function modelName(raw: string): string {
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 100);
  if (name === '') throw new ChorusError({ code: 'invalid_request', param: '--name', message: `Cannot make a model name from '${raw}'; give --name.` });
  return name;
}
