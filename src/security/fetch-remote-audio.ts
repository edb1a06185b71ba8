import type { S3Client } from '@aws-sdk/client-s3';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { ChorusError } from '../errors.js';
import { resolvePublicUrl, type ResolvedAddress } from './address-policy.js';

export interface RemoteFetchOptions {
  /** The request field the URL came from; every error names it. */
  readonly param: string;
  readonly allowPrivate: boolean;
  readonly maxBytes: number;
  /** Whole fetch, redirects included. */
  readonly timeoutMs?: number;
  readonly maxRedirects?: number;
  readonly signal?: AbortSignal;
  /** Reads `s3://bucket/key` URLs; absent when S3 is not configured. */
  readonly s3Client?: S3Client;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Downloads a user-supplied URL safely: https only (http when private URLs are allowed), every
 * address the host resolves to checked by the address policy, the connection pinned to a checked
 * address (no DNS-rebinding window), at most 3 redirects each checked again, a size limit enforced
 * while streaming and a time limit. `s3://bucket/key` is read with the configured S3 credentials.
 */
export async function fetchRemoteBytes(url: string, options: RemoteFetchOptions): Promise<Uint8Array> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
  const fail = (message: string, cause?: unknown) =>
    new ChorusError({ code: 'invalid_request', param: options.param, message: `'${options.param}' ${message}`, cause });
  try {
    if (url.startsWith('s3://')) return await fetchS3(url, options, signal, fail);
    let current: URL;
    try {
      current = new URL(url);
    } catch {
      throw fail('is not a valid URL.');
    }
    const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    for (let hop = 0; ; hop++) {
      const addresses = await resolvePublicUrl(current, { allowPrivate: options.allowPrivate, param: options.param });
      const response = await getFirstReachable(current, addresses, signal);
      if (REDIRECTS.has(response.statusCode ?? 0)) {
        response.resume();
        const location = response.headers.location;
        if (location === undefined) throw fail(`answered a redirect (HTTP ${response.statusCode}) without a Location.`);
        if (hop >= maxRedirects) throw fail(`redirected more than ${maxRedirects} times.`);
        current = new URL(location, current);
        continue;
      }
      if ((response.statusCode ?? 0) < 200 || (response.statusCode ?? 0) >= 300) {
        response.resume();
        throw fail(`could not be downloaded: the server answered HTTP ${response.statusCode}.`);
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        response.destroy();
        throw fail(`is too large: ${declared} bytes, the limit is ${options.maxBytes} (CHORUS_MAX_PROMPT_AUDIO_BYTES).`);
      }
      return await readLimited(response, options.maxBytes, () =>
        fail(`is too large: more than ${options.maxBytes} bytes (CHORUS_MAX_PROMPT_AUDIO_BYTES).`),
      );
    }
  } catch (error) {
    if (ChorusError.isInstance(error)) throw error;
    if (timeout.aborted) throw fail(`could not be downloaded within ${timeoutMs / 1000} s.`, error);
    if (options.signal?.aborted) throw new ChorusError({ code: 'aborted', message: 'The job was stopped.' });
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(`could not be downloaded: ${code ?? (error instanceof Error ? error.message : String(error))}.`, error);
  }
}

/** Tries the checked addresses in order (an unreachable IPv6 falls back to IPv4); the last error stands. */
async function getFirstReachable(url: URL, addresses: readonly ResolvedAddress[], signal: AbortSignal): Promise<IncomingMessage> {
  let lastError: unknown;
  for (const address of addresses) {
    try {
      return await get(url, address, signal);
    } catch (error) {
      lastError = error;
      const code = (error as NodeJS.ErrnoException).code;
      if (signal.aborted || !['ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL'].includes(code ?? '')) throw error;
    }
  }
  throw lastError;
}

/** One GET to a URL, connected to the given (already checked) address whatever DNS says now. */
function get(url: URL, pinned: ResolvedAddress, signal: AbortSignal): Promise<IncomingMessage> {
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, [pinned]);
    } else callback(null, pinned.address, pinned.family);
  };
  const requestOptions: RequestOptions = {
    method: 'GET',
    lookup,
    signal,
    headers: { accept: 'audio/*, application/octet-stream;q=0.9, */*;q=0.5', 'user-agent': 'chorus' },
  };
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, requestOptions, resolve);
    request.once('error', reject);
    request.end();
  });
}

async function readLimited(stream: AsyncIterable<Uint8Array> & { destroy?: () => void }, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      stream.destroy?.();
      throw tooLarge();
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  const bytes = Buffer.concat(chunks, total);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function fetchS3(url: string, options: RemoteFetchOptions, signal: AbortSignal, fail: (message: string, cause?: unknown) => ChorusError): Promise<Uint8Array> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (match === null) throw fail('must look like s3://bucket/key.');
  if (options.s3Client === undefined) {
    throw fail('is an s3:// URL, but S3 is not configured on this server (set CHORUS_S3_ENDPOINT/CHORUS_S3_REGION and credentials), so it cannot be read; send an https:// URL instead.');
  }
  const [, bucket, key] = match as unknown as [string, string, string];
  // The S3 SDK loads on first use: most servers never read s3:// URLs, and it is a sixth of start-up.
  const [{ GetObjectCommand }, { isNotFound }] = await Promise.all([import('@aws-sdk/client-s3'), import('../storage/s3-blob-store.js')]);
  try {
    const object = await options.s3Client.send(new GetObjectCommand({ Bucket: bucket, Key: decodeURIComponent(key) }), { abortSignal: signal });
    if (object.ContentLength !== undefined && object.ContentLength > options.maxBytes) {
      (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw fail(`is too large: ${object.ContentLength} bytes, the limit is ${options.maxBytes} (CHORUS_MAX_PROMPT_AUDIO_BYTES).`);
    }
    if (object.Body === undefined) throw fail('names an empty object.');
    return await readLimited(object.Body as unknown as AsyncIterable<Uint8Array> & { destroy?: () => void }, options.maxBytes, () =>
      fail(`is too large: more than ${options.maxBytes} bytes (CHORUS_MAX_PROMPT_AUDIO_BYTES).`),
    );
  } catch (error) {
    if (ChorusError.isInstance(error)) throw error;
    if (isNotFound(error)) throw fail(`names an object that does not exist (${url}).`, error);
    throw fail(`could not be read from S3: ${(error as Error).name}: ${(error as Error).message}`, error);
  }
}

export { sniffAudioFormat, type DecodedAudio } from '../audio/decode-audio.js';
/** Decodes reference audio and checks it holds usable sound; errors name the field. */
export { decodeAudioBytes as decodeReferenceAudio } from '../audio/decode-audio.js';
