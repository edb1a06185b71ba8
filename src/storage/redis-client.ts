import { Redis } from 'ioredis';
import { ChorusError } from '../errors.js';

/** Longest an API request waits for Redis before answering `store_unavailable` (503). */
const REDIS_DEADLINE_MS = 5000;

/**
 * A client for request-path commands: they fail at once while Redis is unreachable (rather than
 * wait in ioredis's offline queue), so a request answers 503 instead of hanging, and the client
 * keeps reconnecting in the background. Connection errors are reported through the commands.
 */
export function commandClient(url: string): Redis {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

/** A client that waits through outages (subscriptions, BullMQ's blocking connections). */
export function patientClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  return client;
}

function storeUnavailable(url: string, cause?: unknown): ChorusError {
  // Credentials in the URL stay out of messages.
  const where = url.replace(/\/\/[^@/]*@/, '//');
  return new ChorusError({
    code: 'store_unavailable',
    retryable: true,
    message: `Redis at ${where} cannot be reached; nothing was queued or changed. Retry shortly.`,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Resolves when `client` is connected; rejects with `store_unavailable` after `timeoutMs`. */
export function connected(client: Redis, url: string, timeoutMs = REDIS_DEADLINE_MS): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return guardRedis(new Promise<void>((resolve) => client.once('ready', () => resolve())), url, timeoutMs);
}

/**
 * Runs `work` once `client` is connected (commands are not queued while it is not), with Redis
 * failures and a silence longer than the deadline turned into `store_unavailable`.
 */
export async function whenConnected<T>(client: Redis, url: string, work: () => Promise<T>): Promise<T> {
  await connected(client, url);
  return guardRedis(work(), url);
}

/** `work`, with Redis failures and a silence longer than `timeoutMs` turned into `store_unavailable`. */
export function guardRedis<T>(work: Promise<T>, url: string, timeoutMs = REDIS_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(storeUnavailable(url)), timeoutMs);
    timer.unref();
  });
  return Promise.race([work, deadline])
    .catch((error: unknown) => {
      throw ChorusError.isInstance(error) ? error : storeUnavailable(url, error);
    })
    .finally(() => clearTimeout(timer));
}
