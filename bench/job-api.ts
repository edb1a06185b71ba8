/**
 * Figure 6 of `npm run bench`: what the RunPod-style job API (`/v2/chatterbox/…`) adds on top of the
 * synthesis itself, measured against `POST /v1/audio/speech` and the HTTP round trip on the same
 * servers, plus job throughput with 1 and 2 worker threads and a repeat answered by the result cache.
 */
import {
  fmtSummary,
  jsonRequest,
  log,
  markdownTable,
  median,
  modelsRequest,
  now,
  rotate,
  speechRequest,
  summarize,
  verdict,
  type ServerProcess,
  type Summary,
} from './support.js';
import { countWords, SENTENCES, thirtyWordTexts } from './texts.js';

/** Rounds of the latency figures (6a, 6b, 6d), all on the 1-worker server, interleaved. */
export const JOB_LATENCY_ROUNDS = 20;
/** Concurrent `/run` jobs per throughput round (6c), and paired rounds (1 worker, 2 workers) after one warm-up each. */
export const JOB_THROUGHPUT_JOBS = 50;
export const JOB_THROUGHPUT_ROUNDS = 4;

export const GOAL_JOB_OVERHEAD_MS = 5;
export const GOAL_SUBMIT_MS = 2;
export const GOAL_CACHE_HIT_MS = 5;
/** The first Chatterbox worker document promises "Cache Hit <500ms". */
export const SEED_CACHE_HIT_MS = 500;

const ENDPOINT = 'chatterbox';
/** The same voice on both APIs: `alloy` is eSpeak's Ashley on the OpenAI route, and `chatterbox` accepts OpenAI names. */
const VOICE = 'alloy';
const STATUS_WAIT_MS = 120_000;

interface JobOutput {
  readonly cache_hit?: unknown;
  readonly duration_ms?: unknown;
}

function completedOutput(json: Record<string, unknown>, what: string): JobOutput {
  if (json['status'] !== 'COMPLETED') throw new Error(`${what}: job ${String(json['id'])} ended ${String(json['status'])}: ${String(json['error'] ?? '')}`);
  const output = json['output'];
  if (typeof output !== 'object' || output === null) throw new Error(`${what}: job ${String(json['id'])} has no output`);
  return output as JobOutput;
}

const jobInput = (text: string): { input: Record<string, unknown> } => ({ input: { text, format: 'wav', voice: VOICE } });

// ---------------------------------------------------------------------------------------------
// 6a, 6b, 6d: latency on the 1-worker server

export interface JobLatencyResult {
  /** `POST /v1/audio/speech`, wav, the round's sentence: the baseline of 6a. */
  readonly speechMs: number[];
  /** `/runsync` of the same sentence (never cached before). */
  readonly runsyncMs: number[];
  /** runsync − speech, per round. */
  readonly overheadMs: number[];
  /** The job's own `delayTime` and `executionTime` as `/runsync` reports them (whole ms). */
  readonly delayMs: number[];
  readonly executionMs: number[];
  /** `/runsync` of that sentence again: answered from the result cache. */
  readonly cacheHitMs: number[];
  readonly cacheHitDelayMs: number[];
  readonly cacheHitExecutionMs: number[];
  /** Body sizes of one round: the wav from the OpenAI route and the `/runsync` JSON (base64 audio). */
  readonly wavBytes: number;
  readonly jsonBytes: number;
  /** `/run`: time to its 200 `{id, status}` answer. */
  readonly submitMs: number[];
  /** `/run` start to the `/status-sync` answer showing COMPLETED. */
  readonly completedMs: number[];
  /** `GET /v1/models`: the HTTP round trip with no synthesis. */
  readonly floorMs: number[];
  /** Median audio length of the sentences, seconds. */
  readonly audioSec: number;
  readonly sentenceWords: number;
}

