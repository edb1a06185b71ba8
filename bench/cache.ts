/**
 * Figure 10: the result cache on the OpenAI route.
 *
 *   a. hit latency: a repeated whole-file request (wav) answered from the cache, for a short prompt and for a
 *      paragraph, against the first (uncached) request of the same text, against `GET /v1/models` (the HTTP
 *      floor) and against a bare node:http server sending the same number of bytes (the floor for moving them)
 *   b. hit rate under a replayed workload: requests drawn from a skewed (Zipf-like) set of sentences, as a
 *      voice assistant or a web page replaying its prompts would send them; measured from `x-cache`
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fmtSummary, log, markdownTable, median, modelsRequest, now, summarize, type ServerProcess } from './support.js';
import { SHORT_TEXTS } from './texts.js';

export const CACHE_ROUNDS = 30;
const REPLAY_REQUESTS = 200;
const REPLAY_DISTINCT = 40;

/** A short prompt, as a voice assistant or a web page would repeat it (about 2 s of speech). */
const SHORT_PROMPT = 'Your order is ready. Please collect it at the front desk.';

export interface HitLatency {
  readonly label: string;
  readonly bytes: number;
  readonly missMs: number[];
  readonly hitMs: number[];
  /** The same number of bytes from a bare node:http server in the benchmark process. */
  readonly bareMs: number[];
}

export interface CacheBenchResult {
  readonly sizes: HitLatency[];
  readonly floorMs: number[];
  readonly replay: { readonly requests: number; readonly distinct: number; readonly hits: number; readonly possibleHits: number };
}

async function speak(url: string, input: string, voice: string): Promise<{ ms: number; cache: string | null; bytes: number }> {
  const started = now();
  const response = await fetch(`${url}/v1/audio/speech`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tts-1', voice, input, response_format: 'wav' }),
  });
  const { byteLength } = await response.arrayBuffer();
  if (!response.ok) throw new Error(`/v1/audio/speech answered ${response.status}`);
  return { ms: now() - started, cache: response.headers.get('x-cache'), bytes: byteLength };
}

