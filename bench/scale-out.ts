/**
 * Figure 11: scale-out on Redis.
 *
 *   a. Throughput of 100 queued jobs (chatterbox-v2 tts, 100 words each) submitted through one API
 *      process and run by 1, 2 and 4 worker processes (one engine thread each) sharing one redis-server.
 *      Rounds alternate the configurations; each configuration's processes are started fresh.
 *   b. Added latency of the Redis path for a short job: `/runsync` of one sentence on a single process
 *      (`--role all`) with the embedded SQLite queue against the same with CHORUS_REDIS_URL, alternating.
 * The result cache is off everywhere, so every job is synthesised.
 */
import { startTestRedis, type TestRedis } from '../test/support/redis.js';
import { fmtSummary, jsonRequest, log, markdownTable, median, now, summarize, type ServerMode, type ServerProcess, startServerProcess } from './support.js';
import { wordWindowTexts } from './texts.js';

export const SCALE_ROUNDS = 3;
export const LATENCY_ROUNDS = 30;
const JOBS = 100;
/** A paragraph per job (as figure 3's load), so synthesis rather than the per-job HTTP and JSON work dominates. */
const JOB_WORDS = 100;
const WORKER_COUNTS = [1, 2, 4] as const;
const GOAL_SCALING = 1.7;
const GOAL_ADDED_MS = 5;

export interface ScaleOutResult {
  /** Jobs per second, per worker count, one value per round. */
  readonly jobsPerSec: Map<number, number[]>;
  readonly embeddedMs: number[];
  readonly redisMs: number[];
  readonly skipped?: string;
}

async function redisOrReason(): Promise<TestRedis | string> {
  try {
    return await startTestRedis();
  } catch (error) {
    return `redis-server could not be started (${(error as Error).message.split('\n')[0]})`;
  }
}

/** Submits `JOBS` jobs through `api` and waits until all completed; jobs per second from first submit to last completion. */
async function runLoad(api: ServerProcess, round: number): Promise<number> {
  const texts = wordWindowTexts(JOBS, round, JOB_WORDS);
  const started = now();
  const ids = await Promise.all(
    texts.map(async (text) => {
      const { json } = await jsonRequest(api.url, '/v2/chatterbox-v2/run', { body: { input: { operation: 'tts', mode: 'basic', text } } });
      return String(json['id']);
    }),
  );
  for (const id of ids) {
    for (;;) {
      const { json } = await jsonRequest(api.url, `/v2/chatterbox-v2/status-sync/${id}?wait=30000`, { method: 'GET' });
      if (json['status'] === 'COMPLETED') break;
      if (json['status'] !== 'IN_QUEUE' && json['status'] !== 'IN_PROGRESS') throw new Error(`figure 11: job ${id} ended ${String(json['status'])}`);
    }
  }
  return JOBS / ((now() - started) / 1000);
}

export async function measureScaleOut(mode: ServerMode): Promise<ScaleOutResult> {
  const jobsPerSec = new Map<number, number[]>(WORKER_COUNTS.map((count) => [count, []]));
  const redis = await redisOrReason();
  if (typeof redis === 'string') return { jobsPerSec, embeddedMs: [], redisMs: [], skipped: redis };
  let prefix = 0;
  const shared = () => ({ CHORUS_REDIS_URL: redis.url, CHORUS_REDIS_PREFIX: `bench${++prefix}`, CACHE_ENABLED: 'false' });
  try {
    // ---- a. throughput with 1, 2, 4 worker processes
    for (let round = 0; round < SCALE_ROUNDS; round++) {
      const order = round % 2 === 0 ? [...WORKER_COUNTS] : [...WORKER_COUNTS].reverse();
      for (const count of order) {
        const env = shared();
        const api = await startServerProcess({ workers: 1, mode, label: 'API process', env: { ...env, CHORUS_ROLE: 'api' } });
        const workers = await Promise.all(
          Array.from({ length: count }, (_, i) => startServerProcess({ workers: 1, mode, label: `worker process ${i + 1}`, env: { ...env, CHORUS_ROLE: 'worker' } })),
        );
        try {
          const rate = await runLoad(api, round);
          jobsPerSec.get(count)!.push(rate);
          log(`figure 11: round ${round + 1}/${SCALE_ROUNDS}: ${count} worker process(es): ${rate.toFixed(1)} jobs/s`);
        } finally {
          await Promise.all([api, ...workers].map((server) => server.stop()));
        }
      }
    }

    // ---- b. added latency of the Redis path
    const embedded = await startServerProcess({ workers: 1, mode, label: 'embedded queue', env: { CACHE_ENABLED: 'false' } });
    const onRedis = await startServerProcess({ workers: 1, mode, label: 'Redis queue', env: shared() });
    const embeddedMs: number[] = [];
    const redisMs: number[] = [];
    try {
      const runsync = async (server: ServerProcess) => {
        const { ms, json } = await jsonRequest(server.url, '/v2/chatterbox-v2/runsync', { body: { input: { operation: 'tts', mode: 'basic', text: 'A short job.' } } });
        if (json['status'] !== 'COMPLETED') throw new Error(`figure 11: runsync ${String(json['status'])}`);
        return ms;
      };
      for (const server of [embedded, onRedis]) for (let i = 0; i < 3; i++) await runsync(server);
      for (let round = 0; round < LATENCY_ROUNDS; round++) {
        if (round % 2 === 0) {
          embeddedMs.push(await runsync(embedded));
          redisMs.push(await runsync(onRedis));
        } else {
          redisMs.push(await runsync(onRedis));
          embeddedMs.push(await runsync(embedded));
        }
      }
      log(`figure 11: short job ${median(embeddedMs).toFixed(1)} ms embedded, ${median(redisMs).toFixed(1)} ms on Redis`);
    } finally {
      await embedded.stop();
      await onRedis.stop();
    }
    return { jobsPerSec, embeddedMs, redisMs };
  } finally {
    await redis.close();
  }
}