export async function measureJobLatency(server: ServerProcess): Promise<JobLatencyResult> {
  let counter = 0;
  // Every request gets a text of its own: a sentence plus a number no other request uses.
  const nextText = (index: number): string => `${SENTENCES[index % SENTENCES.length]!} Take ${++counter}.`;
  const speechBody = (input: string) => ({ model: 'tts-1', voice: VOICE, input, response_format: 'wav' });

  const runsync = async (text: string, expectHit: boolean): Promise<{ ms: number; bytes: number; json: Record<string, unknown>; output: JobOutput }> => {
    const result = await jsonRequest(server.url, `/v2/${ENDPOINT}/runsync`, { body: jobInput(text) });
    const output = completedOutput(result.json, '/runsync');
    if (output.cache_hit !== expectHit) throw new Error(`/runsync: cache_hit ${String(output.cache_hit)}, expected ${expectHit}`);
    return { ...result, output };
  };
  const runAndWait = async (text: string): Promise<{ submitMs: number; completedMs: number }> => {
    const start = now();
    const submit = await jsonRequest(server.url, `/v2/${ENDPOINT}/run`, { body: jobInput(text) });
    const submitMs = now() - start;
    if (typeof submit.json['id'] !== 'string' || submit.json['status'] !== 'IN_QUEUE') {
      throw new Error(`/run answered ${JSON.stringify(submit.json)}`);
    }
    const done = await jsonRequest(server.url, `/v2/${ENDPOINT}/status-sync/${submit.json['id']}?wait=${STATUS_WAIT_MS}`);
    const completedMs = now() - start;
    if (completedOutput(done.json, '/run').cache_hit !== false) throw new Error('/run: a fresh text was answered from the cache');
    return { submitMs, completedMs };
  };

  log('figure 6: warm-up');
  await modelsRequest(server.url);
  await speechRequest(server.url, speechBody(nextText(0)));
  const warm = nextText(1);
  await runsync(warm, false);
  await runsync(warm, true);
  await runAndWait(nextText(2));

  const result: JobLatencyResult = {
    speechMs: [],
    runsyncMs: [],
    overheadMs: [],
    delayMs: [],
    executionMs: [],
    cacheHitMs: [],
    cacheHitDelayMs: [],
    cacheHitExecutionMs: [],
    wavBytes: 0,
    jsonBytes: 0,
    submitMs: [],
    completedMs: [],
    floorMs: [],
    audioSec: 0,
    sentenceWords: 0,
  };
  const audio: number[] = [];
  const words: number[] = [];
  const wavBytes: number[] = [];
  const jsonBytes: number[] = [];
  for (let round = 0; round < JOB_LATENCY_ROUNDS; round++) {
    // The OpenAI request bypasses the result cache (no-store), and the job API's cache is keyed apart from
    // it, so both speak the very same text.
    const shared = nextText(round);
    const forRun = nextText(round);
    words.push(countWords(shared));
    let speechMs = Number.NaN;
    let runsyncMs = Number.NaN;
    const steps: (() => Promise<void>)[] = [
      async () => {
        result.floorMs.push(await modelsRequest(server.url));
      },
      async () => {
        const speech = await speechRequest(server.url, speechBody(shared));
        speechMs = speech.ms;
        wavBytes.push(speech.bytes);
      },
      async () => {
        const first = await runsync(shared, false);
        runsyncMs = first.ms;
        result.delayMs.push(Number(first.json['delayTime']));
        result.executionMs.push(Number(first.json['executionTime']));
        audio.push(Number(first.output.duration_ms) / 1000);
        jsonBytes.push(first.bytes);
        // The repeat comes straight after, as a client retrying or a second user asking would.
        const repeat = await runsync(shared, true);
        result.cacheHitMs.push(repeat.ms);
        result.cacheHitDelayMs.push(Number(repeat.json['delayTime']));
        result.cacheHitExecutionMs.push(Number(repeat.json['executionTime']));
      },
      async () => {
        const { submitMs, completedMs } = await runAndWait(forRun);
        result.submitMs.push(submitMs);
        result.completedMs.push(completedMs);
      },
    ];
    for (const step of rotate(steps, round)) await step();
    result.speechMs.push(speechMs);
    result.runsyncMs.push(runsyncMs);
    result.overheadMs.push(runsyncMs - speechMs);
  }
  log(
    `figure 6: runsync ${median(result.runsyncMs).toFixed(1)} ms vs speech ${median(result.speechMs).toFixed(1)} ms, ` +
      `submit ${median(result.submitMs).toFixed(2)} ms, cache hit ${median(result.cacheHitMs).toFixed(2)} ms`,
  );
  return { ...result, audioSec: median(audio), sentenceWords: median(words), wavBytes: median(wavBytes), jsonBytes: median(jsonBytes) };
}

