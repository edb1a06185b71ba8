// Adversarial text (issue 14, items 2 and 4 and the text findings): what a request's text can make the
// engine do. Markup in the text is spoken, never obeyed, on every API; text has a length limit and
// audio a duration bound, the same on every API; text with nothing to speak is refused at submission.
// Real servers on loopback, real clients, ffprobe for every duration.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import runpodSdk from 'runpod-sdk';
import { startChatServer, type ChatServer, type ChatServerRequest } from '../support/chat-server.js';
import { probeAudio } from '../support/ffprobe.js';
import { startTestServer, type TestServer } from '../support/server.js';

type Job = { id?: string; status?: string; output?: Record<string, any>; error?: string; field?: string };

/** The issue's request: 24 characters that made 857 s of audio (41 MB) before the fix. */
const ISSUE_BREAK = '<break time="10000s"/> a';
/**
 * Markup that eSpeak NG's SSML parser obeys when the text reaches it unescaped. 60 s is enough to
 * tell obeyed from spoken (spoken, it is about two seconds of words) and keeps a regression cheap.
 */
const BREAK = '<break time="60s"/>';
const FOUR_BREAKS = `${BREAK} a ${BREAK} b ${BREAK} c ${BREAK} d`;
const PROSODY = '<prosody rate="x-slow"><prosody rate="x-slow">Hello there, how are you?</prosody></prosody>';

/** A chat reply that carries a tag, as a language model told to "pause" might write it. */
function agentReply(request: ChatServerRequest) {
  const last = request.body.messages?.at(-1)?.content ?? '';
  if (last.includes('[tag]')) return { tokens: ['Sure.', ` Let me think ${BREAK} about it.`, ' Done.'] };
  return { tokens: ['Hello there.'] };
}

describe('adversarial text', () => {
  let server: TestServer;
  let chat: ChatServer;
  let openai: OpenAI;

  before(async () => {
    chat = await startChatServer(agentReply);
    server = await startTestServer({ CHORUS_RATE_LIMIT_RPS: '0', CHORUS_LLM_URL: chat.url, CHORUS_LLM_MODEL: 'scripted-model', CACHE_ENABLED: 'false' });
    openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await chat?.close();
  });

  const runSync = async (endpoint: string, input: Record<string, unknown>): Promise<Job> => {
    const runpod = runpodSdk('unused', { baseUrl: `${server.url}/v2` });
    return (await runpod.endpoint(endpoint)!.runSync({ input }, 60_000)) as Job;
  };
  const speechSeconds = async (input: string): Promise<number> => {
    const response = await openai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input, response_format: 'wav' });
    return probeAudio(new Uint8Array(await response.arrayBuffer()), 'wav').decodedDuration;
  };

  describe('markup in the text is spoken literally, on every API', () => {
    it('/v1/audio/speech: a 10000 s break and slow prosody make seconds of audio, not hours', async () => {
      const issue = await speechSeconds(ISSUE_BREAK);
      assert.ok(issue < 10, `${issue} s for "${ISSUE_BREAK}"`);
      const fourBreaks = await speechSeconds(FOUR_BREAKS);
      assert.ok(fourBreaks < 30, `${fourBreaks} s for four breaks in ${FOUR_BREAKS.length} characters`);
      // Obeyed, x-slow and x-fast differ several times over; spoken literally, only by a word.
      const slow = await speechSeconds(PROSODY);
      const fast = await speechSeconds(PROSODY.replaceAll('x-slow', 'x-fast'));
      assert.ok(Math.abs(slow - fast) < 0.1 * fast, `x-slow ${slow} s vs x-fast ${fast} s`);
    });

    it('/v1/audio/speech/extended with timestamps: the words of a tag are timed like any other words', async () => {
      const response = await fetch(`${server.url}/v1/audio/speech/extended`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: `${BREAK} z, then x<y.`, timestamps: true, response_format: 'wav' }),
      });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { duration: number; word_timings: { word: string }[] };
      assert.ok(body.duration < 10, `${body.duration} s`);
      const words = body.word_timings.map((w) => w.word);
      assert.ok(words.includes('z') && words.some((w) => w.includes('break')), words.join(' | '));
      assert.ok(words.some((w) => w.includes('y')), `"y" after "<" is spoken: ${words.join(' | ')}`);
    });

    it('chatterbox-v2 tts and spark-tts: the same break is inert', async () => {
      const tts = await runSync('chatterbox-v2', { operation: 'tts', mode: 'basic', text: FOUR_BREAKS });
      assert.equal(tts.status, 'COMPLETED', tts.error);
      const ttsSeconds = probeAudio(Buffer.from(tts.output!['audio'], 'base64'), 'wav').decodedDuration;
      assert.ok(ttsSeconds < 30, `chatterbox-v2: ${ttsSeconds} s`);

      const spark = await runSync('spark-tts', { text: FOUR_BREAKS });
      assert.equal(spark.status, 'COMPLETED', spark.error);
      const wav = new Uint8Array(await (await fetch(spark.output!['audio_url'])).arrayBuffer());
      const sparkSeconds = probeAudio(wav, 'wav').decodedDuration;
      assert.ok(sparkSeconds < 30, `spark-tts: ${sparkSeconds} s`);

      const chatterbox = await runSync('chatterbox', { text: FOUR_BREAKS, format: 'wav' });
      assert.equal(chatterbox.status, 'COMPLETED', chatterbox.error);
      const chatterboxSeconds = probeAudio(Buffer.from(chatterbox.output!['audio_base64'], 'base64'), 'wav').decodedDuration;
      assert.ok(chatterboxSeconds < 30, `chatterbox: ${chatterboxSeconds} s`);
    });

    it("the chat agent: a tag in the model's reply is spoken, not obeyed", async () => {
      const response = await fetch(`${server.url}/v2/fish-speech/run`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { message: 'Pause for a while [tag]', audio_format: 'wav' } }),
      });
      const body = (await response.json()) as Job;
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.match(String(body.output!['text']), /<break/);
      const seconds = probeAudio(Buffer.from(body.output!['audio'], 'base64'), 'wav').decodedDuration;
      assert.ok(seconds < 15, `${seconds} s of reply audio`);
    });
  });
});
