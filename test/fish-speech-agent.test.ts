// The Fish Speech chat agent (004) over HTTP, with a scripted OpenAI-compatible chat server on
// loopback standing in for the language model: conversation memory per conversation and key,
// streaming order, the voice of reference_audio, the model failing in every way, bad input.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { trackPitch, voicedPitchStats } from '../src/audio/analysis/pitch.js';
import { startChatServer, type ChatServer, type ChatServerRequest, type ScriptedReply } from './support/chat-server.js';
import { probeAudio } from './support/ffprobe.js';
import { contentCheck } from './support/forced-alignment.js';
import { JOB_BACKENDS, stopJobBackends } from './support/job-backends.js';
import { formantSynthReference, wavBytes } from './support/reference-voices.js';
import { startTestServer, type TestServer } from './support/server.js';
import { closedPort } from './support/ports.js';

after(() => stopJobBackends());

const KEY_A = 'agent-key-a';
const KEY_B = 'agent-key-b';
const REPLY = 'The weather is sunny and warm today. You will not need an umbrella.';
const WRONG = 'please call stella and ask her to bring these things with her from the store';
const SLOW_REPLY = 'Sure thing. Let me tell you a much longer story about a cat who sat on a mat all day long.';

/** A reply as a model streams it: words with their leading spaces, punctuation on its own. */
function tokens(text: string): string[] {
  return text.match(/ ?[\p{L}\p{N}']+|[^\s\p{L}\p{N}']/gu) ?? [];
}

/** The chat server's script, chosen by the last user message. */
function script(request: ChatServerRequest): ScriptedReply {
  const last = request.body.messages?.at(-1)?.content ?? '';
  if (last.includes('[error]')) return { status: 500 };
  if (last.includes('[stall]')) return { tokens: tokens(REPLY), tokenIntervalMs: 5, stallAfter: 9 };
  if (last.includes('[empty]')) return { tokens: [] };
  if (last.includes('[slow]')) return { tokens: tokens(SLOW_REPLY), tokenIntervalMs: 60 };
  if (last.includes('[json]')) return { tokens: tokens(REPLY), json: true };
  return { tokens: tokens(REPLY), tokenIntervalMs: 5 };
}

type Envelope = { id: string | null; status: string; output?: Record<string, any>; error?: string; field?: string; done?: boolean };

function floats(output: Record<string, any>): Float32Array {
  assert.ok(Array.isArray(output['audio']), 'audio is an array of float samples');
  return Float32Array.from(output['audio'] as number[]);
}

function medianPitch(samples: Float32Array, sampleRate: number): number {
  const stats = voicedPitchStats(trackPitch(samples, sampleRate));
  assert.ok(stats !== undefined, 'the audio has voiced speech');
  return stats.medianHz;
}