// ---------------------------------------------------------------------------------------------
// 6c: throughput of concurrent /run jobs

export interface JobThroughputResult {
  /** Jobs completed per second, per round. */
  readonly oneJobsPerSec: number[];
  readonly twoJobsPerSec: number[];
  /** Audio seconds per wall second, per round. */
  readonly oneXrt: number[];
  readonly twoXrt: number[];
  /** Audio seconds per round (the same texts on both servers). */
  readonly audioSec: number;
  readonly words: number;
}

/** 50 distinct texts submitted at once with /run, each followed by /status-sync until it is COMPLETED. */
async function jobLoad(server: ServerProcess, round: number, seen: Set<string>): Promise<{ ms: number; audioSec: number }> {
  const texts = thirtyWordTexts(JOB_THROUGHPUT_JOBS, round);
  for (const text of texts) {
    if (seen.has(text)) throw new Error('figure 6: a throughput text repeats, so the result cache would answer it');
    seen.add(text);
  }
  const start = now();
  const outputs = await Promise.all(
    texts.map(async (text) => {
      const submit = await jsonRequest(server.url, `/v2/${ENDPOINT}/run`, { body: jobInput(text) });
      const done = await jsonRequest(server.url, `/v2/${ENDPOINT}/status-sync/${String(submit.json['id'])}?wait=${STATUS_WAIT_MS}`);
      return completedOutput(done.json, `${server.label} /run`);
    }),
  );
  const ms = now() - start;
  if (outputs.some((output) => output.cache_hit !== false)) throw new Error('figure 6: a throughput job was answered from the cache');
  return { ms, audioSec: outputs.reduce((sum, output) => sum + Number(output.duration_ms) / 1000, 0) };
}

export async function measureJobThroughput(one: ServerProcess, two: ServerProcess): Promise<JobThroughputResult> {
  const seen = new Map<ServerProcess, Set<string>>([
    [one, new Set()],
    [two, new Set()],
  ]);
  log('figure 6: throughput warm-up');
  // Round numbers 0..n: the same texts on both servers (each has its own cache), never twice on one.
  await jobLoad(one, 0, seen.get(one)!);
  await jobLoad(two, 0, seen.get(two)!);
  const result = { oneJobsPerSec: [] as number[], twoJobsPerSec: [] as number[], oneXrt: [] as number[], twoXrt: [] as number[], audioSec: 0 };
  for (let round = 1; round <= JOB_THROUGHPUT_ROUNDS; round++) {
    const order: [ServerProcess, number[], number[]][] = [
      [one, result.oneJobsPerSec, result.oneXrt],
      [two, result.twoJobsPerSec, result.twoXrt],
    ];
    for (const [server, jobsPerSec, xrt] of rotate(order, round)) {
      const { ms, audioSec } = await jobLoad(server, round, seen.get(server)!);
      result.audioSec = audioSec;
      jobsPerSec.push(JOB_THROUGHPUT_JOBS / (ms / 1000));
      xrt.push(audioSec / (ms / 1000));
    }
    log(
      `figure 6: throughput round ${round}/${JOB_THROUGHPUT_ROUNDS}: 1 worker ${result.oneJobsPerSec.at(-1)!.toFixed(1)} jobs/s, ` +
        `2 workers ${result.twoJobsPerSec.at(-1)!.toFixed(1)} jobs/s`,
    );
  }
  const words = median(thirtyWordTexts(JOB_THROUGHPUT_JOBS, 1).map(countWords));
  return { ...result, words };
}

// ---------------------------------------------------------------------------------------------
// The report section

