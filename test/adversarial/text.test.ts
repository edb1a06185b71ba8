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

/** About ten seconds of speech. */
const LONG_REPLY = 'This answer goes on and on. It has one sentence after another, each of them adding a few more words. It does not stop for quite a while, and it keeps talking well past any short limit.';

/** A chat reply that carries a tag, as a language model told to "pause" might write it; or a long one. */
function agentReply(request: ChatServerRequest) {
  const last = request.body.messages?.at(-1)?.content ?? '';
  if (last.includes('[tag]')) return { tokens: ['Sure.', ` Let me think ${BREAK} about it.`, ' Done.'] };
  if (last.includes('[long]')) return { tokens: LONG_REPLY.split(/(?= )/) };
  return { tokens: ['Hello there.'] };
}

/**
 * A refused /v2 request: a 4xx answer `{"error", "field"}`, or (another part of issue 14 turns input
 * errors on /v2 into FAILED jobs, as RunPod reports them) a FAILED job whose error names the field.
 * Either way nothing is spoken and the message says what is allowed.
 */
async function expectRefused(response: Response, field: string, message: RegExp): Promise<void> {
  const body = (await response.json()) as Job;
  if (response.status >= 400) {
    assert.ok(response.status < 500, `${response.status}: ${JSON.stringify(body)}`);
    assert.equal(body.field, field, JSON.stringify(body));
  } else {
    assert.equal(body.status, 'FAILED', JSON.stringify(body).slice(0, 300));
    assert.match(String(body.error), new RegExp(`'${field}'`));
  }
  assert.match(String(body.error), message, JSON.stringify(body).slice(0, 300));
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

  describe('text with nothing to speak is refused at submission, on every API', () => {
    const nothing = ['😀👍🎉', '?!… — ...', '**  __', ' \u200b\u200d '];

    it('/v1/audio/speech: 400 naming input', async () => {
      for (const input of nothing) {
        const error = await openai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input }).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        assert.ok(error instanceof OpenAI.BadRequestError, `${JSON.stringify(input)}: ${String(error)}`);
        assert.equal(error.param, 'input');
        assert.match(error.message, /nothing that can be spoken/);
      }
    });

    it('spark-tts, chatterbox and chatterbox-v2 tts: refused naming text, before any job runs', async () => {
      for (const text of nothing) {
        for (const [endpoint, input] of [
          ['spark-tts', { text }],
          ['chatterbox', { text }],
          ['chatterbox-v2', { operation: 'tts', mode: 'basic', text }],
        ] as const) {
          const response = await fetch(`${server.url}/v2/${endpoint}/runsync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
          await expectRefused(response, 'text', /nothing that can be spoken/);
        }
      }
    });
  });

  describe('text length: one configurable limit on every API (CHORUS_MAX_INPUT_CHARS, default 10000)', () => {
    it('the default server refuses 19.5k characters on chatterbox and spark-tts, naming text and 10000', async () => {
      const text = 'This sentence is forty characters long. '.repeat(488);
      assert.ok(text.length > 19_000);
      for (const endpoint of ['chatterbox', 'spark-tts']) {
        const response = await fetch(`${server.url}/v2/${endpoint}/runsync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { text } }) });
        await expectRefused(response, 'text', /at most 10000 characters.*got 19520/);
      }
      // OpenAI's own limit stays 4096 on /v1 (the setting is above it).
      const error = await openai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: text.slice(0, 4097) }).catch((caught: unknown) => caught);
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.code, 'string_above_max_length');
      assert.match(error.message, /at most 4096 characters/);
    });
  });

  describe('a small server: CHORUS_MAX_INPUT_CHARS=300, CHORUS_MAX_AUDIO_SECONDS=3', () => {
    let small: TestServer;
    let smallChat: ChatServer;
    before(async () => {
      smallChat = await startChatServer(agentReply);
      small = await startTestServer({
        CHORUS_RATE_LIMIT_RPS: '0',
        CACHE_ENABLED: 'false',
        CHORUS_MAX_INPUT_CHARS: '300',
        CHORUS_MAX_AUDIO_SECONDS: '3',
        CHORUS_LLM_URL: smallChat.url,
        CHORUS_LLM_MODEL: 'scripted-model',
      });
    });
    after(async () => {
      await small?.close();
      await smallChat?.close();
    });
    const post = (path: string, body: unknown) =>
      fetch(`${small.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const over = 'word '.repeat(60) + 'x'; // 301 characters
    const atLimit = 'word '.repeat(59) + 'wordy'; // 300 characters

    it('over the limit is refused on every API, naming the field and the limit; at the limit is accepted', async () => {
      assert.equal(over.length, 301);
      assert.equal(atLimit.length, 300);
      const v1 = await post('/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input: over });
      assert.equal(v1.status, 400);
      const v1Error = ((await v1.json()) as { error: { param: string; code: string; message: string } }).error;
      assert.equal(v1Error.param, 'input');
      assert.equal(v1Error.code, 'string_above_max_length');
      assert.match(v1Error.message, /'input' must be at most 300 characters \(CHORUS_MAX_INPUT_CHARS\), but got 301/);
      const extended = await post('/v1/audio/speech/extended', { input: over });
      assert.equal(extended.status, 400);
      for (const [endpoint, input, field] of [
        ['spark-tts', { text: over }, 'text'],
        ['chatterbox', { text: over }, 'text'],
        ['chatterbox-v2', { operation: 'tts', mode: 'streaming', text: over }, 'text'],
        ['fish-speech', { message: over }, 'message'],
      ] as const) {
        await expectRefused(await post(`/v2/${endpoint}/runsync`, { input }), field, /at most 300 characters \(CHORUS_MAX_INPUT_CHARS\), but got 301/);
      }
      // At the limit the text is accepted (and then meets the audio bound: 300 characters is more than 3 s).
      const accepted = await post('/v2/chatterbox/run', { input: { text: atLimit } });
      assert.equal(accepted.status, 200, await accepted.clone().text());
    });

    it('audio past CHORUS_MAX_AUDIO_SECONDS fails with text_too_long naming the field and the bound: whole files', async () => {
      const text = 'This sentence takes a couple of seconds. So does this one, and then there is a third.';
      const whole = await post('/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input: text, response_format: 'wav' });
      assert.equal(whole.status, 400);
      const error = ((await whole.json()) as { error: { param: string; message: string } }).error;
      assert.equal(error.param, 'input');
      assert.match(error.message, /more than 3 s of audio \(CHORUS_MAX_AUDIO_SECONDS\)/);
      // Gaps and slow speed inflate short text past the bound too.
      for (const body of [{ input: 'One. Two. Three.', multi_sentence_gap: 2 }, { input: 'Slowly now.', speed: 0.25 }]) {
        const response = await post('/v1/audio/speech/extended', { ...body, response_format: 'wav' });
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.match(((await response.json()) as { error: { message: string } }).error.message, /CHORUS_MAX_AUDIO_SECONDS/);
      }
      const spark = await post('/v2/spark-tts/runsync', { input: { text } });
      const sparkJob = (await spark.json()) as Job;
      assert.equal(sparkJob.status, 'FAILED');
      assert.match(String(sparkJob.error), /'text' makes more than 3 s of audio \(CHORUS_MAX_AUDIO_SECONDS\)/);
    });

    it('a stream that passes the bound ends there: /v1 pcm and SSE, chatterbox-v2 streaming', async () => {
      const text = 'This sentence takes a couple of seconds. So does this one, and then there is a third. And a fourth one.';
      const stream = await post('/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input: text, response_format: 'pcm', stream: true });
      assert.equal(stream.status, 200);
      const received: Uint8Array[] = [];
      let failed = false;
      try {
        for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) received.push(chunk);
      } catch {
        failed = true;
      }
      const audio = Buffer.concat(received);
      const seconds = audio.length / 2 / 24_000;
      assert.ok(seconds <= 3.2, `${seconds} s streamed`);
      assert.ok(failed, 'the stream is cut off rather than ended as if complete');
      assert.equal(audio.length % 2, 0, 'whole samples: no error text appended to the audio');
      assert.ok(!audio.toString('latin1').includes('Error'), 'no error text appended to the audio');

      // SSE has room for the error: the last event is OpenAI's error object, naming the field and the bound.
      const sse = await post('/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input: text, response_format: 'pcm', stream_format: 'sse' });
      const events = (await sse.text()).trim().split('\n\n').map((event) => JSON.parse(event.replace(/^data: /, '')) as { type: string; error?: { code: string; param: string; message: string } });
      assert.ok(!events.some((event) => event.type === 'speech.audio.done'), 'no done event after a cut-off stream');
      assert.ok(events.some((event) => event.type === 'speech.audio.delta'));
      const last = events.at(-1)!;
      assert.equal(last.type, 'error', JSON.stringify(last));
      assert.equal(last.error?.param, 'input');
      assert.match(last.error?.message ?? '', /3 s of audio/);

      // So has NDJSON with timestamps.
      const lines = (await (await post('/v1/audio/speech/extended', { voice: 'alloy', input: text, response_format: 'pcm', stream: true, timestamps: true })).text()).trim().split('\n');
      const lastLine = JSON.parse(lines.at(-1)!) as { type: string; error?: { param: string } };
      assert.equal(lastLine.type, 'error', lines.at(-1));
      assert.equal(lastLine.error?.param, 'input');

      const job = (await (await post('/v2/chatterbox-v2/runsync', { input: { operation: 'tts', mode: 'streaming', text } })).json()) as Job;
      assert.equal(job.status, 'FAILED');
      assert.match(String(job.error), /'text' makes more than 3 s of audio/);
    });

    it("the chat agent's spoken reply is bounded by the same setting", async () => {
      const response = await post('/v2/fish-speech/run', { input: { message: 'Tell me everything [long]' } });
      const body = (await response.json()) as Job;
      assert.equal(body.status, 'error', JSON.stringify(body).slice(0, 300));
      assert.equal(response.status, 500, 'a reply that failed inside its job (docs/chat-agent.md)');
      assert.match(String(body.error), /The spoken reply makes more than 3 s of audio \(CHORUS_MAX_AUDIO_SECONDS\).*max_tokens/);
      // The server is unharmed: a short reply still works.
      const ok = (await (await post('/v2/fish-speech/run', { input: { message: 'Hi' } })).json()) as Job;
      assert.equal(ok.status, 'success', JSON.stringify(ok).slice(0, 300));
    });
  });

  describe('a word of the text is one timing, also in subtitles', () => {
    const TEXT = "The train left at 9:30 p.m. with $100, 3.5% of AT&T's e-mail (U.S.A.) on x86_64; didn't it? Wait—this part, too.";
    const WORDS = ['The', 'train', 'left', 'at', '9:30', 'p.m', 'with', '$100', '3.5%', 'of', "AT&T's", 'e-mail', 'U.S.A', 'on', 'x86_64', "didn't", 'it', 'Wait—this', 'part', 'too'];
    const tokens = TEXT.split(' ');

    /** The cue lines of a subtitle file, timing tags removed, in order. */
    const cueLines = (file: string, format: string): string[] => {
      if (format === 'ass') return file.split('\n').filter((line) => line.startsWith('Dialogue:')).map((line) => line.split(',').slice(9).join(',').replace(/\{\\kf\d+\}/g, ''));
      const blocks = file.replace(/^WEBVTT\n/, '').trim().split(/\n\n+/);
      return blocks.map((block) => block.split('\n').slice(2).join(' ').replace(/<[\d:.]+>/g, '').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>'));
    };

    it('a word a chunk boundary cuts (a long word, words joined by dashes) still gets one timing, whole or streamed', async () => {
      const input = `Please read ${'supercalifragilistic'.repeat(8)} aloud, then the part after it—which goes on—and on—and on—until the chunk is full—and then some more—before it ends.`;
      const expected = input.split(' ').map((token) => token.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''));
      const body = { input, timestamps: true, chunk_length: 100, response_format: 'wav' };
      const whole = (await (await fetch(`${server.url}/v1/audio/speech/extended`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { word_timings: { word: string; start: number; end: number }[] };
      assert.deepEqual(whole.word_timings.map((w) => w.word), expected);
      // The long word's timing covers all of it, not just its first chunk (which would leave the rest to "aloud").
      const [long, aloud] = whole.word_timings.slice(2, 4);
      assert.ok(long!.end - long!.start > 4 && aloud!.end - aloud!.start < 1.5, JSON.stringify([long, aloud]));
      const lines = (await (await fetch(`${server.url}/v1/audio/speech/extended`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) })).text()).trim().split('\n');
      const streamed = lines.map((line) => JSON.parse(line) as { type: string; words?: { word: string }[] }).flatMap((line) => (line.type === 'words' ? line.words!.map((w) => w.word) : []));
      assert.deepEqual(streamed, expected);
    });

    for (const [format, karaoke] of [['ass', true], ['vtt', true], ['srt', false]] as const) {
      it(`spark-tts enable_whisperx: one timing per word; ${format} subtitles${karaoke ? ' (karaoke)' : ''} hold each word once`, async () => {
        const job = await runSync('spark-tts', { text: TEXT, enable_whisperx: true, enable_subtitles: true, subtitle_format: format, subtitle_karaoke: karaoke });
        assert.equal(job.status, 'COMPLETED', job.error);
        const timings = job.output!['word_timings'] as { word: string; start: number; end: number }[];
        assert.deepEqual(timings.map((t) => t.word), WORDS);
        for (let i = 0; i < timings.length; i++) {
          assert.ok(timings[i]!.end >= timings[i]!.start, `${timings[i]!.word} ends after it starts`);
          if (i > 0) assert.ok(timings[i]!.start >= timings[i - 1]!.start, `${timings[i]!.word} starts after ${timings[i - 1]!.word}`);
        }
        const file = await (await fetch(job.output!['subtitles_url'])).text();
        const lines = cueLines(file, format);
        // Every word of the text, with its punctuation, once and in order.
        assert.deepEqual(lines.join(' ').split(' '), tokens, lines.join(' | '));
        if (format === 'ass') assert.equal(file.match(/\{\\kf\d+\}/g)?.length, WORDS.length, 'one karaoke syllable per word');
        if (format === 'vtt') assert.equal((file.match(/<\d\d:\d\d:\d\d\.\d{3}>/g)?.length ?? 0) + lines.length, WORDS.length, 'one karaoke step per word');
      });
    }
  });
});
