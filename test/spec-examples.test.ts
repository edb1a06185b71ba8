import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { trackPitch, voicedPitchStats } from '../src/audio/analysis/pitch.js';
import { startChatServer, type ChatServer } from './support/chat-server.js';
import { probeAudio } from './support/ffprobe.js';
import { formantSynthReference, wavBytes } from './support/reference-voices.js';
import { assertLocalVoicesShape } from './support/local-voices.js';
import { startTestServer, type TestServer } from './support/server.js';

// The Python and JavaScript client examples of the worker documents, run unchanged (see the header of each file
// in test/fixtures/spec-examples/) against a real Chorus server: only base URL, endpoint id and key differ.

const KEY = 'spec-examples-key';
const FIXTURES = fileURLToPath(new URL('./fixtures/spec-examples/', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../node_modules/', import.meta.url));
// The spec documents sit beside the repository (../shared/spec), in CI as in development.
const SPEC_DIR =
  process.env['CHORUS_SPEC_DIR'] ??
  [fileURLToPath(new URL('../../shared/spec', import.meta.url)), '/work/shared/spec'].find((dir) => existsSync(dir)) ??
  fileURLToPath(new URL('../../shared/spec', import.meta.url));
const MARKER = '---- verbatim example below ----';
const TIMEOUT_MS = 30_000;

interface Example {
  readonly file: string;
  readonly doc: string;
  readonly heading: string;
  readonly lang: 'python' | 'javascript' | 'bash';
}

const EXAMPLES = {
  spark: { file: '000-spark-tts-python.py', doc: '000_e98b1fbd5a979f64.txt', heading: '### Python Example', lang: 'python' },
  cbPython: { file: '001-chatterbox-python.py', doc: '001_41e4177c6d137d4b.txt', heading: '### Python', lang: 'python' },
  cbJs: { file: '001-chatterbox-javascript.cjs', doc: '001_41e4177c6d137d4b.txt', heading: '### JavaScript / Node.js', lang: 'javascript' },
  opsPython: { file: '002-chatterbox-v2-python-quick-start.py', doc: '002_de8506932031be05.txt', heading: '### Python Quick Start', lang: 'python' },
  opsJs: { file: '002-chatterbox-v2-javascript-quick-start.cjs', doc: '002_de8506932031be05.txt', heading: '### JavaScript/Node.js Quick Start', lang: 'javascript' },
  agentCurl: { file: '004-fish-speech-curl-basic.sh', doc: '004_d7d026f27f04803e.txt', heading: '#### 1. Basic Text Chat (cURL)', lang: 'bash' },
  agentCloning: { file: '004-fish-speech-voice-cloning.py', doc: '004_d7d026f27f04803e.txt', heading: '#### 2. Voice Cloning (Python)', lang: 'python' },
  agentConversation: { file: '004-fish-speech-conversation.mjs', doc: '004_d7d026f27f04803e.txt', heading: '#### 3. Conversation Context (JavaScript)', lang: 'javascript' },
  agentHttpx: { file: '004-fish-speech-stream-httpx.py', doc: '004_d7d026f27f04803e.txt', heading: '#### Python with httpx', lang: 'python' },
  agentFetch: { file: '004-fish-speech-stream-fetch.mjs', doc: '004_d7d026f27f04803e.txt', heading: '#### JavaScript Fetch API', lang: 'javascript' },
} as const satisfies Record<string, Example>;

/** The fixture's code below the header marker: the document's code block, byte for byte. */
function verbatim(example: Example): string {
  const text = readFileSync(join(FIXTURES, example.file), 'utf8');
  const at = text.indexOf(`${MARKER}\n`);
  assert.ok(at >= 0, `${example.file}: no marker line`);
  return text.slice(at + MARKER.length + 1);
}

/** The first ```lang block after the heading line in a spec document. */
function specBlock(example: Example): string {
  const lines = readFileSync(join(SPEC_DIR, example.doc), 'utf8').split('\n');
  const heading = lines.findIndex((line) => line.trimEnd() === example.heading);
  assert.ok(heading >= 0, `${example.doc}: no heading ${example.heading}`);
  const open = lines.findIndex((line, i) => i > heading && line.startsWith('```'));
  assert.equal(lines[open], '```' + example.lang);
  const close = lines.findIndex((line, i) => i > open && line === '```');
  return lines.slice(open + 1, close).join('\n') + '\n';
}

interface Substitution {
  readonly from: string;
  readonly to: string;
  /** How often `from` occurs in the example: a changed document fails here instead of silently running elsewhere. */
  readonly count: number;
}

interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The working directory the script ran in (its output files land here). */
  readonly dir: string;
}

const workDirs: string[] = [];

/** Writes the substituted example (plus any harness prelude) to a fresh working dir and runs it there. */
async function runExample(
  example: Example,
  substitutions: readonly Substitution[],
  options: { prelude?: string; epilogue?: string; env?: Record<string, string>; files?: Record<string, Uint8Array> } = {},
): Promise<Ran> {
  let code = verbatim(example);
  for (const { from, to, count } of substitutions) {
    assert.equal(code.split(from).length - 1, count, `${example.file}: occurrences of ${from}`);
    code = code.replaceAll(from, to);
  }
  assert.ok(!code.includes('api.runpod.ai'), `${example.file}: every RunPod URL was rewritten`);
  const dir = mkdtempSync(join(tmpdir(), 'chorus-spec-example-'));
  workDirs.push(dir);
  const script = join(dir, example.file);
  writeFileSync(script, (options.prelude ?? '') + code + (options.epilogue ?? ''));
  for (const [name, bytes] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), bytes);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    // CommonJS `require('axios')` from the temp dir resolves through the project's node_modules.
    NODE_PATH: NODE_MODULES,
    PYTHONIOENCODING: 'utf-8',
    PYTHONDONTWRITEBYTECODE: '1',
    NO_PROXY: [process.env['NO_PROXY'], '127.0.0.1', 'localhost'].filter(Boolean).join(','),
  };
  const command = example.lang === 'python' ? pythonWith(code.includes('import httpx') ? 'httpx' : 'requests') : example.lang === 'bash' ? 'bash' : process.execPath;
  return new Promise((resolve) => {
    execFile(command, [script], { cwd: dir, env, timeout: TIMEOUT_MS, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ status, stdout, stderr, dir });
    });
  });
}

