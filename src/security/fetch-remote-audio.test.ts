import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { wavHeader } from '../audio/encoders/wav-encoder.js';
import { decodeReferenceAudio, fetchRemoteBytes, sniffAudioFormat } from './fetch-remote-audio.js';

function wav(samples: number[], rate = 16_000): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  out.set(wavHeader(rate, samples.length * 2));
  const view = new DataView(out.buffer);
  samples.forEach((s, i) => view.setInt16(44 + i * 2, s, true));
  return out;
}

describe('reference audio checks', () => {
  it('sniffs WAV, FLAC, Ogg and MP3 by their magic bytes, and nothing else', () => {
    assert.equal(sniffAudioFormat(wav([0, 1])), 'wav');
    assert.equal(sniffAudioFormat(new TextEncoder().encode('fLaC\0\0\0\x22')), 'flac');
    assert.equal(sniffAudioFormat(new TextEncoder().encode('ID3\x04\0')), 'mp3');
    assert.equal(sniffAudioFormat(new Uint8Array([0xff, 0xfb, 0x90, 0x64])), 'mp3');
    assert.equal(sniffAudioFormat(new TextEncoder().encode('OggS\0\x02')), 'ogg');
    assert.equal(sniffAudioFormat(new TextEncoder().encode('<html>')), undefined);
    assert.equal(sniffAudioFormat(new Uint8Array()), undefined);
  });

  it('decodes usable audio and refuses silent, too short and undecodable files, naming the field', async () => {
    const tone = Array.from({ length: 8000 }, (_, i) => Math.round(5000 * Math.sin(i / 5)));
    const decoded = await decodeReferenceAudio(wav(tone), 'prompt_speech_url');
    assert.equal(decoded.format, 'wav');
    assert.equal(decoded.sampleRate, 16_000);
    assert.ok(Math.abs(decoded.durationSec - 0.5) < 1e-9);
    await assert.rejects(decodeReferenceAudio(wav(new Array(8000).fill(0)), 'prompt_speech_url'), /'prompt_speech_url' is silent/);
    await assert.rejects(decodeReferenceAudio(wav(tone.slice(0, 800)), 'prompt_speech_url'), /'prompt_speech_url' is too short/);
    await assert.rejects(decodeReferenceAudio(new TextEncoder().encode('plain text'), 'prompt_speech_url'), /'prompt_speech_url' is not audio/);
  });
});

describe('fetchRemoteBytes', () => {
  it('enforces the time limit and names the field', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'audio/wav' });
      res.write('RIFF'); // then stall
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow.wav`;
      const started = Date.now();
      await assert.rejects(fetchRemoteBytes(url, { param: 'prompt_speech_url', allowPrivate: true, maxBytes: 1000, timeoutMs: 300 }), /'prompt_speech_url' could not be downloaded within 0\.3 s/);
      assert.ok(Date.now() - started < 2000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refuses loopback without allowPrivate before connecting', async () => {
    await assert.rejects(fetchRemoteBytes('https://127.0.0.1:1/x.wav', { param: 'webhook', allowPrivate: false, maxBytes: 1000 }), /'webhook' points to a private/);
  });
});
