import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { join } from 'node:path';
import { resolvePublicUrl, type ResolvedAddress } from '../security/address-policy.js';
import type { Logger } from '../util/logger.js';
import type { JobRecord } from './job.js';

export interface WebhookSenderOptions {
  /** Standard Webhooks secret, `whsec_<base64>`; the decoded bytes are the HMAC key. */
  readonly secret: string;
  /** The body POSTed for a job (RunPod's /status object, as JSON bytes). */
  readonly bodyOf: (job: JobRecord) => Promise<Uint8Array>;
  /** Lets webhooks reach private and loopback addresses (tests, closed networks). */
  readonly allowPrivate: boolean;
  readonly logger: Logger;
  /** Wait between attempts, ms (RunPod: 10 s). */
  readonly retryDelayMs?: number;
  /** Per-attempt time limit, ms. */
  readonly timeoutMs?: number;
  /** Attempts in all (RunPod: the first and two retries). */
  readonly attempts?: number;
  readonly userAgent?: string;
}

/** How one delivery ended, for logs and tests. */
export interface DeliveryResult {
  readonly jobId: string;
  readonly messageId: string;
  readonly delivered: boolean;
  readonly attempts: number;
  readonly lastStatus?: number;
  readonly lastError?: string;
}

const SECRET_PREFIX = 'whsec_';
const REMEMBERED = 10_000;

/**
 * Delivers each job's terminal state to its `webhook`, signed with the Standard Webhooks scheme
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`). Best effort
 * and in-process: a receiver that does not answer 2xx gets two more attempts; nothing here ever
 * throws into the caller or blocks job processing, and a process restart forgets pending retries.
 */
