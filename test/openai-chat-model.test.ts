// The language-model client against a scripted OpenAI-compatible server on loopback: streamed and
// plain answers, errors, an unreachable and a silent server, abort, and sentences out of a stream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOpenAIChatModel } from '../src/llm/openai-chat-model.js';
import { sentenceStream } from '../src/text/sentence-stream.js';
import { startChatServer, type ChatServer, type ScriptedReply } from './support/chat-server.js';

const never = new AbortController().signal;
const collect = async (pieces: AsyncIterable<string>): Promise<string[]> => {
  const out: string[] = [];
  for await (const piece of pieces) out.push(piece);
  return out;
};

describe('OpenAI-compatible chat model', () => {
  let server: ChatServer;
  let script: ScriptedReply = {};
  before(async () => {
    server = await startChatServer(() => script);
  });
  after(() => server.close());
  const model = (timeoutMs?: number) => createOpenAIChatModel({ url: server.url, model: 'tiny-llm', apiKey: 'sk-test', ...(timeoutMs === undefined ? {} : { timeoutMs }) });

  it('streams the deltas and sends model, messages, temperature, max_tokens and the key', async () => {
    script = { tokens: ['Hello', ' there', '.'], tokenIntervalMs: 5 };
    const deltas = await collect(model().stream({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0.4, maxTokens: 50 }, never));
    assert.deepEqual(deltas, ['Hello', ' there', '.']);
    const request = server.requests.at(-1)!;
    assert.equal(request.body.model, 'tiny-llm');
    assert.equal(request.body.stream, true);
    assert.equal(request.body.temperature, 0.4);
    assert.equal(request.body.max_tokens, 50);
    assert.deepEqual(request.body.messages, [{ role: 'user', content: 'Hi' }]);
    assert.equal(request.authorization, 'Bearer sk-test');
  });

  it('reads a plain JSON completion from a server that does not stream', async () => {
    script = { tokens: ['All ', 'at once.'], json: true };
    assert.deepEqual(await collect(model().stream({ messages: [{ role: 'user', content: 'Hi' }] }, never)), ['All at once.']);
  });

  it('gives the first sentence while the model is still writing', async () => {
    script = { tokens: ['The first', ' sentence.', ' The second', ' one takes', ' a while', ' longer.'], tokenIntervalMs: 60 };
    const started = Date.now();
    const times: number[] = [];
    const sentences: string[] = [];
    for await (const sentence of sentenceStream(model().stream({ messages: [{ role: 'user', content: 'Go' }] }, never))) {
      sentences.push(sentence);
      times.push(Date.now() - started);
    }
    assert.deepEqual(sentences, ['The first sentence.', 'The second one takes a while longer.']);
    assert.ok(times[1]! - times[0]! >= 150, `first sentence at ${times[0]} ms, second at ${times[1]} ms`);
  });

  it('an error answer, an unreachable server and a silent one fail with the server named', async () => {
    script = { status: 500 };
    await assert.rejects(collect(model().stream({ messages: [{ role: 'user', content: 'Hi' }] }, never)), (error: Error & { code?: string }) => error.code === 'engine_failed' && /answered 500: scripted failure 500/.test(error.message));
    const nowhere = createOpenAIChatModel({ url: 'http://127.0.0.1:1/v1', model: 'absent' });
    await assert.rejects(collect(nowhere.stream({ messages: [{ role: 'user', content: 'Hi' }] }, never)), (error: Error & { code?: string }) => error.code === 'engine_unavailable' && /CHORUS_LLM_URL.*cannot be reached/.test(error.message));
    script = { tokens: ['Half', ' a', ' reply'], stallAfter: 1 };
    await assert.rejects(collect(model(300).stream({ messages: [{ role: 'user', content: 'Hi' }] }, never)), (error: Error & { code?: string }) => error.code === 'engine_unavailable' && /stopped sending for 300 ms/.test(error.message));
  });

  it('stops quietly when its signal aborts', async () => {
    script = { tokens: Array.from({ length: 50 }, (_, i) => ` word${i}`), tokenIntervalMs: 20 };
    const controller = new AbortController();
    const deltas: string[] = [];
    for await (const delta of model().stream({ messages: [{ role: 'user', content: 'Hi' }] }, controller.signal)) {
      deltas.push(delta);
      if (deltas.length === 3) controller.abort();
    }
    assert.ok(deltas.length >= 3 && deltas.length < 10, `${deltas.length} deltas after the abort`);
  });
});