const show = (ran: Ran) => `exit ${String(ran.status)}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`;

describe('the documents’ Python and JavaScript examples, run unchanged against Chorus', () => {
  let server: TestServer;
  let base: string;
  const authorized = { authorization: `Bearer ${KEY}` };
  /** What the 001 Python example saved, to compare with the JavaScript example's (a cache hit). */
  let chatterboxMp3: Buffer | undefined;

  before(async () => {
    server = await startTestServer({ CHORUS_API_KEYS: KEY });
    base = `${server.url}/v2`;
  });
  after(async () => {
    await server?.close();
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('the fixtures are still the documents’ code blocks, byte for byte', (t) => {
    if (!existsSync(SPEC_DIR)) return t.skip(`${SPEC_DIR} is not present`);
    for (const example of Object.values(EXAMPLES)) assert.equal(verbatim(example), specBlock(example), example.file);
    const lines = readFileSync(join(SPEC_DIR, '002_de8506932031be05.txt'), 'utf8').split('\n');
    const section = lines.indexOf('## 4. Voice Listing');
    const open = lines.findIndex((line, i) => i > section && line === '```json');
    const close = lines.findIndex((line, i) => i > open && line === '```');
    assert.equal(readFileSync(join(FIXTURES, '002-list-local-voices.request.json'), 'utf8'), lines.slice(open + 1, close).join('\n') + '\n');
  });

  /** Checks the documented output fields of a finished first-version Chatterbox job. */
  async function chatterboxOutput(jobId: string, saved: Buffer): Promise<Record<string, unknown>> {
    const response = await fetch(`${base}/chatterbox/status/${jobId}`, { headers: authorized });
    assert.equal(response.status, 200);
    const job = (await response.json()) as { status: string; output: Record<string, unknown> };
    assert.equal(job.status, 'COMPLETED');
    const output = job.output;
    assert.deepEqual(
      Object.keys(output).sort(),
      ['audio_base64', 'cache_hit', 'cache_key', 'chunks_processed', 'duration_ms', 'generation_time_ms', 'mimetype'],
    );
    assert.ok(Buffer.from(String(output['audio_base64']), 'base64').equals(saved), 'the script saved the job’s audio');
    assert.equal(output['mimetype'], 'audio/mpeg');
    assert.match(String(output['cache_key']), /^[0-9a-f]{64}$/);
    assert.equal(output['chunks_processed'], 1);
    assert.equal(typeof output['generation_time_ms'], 'number');
    const probe = probeAudio(saved, 'mp3');
    assert.equal(probe.codec, 'mp3');
    assert.ok(probe.decodedDuration > 1, `${probe.decodedDuration} s`);
    assert.ok(Math.abs(probe.decodedDuration * 1000 - Number(output['duration_ms'])) < 100, `${probe.decodedDuration} s vs ${String(output['duration_ms'])} ms`);
    return output;
  }

  /** What both 001 examples print and save: the job id, the byte count, and output.mp3. */
  async function savedChatterboxRun(ran: Ran): Promise<{ saved: Buffer; output: Record<string, unknown> }> {
    const jobId = /^Job submitted: (\S+)$/m.exec(ran.stdout)?.[1];
    const bytes = Number(/^‚úÖ Generated (\d+) bytes$/m.exec(ran.stdout)?.[1]);
    assert.ok(jobId !== undefined && bytes > 0, show(ran));
    assert.match(ran.stdout, /^Saved to output\.mp3$/m);
    const saved = readFileSync(join(ran.dir, 'output.mp3'));
    assert.equal(saved.length, bytes);
    return { saved, output: await chatterboxOutput(jobId, saved) };
  }

  const chatterboxSubstitutions = (): Substitution[] => [
    { from: 'https://api.runpod.ai/v2', to: base, count: 1 },
    { from: '"70sq2akye030kh"', to: '"chatterbox"', count: 1 },
  ];

  it('000 Spark-TTS: the Python example prints an audio_url that serves a 24 kHz WAV', async () => {
    const ran = await runExample(EXAMPLES.spark, [
      { from: 'https://api.runpod.ai/v2', to: base, count: 1 },
      { from: '"your-endpoint-id"', to: '"spark-tts"', count: 1 },
      { from: '"your-api-key"', to: JSON.stringify(KEY), count: 1 },
    ]);
    assert.equal(ran.status, 0, show(ran));
    const url = /^Audio generated: (\S+)$/m.exec(ran.stdout)?.[1];
    assert.ok(url !== undefined, show(ran));
    assert.ok(url.startsWith(`${server.url}/files/python_test_`), url);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), 'wav');
    assert.equal(probe.sampleRate, 24_000);
    assert.equal(probe.channels, 1);
    assert.ok(probe.decodedDuration > 0.5, `${probe.decodedDuration} s`);
  });

  it('001 Chatterbox: the Python generate_speech example saves output.mp3', async () => {
    const ran = await runExample(EXAMPLES.cbPython, chatterboxSubstitutions(), { env: { RUNPOD_API_KEY: KEY } });
    assert.equal(ran.status, 0, show(ran));
    const { saved, output } = await savedChatterboxRun(ran);
    assert.equal(output['cache_hit'], false);
    chatterboxMp3 = saved;
  });

  it('001 Chatterbox: the JavaScript (axios) example saves output.mp3; the same request again is a cache hit', async () => {
    const ran = await runExample(EXAMPLES.cbJs, chatterboxSubstitutions(), { env: { RUNPOD_API_KEY: KEY } });
    assert.equal(ran.status, 0, show(ran));
    assert.equal(ran.stderr, '', show(ran));
    const { saved, output } = await savedChatterboxRun(ran);
    if (chatterboxMp3 !== undefined) {
      assert.equal(output['cache_hit'], true, 'the Python example asked for the same text, format and speed');
      assert.ok(saved.equals(chatterboxMp3));
    }
  });

  const opsSubstitutions = (): Substitution[] => [
    { from: 'https://api.runpod.ai/v2/c2wmx1ln5ccp6c', to: `${base}/chatterbox-v2`, count: 2 },
    { from: 'YOUR_API_KEY', to: KEY, count: 1 },
  ];

  /** The 24 kHz mono WAV a 002 example saved, whose length is `duration` when given. */
  function checkWav(dir: string, duration?: number): void {
    const probe = probeAudio(readFileSync(join(dir, 'output.wav')), 'wav');
    assert.equal(probe.codec, 'pcm_s16le');
    assert.equal(probe.sampleRate, 24_000);
    assert.equal(probe.channels, 1);
    assert.ok(probe.decodedDuration > 0.5, `${probe.decodedDuration} s`);
    if (duration !== undefined) assert.ok(Math.abs(probe.decodedDuration - duration) < 0.01, `${probe.decodedDuration} vs ${duration}`);
  }

  it('002 Chatterbox operations: the Python Quick Start (plus the missing `import time`) saves output.wav', async () => {
    const ran = await runExample(EXAMPLES.opsPython, opsSubstitutions(), { prelude: 'import time\n' });
    assert.equal(ran.status, 0, show(ran));
    const printed = /^Audio generated: (\d+)Hz, ([\d.]+)s$/m.exec(ran.stdout);
    assert.ok(printed !== null, show(ran));
    assert.equal(Number(printed[1]), 24_000);
    checkWav(ran.dir, Number(printed[2]));
  });

  it('002 Chatterbox operations: the JavaScript Quick Start (axios) saves output.wav', async () => {
    const ran = await runExample(EXAMPLES.opsJs, opsSubstitutions());
    // The example catches its own errors and prints them, so exit 0 alone proves nothing: check what it printed.
    assert.equal(ran.status, 0, show(ran));
    assert.equal(ran.stderr, '', show(ran));
    assert.match(ran.stdout, /^Audio generated: 24000Hz$/m, show(ran));
    checkWav(ran.dir);
  });

  it('002 Chatterbox operations: the voice-listing request, sent to /run and polled on /status as documented', async () => {
    const body = readFileSync(join(FIXTURES, '002-list-local-voices.request.json'), 'utf8');
    const submitted = await fetch(`${base}/chatterbox-v2/run`, {
      method: 'POST',
      headers: { ...authorized, 'content-type': 'application/json' },
      body,
    });
    assert.equal(submitted.status, 200);
    const { id } = (await submitted.json()) as { id: string };
    let job: { status: string; output?: Record<string, unknown>; error?: string } = { status: 'IN_QUEUE' };
    for (let i = 0; i < 100 && (job.status === 'IN_QUEUE' || job.status === 'IN_PROGRESS'); i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      job = (await (await fetch(`${base}/chatterbox-v2/status/${id}`, { headers: authorized })).json()) as typeof job;
    }
    assert.equal(job.status, 'COMPLETED', job.error);
    const output = assertLocalVoicesShape(job.output);
    const aaron = output.local_voices.find((voice) => voice['speaker_name'] === 'Aaron');
    assert.equal(aaron?.['gender'], 'male', 'the document’s sample entry');
    for (const name of ['Catherine', 'Benjamin', 'Amy']) {
      assert.ok(output.local_voices.some((voice) => voice['speaker_name'] === name), `${name}, used by the Quick Starts, is listed`);
    }
  });
});

