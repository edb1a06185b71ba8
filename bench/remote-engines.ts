/**
 * Figure 16: what Chorus adds in front of a remote model server. The remote is the OpenAI-protocol
 * stub of the tests, on loopback in this process, paced like a GPU server (first audio after
 * FIRST_MS, then 0.2 s of audio every PIECE_MS) and serving at most N requests at once.
 *
 * Baseline: the same request sent to the stub directly with fetch, as a client without Chorus would.
 * Measured: `POST /v1/audio/speech` on a running 1-worker Chorus whose engine is that stub (the
 * pipeline's worker thread, the proxy to the main thread, the remote adapter, and back).
 * Time to first byte, streamed, one sentence, in turn each round; then throughput: a burst of
 * BURST requests against remotes that allow 1, 2 and 4 at once, through Chorus (whose per-engine
 * limit is set to the same N) and directly.
 */
import type { StubServer } from '../test/support/remote-stubs/stub-server.js';
import { startOpenAIStub } from '../test/support/remote-stubs/openai-stub.js';
import { fmtSummary, log, markdownTable, median, now, rotate, startServerProcess, streamingRequest, summarize, type ServerMode } from './support.js';

const SENTENCE = 'The quick brown fox jumps over the lazy dog, and then it rests for a while in the warm sun.';
const VOICE = 'alloy';
/** The remote's time to first audio and the gap between its 0.2 s pieces (RTF 0.2). */
const FIRST_MS = 60;
const PIECE_MS = 40;
const TTFB_ROUNDS = 30;
const CAPACITIES = [1, 2, 4] as const;
const BURST = 12;
const BURST_ROUNDS = 3;
const GOAL_TTFB_MS = 5;

export interface RemoteBenchResult {
  readonly audioSec: number;
  readonly direct: { readonly firstMs: number[]; readonly totalMs: number[] };
  readonly chorus: { readonly firstMs: number[]; readonly totalMs: number[] };
  readonly chorusUnmarked: { readonly firstMs: number[]; readonly totalMs: number[] };
  /** Requests per second for a burst of BURST, per remote capacity. */
  readonly throughput: { readonly capacity: number; readonly direct: number[]; readonly chorus: number[] }[];
}

/** The stub's own protocol, streamed, timed as `streamingRequest` times Chorus. */
async function directRequest(stub: StubServer, input: string): Promise<{ firstByteMs: number; totalMs: number }> {
  const start = now();
  const response = await fetch(`${stub.url}/v1/audio/speech`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tts-1', voice: VOICE, input, response_format: 'pcm' }),
  });
  if (!response.ok || response.body === null) throw new Error(`the stub answered ${response.status}`);
  let firstByteMs = Number.NaN;
  for await (const piece of response.body) {
    if (piece.byteLength > 0 && Number.isNaN(firstByteMs)) firstByteMs = now() - start;
  }
  return { firstByteMs, totalMs: now() - start };
}

/** Requests per second for BURST requests sent at once. */
async function burst(send: (index: number) => Promise<unknown>): Promise<number> {
  const start = now();
  await Promise.all(Array.from({ length: BURST }, (_, index) => send(index)));
  return BURST / ((now() - start) / 1000);
}

export async function measureRemoteEngines(mode: ServerMode): Promise<RemoteBenchResult> {
  const pace = { firstMs: FIRST_MS, pieceMs: PIECE_MS };
  const stubs = new Map<number, StubServer>();
  try {
    for (const capacity of CAPACITIES) stubs.set(capacity, await startOpenAIStub({ pace, capacity }));
    const engines = CAPACITIES.map((capacity) => ({
      id: `remote-${capacity}`,
      kind: 'openai',
      url: stubs.get(capacity)!.url,
      concurrency: capacity,
      maxQueued: BURST,
    }));
    const server = await startServerProcess({ workers: 1, mode, label: 'remote-engine server', env: { CHORUS_REMOTE_ENGINES: JSON.stringify(engines) } });
    try {
      const ttfbStub = stubs.get(4)!;
      const body = { model: 'remote-4', voice: VOICE, response_format: 'pcm', input: SENTENCE } as const;
      const paths = {
        direct: async () => directRequest(ttfbStub, SENTENCE),
        chorus: async () => streamingRequest(server.url, body),
        chorusUnmarked: async () => streamingRequest(server.url, { ...body, no_watermark: true }),
      };
      type Path = keyof typeof paths;
      const order = Object.keys(paths) as Path[];
      const times = new Map<Path, { firstMs: number[]; totalMs: number[] }>(order.map((path) => [path, { firstMs: [], totalMs: [] }]));
      log('figure 16: warm-up');
      for (const path of order) await paths[path]();
      for (const path of order) await paths[path]();
      for (let round = 0; round < TTFB_ROUNDS; round++) {
        for (const path of rotate(order, round)) {
          const timing = await paths[path]();
          times.get(path)!.firstMs.push(timing.firstByteMs);
          times.get(path)!.totalMs.push(timing.totalMs);
        }
      }
      log(`figure 16: first byte direct ${median(times.get('direct')!.firstMs).toFixed(1)} ms, through Chorus ${median(times.get('chorus')!.firstMs).toFixed(1)} ms`);

      const throughput: RemoteBenchResult['throughput'][number][] = [];
      for (const capacity of CAPACITIES) {
        const stub = stubs.get(capacity)!;
        const sends = {
          direct: () => burst(() => directRequest(stub, SENTENCE)),
          chorus: () => burst(() => streamingRequest(server.url, { ...body, model: `remote-${capacity}` })),
        };
        const rates = { direct: [] as number[], chorus: [] as number[] };
        for (let round = 0; round < BURST_ROUNDS; round++) {
          for (const path of rotate(['direct', 'chorus'] as const, round)) rates[path].push(await sends[path]());
        }
        throughput.push({ capacity, ...rates });
        log(`figure 16: capacity ${capacity}: direct ${median(rates.direct).toFixed(2)}/s, through Chorus ${median(rates.chorus).toFixed(2)}/s`);
      }
      const audioBytes = (await streamingRequest(server.url, body)).bytes;
      return { audioSec: audioBytes / 2 / 24_000, direct: times.get('direct')!, chorus: times.get('chorus')!, chorusUnmarked: times.get('chorusUnmarked')!, throughput };
    } finally {
      await server.stop();
    }
  } finally {
    for (const stub of stubs.values()) await stub.close();
  }
}

