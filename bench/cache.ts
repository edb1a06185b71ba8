/**
 * Figure 10: the result cache on the OpenAI route.
 *
 *   a. hit latency: a repeated whole-file request (wav) answered from the cache, against the first (uncached)
 *      request of the same text and against `GET /v1/models` (the HTTP floor), medians over rounds
 *   b. hit rate under a replayed workload: requests drawn from a skewed (Zipf-like) set of sentences, as a
 *      voice assistant or a web page replaying its prompts would send them; measured from `x-cache`
 */
import { fmtSummary, log, markdownTable, median, modelsRequest, now, summarize, type ServerProcess } from './support.js';
import { SHORT_TEXTS } from './texts.js';

export const CACHE_ROUNDS = 30;
const REPLAY_REQUESTS = 200;
const REPLAY_DISTINCT = 40;

export interface CacheBenchResult {
  readonly missMs: number[];
  readonly hitMs: number[];
  readonly floorMs: number[];
  readonly replay: { readonly requests: number; readonly distinct: number; readonly hits: number; readonly possibleHits: number };
}

async function speak(url: string, input: string, voice: string): Promise<{ ms: number; cache: string | null }> {
  const started = now();
  const response = await fetch(`${url}/v1/audio/speech`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tts-1', voice, input, response_format: 'wav' }),
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`/v1/audio/speech answered ${response.status}`);
  return { ms: now() - started, cache: response.headers.get('x-cache') };
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
  const missMs: number[] = [];
  const hitMs: number[] = [];
  const floorMs: number[] = [];
  for (let round = 0; round < CACHE_ROUNDS; round++) {
    // A sentence this run has not asked for: the first request misses, the repeat hits.
    const text = `${SHORT_TEXTS[round % SHORT_TEXTS.length]} (cache round ${round}.)`;
    const miss = await speak(server.url, text, 'Amy');
    const hit = await speak(server.url, text, 'Amy');
    if (miss.cache !== 'MISS' || hit.cache !== 'HIT') throw new Error(`cache round ${round}: ${miss.cache} then ${hit.cache}`);
    missMs.push(miss.ms);
    hitMs.push(hit.ms);
    floorMs.push(await modelsRequest(server.url));
  }
  log(`figure 10: hit ${median(hitMs).toFixed(2)} ms, miss ${median(missMs).toFixed(1)} ms`);
  const sequence = zipfSequence(REPLAY_REQUESTS, REPLAY_DISTINCT);
  let hits = 0;
  for (const index of sequence) {
    const { cache } = await speak(server.url, `${SHORT_TEXTS[index % SHORT_TEXTS.length]} (replayed prompt ${index}.)`, 'Brian');
    if (cache === 'HIT') hits++;
  }
  const distinct = new Set(sequence).size;
  log(`figure 10: replay ${hits}/${REPLAY_REQUESTS} hits`);
  return { missMs, hitMs, floorMs, replay: { requests: REPLAY_REQUESTS, distinct, hits, possibleHits: REPLAY_REQUESTS - distinct } };
}

export function renderCache(result: CacheBenchResult): string {
  const hit = summarize(result.hitMs);
  const { replay } = result;
  return [
    '## 10. Result cache (OpenAI route)',
    '',
    `A repeated non-streaming \`/v1/audio/speech\` request (wav, ${CACHE_ROUNDS} rounds, each a sentence not asked for before in`,
    'the run) against its first, uncached request and against `GET /v1/models` (the HTTP round trip with no work).',
    'Goal: a hit answers in under 5 ms (median).',
    '',
    markdownTable(
      ['request', 'median [min–max]', 'ratio'],
      [
        ['first request (miss: synthesis, then stored)', fmtSummary(summarize(result.missMs), 1, ' ms'), ''],
        ['repeat (hit)', fmtSummary(hit, 2, ' ms'), `${(median(result.missMs) / hit.median).toFixed(0)}x faster than the miss`],
        ['`GET /v1/models` (floor)', fmtSummary(summarize(result.floorMs), 2, ' ms'), `hit = ${(hit.median / median(result.floorMs)).toFixed(1)}x the floor`],
      ],
    ),
    '',
    `- Hit latency: ${hit.median.toFixed(2)} ms median (goal < 5 ms): **${hit.median < 5 ? 'met' : 'not met'}**.`,
    `- Replayed workload: ${replay.requests} requests over ${replay.distinct} distinct prompts (weights 1/rank): ` +
      `${replay.hits} hits = ${((replay.hits / replay.requests) * 100).toFixed(1)}% of requests, ` +
      `${((replay.hits / Math.max(1, replay.possibleHits)) * 100).toFixed(1)}% of the ${replay.possibleHits} repeats (every first occurrence must miss).`,
    '',
  ].join('\n');
}
