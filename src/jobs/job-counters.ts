import type { JobCounts } from './job-queue.js';

/**
 * Lifetime counts of job endings, kept per endpoint and owner (an API key's digest), so `/health`
 * shows a key its own jobs only. Both queues store them as `endpoint:owner:name` → count.
 */
export const COUNTER_NAMES = ['completed', 'failed', 'cancelled', 'timed-out', 'retried'] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

/** Everything before the counter's name: the queues' scripts append the name themselves. */
export function counterPrefix(endpointId: string, owner: string): string {
  return `${endpointId}:${owner}:`;
}

export function counterKey(endpointId: string, owner: string, name: CounterName): string {
  return `${counterPrefix(endpointId, owner)}${name}`;
}

/**
 * Sums stored counters for one endpoint and owner (either left out: all of them). A key is read
 * from the right: the name, then the owner (a hex digest or '', never holding ':'), then the
 * endpoint id (which may). Keys written before counters had owners (`endpoint:name`) count as
 * the owner '' (the owner of every job of a server without keys).
 */
export function sumCounters(entries: Iterable<readonly [string, number]>, endpointId?: string, owner?: string): Omit<JobCounts, 'queued' | 'running'> {
  const totals: Record<CounterName, number> = { completed: 0, failed: 0, cancelled: 0, 'timed-out': 0, retried: 0 };
  for (const [key, value] of entries) {
    const nameAt = key.lastIndexOf(':');
    const name = key.slice(nameAt + 1);
    if (nameAt < 0 || !(COUNTER_NAMES as readonly string[]).includes(name)) continue;
    const rest = key.slice(0, nameAt);
    const ownerAt = rest.lastIndexOf(':');
    const keyEndpoint = ownerAt < 0 ? rest : rest.slice(0, ownerAt);
    const keyOwner = ownerAt < 0 ? '' : rest.slice(ownerAt + 1);
    if (endpointId !== undefined && keyEndpoint !== endpointId) continue;
    if (owner !== undefined && keyOwner !== owner) continue;
    totals[name as CounterName] += value;
  }
  return { completed: totals.completed, failed: totals.failed, cancelled: totals.cancelled, timedOut: totals['timed-out'], retried: totals.retried };
}
