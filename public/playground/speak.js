// The Speak panel: /v1/audio/speech/extended with `stream` and `timestamps`, whose answer is
// newline-delimited JSON (audio chunks in base64, word timings, a last `done` or `error` line).
// Audio is played as it arrives and the words light up from the timings.

import { api, ApiError } from './api.js';
import { createPlayer, wavFile } from './player.js';
import { createReadAlong } from './read-along.js';

const $ = (id) => document.getElementById(id);

let session;

export function setUpSpeak() {
  $('speak-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void speak();
  });
  $('stop-button').addEventListener('click', () => session?.stop());
  for (const [input, output, digits] of [['speak-speed', 'speed-value', 2], ['speak-pitch', 'pitch-value', 1]]) {
    const show = () => ($(output).textContent = Number($(input).value).toFixed(digits));
    $(input).addEventListener('input', show);
    show();
  }
}

/** Speaks `text` with the chosen engine and a given voice (the voice library's "Try it"). */
export function speakWith(voice, text) {
  const select = $('speak-voice');
  if (![...select.options].some((option) => option.value === voice)) select.add(new Option(voice, voice));
  select.value = voice;
  if (text !== undefined) $('speak-text').value = text;
  void speak();
}

async function speak() {
  session?.stop();
  const current = new SpeakSession();
  session = current;
  try {
    await current.run({
      model: $('speak-engine').value,
      input: $('speak-text').value,
      voice: $('speak-voice').value,
      response_format: $('speak-format').value,
      speed: Number($('speak-speed').value),
      pitch_shift: Number($('speak-pitch').value),
      stream: true,
      timestamps: true,
    });
  } catch (error) {
    if (current.stopped) return;
    current.show('error', error instanceof ApiError || error instanceof Error ? error.message : String(error));
  } finally {
    if (session === current) {
      $('speak-button').disabled = false;
      $('stop-button').disabled = true;
    }
  }
}

class SpeakSession {
  stopped = false;
  #controller = new AbortController();
  #player;
  #bytes = 0;
  #frame;

  async run(body) {
    const stats = $('playback');
    $('speak-message').textContent = '';
    $('speak-button').disabled = true;
    $('stop-button').disabled = false;
    $('download-link').hidden = true;
    stats.dataset.bytes = '0';
    stats.dataset.playedSeconds = '0';
    stats.dataset.duration = '0';
    stats.dataset.words = '0';
    this.show('requesting', 'Requesting…');

    const response = await api('/v1/audio/speech/extended', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: this.#controller.signal,
    });
    const mimeType = response.headers.get('x-audio-content-type') ?? 'application/octet-stream';
    const sampleRate = Number(response.headers.get('x-sample-rate'));
    const warnings = response.headers.get('x-chorus-warnings');
    const method = response.headers.get('x-chorus-voice-method');
    $('speak-message').textContent = [method === null ? '' : `Voice: ${method}.`, warnings === null ? '' : `Warnings: ${warnings}`].filter(Boolean).join(' ');

    const readAlong = createReadAlong($('read-along'), body.input);
    this.#player = createPlayer({ format: body.response_format, mimeType, sampleRate, audioElement: freshAudioElement() });
    stats.dataset.mode = this.#player.mode;
    this.show('streaming', 'Streaming…');
    this.#follow(readAlong);

    const chunks = [];
    // The server sends a text chunk's word timings after that chunk's audio. Played at once, the
    // first words would be gone before their timings came; so, for the read-along, sound waits for
    // the first timings (one chunk of synthesis), and later chunks' timings arrive while earlier
    // audio plays.
    let held = $('speak-read-along').checked ? [] : undefined;
    const release = () => {
      for (const bytes of held ?? []) this.#player.append(bytes);
      held = undefined;
    };
    for await (const message of ndjsonMessages(response.body)) {
      if (message.type === 'audio') {
        const bytes = base64Bytes(message.audio);
        chunks.push(bytes);
        this.#bytes += bytes.length;
        stats.dataset.bytes = String(this.#bytes);
        if (held === undefined) this.#player.append(bytes);
        else held.push(bytes);
      } else if (message.type === 'words') {
        readAlong.addWords(message.words);
        stats.dataset.words = String(readAlong.wordCount);
        release();
      } else if (message.type === 'done') {
        stats.dataset.duration = String(message.duration);
      } else if (message.type === 'error') {
        throw new ApiError(500, message.error?.message ?? 'The stream ended with an error.');
      }
    }
    release();
    this.#player.end();
    this.#offerDownload(body.response_format, mimeType, sampleRate, chunks);
    this.show('playing', 'Playing…');
    await this.#player.finished;
    if (this.stopped) return;
    readAlong.at(Number.POSITIVE_INFINITY);
    this.#render(readAlong);
    cancelAnimationFrame(this.#frame);
    this.show('done', `Done: ${this.#bytes} bytes, ${Number(stats.dataset.duration).toFixed(2)} s of audio, ${readAlong.wordCount} words.`);
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.#controller.abort();
    this.#player?.stop();
    cancelAnimationFrame(this.#frame);
    this.show('stopped', 'Stopped.');
  }

  show(state, text) {
    const stats = $('playback');
    stats.dataset.state = state;
    stats.textContent = text;
  }

  /** Each frame: the played time from the player's clock moves the highlight. */
  #follow(readAlong) {
    const tick = () => {
      this.#render(readAlong);
      this.#frame = requestAnimationFrame(tick);
    };
    this.#frame = requestAnimationFrame(tick);
  }

  #render(readAlong) {
    const played = this.#player.playedSeconds;
    readAlong.at(played);
    const stats = $('playback');
    stats.dataset.playedSeconds = played.toFixed(3);
    if (stats.dataset.state === 'streaming' || stats.dataset.state === 'playing') {
      stats.textContent = `${stats.dataset.state === 'streaming' ? 'Streaming' : 'Playing'}: ${played.toFixed(1)} s played, ${this.#bytes} bytes received (${this.#player.mode}).`;
    }
  }

  #offerDownload(format, mimeType, sampleRate, chunks) {
    const link = $('download-link');
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    const file = format === 'pcm' ? wavFile(chunks, sampleRate) : new Blob(chunks, { type: mimeType });
    link.href = URL.createObjectURL(file);
    link.download = `speech.${format === 'pcm' ? 'wav' : format}`;
    link.textContent = `Download ${link.download}`;
    link.hidden = false;
  }
}

/** A new <audio> per request: reusing one would carry the last request's events into the next. */
function freshAudioElement() {
  const old = $('speak-audio');
  const audio = document.createElement('audio');
  audio.id = 'speak-audio';
  audio.controls = true;
  audio.hidden = true;
  old.replaceWith(audio);
  return audio;
}

async function* ndjsonMessages(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== '') yield JSON.parse(line);
    }
  }
  if (pending.trim() !== '') yield JSON.parse(pending);
}

export function base64Bytes(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