/** The python3 on PATH if it has `module`, else Debian's (where apt installs python3-requests and python3-httpx). */
function pythonWith(module: 'requests' | 'httpx'): string {
  for (const python of ['python3', '/usr/bin/python3']) {
    if (spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0) return python;
  }
  return 'python3';
}


describe('the Fish Speech agent document’s examples (004), run unchanged against Chorus with a chat server configured', () => {
  const REPLY = 'Hello! I am doing well, thank you for asking. How can I help you today?';
  let chat: ChatServer;
  let server: TestServer;
  let url: string;

  before(async () => {
    chat = await startChatServer(() => ({ tokens: REPLY.match(/ ?[\p{L}\p{N}']+|[^\s\p{L}\p{N}']/gu) ?? [], tokenIntervalMs: 10 }));
    server = await startTestServer({ CHORUS_API_KEYS: KEY, CHORUS_LLM_URL: chat.url, CHORUS_LLM_MODEL: 'scripted' });
    url = `${server.url}/v2/fish-speech/run`;
  });
  after(async () => {
    await server?.close();
    await chat?.close();
  });

  const substitutions = (count: number): Substitution[] => [
    { from: 'https://api.runpod.ai/v2/{ENDPOINT_ID}/run', to: url, count },
    { from: 'YOUR_API_KEY', to: KEY, count },
  ];
  type Answer = { id: string; status: string; output: { text: string; audio: number[]; sample_rate: number; conversation_id: string } };
  const spoken = (answer: Answer): void => {
    assert.equal(answer.status, 'success', JSON.stringify(answer).slice(0, 300));
    assert.equal(answer.output.text, REPLY);
    assert.equal(answer.output.sample_rate, 44_100);
    assert.ok(answer.output.audio.length > 44_100 && answer.output.audio.every((x) => x >= -1 && x <= 1), 'seconds of float samples in [-1, 1]');
  };

  it('1. Basic Text Chat (cURL): prints the reply and its audio', async () => {
    const ran = await runExample(EXAMPLES.agentCurl, substitutions(1));
    assert.equal(ran.status, 0, show(ran));
    spoken(JSON.parse(ran.stdout) as Answer);
    assert.equal(chat.requests.at(-1)?.body.temperature, 0.7);
  });

  it('2. Voice Cloning (Python): the reply is spoken in the voice of speaker.wav', async () => {
    const reference = formantSynthReference({ f0Hz: 220, seconds: 6, sampleRate: 44_100 });
    const ran = await runExample(EXAMPLES.agentCloning, substitutions(1), {
      files: { 'speaker.wav': wavBytes(reference.samples, reference.sampleRate) },
      epilogue: 'import json\nprint(json.dumps({"text": text, "audio": audio_data, "method": result["output"]["voice_method"]}))\n',
    });
    assert.equal(ran.status, 0, show(ran));
    const printed = JSON.parse(ran.stdout) as { text: string; audio: number[]; method: string };
    assert.equal(printed.text, REPLY);
    assert.equal(printed.method, 'voice_matching');
    const stats = voicedPitchStats(trackPitch(Float32Array.from(printed.audio), 44_100));
    assert.ok(stats !== undefined && Math.abs(stats.medianHz / 220 - 1) < 0.1, `reply median pitch ${stats?.medianHz} Hz vs the speaker's 220 Hz`);
  });

  it('3. Conversation Context (JavaScript): the follow-up is answered with the first exchange as context', async () => {
    const ran = await runExample(EXAMPLES.agentConversation, substitutions(2), {
      epilogue: 'console.log(JSON.stringify([await response1.json(), await response2.json()]));\n',
    });
    assert.equal(ran.status, 0, show(ran));
    const [first, second] = JSON.parse(ran.stdout) as [Answer, Answer];
    spoken(first);
    spoken(second);
    assert.equal(second.output.conversation_id, 'chat-123');
    const followUp = chat.requests.find((r) => r.body.messages?.at(-1)?.content === 'And what about tomorrow?');
    assert.deepEqual(
      followUp?.body.messages?.filter((m) => m.role !== 'system'),
      [
        { role: 'user', content: "What's the weather?" },
        { role: 'assistant', content: REPLY },
        { role: 'user', content: 'And what about tomorrow?' },
      ],
    );
  });

  it('Streaming, Python with httpx: prints the reply as it streams', async () => {
    const ran = await runExample(EXAMPLES.agentHttpx, substitutions(1), { epilogue: 'import asyncio\nasyncio.run(stream_response())\n' });
    assert.equal(ran.status, 0, show(ran));
    assert.equal(ran.stdout, REPLY);
  });

  it('Streaming, JavaScript Fetch API: writes the reply as it streams, parsing each read as one message', async () => {
    const ran = await runExample(EXAMPLES.agentFetch, substitutions(1));
    assert.equal(ran.status, 0, show(ran));
    assert.equal(ran.stdout, REPLY);
  });
});
