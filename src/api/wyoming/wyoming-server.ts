import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ChorusError } from '../../errors.js';
import { findLanguage } from '../../engine/engine-languages.js';
import type { SpeechService } from '../../speech/speech-service.js';
import { hasSpeakableText, sentenceStream } from '../../text/index.js';
import { AsyncQueue } from '../../util/async-queue.js';
import { errorFields, type Logger } from '../../util/logger.js';
import { checkTextLength, validate } from '../../validation/validation.js';
import { speechRequestFor, type ResolvedVoice, type VoiceLibrary } from '../../voices/voice-library.js';
import { encodeEvent, EventReader, FramingError, type FrameLimits, type ReadItem, type WyomingEvent } from './wyoming-framing.js';
import { wyomingInfo } from './wyoming-info.js';
import type { ZeroconfAdvertisement } from './wyoming-zeroconf.js';

export interface WyomingServerOptions {
  readonly speech: SpeechService;
  readonly voices: VoiceLibrary;
  readonly logger: Logger;
  /** Chorus's version, reported in `info`. */
  readonly version: string;
  readonly host: string;
  /** 0: any free port (tests); the bound one is `RunningWyomingServer.port`. */
  readonly port: number;
  /** Largest data block of one event, bytes (CHORUS_MAX_REQUEST_BYTES, as for HTTP bodies). */
  readonly maxDataBytes: number;
  /** Announce the server by mDNS (CHORUS_WYOMING_ZEROCONF); absent: no multicast at all. */
  readonly zeroconf?: { readonly name: string };
}

export interface RunningWyomingServer {
  readonly host: string;
  readonly port: number;
  /** Stops accepting; connections still speaking get up to `graceMs` to finish, then all are closed. */
  close(graceMs?: number): Promise<void>;
}

/** A header line is a few hundred bytes; Home Assistant puts everything else in the data block. */
const MAX_HEADER_BYTES = 64 * 1024;
/** A TTS server has no use for payloads (clients send none); this only bounds what is skipped. */
const MAX_PAYLOAD_BYTES = 1024 * 1024;
/** What wyoming-piper sends per `audio-chunk` (`--samples-per-chunk`). */
const SAMPLES_PER_CHUNK = 1024;
const BYTES_PER_SAMPLE = 2;
const MAX_CONNECTIONS = 64;
/** A connection that sends and receives nothing this long is closed (a synthesis in progress writes, so it is not idle). */
const IDLE_TIMEOUT_MS = 5 * 60 * 1000;
/** Events read ahead of the one being handled; beyond it the socket stops being read until they are. */
const PAUSE_READING_AT = 64;
const RESUME_READING_BELOW = 16;

const voiceSchema = z
  .object({
    name: z.string().max(300, "'voice.name' must be at most 300 characters").optional(),
    language: z.string().max(64, "'voice.language' must be at most 64 characters").optional(),
    // Accepted for compatibility and unused: every Chorus voice is one speaker (info lists no speakers).
    speaker: z.string().max(300).optional(),
  })
  .nullish();
const synthesizeSchema = z.object({ text: z.string("'text' must be a string"), voice: voiceSchema });
const synthesizeStartSchema = z.object({ voice: voiceSchema });
const synthesizeChunkSchema = z.object({ text: z.string("'text' must be a string") });

type VoiceField = z.infer<typeof voiceSchema>;

const HANDLED_EVENTS = ['describe', 'ping', 'synthesize', 'synthesize-start', 'synthesize-chunk', 'synthesize-stop'];

