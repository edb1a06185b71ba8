// Players for audio that arrives in pieces. Each takes bytes with append(), is told end() when
// no more come, says how far playback is (playedSeconds, the read-along's clock) and resolves
// `finished` when the last sample has played.
//
// pcm goes to Web Audio: each chunk is decoded by hand (16-bit little-endian mono) and scheduled
// right after the previous one, so sound starts with the first chunk in every browser, headless
// Chromium included, and the clock is the audio clock itself. mp3 goes to MediaSource where the
// browser can append it (Chromium, Firefox, Safari 17+). Other formats are played once complete:
// browsers cannot append Ogg Opus, FLAC or WAV to a MediaSource.

/** How far ahead of "now" the first chunk (and a chunk after a stall) is scheduled, seconds. */
const SCHEDULE_LEAD_SECONDS = 0.1;

export function createPlayer({ format, mimeType, sampleRate, audioElement }) {
  if (format === 'pcm') return new PcmPlayer(sampleRate);
  const type = format === 'mp3' ? 'audio/mpeg' : mimeType;
  if (format === 'mp3' && globalThis.MediaSource?.isTypeSupported(type)) return new MediaSourcePlayer(type, audioElement);
  return new CompleteFilePlayer(mimeType, audioElement);
}

class PcmPlayer {
  mode = 'Web Audio: pcm chunks play as they arrive';
  #context;
  #sampleRate;
  /** A byte left over when a chunk ends inside a sample. */
  #carry;
  #nextStart = 0;
  #queuedSeconds = 0;
  /** Where each stretch of contiguous audio sits on the context clock; a stall starts a new one. */
  #stretches = [];
  #playing = 0;
  #ended = false;
  #closing = false;
  #finish;
  finished = new Promise((resolve) => (this.#finish = resolve));

  constructor(sampleRate) {
    this.#sampleRate = sampleRate;
    this.#context = new AudioContext();
    // A context made outside a click may start suspended; the Speak click allows resuming it.
    void this.#context.resume();
  }

  append(bytes) {
    let data = bytes;
    if (this.#carry !== undefined) {
      data = new Uint8Array(bytes.length + 1);
      data[0] = this.#carry;
      data.set(bytes, 1);
      this.#carry = undefined;
    }
    if (data.length % 2 === 1) {
      this.#carry = data[data.length - 1];
      data = data.subarray(0, data.length - 1);
    }
    const frames = data.length / 2;
    if (frames === 0) return;
    const view = new DataView(data.buffer, data.byteOffset, data.length);
    const samples = new Float32Array(frames);
    for (let i = 0; i < frames; i++) samples[i] = view.getInt16(i * 2, true) / 32768;
    const buffer = this.#context.createBuffer(1, frames, this.#sampleRate);
    buffer.copyToChannel(samples, 0);

    const now = this.#context.currentTime;
    if (this.#nextStart < now + 0.01) {
      this.#nextStart = now + SCHEDULE_LEAD_SECONDS;
      this.#stretches.push({ contextStart: this.#nextStart, audioStart: this.#queuedSeconds, seconds: 0 });
    }
    const source = this.#context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.#context.destination);
    source.onended = () => {
      this.#playing -= 1;
      this.#settle();
    };
    source.start(this.#nextStart);
    this.#playing += 1;
    this.#nextStart += buffer.duration;
    this.#queuedSeconds += buffer.duration;
    this.#stretches[this.#stretches.length - 1].seconds += buffer.duration;
  }

  end() {
    this.#ended = true;
    this.#settle();
  }

  get playedSeconds() {
    const now = this.#context.currentTime;
    for (let i = this.#stretches.length - 1; i >= 0; i--) {
      const stretch = this.#stretches[i];
      if (stretch.contextStart <= now) return stretch.audioStart + Math.min(now - stretch.contextStart, stretch.seconds);
    }
    return 0;
  }

  stop() {
    this.#ended = true;
    this.#close();
  }

  #settle() {
    if (this.#ended && this.#playing === 0) this.#close();
  }

  #close() {
    this.#finish();
    if (this.#closing) return;
    this.#closing = true;
    void this.#context.close();
  }
}

/** Resolves when the element has played to its end; `stop` resolves it early. */
function playedToEnd(audioElement) {
  let stop;
  const finished = new Promise((resolve) => {
    stop = resolve;
    audioElement.addEventListener('ended', resolve, { once: true });
    // A format this browser cannot play must not leave the page waiting for an end that never comes.
    audioElement.addEventListener('error', resolve, { once: true });
  });
  return { finished, stop };
}

/** Stops an element for good and lets go of its data. */
function release(audioElement, url) {
  audioElement.pause();
  audioElement.removeAttribute('src');
  audioElement.load();
  if (url !== undefined) URL.revokeObjectURL(url);
}

class MediaSourcePlayer {
  mode = 'MediaSource: mp3 plays as it arrives';
  #audio;
  #source = new MediaSource();
  #url;
  /** Appends run one after another: a SourceBuffer takes one at a time. */
  #queue;
  #started = false;
  #stopPlaying;
  finished;

  constructor(type, audioElement) {
    this.#audio = audioElement;
    this.#url = URL.createObjectURL(this.#source);
    audioElement.hidden = false;
    audioElement.src = this.#url;
    ({ finished: this.finished, stop: this.#stopPlaying } = playedToEnd(audioElement));
    this.#queue = new Promise((resolve) => this.#source.addEventListener('sourceopen', resolve, { once: true })).then(() => this.#source.addSourceBuffer(type));
  }

  append(bytes) {
    this.#queue = this.#queue.then(async (buffer) => {
      await appendTo(buffer, bytes);
      if (!this.#started) {
        this.#started = true;
        void this.#audio.play().catch(() => {});
      }
      return buffer;
    });
  }

  end() {
    this.#queue = this.#queue.then((buffer) => {
      if (this.#source.readyState === 'open') this.#source.endOfStream();
      return buffer;
    });
  }

  get playedSeconds() {
    return this.#audio.currentTime;
  }

  stop() {
    release(this.#audio, this.#url);
    this.#stopPlaying();
  }
}

function appendTo(buffer, bytes) {
  return new Promise((resolve, reject) => {
    buffer.addEventListener('updateend', resolve, { once: true });
    buffer.addEventListener('error', () => reject(new Error('The browser could not decode the audio stream.')), { once: true });
    buffer.appendBuffer(bytes);
  });
}

class CompleteFilePlayer {
  mode;
  #audio;
  #mimeType;
  #chunks = [];
  #url;
  #stopPlaying;
  finished;

  constructor(mimeType, audioElement) {
    this.mode = `${mimeType}: plays once the whole file has arrived`;
    this.#mimeType = mimeType;
    this.#audio = audioElement;
    audioElement.hidden = false;
    ({ finished: this.finished, stop: this.#stopPlaying } = playedToEnd(audioElement));
  }

  append(bytes) {
    this.#chunks.push(bytes);
  }

  end() {
    this.#url = URL.createObjectURL(new Blob(this.#chunks, { type: this.#mimeType }));
    this.#audio.src = this.#url;
    void this.#audio.play().catch(() => {});
  }

  get playedSeconds() {
    return this.#audio.currentTime;
  }

  stop() {
    release(this.#audio, this.#url);
    this.#stopPlaying();
  }
}

/** A WAV file around 16-bit mono pcm, so a pcm result can be saved and opened anywhere. */
export function wavFile(chunks, sampleRate) {
  const dataBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, value) => [...value].forEach((char, i) => header.setUint8(offset + i, char.charCodeAt(0)));
  text(0, 'RIFF');
  header.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true);
  header.setUint16(22, 1, true);
  header.setUint32(24, sampleRate, true);
  header.setUint32(28, sampleRate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, 'data');
  header.setUint32(40, dataBytes, true);
  return new Blob([header, ...chunks], { type: 'audio/wav' });
}
