/**
 * Figure 12: the chat agent's time to first audio. A scripted OpenAI-compatible chat server in the
 * benchmark process streams a reply at a fixed token rate; a streamed `/run` on the fish-speech
 * endpoint of a 2-worker server is read as NDJSON. Baseline, in the same run: the moment the chat
 * server wrote the token that ends the first sentence (both clocks are this process's). Also the
 * raw engine's time to speak that sentence, in this process, for scale.
 */
import type { SpeechEngine } from '../src/engine/speech-engine.js';
import { startChatServer, type ChatServer } from '../test/support/chat-server.js';
import { fmtSummary, log, markdownTable, median, now, summarize, type ServerMode, type ServerProcess, startServerProcess } from './support.js';

export const AGENT_RUNS = 12;
/** Milliseconds between streamed tokens: about 25 and 50 tokens per second, a local model on CPU and on a small GPU. */
const TOKEN_INTERVALS_MS = [40, 20] as const;
const FIRST_SENTENCE = 'Sure, the nearest pharmacy opens at nine tomorrow morning.';
const REPLY = `${FIRST_SENTENCE} It is on the corner of Main Street, next to the bakery. Would you like directions?`;
const GOAL_MS = 150;

export interface AgentRun {
  /** From the request to the chat server's last token of the first sentence, ms. */
  readonly sentenceMs: number;
  /** From the request to the first audio message, ms. */
  readonly firstAudioMs: number;
  /** From the request to the first text message, ms. */
  readonly firstTextMs: number;
  readonly totalMs: number;
}

export interface AgentBenchResult {
  readonly rates: { readonly intervalMs: number; readonly runs: AgentRun[] }[];
  /** The raw engine speaking the first sentence, ms. */
  readonly rawSentenceMs: number[];
  readonly sentenceTokens: number;
}

function tokens(text: string): string[] {
  return text.match(/ ?[\p{L}\p{N}']+|[^\s\p{L}\p{N}']/gu) ?? [];
}

async function streamOnce(server: ServerProcess, chat: ChatServer, message: string): Promise<AgentRun> {
  const started = now();
  const response = await fetch(`${server.url}/v2/fish-speech/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: { message, stream: true } }),
  });
  if (!response.ok) throw new Error(`fish-speech /run answered ${response.status}: ${await response.text()}`);
  let firstText: number | undefined;
  let firstAudio: number | undefined;
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(bytes, { stream: true });
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const at = now();
      // Only the first of each kind matters; the audio arrays need not be parsed.
      if (firstAudio === undefined && line.includes('"audio":')) firstAudio = at - started;
      else if (firstText === undefined && line.includes('"text":')) firstText = at - started;
      if (line.includes('"status":"error"')) throw new Error(`the agent failed: ${line.slice(0, 300)}`);
    }
  }
  const request = chat.requests.findLast((r) => r.body.messages?.at(-1)?.content === message);
  const sentenceEnd = request?.sentAt[tokens(FIRST_SENTENCE).length - 1];
  if (sentenceEnd === undefined || firstAudio === undefined || firstText === undefined) throw new Error('a streamed reply without audio or text');
  return { sentenceMs: sentenceEnd - started, firstAudioMs: firstAudio, firstTextMs: firstText, totalMs: now() - started };
}

export async function measureAgent(engine: SpeechEngine, mode: ServerMode): Promise<AgentBenchResult> {
  const rates: AgentBenchResult['rates'] = [];
  const rawSentenceMs: number[] = [];
  for (const intervalMs of TOKEN_INTERVALS_MS) {
    const chat = await startChatServer(() => ({ tokens: tokens(REPLY), tokenIntervalMs: intervalMs }));
    const server = await startServerProcess({ workers: 2, mode, label: 'agent server', env: { CHORUS_LLM_URL: chat.url, CHORUS_LLM_MODEL: 'scripted' } });
    try {
      log(`figure 12: ${AGENT_RUNS} streamed replies at one token per ${intervalMs} ms`);
      await streamOnce(server, chat, 'warm-up');
      const runs: AgentRun[] = [];
      for (let i = 0; i < AGENT_RUNS; i++) {
        runs.push(await streamOnce(server, chat, `Where is the nearest pharmacy? (${intervalMs}/${i})`));
        const started = now();
        for await (const part of engine.synthesize({ text: FIRST_SENTENCE, voiceId: 'default', speed: 1 }, new AbortController().signal)) void part;
        rawSentenceMs.push(now() - started);
      }
      rates.push({ intervalMs, runs });
    } finally {
      await server.stop();
      await chat.close();
    }
  }
  return { rates, rawSentenceMs, sentenceTokens: tokens(FIRST_SENTENCE).length };
}

export function renderAgent(result: AgentBenchResult): string {
  const out: string[] = [];
  out.push('## 12. Chat agent: first audio against the model’s first sentence', '');
  out.push(
    'A scripted OpenAI-compatible chat server in the benchmark process streams a three-sentence reply at a fixed',
    `token rate; a 2-worker server's \`fish-speech\` endpoint answers a streamed \`/run\` (NDJSON). The first sentence,`,
    `"${FIRST_SENTENCE}", is ${result.sentenceTokens} tokens. **Baseline:** the moment the chat server wrote that`,
    'sentence\'s last token, on the same clock as the client. **Measured:** the arrival of the first audio message.',
    'The difference covers parsing the stream, spotting the sentence end, speaking it (eSpeak, 44.1 kHz, watermark),',
    'the job stream and the HTTP edge. For scale: the raw engine speaking the same sentence in this process.',
    `${AGENT_RUNS} runs per rate after a warm-up. **Goal: first audio within ${GOAL_MS} ms of the first sentence's end.**`,
    '',
  );
  const rows = result.rates.map(({ intervalMs, runs }) => {
    const lag = summarize(runs.map((run) => run.firstAudioMs - run.sentenceMs));
    return [
      `${Math.round(1000 / intervalMs)} tokens/s`,
      fmtSummary(summarize(runs.map((run) => run.firstTextMs)), 0, ' ms'),
      fmtSummary(summarize(runs.map((run) => run.sentenceMs)), 0, ' ms'),
      fmtSummary(summarize(runs.map((run) => run.firstAudioMs)), 0, ' ms'),
      fmtSummary(lag, 0, ' ms'),
      `${(lag.median / median(result.rawSentenceMs)).toFixed(1)}x`,
      fmtSummary(summarize(runs.map((run) => run.totalMs)), 0, ' ms'),
      lag.median <= GOAL_MS ? 'met' : 'not met',
    ];
  });
  out.push(
    markdownTable(
      ['Model speed', 'First text', 'First sentence written (baseline)', 'First audio', 'First audio − sentence', 'vs raw engine', 'Whole reply', `Goal ≤ ${GOAL_MS} ms`],
      rows,
    ),
    '',
    `Raw engine, first sentence: ${fmtSummary(summarize(result.rawSentenceMs), 1, ' ms')}.`,
    '',
  );
  return out.join('\n');
}