const signed = (ms: number): string => `${ms >= 0 ? '+' : '−'}${Math.abs(ms).toFixed(1)}`;

export function renderScaleOut(result: ScaleOutResult, cores: number): string {
  const out = ['## 11. Scale-out on Redis', ''];
  if (result.skipped !== undefined) return [...out, `Not measured: ${result.skipped}.`, ''].join('\n');
  const one = median(result.jobsPerSec.get(1)!);
  const rows = WORKER_COUNTS.map((count) => {
    const values = result.jobsPerSec.get(count)!;
    return [`${count} worker process${count === 1 ? '' : 'es'}`, fmtSummary(summarize(values), 1, ' jobs/s'), count === 1 ? 'baseline' : `${(median(values) / one).toFixed(2)}x`];
  });
  const two = median(result.jobsPerSec.get(2)!) / one;
  const added = median(result.redisMs) - median(result.embeddedMs);
  const pairs = result.redisMs.map((ms, i) => ms - result.embeddedMs[i]!);
  return [
    ...out,
    `a. ${JOBS} jobs (chatterbox-v2 \`tts\`, ${JOB_WORDS} words each) submitted at once through one API process (\`--role api\`)`,
    `and run by 1, 2 or 4 worker processes (\`--role worker\`, one engine thread each, two jobs at a time), all on one`,
    `redis-server on this ${cores}-core machine; jobs per second from the first submission to the last completion.`,
    `${SCALE_ROUNDS} rounds, the order of configurations alternating; fresh processes for every run; result cache off.`,
    `**Goal: 2 workers ≥ ${GOAL_SCALING}x of 1.**`,
    '',
    markdownTable(['workers', 'throughput, median [min–max]', 'vs 1 worker'], rows),
    '',
    `- 2 worker processes: ${two.toFixed(2)}x of 1 (goal ≥ ${GOAL_SCALING}x): **${two >= GOAL_SCALING ? 'met' : 'not met'}**. ` +
      `4 processes on ${cores} cores share the same cores, so they add no engine time; they show what the queue costs when workers outnumber cores.`,
    '',
    `b. \`/runsync\` of one short sentence on one process (\`--role all\`, 1 engine thread), with the embedded SQLite queue`,
    `and with CHORUS_REDIS_URL (BullMQ), ${LATENCY_ROUNDS} alternating rounds after warm-up. **Goal: the Redis path adds under ${GOAL_ADDED_MS} ms (median).**`,
    '',
    markdownTable(
      ['queue', '`/runsync`, median [min–max]', ''],
      [
        ['embedded SQLite (baseline)', fmtSummary(summarize(result.embeddedMs), 1, ' ms'), ''],
        ['Redis (BullMQ)', fmtSummary(summarize(result.redisMs), 1, ' ms'), `${signed(added)} ms (per-round pairs: median ${signed(median(pairs))} ms)`],
      ],
    ),
    '',
    `- Added latency: ${signed(added)} ms (goal < ${GOAL_ADDED_MS} ms): **${added < GOAL_ADDED_MS ? 'met' : 'not met'}**.`,
    '',
  ].join('\n');
}