export function renderJobApi(
  latency: JobLatencyResult,
  throughput: JobThroughputResult,
  context: { cores: number; openaiScaling: number; openaiOneXrt: number },
): { lines: string[]; reading: string[] } {
  const lines: string[] = [];
  const ms = (summary: Summary, digits = 1): string => fmtSummary(summary, digits, ' ms');
  const speech = summarize(latency.speechMs);
  const runsync = summarize(latency.runsyncMs);
  const overhead = summarize(latency.overheadMs);
  const floor = summarize(latency.floorMs);
  const submit = summarize(latency.submitMs);
  const completed = summarize(latency.completedMs);
  const cacheHit = summarize(latency.cacheHitMs);
  const delay = summarize(latency.delayMs);
  const execution = summarize(latency.executionMs);

  lines.push('## 6. Job API overhead', '');
  lines.push(
    `The RunPod-style job API, endpoint \`${ENDPOINT}\` (input \`{text, format: "wav", voice: "${VOICE}"}\`, speed 1), on the same`,
    `servers as figures 1–3. Latency (6a, 6b, 6d): the 1-worker server, ${JOB_LATENCY_ROUNDS} rounds after one warm-up`,
    'of every path; each round runs its steps in an order that rotates from round to round: `GET /v1/models`;',
    '`POST /v1/audio/speech` (wav) of a one-sentence text; `/runsync` of the very same text followed at once by a',
    'repeat of it; `/run` of another sentence, then `/status-sync` until it is COMPLETED. Every text is one of',
    `twelve sentences of 10–16 words plus a number no other request uses ("… Take 17."; median ${latency.sentenceWords} words,`,
    `${latency.audioSec.toFixed(1)} s of audio), so only the deliberate repeats can come from the result cache; the benchmark checks`,
    '`cache_hit` on every answer. Times run from `fetch()` to the last byte of the body (the job API answers',
    'JSON with the audio in base64, the OpenAI route raw wav). All servers run with `CHORUS_RATE_LIMIT_RPS=0` (rate',
    'limiting off, so 429s and token waits do not enter the figures) and without `CHORUS_API_KEYS`.',
    `**Goals: job overhead < ${GOAL_JOB_OVERHEAD_MS} ms, \`/run\` answer < ${GOAL_SUBMIT_MS} ms, cache hit < ${GOAL_CACHE_HIT_MS} ms (the seed document promises < ${SEED_CACHE_HIT_MS} ms), all medians.**`,
    '',
  );
  lines.push(
    markdownTable(
      ['Measurement', 'Median (min–max)', 'Baseline', 'Goal'],
      [
        ['6a. `/runsync`, one sentence, wav', ms(runsync), `\`/v1/audio/speech\`, same text: ${ms(speech)}`, ''],
        [
          '6a. Job overhead: `/runsync` − speech, per round',
          ms(overhead),
          `${((runsync.median / speech.median - 1) * 100).toFixed(0)} % over the speech median`,
          verdict(overhead, (value) => value < GOAL_JOB_OVERHEAD_MS, `< ${GOAL_JOB_OVERHEAD_MS} ms`),
        ],
        ['&nbsp;&nbsp;the job as `/runsync` reports it: `delayTime`', ms(delay, 0), '', ''],
        ['&nbsp;&nbsp;… and `executionTime` (handler)', ms(execution, 0), '', ''],
        ['&nbsp;&nbsp;body: wav from the OpenAI route / `/runsync` JSON', `${(latency.wavBytes / 1000).toFixed(0)} kB / ${(latency.jsonBytes / 1000).toFixed(0)} kB`, '', ''],
        [
          '6b. `/run` answer (`{id, status}`)',
          ms(submit, 2),
          `\`GET /v1/models\`: ${ms(floor, 2)}`,
          verdict(submit, (value) => value < GOAL_SUBMIT_MS, `< ${GOAL_SUBMIT_MS} ms`),
        ],
        ['6b. `/run` until `/status-sync` shows COMPLETED', ms(completed), `\`/v1/audio/speech\`: ${ms(speech)}`, ''],
        [
          '6d. Repeat `/runsync`, cache hit',
          ms(cacheHit, 2),
          `first (uncached) \`/runsync\`: ${ms(runsync)}`,
          `${verdict(cacheHit, (value) => value < GOAL_CACHE_HIT_MS, `< ${GOAL_CACHE_HIT_MS} ms`)}; seed document: ${cacheHit.median < SEED_CACHE_HIT_MS ? 'met' : 'not met'} (< ${SEED_CACHE_HIT_MS} ms)`,
        ],
        ['&nbsp;&nbsp;the cache hit as `/runsync` reports it: `delayTime` / `executionTime`', `${ms(summarize(latency.cacheHitDelayMs), 0)} / ${ms(summarize(latency.cacheHitExecutionMs), 0)}`, '', ''],
      ],
    ),
    '',
  );

  const oneJobs = summarize(throughput.oneJobsPerSec);
  const twoJobs = summarize(throughput.twoJobsPerSec);
  const oneXrt = summarize(throughput.oneXrt);
  const twoXrt = summarize(throughput.twoXrt);
  const pairs = summarize(throughput.twoJobsPerSec.map((value, i) => value / throughput.oneJobsPerSec[i]!));
  const scaling = twoJobs.median / oneJobs.median;
  lines.push(
    `6c. Throughput: ${JOB_THROUGHPUT_JOBS} different texts of ~${throughput.words} words (windows over the other benchmark texts; wav,`,
    `${throughput.audioSec.toFixed(0)} s of audio per round) submitted at once with \`/run\`, each followed by \`/status-sync\` until it is COMPLETED;`,
    'wall time from the first submission to the last COMPLETED answer. Servers with `CHORUS_WORKERS=1` (baseline; it',
    'runs 2 jobs at a time, 2 per worker thread) and `CHORUS_WORKERS=2` (4 at a time), loaded alternately,',
    `${JOB_THROUGHPUT_ROUNDS} rounds each after a warm-up round, never the same text twice on one server. No goal was set; figure 3`,
    `(OpenAI route, 8 texts of 100 words, pcm) is the comparison: ${context.openaiOneXrt.toFixed(0)}x with 1 worker, ${context.openaiScaling.toFixed(2)}x from the second.`,
    '',
  );
  lines.push(
    markdownTable(
      ['Server', 'Jobs completed / s, median (min–max)', 'Audio s / s (xRT), median (min–max)', 'vs 1 worker'],
      [
        ['1 worker (baseline)', fmtSummary(oneJobs, 1), fmtSummary(oneXrt, 0, 'x'), '1.00x'],
        ['2 workers', fmtSummary(twoJobs, 1), fmtSummary(twoXrt, 0, 'x'), `${scaling.toFixed(2)}x (per-round pairs ${pairs.min.toFixed(2)}–${pairs.max.toFixed(2)})`],
      ],
    ),
    '',
  );

  const overheadMet = overhead.median < GOAL_JOB_OVERHEAD_MS;
  const reading = [
    `A one-sentence job through \`/runsync\` takes ${runsync.median.toFixed(1)} ms against ${speech.median.toFixed(1)} ms for the same text on the OpenAI route,`,
    `${overhead.median.toFixed(1)} ms of job overhead (goal < ${GOAL_JOB_OVERHEAD_MS} ms, ${overheadMet ? 'met' : 'not met'}): storing the job, handing it to the runner, base64 and JSON,`,
    `writing the result to the cache and the job store, and waking the waiting request. \`/run\` answers in ${submit.median.toFixed(2)} ms`,
    `(goal < ${GOAL_SUBMIT_MS} ms, ${submit.median < GOAL_SUBMIT_MS ? 'met' : 'not met'}; the bare HTTP round trip is ${floor.median.toFixed(2)} ms), and a repeat served from the result cache`,
    `in ${cacheHit.median.toFixed(2)} ms (goal < ${GOAL_CACHE_HIT_MS} ms, ${cacheHit.median < GOAL_CACHE_HIT_MS ? 'met' : 'not met'}; ${(SEED_CACHE_HIT_MS / cacheHit.median).toFixed(0)}x inside the seed document's ${SEED_CACHE_HIT_MS} ms), of which the`,
    `handler itself (cache read, base64) reports ${median(latency.cacheHitExecutionMs).toFixed(0)} ms and the queue ${median(latency.cacheHitDelayMs).toFixed(0)} ms; the rest is the job around it (storing it, the`,
    `${(latency.jsonBytes / 1000).toFixed(0)} kB JSON answer). These are figures of a whole request, on ${context.cores} cores shared with the benchmark client.`,
    `${JOB_THROUGHPUT_JOBS} concurrent jobs complete at ${oneJobs.median.toFixed(1)} jobs/s (${oneXrt.median.toFixed(0)}x real time) with one worker and ${twoJobs.median.toFixed(1)} jobs/s with two, ${scaling.toFixed(2)}x.`,
  ];
  return { lines, reading };
}