for (const backend of JOB_BACKENDS) {
  describe(`Fish Speech chat agent (004), ${backend.name}`, () => {
    let chat: ChatServer;
    let server: TestServer;

    before(async () => {
      chat = await startChatServer(script);
      server = await startTestServer({
        ...(await backend.env()),
        CHORUS_API_KEYS: `${KEY_A},${KEY_B}`,
        CHORUS_RATE_LIMIT_RPS: '0',
        CHORUS_LLM_URL: chat.url,
        CHORUS_LLM_MODEL: 'scripted-model',
        CHORUS_LLM_API_KEY: 'llm-secret',
        CHORUS_LLM_TIMEOUT_MS: '1500',
      });
    });
    after(async () => {
      await server?.close();
      await chat?.close();
    });

    const post = (path: string, body: unknown, key = KEY_A, signal?: AbortSignal) =>
      fetch(`${server.url}/v2/fish-speech${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        ...(signal === undefined ? {} : { signal }),
      });
    const run = async (input: Record<string, unknown>, key = KEY_A): Promise<{ status: number; body: Envelope }> => {
      const response = await post('/run', { input }, key);
      return { status: response.status, body: (await response.json()) as Envelope };
    };
    /** A streamed /run, read as newline-delimited JSON, messages in arrival order. */
    const streamRun = async (input: Record<string, unknown>, key = KEY_A): Promise<{ response: Response; messages: Envelope[] }> => {
      const response = await post('/run', { input: { ...input, stream: true } }, key);
      const messages: Envelope[] = [];
      let buffered = '';
      const decoder = new TextDecoder();
      for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(bytes, { stream: true });
        for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
          messages.push(JSON.parse(buffered.slice(0, newline)) as Envelope);
          buffered = buffered.slice(newline + 1);
        }
      }
      assert.equal(buffered, '', 'every message ends with a newline');
      return { response, messages };
    };
    /** The history the chat server was sent with the request whose last message is `message`. */
    const sentWith = (message: string): { role: string; content: string }[] => {
      const request = chat.requests.findLast((r) => r.body.messages?.at(-1)?.content === message);
      assert.ok(request !== undefined, `the chat server was asked about ${message}`);
      return request.body.messages!.filter((m) => m.role !== 'system');
    };

    it('answers the document’s request with the reply and its speech: 44.1 kHz floats in [-1, 1] that say the reply', async () => {
      const { status, body } = await run({ message: 'Hello, how are you?', temperature: 0.7 });
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.status, 'success');
      assert.match(body.id ?? '', /-/);
      const output = body.output!;
      assert.equal(output['text'], REPLY);
      assert.equal(output['sample_rate'], 44_100);
      const audio = floats(output);
      assert.ok(audio.every((x) => x >= -1 && x <= 1));
      assert.ok(Math.abs(output['duration'] - audio.length / 44_100) < 0.001);
      assert.ok(output['duration'] > 2, `${output['duration']} s for two sentences`);
      assert.equal(output['model'], 'scripted-model');
      assert.match(output['conversation_id'], /^conv-/, 'a new conversation, so the reply can be continued');
      const check = await contentCheck(audio, 44_100, REPLY, WRONG);
      assert.ok(check.separates, `the audio says the reply: ${JSON.stringify({ right: check.right.scorePerFrame, wrong: check.wrong.scorePerFrame })}`);
      // What the language model was sent: the system prompt, the message, the sampling settings, the key.
      const asked = chat.requests.at(-1)!;
      assert.equal(asked.body.model, 'scripted-model');
      assert.equal(asked.body.temperature, 0.7);
      assert.equal(asked.body.max_tokens, 1000);
      assert.equal(asked.body.stream, true);
      assert.equal(asked.authorization, 'Bearer llm-secret');
      assert.equal(asked.body.messages?.[0]?.role, 'system');
      assert.deepEqual(asked.body.messages?.slice(1), [{ role: 'user', content: 'Hello, how are you?' }]);
    });

    it('carries context across two messages of one conversation, not into another conversation or another key', async () => {
      const first = await run({ message: "What's the weather?", conversation_id: 'chat-123' });
      assert.equal(first.body.status, 'success', JSON.stringify(first.body));
      assert.equal(first.body.output!['conversation_id'], 'chat-123');
      const second = await run({ message: 'And what about tomorrow?', conversation_id: 'chat-123' });
      assert.equal(second.body.status, 'success');
      assert.deepEqual(sentWith('And what about tomorrow?'), [
        { role: 'user', content: "What's the weather?" },
        { role: 'assistant', content: REPLY },
        { role: 'user', content: 'And what about tomorrow?' },
      ]);
      await run({ message: 'A new topic?', conversation_id: 'chat-456' });
      assert.deepEqual(sentWith('A new topic?'), [{ role: 'user', content: 'A new topic?' }]);
      // Another key with the same id gets a conversation of its own, and does not extend the first.
      await run({ message: 'Who am I?', conversation_id: 'chat-123' }, KEY_B);
      assert.deepEqual(sentWith('Who am I?'), [{ role: 'user', content: 'Who am I?' }]);
      await run({ message: 'Third message?', conversation_id: 'chat-123' });
      assert.deepEqual(
        sentWith('Third message?').map((m) => m.content),
        ["What's the weather?", REPLY, 'And what about tomorrow?', REPLY, 'Third message?'],
      );
    });

    it('streams text before its audio, and the first sentence’s audio while the model is still writing', async () => {
      const { response, messages } = await streamRun({ message: 'Tell me a story [slow]', conversation_id: 'story' });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      const id = response.headers.get('x-job-id');
      assert.ok(messages.every((m) => m.id === id && m.status === 'success'), JSON.stringify(messages.filter((m) => m.status !== 'success')));
      const last = messages.at(-1)!;
      assert.equal(last.done, true);
      assert.equal(last.output!['text'], undefined, 'the text was streamed already');
      assert.equal(last.output!['conversation_id'], 'story');
      const body = messages.slice(0, -1);
      const texts = body.filter((m) => typeof m.output?.['text'] === 'string');
      const audios = body.filter((m) => m.output?.['audio'] !== undefined);
      assert.equal(texts.map((m) => m.output!['text']).join(''), SLOW_REPLY);
      assert.ok(texts.length > 5, 'text comes in pieces as the model writes it');
      assert.ok(audios.length >= last.output!['audio_chunks'] && last.output!['audio_chunks'] > 0, 'each /stream element is one or more messages');
      const firstAudio = body.findIndex((m) => m.output?.['audio'] !== undefined);
      const spokenSoFar = body.slice(0, firstAudio).map((m) => m.output?.['text'] ?? '').join('');
      assert.ok(spokenSoFar.startsWith('Sure thing.'), `the first sentence's text came before its audio: ${JSON.stringify(spokenSoFar)}`);
      const lastText = body.findLastIndex((m) => typeof m.output?.['text'] === 'string');
      assert.ok(firstAudio < lastText, 'audio of sentence 1 arrives before the reply is finished');
      for (const message of audios) {
        const audio = message.output!['audio'] as number[];
        assert.ok(Array.isArray(audio) && audio.length > 0 && audio.length <= 4096, 'long audio is cut into messages a naive reader takes whole');
        assert.equal(message.output!['sample_rate'], 44_100);
      }
      const samples = audios.reduce((sum, m) => sum + (m.output!['audio'] as number[]).length, 0);
      assert.ok(Math.abs(samples / 44_100 - last.output!['duration']) < 0.001, 'the pieces add up to the whole reply');
      // The job API sees the same job.
      const status = (await (await fetch(`${server.url}/v2/fish-speech/status/${id}`, { headers: { authorization: `Bearer ${KEY_A}` } })).json()) as Envelope;
      assert.equal(status.status, 'COMPLETED');
      assert.equal(status.output!['text'], SLOW_REPLY);
    });

    it('/runsync and /stream of the job API serve the same job in RunPod’s shapes', async () => {
      const response = await post('/runsync', { input: { message: 'Streamed for later?', stream: true } });
      const job = (await response.json()) as { id: string; status: string; output: Record<string, any> };
      assert.equal(job.status, 'COMPLETED');
      assert.equal(job.output['text'], REPLY);
      const stream = (await (await fetch(`${server.url}/v2/fish-speech/stream/${job.id}`, { headers: { authorization: `Bearer ${KEY_A}` } })).json()) as {
        status: string;
        stream: { output: Record<string, any> }[];
      };
      assert.equal(stream.status, 'COMPLETED');
      assert.equal(stream.stream.filter((e) => typeof e.output['text'] === 'string').map((e) => e.output['text']).join(''), REPLY);
      const audio = stream.stream.filter((e) => e.output['audio'] !== undefined);
      assert.equal(audio.length, job.output['audio_chunks']);
      assert.ok(audio.every((e) => e.output['audio'].length <= 44_100 * 0.25));
    });

    it('speaks the reply in the voice of reference_audio (voice matching), and in base64 WAV when asked', async () => {
      const reference = formantSynthReference({ f0Hz: 215, seconds: 8, sampleRate: 44_100 });
      const referenceHz = medianPitch(reference.samples, reference.sampleRate);
      const { body } = await run({ message: 'Say this in the reference voice', reference_audio: wavBytes(reference.samples, reference.sampleRate).toString('base64'), temperature: 0.7 });
      assert.equal(body.status, 'success', JSON.stringify(body));
      assert.equal(body.output!['voice_method'], 'voice_matching');
      assert.match(body.output!['note'], /not neural cloning/);
      const replyHz = medianPitch(floats(body.output!), 44_100);
      assert.ok(Math.abs(replyHz / referenceHz - 1) < 0.1, `reply ${replyHz.toFixed(0)} Hz vs reference ${referenceHz.toFixed(0)} Hz`);
      const plain = await run({ message: 'In the default voice [json]', audio_format: 'wav' });
      assert.equal(plain.body.output!['audio_format'], 'wav');
      const probe = probeAudio(Buffer.from(plain.body.output!['audio'] as string, 'base64'), 'wav');
      assert.equal(probe.sampleRate, 44_100);
      assert.equal(probe.channels, 1);
      assert.equal(probe.codec, 'pcm_s16le');
      assert.ok(Math.abs(probe.decodedDuration - plain.body.output!['duration']) < 0.001);
    });

    it('a model that fails, stalls, says nothing or cannot be reached: an error in the document’s shape, no turn saved, others unaffected', async () => {
      const healthy = run({ message: 'Meanwhile, a normal question?', conversation_id: 'healthy' });
      for (const [message, pattern] of [
        ['[error] please', /answered 500: scripted failure 500/],
        ['[stall] please', /stopped sending for 1500 ms/],
        ['[empty] please', /returned an empty reply/],
      ] as const) {
        const { status, body } = await run({ message, conversation_id: 'fragile' });
        assert.equal(status, 500, JSON.stringify(body));
        assert.equal(body.status, 'error');
        assert.match(body.error ?? '', pattern);
        assert.match(body.id ?? '', /-/);
      }
      const streamed = await streamRun({ message: '[stall] streamed', conversation_id: 'fragile' });
      const last = streamed.messages.at(-1)!;
      assert.equal(last.status, 'error');
      assert.match(last.error ?? '', /stopped sending/);
      assert.ok(streamed.messages.some((m) => m.output?.['text'] !== undefined), 'the text written before the stall was streamed');
      await run({ message: 'After the failures?', conversation_id: 'fragile' });
      assert.deepEqual(sentWith('After the failures?'), [{ role: 'user', content: 'After the failures?' }], 'no partial turn was saved');
      assert.equal((await healthy).body.status, 'success');
    });

    it('a client that hangs up mid-reply cancels the job, stops the model, and saves nothing', async () => {
      const controller = new AbortController();
      const response = await post('/run', { input: { message: 'Go on [slow]', conversation_id: 'left', stream: true } }, KEY_A, controller.signal);
      const id = response.headers.get('x-job-id')!;
      const reader = response.body!.getReader();
      await reader.read();
      controller.abort();
      let state = '';
      for (let i = 0; i < 50 && state !== 'CANCELLED'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        state = ((await (await fetch(`${server.url}/v2/fish-speech/status/${id}`, { headers: { authorization: `Bearer ${KEY_A}` } })).json()) as Envelope).status;
      }
      assert.equal(state, 'CANCELLED');
      await run({ message: 'Still there?', conversation_id: 'left' });
      assert.deepEqual(sentWith('Still there?'), [{ role: 'user', content: 'Still there?' }]);
    });

    it('refuses bad input with a 400 in the document’s shape that names the field and the FAILED job it made', async () => {
      const cases: [unknown, string | undefined, RegExp][] = [
        [{ input: {} }, 'message', /Missing required parameter: 'message'/],
        [{ input: { message: '   ' } }, 'message', /'message' is empty/],
        [{ input: { message: 42 } }, 'message', /must be a string/],
        [{ input: { message: 'Hi', temperature: 1.5 } }, 'temperature', /'temperature' must be a number from 0.1 to 1/],
        [{ input: { message: 'Hi', temperature: 0 } }, 'temperature', /from 0.1 to 1/],
        [{ input: { message: 'Hi', max_tokens: 0 } }, 'max_tokens', /'max_tokens' must be an integer from 1 to 32768/],
        [{ input: { message: 'Hi', max_tokens: 2.5 } }, 'max_tokens', /integer/],
        [{ input: { message: 'Hi', reference_audio: 'not base64!!' } }, 'reference_audio', /not valid base64/],
        [{ input: { message: 'Hi', reference_audio: Buffer.from('just some text, not audio').toString('base64') } }, 'reference_audio', /reference_audio/],
        [{ input: { message: 'Hi', conversation_id: 'c'.repeat(201) } }, 'conversation_id', /at most 200/],
        [{ input: { message: 'Hi', stream: 'yes' } }, 'stream', /must be a boolean/],
        [{ input: { message: 'Hi', voice: 'Nobody' } }, 'voice', /Nobody/],
        [{ input: { message: 'Hi', audio_format: 'mp3' } }, 'audio_format', /float, wav/],
        [{ message: 'Hi' }, 'input', /Missing required field 'input'/],
        ['{"input": {', undefined, /not valid JSON/],
      ];
      for (const [body, field, pattern] of cases) {
        const response = await post('/run', body);
        const answer = (await response.json()) as Envelope;
        assert.equal(response.status, 400, JSON.stringify({ body, answer }).slice(0, 300));
        assert.equal(answer.status, 'error');
        assert.equal(answer.field, field, JSON.stringify(answer));
        assert.match(answer.error ?? '', pattern);
        // Refused input makes a FAILED job, as on RunPod; a body that is no job request makes none.
        const envelopeError = field === 'input' || field === undefined;
        if (envelopeError) {
          assert.equal(answer.id, null);
        } else {
          assert.ok(answer.id !== null, JSON.stringify(answer));
          const job = (await (await fetch(`${server.url}/v2/fish-speech/status/${answer.id}`, { headers: { authorization: KEY_A } })).json()) as { status: string; error?: string };
          assert.equal(job.status, 'FAILED');
          assert.equal(job.error, answer.error);
        }
      }
      // Text over CHORUS_MAX_INPUT_CHARS is 413 on the job API, as on every endpoint (test/adversarial/text.test.ts).
      const tooLong = await run({ message: 'x'.repeat(10_001) });
      assert.equal(tooLong.status, 413);
      assert.equal(tooLong.body.field, 'message');
      assert.match(tooLong.body.error ?? '', /at most 10000 characters \(CHORUS_MAX_INPUT_CHARS\)/);
      assert.equal((await run({ message: 'Still fine after all that?' })).body.status, 'success');
    });
  });
}