export function renderRemoteEngines(result: RemoteBenchResult): string {
  const out: string[] = [];
  out.push('## 16. Remote engines: Chorus in front of a model server', '');
  out.push(
    'The remote is the tests\' OpenAI-protocol stub on loopback (in the benchmark process), paced like a GPU server:',
    `first audio ${FIRST_MS} ms after the request, then 0.2 s of 24 kHz pcm every ${PIECE_MS} ms (RTF 0.2), from speech it`,
    'made once per text. No real model server could be run here, so what this measures is the cost Chorus adds in',
    'front of one, not a model\'s speed.',
    '',
    '**Baseline:** the request sent to the stub directly (`fetch`, pcm, streamed). **Measured**, in turn each round:',
    '`POST /v1/audio/speech` on a running 1-worker Chorus whose engine is that stub (`stream: true`, pcm,',
    '`cache-control: no-store`): the HTTP round trip, the pipeline\'s worker thread, the proxy to the main thread, the',
    `remote adapter's own request, and back. One ${SENTENCE.length}-character sentence (${result.audioSec.toFixed(2)} s of audio; one remote call`,
    `on both paths), ${TTFB_ROUNDS} rounds after two warm-ups. **Goal: < ${GOAL_TTFB_MS} ms added to the first byte.**`,
    '',
  );
  const directFirst = median(result.direct.firstMs);
  const directTotal = median(result.direct.totalMs);
  const rows = (
    [
      ['direct to the remote (baseline)', result.direct],
      ['through Chorus, watermarked (default)', result.chorus],
      ['through Chorus, `no_watermark`', result.chorusUnmarked],
    ] as const
  ).map(([label, times]) => {
    const addedFirst = median(times.firstMs) - directFirst;
    const baseline = times === result.direct;
    return [
      label,
      fmtSummary(summarize(times.firstMs), 1, ' ms'),
      baseline ? '' : `+${addedFirst.toFixed(1)} ms`,
      fmtSummary(summarize(times.totalMs), 1, ' ms'),
      baseline ? '' : `+${(median(times.totalMs) - directTotal).toFixed(1)} ms`,
      baseline ? '' : addedFirst < GOAL_TTFB_MS ? 'met' : 'not met',
    ];
  });
  out.push(markdownTable(['Path', 'First byte', 'Added', 'Last byte', 'Added', `Goal < ${GOAL_TTFB_MS} ms to first byte`], rows), '');
  out.push(
    `Throughput: a burst of ${BURST} requests at once against remotes that serve 1, 2 and 4 at a time; Chorus's`,
    'per-engine limit (`concurrency`) is set to the same N, so the extra requests wait in Chorus\'s queue rather than',
    `the remote's. Requests per second, median (min–max) of ${BURST_ROUNDS} bursts; the ratio is Chorus over direct.`,
    '',
    markdownTable(
      ['Remote allows', 'Direct (baseline)', 'Through Chorus', 'Chorus / direct'],
      result.throughput.map((row) => [
        `${row.capacity} at once`,
        `${fmtSummary(summarize(row.direct), 2, '/s')}`,
        `${fmtSummary(summarize(row.chorus), 2, '/s')}`,
        `${((median(row.chorus) / median(row.direct)) * 100).toFixed(0)} %`,
      ]),
    ),
    '',
  );
  return out.join('\n');
}
