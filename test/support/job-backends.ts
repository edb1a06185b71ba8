import { startTestRedis, type TestRedis } from './redis.js';

/** A queue backend the job-API suites run against: the environment that selects it for a test server. */
export interface JobBackend {
  readonly name: string;
  env(): Promise<Record<string, string>>;
}

let redis: Promise<TestRedis> | undefined;
let servers = 0;

/**
 * Every job-API suite runs once per backend: the embedded SQLite queue, and Redis (BullMQ) on a
 * real redis-server started on first use (one per test file, a key prefix per server).
 */
export const JOB_BACKENDS: readonly JobBackend[] = [
  { name: 'embedded SQLite queue', env: async () => ({}) },
  {
    name: 'Redis (BullMQ) queue',
    async env() {
      redis ??= startTestRedis();
      return { CHORUS_REDIS_URL: (await redis).url, CHORUS_REDIS_PREFIX: `server${++servers}` };
    },
  },
];

/** Stops the Redis server, if a suite started one. */
export async function stopJobBackends(): Promise<void> {
  const started = redis;
  redis = undefined;
  if (started !== undefined) await (await started).close();
}