describe('Fish Speech chat agent without a language model, or with one that cannot be reached', () => {
  let unconfigured: TestServer;
  let unreachable: TestServer;
  before(async () => {
    unconfigured = await startTestServer();
    unreachable = await startTestServer({ CHORUS_LLM_URL: `http://127.0.0.1:${await closedPort()}/v1`, CHORUS_LLM_MODEL: 'llama' });
  });
  after(async () => {
    await unconfigured?.close();
    await unreachable?.close();
  });

  const chatRun = async (server: TestServer, message: string): Promise<{ response: Response; body: Envelope }> => {
    const response = await fetch(`${server.url}/v2/fish-speech/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { message } }),
    });
    return { response, body: (await response.json()) as Envelope };
  };

  it('with no CHORUS_LLM_URL the endpoint answers 503 naming the setting; the rest of Chorus works', async () => {
    const { response, body } = await chatRun(unconfigured, 'Hello, how are you?');
    assert.equal(response.status, 503);
    assert.equal(body.status, 'error');
    assert.match(body.error ?? '', /CHORUS_LLM_URL/);
    const speech = await fetch(`${unconfigured.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: 'Still speaking.', response_format: 'wav' }),
    });
    assert.equal(speech.status, 200);
    assert.equal((await fetch(`${unconfigured.url}/health`)).status, 200);
  });

  it('a chat server that cannot be reached fails the reply with a clear error', async () => {
    const { response, body } = await chatRun(unreachable, 'Hello?');
    assert.equal(response.status, 500);
    assert.equal(body.status, 'error');
    assert.match(body.error ?? '', /language model \(llama .*CHORUS_LLM_URL\) cannot be reached/);
  });
});
