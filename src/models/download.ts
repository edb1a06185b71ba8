import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChorusError } from '../errors.js';

export interface DownloadRequest {
  readonly url: string;
  /** Where the finished file is; while it downloads it is `<path>.partial` (kept for resuming). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Accepted digests; empty = none known (the digest is computed and returned, not checked). */
  readonly sha256: readonly string[];
  readonly signal?: AbortSignal;
  /** Bytes on disk so far, and the whole size when the server said it. */
  readonly onProgress?: (received: number, total: number | undefined) => void;
  /** Reconnects after a cut connection or a 5xx, each resuming where the last stopped. */
  readonly attempts?: number;
}

export interface DownloadedFile {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  /** The digest matched one the catalogue gave (false: there was none to match). */
  readonly verified: boolean;
}

/** Kept beside a `.partial` so a resume only appends to bytes of the same file. */
interface PartialInfo {
  readonly url: string;
  readonly etag?: string;
}

/**
 * Downloads `url` to `path`, resuming a `.partial` left by an earlier, interrupted attempt with an
 * HTTP Range request, and checks its sha256. A wrong digest deletes the partial file: resuming it
 * could only give the same wrong bytes.
 */
export async function downloadFile(request: DownloadRequest): Promise<DownloadedFile> {
  const partial = `${request.path}.partial`;
  const finished = await checkFinished(request);
  if (finished !== undefined) return finished;
  const infoPath = `${partial}.json`;
  let info = await readPartialInfo(infoPath);
  if (info?.url !== request.url) {
    await rm(partial, { force: true });
    info = { url: request.url };
    await writeFile(infoPath, JSON.stringify(info));
  }
  const attempts = request.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    request.signal?.throwIfAborted();
    const outcome = await downloadOnce(request, partial, info);
    if (outcome.etag !== undefined && outcome.etag !== info.etag) {
      info = { ...info, etag: outcome.etag };
      await writeFile(infoPath, JSON.stringify(info));
    }
    if (outcome.complete) break;
    if (attempt >= attempts) {
      const kept = await sizeOf(partial);
      throw new ChorusError({
        code: 'download_failed',
        detail: 'download_interrupted',
        retryable: true,
        message: `Downloading ${request.url} failed ${attempts} times (${outcome.reason}). ${kept > 0 ? `The ${kept} bytes that arrived are kept; run the same command again to resume.` : 'Nothing arrived; check the network or the URL.'}`,
      });
    }
    // A connection cut after progress is retried at once; a failing server gets a pause.
    if (!outcome.progressed) await sleep(Math.min(8000, 500 * 2 ** attempt), undefined, request.signal ? { signal: request.signal } : undefined);
  }
  const { sha256, bytes } = await digestFile(partial);
  if (request.sha256.length > 0 && !request.sha256.includes(sha256)) {
    await rm(partial, { force: true });
    await rm(infoPath, { force: true });
    throw new ChorusError({
      code: 'download_failed',
      detail: 'checksum_mismatch',
      message: `${request.url} has sha256 ${sha256} (${bytes} bytes), but the catalogue expects ${request.sha256.join(' or ')}. The download was deleted and nothing was installed.`,
    });
  }
  await rename(partial, request.path);
  await rm(infoPath, { force: true });
  return { path: request.path, sha256, bytes, verified: request.sha256.length > 0 };
}

/** A file an earlier pull finished downloading but did not install (it failed later): used again if its digest still fits. */
async function checkFinished(request: DownloadRequest): Promise<DownloadedFile | undefined> {
  if ((await sizeOf(request.path)) === 0) return undefined;
  const { sha256, bytes } = await digestFile(request.path);
  if (request.sha256.length > 0 && !request.sha256.includes(sha256)) {
    await rm(request.path, { force: true });
    return undefined;
  }
  return { path: request.path, sha256, bytes, verified: request.sha256.length > 0 };
}

interface Outcome {
  readonly complete: boolean;
  readonly progressed: boolean;
  readonly reason: string;
  readonly etag?: string | undefined;
}

async function downloadOnce(request: DownloadRequest, partial: string, info: PartialInfo): Promise<Outcome> {
  const have = await sizeOf(partial);
  const headers: Record<string, string> = { 'user-agent': 'chorus-model-manager', ...request.headers };
  if (have > 0) {
    headers['range'] = `bytes=${have}-`;
    // The server sends the whole file instead of the rest when it changed since the partial began.
    if (info.etag !== undefined) headers['if-range'] = info.etag;
  }
  let response: Response;
  try {
    response = await fetch(request.url, { headers, redirect: 'follow', ...(request.signal ? { signal: request.signal } : {}) });
  } catch (error) {
    request.signal?.throwIfAborted();
    return { complete: false, progressed: false, reason: describe(error) };
  }
  const etag = response.headers.get('etag') ?? undefined;
  if (response.status === 416 && have > 0) {
    await response.body?.cancel();
    const total = /\*\/(\d+)/.exec(response.headers.get('content-range') ?? '')?.[1];
    if (total !== undefined && Number(total) === have) return { complete: true, progressed: false, reason: 'already complete', etag };
    await rm(partial, { force: true });
    return { complete: false, progressed: true, reason: 'the server refused to resume; starting again', etag };
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    const reason = `HTTP ${response.status} from ${response.url || request.url}`;
    if (response.status >= 500 || response.status === 429) return { complete: false, progressed: false, reason, etag };
    const hint = response.status === 401 || response.status === 403 ? ' (a gated or private Hugging Face repository needs HF_TOKEN)' : '';
    throw new ChorusError({ code: 'download_failed', message: `Cannot download ${request.url}: ${reason}${hint}.` });
  }
  let start = 0;
  let total = numberOrUndefined(response.headers.get('content-length'));
  if (response.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    if (range === null || Number(range[1]) !== have) {
      await response.body?.cancel();
      await rm(partial, { force: true });
      return { complete: false, progressed: true, reason: 'the server answered a different range; starting again', etag };
    }
    start = have;
    total = range[3] === '*' ? undefined : Number(range[3]);
  } else if (have > 0) {
    await truncate(partial, 0);
  }
  const file = createWriteStream(partial, { flags: start > 0 ? 'a' : 'w' });
  let received = start;
  let failure: unknown;
  try {
    for await (const chunk of response.body ?? []) {
      received += (chunk as Uint8Array).length;
      if (!file.write(chunk)) await once(file, 'drain');
      request.onProgress?.(received, total);
    }
  } catch (error) {
    failure = error;
  } finally {
    await new Promise<void>((resolve) => file.end(() => resolve()));
  }
  request.signal?.throwIfAborted();
  const progressed = received > start;
  if (failure !== undefined) return { complete: false, progressed, reason: `connection lost after ${received} bytes: ${describe(failure)}`, etag };
  if (total !== undefined && received < total) return { complete: false, progressed, reason: `connection closed after ${received} of ${total} bytes`, etag };
  return { complete: true, progressed, reason: 'done', etag };
}

async function readPartialInfo(path: string): Promise<PartialInfo | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as PartialInfo;
    return typeof parsed.url === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** sha256 of a file on disk, read once more after the download rather than carried across resumes. */
export async function digestFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

function numberOrUndefined(value: string | null): number | undefined {
  const number = Number(value ?? Number.NaN);
  return Number.isFinite(number) && value !== null && value !== '' ? number : undefined;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
