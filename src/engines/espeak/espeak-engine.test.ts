import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { EnginePart, SpeechEngine } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import { createEspeakEngine } from './espeak-engine.js';

async function collect(engine: SpeechEngine, request: Parameters<SpeechEngine['synthesize']>[0], signal = new AbortController().signal) {
  const parts: EnginePart[] = [];
  for await (const part of engine.synthesize(request, signal)) parts.push(part);
  const audio = parts.flatMap((part) => (part.type === 'audio' ? [part.samples] : []));
  const samples = audio.reduce((sum, chunk) => sum + chunk.length, 0);
  let energy = 0;
  for (const chunk of audio) for (const sample of chunk) energy += sample * sample;
  return { parts, samples, rms: Math.sqrt(energy / Math.max(1, samples)), words: parts.filter((part) => part.type === 'word') };
}

describe('eSpeak NG engine', () => {
  let engine: SpeechEngine;
  before(async () => {
    engine = await createEspeakEngine();
  });

  it('declares its capabilities', () => {
    assert.equal(engine.capabilities.sampleRate, 22050);
    assert.equal(engine.capabilities.wordTimings, true);
    assert.ok(engine.capabilities.languages.some((language) => language.code === 'en-us' && language.tag === 'en-US'));
    assert.ok(engine.capabilities.languages.some((language) => language.code === 'cmn' && language.tag === 'cmn'));
    assert.ok(engine.capabilities.languages.length > 100);
  });

  it('has 37 named voices (21 male, 16 female) plus default, each sounding different', async () => {
    const voices = engine.listVoices();
    assert.equal(voices.length, 38);
    assert.equal(voices.filter((voice) => voice.gender === 'male' && voice.id !== 'default').length, 21);
    assert.equal(voices.filter((voice) => voice.gender === 'female').length, 16);
    const fingerprints = new Set<string>();
    for (const voice of voices) {
      const { samples, rms } = await collect(engine, { text: 'The quick brown fox jumps over the lazy dog.', voiceId: voice.id });
      assert.ok(rms > 0.02, `${voice.id} is audible`);
      fingerprints.add(`${samples}:${rms.toFixed(5)}`);
    }
    assert.equal(fingerprints.size, voices.length, 'every voice renders differently');
  });

  it('reports word events with offsets into the text and times inside the audio', async () => {
    const text = 'Hello world, how are you?';
    const { words, samples } = await collect(engine, { text, voiceId: 'Aaron' });
    const durationMs = (samples / 22050) * 1000;
    assert.deepEqual(
      words.map((word) => (word.type === 'word' ? text.slice(word.textStart, word.textEnd) : '')),
      ['Hello', 'world', 'how', 'are', 'you'],
    );
    for (const word of words) if (word.type === 'word') assert.ok(word.startMs <= word.endMs && word.endMs <= durationMs + 1);
  });

  it('speaks markup in the text literally: SSML tags, entities, phoneme brackets and embedded commands are inert', async () => {
    const spoken = async (text: string) => {
      const { words, samples } = await collect(engine, { text, voiceId: 'Aaron' });
      return { seconds: samples / 22050, words: words.map((word) => (word.type === 'word' ? text.slice(word.textStart, word.textEnd) : '')) };
    };
    // A break is spoken as its words, not obeyed: a few seconds, not 10000.
    const brk = await spoken('<break time="10000s"/> a');
    assert.ok(brk.seconds < 6, `${brk.seconds} s`);
    assert.ok(brk.words.includes('break') && brk.words.at(-1) === 'a', brk.words.join(' '));
    for (const [text, tagWord] of [
      ['<prosody rate="x-slow">hello there</prosody>', 'prosody'],
      ['<say-as interpret-as="characters">hello</say-as>', 'say'],
      ['<audio src="https://example.com/a.wav">hi</audio>', 'audio'],
      ['<voice gender="female">hi</voice>', 'voice'],
    ] as const) {
      const { words } = await spoken(text);
      assert.ok(words.includes(tagWord), `${text}: ${words.join(' ')}`);
    }
    // Slow prosody would make "hello there" last over a second; spoken literally the tag adds words, not slowness.
    const plain = await spoken('hello there');
    const slow = await spoken('<prosody rate="x-slow">hello there</prosody>');
    const hello = slow.words.indexOf('hello');
    assert.ok(hello >= 0 && slow.words[hello + 1] === 'there', slow.words.join(' '));
    assert.ok(plain.seconds < 1.2);
    // A "tag" with no space after < hides the letter after it unless escaped.
    assert.deepEqual((await spoken('x<y')).words, ['x', 'y']);
    assert.deepEqual((await spoken('a < b & c')).words, ['a', 'b', '&', 'c']);
    assert.deepEqual((await spoken('say &lt; now')).words.at(-1), 'now');
    // [[...]] would be read as phoneme mnemonics; literally, its letters are spoken.
    assert.ok((await spoken("[[h@l'oU]]")).words.length > 1);
    // U+0001 starts an eSpeak embedded command (10S = 10 words a minute) when not neutralised.
    const embedded = await spoken('hello \u000110S world');
    assert.ok(embedded.seconds < 2.5, `${embedded.seconds} s`);
    assert.ok(embedded.words.includes('10S') || embedded.words.includes('10'), embedded.words.join(' '));
  });

  it('ends a chunk that more text follows with the pause eSpeak makes there mid-text, and no extra word', async () => {
    for (const [first, rest] of [['Hello there.', 'How are you today?'], ['Hello there,', 'how are you today?'], ['你好。', '今天天气很好。']] as const) {
      const whole = await collect(engine, { text: `${first} ${rest}`, voiceId: 'Amy' });
      const secondStartMs = whole.words.map((word) => (word.type === 'word' ? word : undefined)).find((word) => word !== undefined && word.textStart > first.length)!.startMs;
      const chunk = await collect(engine, { text: first, voiceId: 'Amy', continues: true });
      const chunkMs = (chunk.samples / 22050) * 1000;
      // The next chunk starts with the same short lead-in the next clause has mid-text; a join adds only eSpeak's 7 ms tail.
      assert.ok(Math.abs(chunkMs - secondStartMs) < 25, `${first}: chunk ${chunkMs.toFixed(0)} ms vs next clause at ${secondStartMs} ms mid-text`);
      const alone = await collect(engine, { text: first, voiceId: 'Amy' });
      assert.equal(chunk.words.length, alone.words.length);
    }
  });

  it('speaks Mandarin and other languages', async () => {
    const mandarin = await collect(engine, { text: '我们今天去公园。', voiceId: 'default', language: 'cmn' });
    assert.ok(mandarin.samples > 22050 && mandarin.rms > 0.02);
    for (const [language, text] of [['de', 'Guten Tag.'], ['fr', 'Bonjour.'], ['ru', 'Привет.'], ['ja', 'こんにちは。']] as const) {
      assert.ok((await collect(engine, { text, voiceId: 'Amy', language })).rms > 0.02, language);
    }
  });

  it('rate follows the speed factor', async () => {
    const normal = await collect(engine, { text: 'A sentence of moderate length for timing.', voiceId: 'default' });
    const fast = await collect(engine, { text: 'A sentence of moderate length for timing.', voiceId: 'default', speed: 2 });
    assert.ok(fast.samples < normal.samples * 0.65);
  });

  it('rejects unknown voices and languages with ChorusError', async () => {
    await assert.rejects(collect(engine, { text: 'x', voiceId: 'nobody' }), (error) => ChorusError.isInstance(error) && error.code === 'voice_not_found');
    await assert.rejects(collect(engine, { text: 'x', voiceId: 'Amy', language: 'xx-nowhere' }), (error) => ChorusError.isInstance(error) && error.param === 'language');
  });

  it('stops without output once the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const { samples } = await collect(engine, { text: 'Never spoken.', voiceId: 'default' }, controller.signal);
    assert.equal(samples, 0);
  });
});