export class WebhookSender {
  readonly #options: WebhookSenderOptions;
  readonly #key: Buffer;
  /** Terminal transitions already handed over, so a job is delivered once per terminal state. */
  readonly #seen = new Set<string>();
  readonly #inFlight = new Set<Promise<DeliveryResult>>();
  readonly #closing = new AbortController();

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
    this.#key = decodeSecret(options.secret);
  }

  /**
   * Starts delivering `job` (terminal, with a webhook) in the background. Returns the delivery, or
   * undefined when there is nothing to send or this terminal state was already handed over.
   */
  deliver(job: JobRecord): Promise<DeliveryResult> | undefined {
    try {
      if (job.webhook === undefined || this.#closing.signal.aborted) return undefined;
      const transition = `${job.id}\n${job.state}\n${job.finishedAt ?? ''}`;
      if (this.#seen.has(transition)) return undefined;
      this.#seen.add(transition);
      if (this.#seen.size > REMEMBERED) this.#seen.delete(this.#seen.values().next().value!);
      // Same id for every attempt of one message, and for the same transition seen twice.
      const messageId = `msg_${createHash('sha256').update(transition).digest('base64url').slice(0, 27)}`;
      const url = job.webhook;
      const delivery = this.#options.bodyOf(job).then(
        (body) => this.#send(job.id, url, messageId, body),
        (error: unknown): DeliveryResult => {
          this.#options.logger.error('webhook not sent', { job: job.id, error: String(error) });
          return { jobId: job.id, messageId, delivered: false, attempts: 0, lastError: String(error) };
        },
      );
      this.#inFlight.add(delivery);
      void delivery.finally(() => this.#inFlight.delete(delivery));
      return delivery;
    } catch (error) {
      this.#options.logger.error('webhook not sent', { job: job.id, error: String(error) });
      return undefined;
    }
  }

  /** Resolves when every delivery under way has ended. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Abandons pending retries and attempts under way. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.idle();
  }

  /** The `webhook-signature` value for one message. */
  sign(messageId: string, timestampSeconds: number, body: string | Uint8Array): string {
    return signWebhook(this.#key, messageId, timestampSeconds, body);
  }

  async #send(jobId: string, url: string, messageId: string, body: Uint8Array): Promise<DeliveryResult> {
    const { logger } = this.#options;
    const attempts = this.#options.attempts ?? 3;
    let lastStatus: number | undefined;
    let lastError: string | undefined;
    // Attempts made: fewer than `attempts` when a shutdown abandons the retries.
    let made = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1 && !(await sleep(this.#options.retryDelayMs ?? 10_000, this.#closing.signal))) break;
      made = attempt;
      lastStatus = undefined;
      lastError = undefined;
      try {
        lastStatus = await this.#post(url, messageId, body);
        if (lastStatus >= 200 && lastStatus < 300) {
          logger.info('webhook delivered', { job: jobId, message: messageId, attempt, status: lastStatus });
          return { jobId, messageId, delivered: true, attempts: attempt, lastStatus };
        }
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
      logger.warn('webhook attempt failed', {
        job: jobId,
        message: messageId,
        attempt,
        ...(lastStatus === undefined ? {} : { status: lastStatus }),
        ...(lastError === undefined ? {} : { error: lastError }),
        retrying: attempt < attempts && !this.#closing.signal.aborted,
      });
      if (this.#closing.signal.aborted) break;
    }
    return {
      jobId,
      messageId,
      delivered: false,
      attempts: made,
      ...(lastStatus === undefined ? {} : { lastStatus }),
      ...(lastError === undefined ? {} : { lastError }),
    };
  }

  /** One signed POST; resolves with the status code. The address is checked again on every attempt. */
  async #post(url: string, messageId: string, body: Uint8Array): Promise<number> {
    // DNS may have changed since submission: resolve and check now, then connect to exactly those addresses.
    const addresses = await resolvePublicUrl(url, { allowPrivate: this.#options.allowPrivate, param: 'webhook' });
    const target = new URL(url);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': this.#options.userAgent ?? 'Chorus-Webhooks',
      'webhook-id': messageId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': this.sign(messageId, timestamp, body),
    };
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(this.#options.timeoutMs ?? 10_000)]);
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<number>((resolve, reject) => {
      const request = client.request(
        target,
        { method: 'POST', headers, agent: false, lookup: pinnedLookup(addresses), signal },
        (response) => {
          // Only the status matters; the body is read and dropped (bounded by the attempt's timeout).
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      request.on('error', (error) => reject(signal.aborted && !this.#closing.signal.aborted ? new Error('timed out') : error));
      request.end(body);
    });
  }
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, the Standard Webhooks signature. */
export function signWebhook(key: Buffer, messageId: string, timestampSeconds: number, body: string | Uint8Array): string {
  const mac = createHmac('sha256', key).update(`${messageId}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

export function decodeSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length < 16) throw new Error('The webhook secret must be whsec_ followed by the base64 of at least 16 bytes.');
  return key;
}

export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** Where the generated secret is kept when CHORUS_WEBHOOK_SECRET is not set. */
export function webhookSecretPath(dataDir: string): string {
  return join(dataDir, 'webhook-secret');
}

/**
 * The configured secret, or the one kept in the data directory, generating and saving it (mode
 * 0600) the first time. Two processes starting at once agree: the file is created exclusively.
 */
export function loadWebhookSecret(configured: string | undefined, dataDir: string): { secret: string; source: 'config' | 'file' | 'generated'; path: string } {
  const path = webhookSecretPath(dataDir);
  if (configured !== undefined) return { secret: configured, source: 'config', path };
  try {
    return { secret: readSecretFile(path), source: 'file', path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = generateWebhookSecret();
  try {
    writeFileSync(path, `${secret}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { secret: readSecretFile(path), source: 'file', path };
    throw error;
  }
  return { secret, source: 'generated', path };
}

function readSecretFile(path: string): string {
  const secret = readFileSync(path, 'utf8').trim();
  decodeSecret(secret);
  return secret;
}

/** A `lookup` that answers with the addresses already checked, so the connection cannot be rebound. */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return ((_hostname: string, options: { family?: number | string; all?: boolean }, callback: (...args: unknown[]) => void) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
    const usable = addresses.filter((entry) => family === 0 || entry.family === family);
    if (usable.length === 0) {
      callback(Object.assign(new Error('no checked address of the requested family'), { code: 'ENOTFOUND' }));
    } else if (options.all === true) {
      callback(null, usable.map((entry) => ({ address: entry.address, family: entry.family })));
    } else {
      callback(null, usable[0]!.address, usable[0]!.family);
    }
  }) as unknown as LookupFunction;
}

/** Waits `ms`; false when `signal` aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
