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

/**
 * The 503 a client gets. Where Redis is (host and port) is for the operator: it goes in the cause,
 * which the server logs, never in the message, which the client reads. Without a `cause` the
 * deadline passed: the command was sent and may still be carried out when Redis answers.
 */
function storeUnavailable(url: string, cause?: unknown): ChorusError {
  // Credentials in the URL stay out of the log too.
  const where = url.replace(/\/\/[^@/]*@/, '//');
  const reason = cause === undefined ? `no answer within ${REDIS_DEADLINE_MS} ms` : cause instanceof Error ? cause.message : String(cause);
  return new ChorusError({
    code: 'store_unavailable',
    retryable: true,
    message:
      cause === undefined
        ? `Redis (CHORUS_REDIS_URL) cannot be reached: no answer within ${REDIS_DEADLINE_MS / 1000} s. Retry shortly.`
        : 'Redis (CHORUS_REDIS_URL) cannot be reached; nothing was queued or changed. Retry shortly.',
    cause: new Error(`Redis at ${where}: ${reason}`, cause === undefined ? undefined : { cause }),
  });
}

/**
 * Redis servers (by URL) that let a command pass the deadline without answering (a stalled host, a
 * paused process): the connection looks healthy, so without this every later call would wait the
 * whole deadline again. Until that command settles, calls to the same Redis fail at once.
 */
const stalled = new Set<string>();

/** Resolves when `client` is connected; rejects with `store_unavailable` after `timeoutMs`. */
export function connected(client: Redis, url: string, timeoutMs = REDIS_DEADLINE_MS): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return guardRedis(new Promise<void>((resolve) => client.once('ready', () => resolve())), url, timeoutMs);
}

/**
 * Runs `work` once `client` is connected (commands are not queued while it is not), with Redis
 * failures and a silence longer than the deadline turned into `store_unavailable`. After one such
 * silence, calls to the same Redis fail at once until Redis answers again: one deadline per outage.
 */
export async function whenConnected<T>(client: Redis, url: string, work: () => Promise<T>): Promise<T> {
  if (stalled.has(url)) throw storeUnavailable(url, new Error('an earlier command is still unanswered'));
  await connected(client, url);
  return answeredInTime(url, work);
}

/**
 * The same for what can do without Redis (the result cache, rate limits): while the client is not
 * connected it fails at once instead of waiting for the connection.
 */
export async function ifConnected<T>(client: Redis, url: string, work: () => Promise<T>): Promise<T> {
  if (client.status !== 'ready') throw storeUnavailable(url, new Error(`not connected (${client.status})`));
  return answeredInTime(url, work);
}

function answeredInTime<T>(url: string, work: () => Promise<T>): Promise<T> {
  if (stalled.has(url)) return Promise.reject(storeUnavailable(url, new Error('an earlier command is still unanswered')));
  const pending = work();
  return guardRedis(pending, url, REDIS_DEADLINE_MS, () => {
    stalled.add(url);
    const answered = (): void => void stalled.delete(url);
    pending.then(answered, answered);
  });
}

/**
 * `work`, with Redis failures and a silence longer than `timeoutMs` turned into `store_unavailable`;
 * `onDeadline` is told when it was the silence.
 */
export function guardRedis<T>(work: Promise<T>, url: string, timeoutMs = REDIS_DEADLINE_MS, onDeadline?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onDeadline?.();
      reject(storeUnavailable(url));
    }, timeoutMs);
    timer.unref();
  });
  return Promise.race([work, deadline])
    .catch((error: unknown) => {
      throw ChorusError.isInstance(error) ? error : storeUnavailable(url, error);
    })
    .finally(() => clearTimeout(timer));
}