/** A server that answers every POST with `size` zero bytes, as fast as node:http can. */
async function startBareServer(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const size = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('bytes'));
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': size });
      response.end(Buffer.alloc(size));
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function bareRequest(url: string, bytes: number): Promise<number> {
  const started = now();
  const response = await fetch(`${url}/?bytes=${bytes}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input":"x"}' });
  await response.arrayBuffer();
  return now() - started;
}

/** A deterministic skewed choice: index k is drawn with weight 1/(k+1). */
function zipfSequence(count: number, distinct: number): number[] {
  const weights = Array.from({ length: distinct }, (_, k) => 1 / (k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: count }, () => {
    let pick = random() * total;
    for (let k = 0; k < distinct; k++) {
      pick -= weights[k]!;
      if (pick <= 0) return k;
    }
    return distinct - 1;
  });
}

export async function measureCache(server: ServerProcess): Promise<CacheBenchResult> {
  const sizes: HitLatency[] = [
    { label: 'short prompt', bytes: 0, missMs: [], hitMs: [], bareMs: [] },
    { label: 'paragraph', bytes: 0, missMs: [], hitMs: [], bareMs: [] },
  ];
  const floorMs: number[] = [];
  const bare = await startBareServer();
  try {
    for (let round = 0; round < CACHE_ROUNDS; round++) {
      // Texts this run has not asked for: the first request misses, the repeat hits.
      const texts = [`${SHORT_PROMPT.slice(0, -1)}, number ${round + 1}.`, `${SHORT_TEXTS[round % SHORT_TEXTS.length]} (cache round ${round}.)`];
      for (const [index, size] of sizes.entries()) {
        const miss = await speak(server.url, texts[index]!, 'Amy');
        const hit = await speak(server.url, texts[index]!, 'Amy');
        if (miss.cache !== 'MISS' || hit.cache !== 'HIT') throw new Error(`cache round ${round}: ${miss.cache} then ${hit.cache}`);
        size.missMs.push(miss.ms);
        size.hitMs.push(hit.ms);
        size.bareMs.push(await bareRequest(bare.url, hit.bytes));
        (size as { bytes: number }).bytes = Math.max(size.bytes, hit.bytes);
      }
      floorMs.push(await modelsRequest(server.url));
    }
  } finally {
    await new Promise((resolveClose) => bare.server.close(resolveClose));
  }
  for (const size of sizes) log(`figure 10: ${size.label}: hit ${median(size.hitMs).toFixed(2)} ms, bare ${median(size.bareMs).toFixed(2)} ms, miss ${median(size.missMs).toFixed(1)} ms`);
  const sequence = zipfSequence(REPLAY_REQUESTS, REPLAY_DISTINCT);
  let hits = 0;
  for (const index of sequence) {
    const { cache } = await speak(server.url, `${SHORT_TEXTS[index % SHORT_TEXTS.length]} (replayed prompt ${index}.)`, 'Brian');
    if (cache === 'HIT') hits++;
  }
  const distinct = new Set(sequence).size;
  log(`figure 10: replay ${hits}/${REPLAY_REQUESTS} hits`);
  return { sizes, floorMs, replay: { requests: REPLAY_REQUESTS, distinct, hits, possibleHits: REPLAY_REQUESTS - distinct } };
}

export function renderCache(result: CacheBenchResult): string {
  const { replay } = result;
  const floor = median(result.floorMs);
  const [short, paragraph] = result.sizes as [HitLatency, HitLatency];
  const shortHit = median(short.hitMs);
  const rows = result.sizes.flatMap((size) => {
    const hit = summarize(size.hitMs);
    const kb = `${(size.bytes / 1000).toFixed(0)} kB`;
    return [
      [`${size.label}: first request (miss: synthesis, then stored)`, fmtSummary(summarize(size.missMs), 1, ' ms'), ''],
      [`${size.label}: repeat (hit), ${kb}`, fmtSummary(hit, 2, ' ms'), `${(median(size.missMs) / hit.median).toFixed(0)}x faster than the miss`],
      [`bare node:http server sending ${kb}`, fmtSummary(summarize(size.bareMs), 2, ' ms'), `hit = bare + ${(hit.median - median(size.bareMs)).toFixed(2)} ms`],
    ];
  });
  return [
    '## 10. Result cache (OpenAI route)',
    '',
    `Repeated non-streaming \`/v1/audio/speech\` requests (wav, ${CACHE_ROUNDS} rounds, each text not asked for before in the run)`,
    `against their first, uncached request. Two sizes: a short prompt ("${SHORT_PROMPT}", numbered) and a`,
    'paragraph of about 70 words. Baselines: `GET /v1/models` (an HTTP round trip with no work) and a bare node:http',
    'server in the benchmark process sending the same number of bytes (what moving the file costs by itself).',
    'Goal: a hit answers in under 5 ms (median).',
    '',
    markdownTable(['request', 'median [min–max]', 'ratio'], [...rows, ['`GET /v1/models` (floor)', fmtSummary(summarize(result.floorMs), 2, ' ms'), '']]),
    '',
    `- Short prompt hit: ${shortHit.toFixed(2)} ms median (goal < 5 ms): **${shortHit < 5 ? 'met' : 'not met'}**. ` +
      `Paragraph hit: ${median(paragraph.hitMs).toFixed(2)} ms (**${median(paragraph.hitMs) < 5 ? 'met' : 'not met'}**), of which ` +
      `${median(paragraph.bareMs).toFixed(2)} ms is moving its ${(paragraph.bytes / 1000).toFixed(0)} kB over HTTP at all; the \`/v1/models\` floor is ${floor.toFixed(2)} ms.`,
    `- Replayed workload: ${replay.requests} requests over ${replay.distinct} distinct prompts (weights 1/rank): ` +
      `${replay.hits} hits = ${((replay.hits / replay.requests) * 100).toFixed(1)}% of requests, ` +
      `${((replay.hits / Math.max(1, replay.possibleHits)) * 100).toFixed(1)}% of the ${replay.possibleHits} repeats (every first occurrence must miss).`,
    '',
  ].join('\n');
}