export async function startWyomingServer(options: WyomingServerOptions): Promise<RunningWyomingServer> {
  const connections = new Set<WyomingConnection>();
  const limits: FrameLimits = { maxHeaderBytes: MAX_HEADER_BYTES, maxDataBytes: options.maxDataBytes, maxPayloadBytes: MAX_PAYLOAD_BYTES };
  const server: Server = createServer((socket) => {
    const connection = new WyomingConnection(socket, options, limits);
    connections.add(connection);
    void connection.done.then(() => connections.delete(connection));
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => options.logger.error('wyoming server error', errorFields(error)));
  const address = server.address() as AddressInfo;
  options.logger.info('wyoming listening', { uri: `tcp://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` });
  if (!isLoopback(address.address)) {
    options.logger.warn(
      'The Wyoming port has no authentication (the protocol has none; CHORUS_API_KEYS does not apply to it): anyone who can reach it can make speech. Expose it only on a trusted network.',
      { host: address.address, port: address.port },
    );
  }
  const advertisement = options.zeroconf === undefined ? undefined : await advertise(options.zeroconf, address, options.logger);
  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    close(graceMs = 0) {
      closing ??= (async () => {
        // The goodbye first: Home Assistant should not offer a server that is going away.
        await advertisement?.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const deadline = Date.now() + graceMs;
        while ([...connections].some((connection) => connection.speaking) && Date.now() < deadline) await sleep(25);
        for (const connection of connections) connection.destroy();
        await Promise.all([...connections].map((connection) => connection.done));
        await closed;
      })();
      return closing;
    },
  };
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

/** A streamed synthesis (`synthesize-start` … `synthesize-stop`): text pieces in, sentences spoken as they complete. */
interface TextStream {
  readonly pieces: AsyncQueue<string>;
  readonly controller: AbortController;
  chars: number;
  /** Failed (and reported): the rest of its chunks are ignored, its stop is still answered. */
  failed: boolean;
  done?: Promise<void>;
}

interface VoiceChoice {
  readonly voice: ResolvedVoice;
  /** Only when the client asked by language: the engine's code for it. */
  readonly language?: string;
}

/**
 * One client. Events are handled one at a time in the order they came, as wyoming's own servers
 * do, except that a stream's text chunks are only queued, so its sentences are spoken while more
 * text arrives. The connection's AbortSignal reaches every synthesis: a client that goes away stops it.
 */
class WyomingConnection {
  readonly done: Promise<void>;
  readonly #socket: Socket;
  readonly #options: WyomingServerOptions;
  readonly #reader: EventReader;
  readonly #controller = new AbortController();
  readonly #events = new AsyncQueue<ReadItem>();
  #queuedEvents = 0;
  #stream: TextStream | undefined;
  #speaking = 0;
  #ending = false;

  constructor(socket: Socket, options: WyomingServerOptions, limits: FrameLimits) {
    this.#socket = socket;
    this.#options = options;
    this.#reader = new EventReader(limits);
    socket.setNoDelay(true);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.#received(chunk));
    // 'close' follows every error; a reset by the client is no failure of the server.
    socket.on('error', () => undefined);
    // The client's end of stream is its goodbye (wyoming's readers take it so): stop at once, not at the next failed write.
    socket.on('end', () => this.#closed());
    socket.on('close', () => this.#closed());
    this.done = this.#run();
  }

  /** True while audio is being made, or a stream is open, for a shutdown's grace. */
  get speaking(): boolean {
    return this.#speaking > 0 || this.#stream !== undefined;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #received(chunk: Buffer): void {
    if (this.#ending) return;
    let items: ReadItem[];
    try {
      items = this.#reader.push(chunk);
    } catch (error) {
      // What follows a broken frame cannot be told apart from the next event: say why, then hang up.
      this.#ending = true;
      this.#report(error);
      this.#socket.end();
      this.#controller.abort();
      this.#events.discard();
      return;
    }
    for (const item of items) {
      this.#queuedEvents++;
      this.#events.push(item);
    }
    if (this.#queuedEvents >= PAUSE_READING_AT) this.#socket.pause();
  }

  #closed(): void {
    this.#controller.abort();
    this.#events.discard();
    this.#stream?.pieces.discard();
  }

  async #run(): Promise<void> {
    for await (const item of this.#events) {
      this.#queuedEvents--;
      if (this.#queuedEvents < RESUME_READING_BELOW && this.#socket.isPaused() && !this.#ending) this.#socket.resume();
      try {
        if ('rejected' in item) throw item.rejected;
        await this.#handle(item.event);
      } catch (error) {
        this.#report(error);
      }
    }
    // A stream the client never stopped: its synthesis was aborted with the connection; wait for it to wind down.
    await this.#stream?.done;
  }

  async #handle(event: WyomingEvent): Promise<void> {
    switch (event.type) {
      case 'describe':
        return this.#send('info', wyomingInfo(this.#options.speech, this.#options.version));
      case 'ping':
        return this.#send('pong', typeof event.data['text'] === 'string' ? { text: event.data['text'] } : {});
      case 'synthesize':
        // Inside a stream it repeats the streamed text for servers that do not stream; wyoming-piper ignores it too.
        if (this.#stream !== undefined) return;
        return this.#synthesizeWhole(event.data);
      case 'synthesize-start':
        return this.#startStream(event.data);
      case 'synthesize-chunk':
        return this.#streamChunk(event.data);
      case 'synthesize-stop':
        return this.#stopStream();
      default:
        throw new ChorusError({
          code: 'invalid_request',
          param: 'type',
          message: `Unknown event type '${event.type}'. This server answers ${HANDLED_EVENTS.join(', ')}.`,
        });
    }
  }

  async #synthesizeWhole(data: Readonly<Record<string, unknown>>): Promise<void> {
    const body = validate(synthesizeSchema, data);
    checkTextLength('text', body.text, this.#options.speech.maxInputChars);
    const choice = await this.#chooseVoice(body.voice);
    await this.#speak(body.text, choice, this.#controller.signal);
  }

  #startStream(data: Readonly<Record<string, unknown>>): void {
    if (this.#stream !== undefined) {
      throw new ChorusError({ code: 'invalid_request', message: 'A stream is already open on this connection: end it with synthesize-stop first.' });
    }
    const stream: TextStream = { pieces: new AsyncQueue<string>(), controller: new AbortController(), chars: 0, failed: false };
    this.#stream = stream;
    const signal = AbortSignal.any([this.#controller.signal, stream.controller.signal]);
    stream.done = (async () => {
      try {
        const choice = await this.#chooseVoice(validate(synthesizeStartSchema, data).voice);
        // As wyoming-piper: each sentence is spoken (audio-start … audio-stop) as soon as it is complete.
        for await (const sentence of sentenceStream(stream.pieces)) {
          if (hasSpeakableText(sentence)) await this.#speak(sentence, choice, signal);
        }
      } catch (error) {
        if (stream.failed) return;
        this.#failStream(stream);
        this.#report(error);
      }
    })();
  }

  #streamChunk(data: Readonly<Record<string, unknown>>): void {
    const stream = this.#stream;
    if (stream === undefined) {
      throw new ChorusError({ code: 'invalid_request', message: 'synthesize-chunk outside a stream: send synthesize-start first.' });
    }
    if (stream.failed) return;
    const { text } = validate(synthesizeChunkSchema, data);
    stream.chars += text.length;
    const max = this.#options.speech.maxInputChars;
    if (stream.chars > max) {
      this.#failStream(stream);
      throw new ChorusError({
        code: 'text_too_long',
        param: 'text',
        detail: 'string_above_max_length',
        message: `A stream may send at most ${max} characters in all (CHORUS_MAX_INPUT_CHARS); this one sent ${stream.chars}. The rest of the stream is ignored.`,
      });
    }
    stream.pieces.push(text);
  }

  async #stopStream(): Promise<void> {
    const stream = this.#stream;
    if (stream === undefined) throw new ChorusError({ code: 'invalid_request', message: 'synthesize-stop outside a stream: send synthesize-start first.' });
    stream.pieces.end();
    await stream.done;
    this.#stream = undefined;
    await this.#send('synthesize-stopped');
  }

  #failStream(stream: TextStream): void {
    stream.failed = true;
    stream.controller.abort();
    stream.pieces.discard();
  }

  /**
   * A voice by name as the other APIs take it (bare on the default engine, `<engine>:<voice>`, an
   * OpenAI alias, a library voice of a server without keys); by language the first voice whose own
   * language it is, else a voice of an engine that speaks it; nothing = the default voice. The
   * protocol lets a name override the language.
   */
  async #chooseVoice(field: VoiceField): Promise<VoiceChoice> {
    const { speech, voices } = this.#options;
    if (field?.name !== undefined) return { voice: await voices.resolve('', { name: field.name }, 'voice.name') };
    if (field?.language === undefined) return { voice: await voices.defaultVoice('', undefined) };
    const requested = field.language;
    const engines = [speech.engines.default, ...speech.engines.engines.filter((engine) => engine !== speech.engines.default)];
    for (const engine of engines) {
      const language = findLanguage(engine.capabilities.languages, requested);
      const own = language === undefined ? undefined : engine.voices.find((voice) => voice.language.toLowerCase() === language.code.toLowerCase());
      if (own !== undefined) return { voice: await voices.resolve('', { name: speech.engines.qualifiedName(engine.id, own.id) }, 'voice.language', engine.id) };
    }
    for (const engine of engines) {
      const language = findLanguage(engine.capabilities.languages, requested);
      if (language !== undefined) return { voice: await voices.defaultVoice('', undefined, engine.id), language: language.code };
    }
    throw new ChorusError({
      code: 'invalid_request',
      param: 'voice.language',
      message: `No loaded engine speaks '${requested}'. Languages: ${[...new Set(engines.flatMap((engine) => engine.capabilities.languages.map((language) => language.tag)))].join(', ')}.`,
    });
  }

  /** `audio-start`, the PCM in `audio-chunk`s of 1024 samples as the pipeline makes it, `audio-stop`. */
  async #speak(text: string, { voice, language }: VoiceChoice, signal: AbortSignal): Promise<void> {
    const { speech } = this.#options;
    const sampleRate = speech.engines.engine(voice.engine, 'voice').capabilities.sampleRate;
    const format = { rate: sampleRate, width: BYTES_PER_SAMPLE, channels: 1 };
    this.#speaking++;
    try {
      let samplesSent = 0;
      const timestamp = (): number => Math.round((samplesSent * 1000) / format.rate);
      if (!hasSpeakableText(text)) {
        // Nothing to say: an empty audio stream, so a client waiting for audio-stop is answered.
        await this.#send('audio-start', { ...format, timestamp: 0 });
        await this.#send('audio-stop', { timestamp: 0 });
        return;
      }
      const request = speechRequestFor(voice, {
        text,
        speed: 1,
        pitchSemitones: 0,
        sampleRate,
        format: 'pcm' as const,
        normalization: 'none' as const,
        maxChunkChars: speech.maxCharsPerChunk,
        delivery: 'stream' as const,
        wordTimings: false,
        textField: 'text',
        ...(language === undefined ? {} : { language }),
      });
      let odd: number | undefined;
      for await (const part of speech.synthesize(request, signal)) {
        if (part.type === 'start') {
          format.rate = part.sampleRate;
          await this.#send('audio-start', { ...format, timestamp: 0 });
        } else if (part.type === 'audio' && part.bytes.byteLength > 0) {
          let bytes = part.bytes;
          // Whole samples only: a byte left over waits for the next part.
          if (odd !== undefined) bytes = Buffer.concat([Uint8Array.of(odd), bytes]);
          odd = bytes.byteLength % BYTES_PER_SAMPLE === 1 ? bytes[bytes.byteLength - 1] : undefined;
          const whole = bytes.byteLength - (odd === undefined ? 0 : 1);
          for (let offset = 0; offset < whole; offset += SAMPLES_PER_CHUNK * BYTES_PER_SAMPLE) {
            const chunk = bytes.subarray(offset, Math.min(whole, offset + SAMPLES_PER_CHUNK * BYTES_PER_SAMPLE));
            await this.#send('audio-chunk', { ...format, timestamp: timestamp() }, chunk);
            samplesSent += chunk.byteLength / BYTES_PER_SAMPLE;
          }
        }
      }
      await this.#send('audio-stop', { timestamp: timestamp() });
    } finally {
      this.#speaking--;
    }
  }

  /** Writes one event; resolves once the socket can take more (a slow client slows the synthesis, not the server's memory). */
  async #send(type: string, data?: Readonly<Record<string, unknown>>, payload?: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (socket.write(encodeEvent(type, data, payload))) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /** An `error` event {text, code}, as wyoming-piper sends; nothing when the client is gone anyway. */
  #report(error: unknown): void {
    if (this.#controller.signal.aborted && !(error instanceof FramingError)) return;
    const known = ChorusError.isInstance(error) ? error : undefined;
    if (known === undefined || known.code === 'internal' || known.code === 'engine_failed') {
      this.#options.logger.error('wyoming request failed', errorFields(error));
    }
    const text = known?.message ?? 'Internal error; the server log has the details.';
    void this.#send('error', { text, code: known?.code ?? 'internal' });
  }
}

async function advertise(
  zeroconf: NonNullable<WyomingServerOptions['zeroconf']>,
  address: AddressInfo,
  logger: Logger,
): Promise<ZeroconfAdvertisement | undefined> {
  // Loaded only when asked for, as multicast is.
  const { advertiseWyoming, zeroconfAddresses } = await import('./wyoming-zeroconf.js');
  const addresses = zeroconfAddresses(address.address);
  if (addresses.length === 0) {
    logger.warn('zeroconf: no IPv4 address other machines can reach was found on this host; the Wyoming server is not announced', { host: address.address });
    return undefined;
  }
  const advertisement = await advertiseWyoming({
    name: zeroconf.name,
    port: address.port,
    addresses,
    onError: (error) => logger.warn('zeroconf: announcing the Wyoming server failed; add it in Home Assistant by host and port', errorFields(error)),
  });
  logger.info('wyoming announced by zeroconf', { service: advertisement.instance, addresses, port: address.port });
  return advertisement;
}
