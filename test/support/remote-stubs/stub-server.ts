import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fliteReference } from '../reference-voices.js';
import { wavHeader } from '../../../src/audio/encoders/wav-encoder.js';

/**
 * A model server's stand-in on loopback, for the remote-engine tests: each kind's stub (fish-speech,
 * Chatterbox-TTS-Server, …) answers its routes as the real server does, written from its sources,
 * with real speech (flite, resampled to the server's rate). Every stub can be put into a failure
 * mode, so the tests can make a remote slow, failing, hanging or dying.
 */
export interface StubRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  /** True once the client closed the connection before the answer was complete (a cancel reached it). */
  closedEarly: boolean;
}

export type StubFault =
  /** Answer every request with this status and a JSON error body. */
  | { readonly kind: 'status'; readonly status: number }
  /** Read the request and never answer. */
  | { readonly kind: 'hang' }
  /** Wait this long before answering normally. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Close the connection without answering. */
  | { readonly kind: 'reset' }
  /** Answer normally, but close the connection after the first piece of the body. */
  | { readonly kind: 'cut' };

export type StubHandler = (request: StubRequest, response: ServerResponse) => Promise<void> | void;

export interface StubServer {
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: StubRequest[];
  /** Failure mode for the requests that come next; undefined = healthy. */
  fault: StubFault | undefined;
  /** Requests being answered right now. */
  readonly inFlight: number;
  /** Stops accepting connections (a dead server: connections are refused) until `restart()`. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startStub(handle: StubHandler): Promise<StubServer> {
  const requests: StubRequest[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let port = 0;
  let server: Server;
  const stub: StubServer = {
    url: '',
    requests,
    fault: undefined,
    get inFlight() {
      return inFlight;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restart() {
      server = listen();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  };

  function listen(): Server {
    const created = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const recorded: StubRequest = { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, body: Buffer.concat(chunks), closedEarly: false };
        requests.push(recorded);
        inFlight++;
        response.on('close', () => {
          inFlight--;
          if (!response.writableFinished) recorded.closedEarly = true;
        });
        void answer(recorded, response).catch((error: unknown) => {
          if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: String(error) }));
          else response.destroy();
        });
      });
    });
    created.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return created;
  }

  async function answer(request: StubRequest, response: ServerResponse): Promise<void> {
    const fault = stub.fault;
    if (fault?.kind === 'status') {
      response.writeHead(fault.status, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: `stub failure ${fault.status}` }));
      return;
    }
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'reset') {
      response.socket?.destroy();
      return;
    }
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === 'cut') {
      const write = response.write.bind(response);
      response.write = ((chunk: unknown, ...rest: unknown[]) => {
        const result = (write as (...args: unknown[]) => boolean)(chunk, ...rest);
        setImmediate(() => response.socket?.destroy());
        return result;
      }) as typeof response.write;
    }
    await handle(request, response);
  }

  server = listen();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  (stub as { url: string }).url = `http://127.0.0.1:${port}`;
  return stub;
}

/** Speech for `text` from flite, as 16-bit samples at `sampleRate` (linear resampling is enough for a stub). */
export async function spokenPcm(text: string, sampleRate: number): Promise<Int16Array> {
  const spoken = await fliteReference(text, 'slt');
  const ratio = spoken.sampleRate / sampleRate;
  const length = Math.floor(spoken.samples.length / ratio);
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) {
    const at = i * ratio;
    const left = Math.floor(at);
    const right = Math.min(left + 1, spoken.samples.length - 1);
    const value = spoken.samples[left]! + (spoken.samples[right]! - spoken.samples[left]!) * (at - left);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(value * 32767)));
  }
  return out;
}

/** A 16-bit mono WAV file (little-endian hosts, as every machine Chorus runs on). */
export function wavFile(samples: Int16Array, sampleRate: number): Buffer {
  return Buffer.concat([wavHeader(sampleRate, samples.byteLength), Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}

/** `bytes` in pieces of `size`, written with a pause between them, as a server streams as it generates. */
export async function writePieces(response: ServerResponse, bytes: Uint8Array, size: number, pauseMs = 2): Promise<void> {
  for (let offset = 0; offset < bytes.length; offset += size) {
    if (response.destroyed) return;
    response.write(bytes.subarray(offset, offset + size));
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** The request body as JSON (the stubs answer 422 as FastAPI would when it is not). */
export function jsonBody(request: StubRequest): Record<string, unknown> {
  return JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
}
