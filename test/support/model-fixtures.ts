import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import compressjs from 'compressjs';
import tarStream from 'tar-stream';
import { espeakDataDir } from './tiny-models/espeak-data.js';
import { buildKokoro, buildPiper, buildPocket } from './tiny-models/tiny-models.js';

/** One entry of a generated tarball: a file (bytes or text), or a raw header for hostile cases. */
export type TarEntry =
  | { readonly name: string; readonly content: string | Buffer }
  | { readonly name: string; readonly type: 'directory' }
  | { readonly name: string; readonly type: 'symlink' | 'link'; readonly linkname: string };

/** A tar archive, bzip2-compressed in pure JS (compressjs, 100 kB blocks: several blocks), gzip or plain. */
export async function buildTarball(entries: readonly TarEntry[], compression: 'bz2' | 'gz' | 'none' = 'bz2'): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(pack, 'end');
  for (const entry of entries) {
    if ('content' in entry) {
      const content = typeof entry.content === 'string' ? Buffer.from(entry.content) : entry.content;
      await new Promise<void>((resolve, reject) => pack.entry({ name: entry.name, size: content.length }, content, (error) => (error ? reject(error) : resolve())));
    } else if (entry.type === 'directory') {
      pack.entry({ name: entry.name, type: 'directory' });
    } else {
      pack.entry({ name: entry.name, type: entry.type, linkname: entry.linkname });
    }
  }
  pack.finalize();
  await ended;
  const tar = Buffer.concat(chunks);
  if (compression === 'gz') return gzipSync(tar);
  if (compression === 'bz2') return Buffer.from(compressjs.Bzip2.compressFile(tar, undefined, 1) as Uint8Array);
  return tar;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Plausible files of each family (random "weights", real names and directory layout); not loadable by sherpa. */
export async function familyFiles(family: 'kokoro' | 'piper' | 'pocket', top: string): Promise<TarEntry[]> {
  const built = await tinyModelFiles(family);
  const file = (key: string): Buffer => built.get(key)!;
  const espeakRoot = await espeakDataDir();
  // The pre-check reads these (and the voice the model speaks): the rest of espeak-ng-data is not needed here.
  const espeak: TarEntry[] = [
    { name: `${top}/espeak-ng-data`, type: 'directory' },
    ...['phontab', 'phonindex', 'phondata', 'intonations', 'en_dict', 'lang/gmw/en-US', 'lang/gmw/en'].map(
      (path): TarEntry => ({ name: `${top}/espeak-ng-data/${path}`, content: readFileSync(join(espeakRoot, path)) }),
    ),
  ];
  switch (family) {
    case 'kokoro':
      return [
        { name: `${top}/`, type: 'directory' },
        { name: `${top}/model.onnx`, content: file('model') },
        { name: `${top}/voices.bin`, content: file('voices') },
        { name: `${top}/tokens.txt`, content: file('tokens') },
        { name: `${top}/lexicon-us-en.txt`, content: file('lexicon') },
        { name: `${top}/lexicon-zh.txt`, content: '你好 n i3 h ao3\n' },
        ...espeak,
      ];
    case 'piper':
      return [
        { name: `${top}/`, type: 'directory' },
        { name: `${top}/en_US-test-medium.onnx`, content: file('model') },
        { name: `${top}/en_US-test-medium.onnx.json`, content: '{"audio":{"sample_rate":22050}}' },
        { name: `${top}/tokens.txt`, content: file('tokens') },
        { name: `${top}/MODEL_CARD`, content: 'License: CC0\n' },
        ...espeak,
      ];
    case 'pocket':
      return (
        [
          ['lm_flow.int8.onnx', 'lmFlow'],
          ['lm_main.int8.onnx', 'lmMain'],
          ['encoder.onnx', 'encoder'],
          ['decoder.int8.onnx', 'decoder'],
          ['text_conditioner.onnx', 'textConditioner'],
          ['vocab.json', 'vocabJson'],
          ['token_scores.json', 'tokenScoresJson'],
        ] as const
      ).map(([name, key]): TarEntry => ({ name: `${top}/${name}`, content: file(key) }));
  }
}

const tinyModels = new Map<string, Promise<Map<string, Buffer>>>();

/**
 * The files of a tiny generated model of the family (real ONNX with the family's metadata, so the
 * sherpa pre-check `chorus models` runs before installing accepts them), by sherpa config key.
 */
function tinyModelFiles(family: 'kokoro' | 'piper' | 'pocket'): Promise<Map<string, Buffer>> {
  let files = tinyModels.get(family);
  if (files === undefined) {
    files = (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'chorus-fixture-'));
      try {
        const model = family === 'kokoro' ? await buildKokoro(dir) : family === 'piper' ? await buildPiper(dir) : await buildPocket(dir);
        const byKey = new Map<string, Buffer>();
        for (const [key, path] of Object.entries(model.manifest.files)) {
          if (key !== 'dataDir') byKey.set(key, readFileSync(join(model.dir, path)));
        }
        return byKey;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    })();
    tinyModels.set(family, files);
  }
  return files;
}

export interface HostedFile {
  readonly body: Buffer;
  /** Bearer token the request must carry (a gated Hugging Face repository). */
  readonly token?: string;
  /** First GET only: send this many bytes, then cut the connection. */
  readonly cutAfter?: number;
  /** First GET only: send this many bytes, then hold the connection open until the client goes. */
  readonly stallAfter?: number;
  /** Answer with a 302 to `/cdn<path>` first, as Hugging Face does to its CDN. */
  readonly redirect?: boolean;
}

export interface SeenRequest {
  readonly path: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
  readonly status: number;
  /** Body bytes written before the response ended or was cut. */
  bytesSent: number;
}

/** A real HTTP server on 127.0.0.1 standing in for GitHub releases and Hugging Face. Honours Range. */
export class ModelHost {
  readonly requests: SeenRequest[] = [];
  private readonly files = new Map<string, HostedFile>();
  private readonly served = new Map<string, number>();
  private readonly stalled: ServerResponse[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => this.handle(request, response));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  host(path: string, file: HostedFile): string {
    this.files.set(path, file);
    this.served.set(path, 0);
    return `${this.url}${path}`;
  }

  requestsFor(path: string): SeenRequest[] {
    return this.requests.filter((request) => request.path === path);
  }

  /** Resolves once `bytes` of `path` have been written by a stalled response. */
  async waitForSent(path: string, bytes: number): Promise<void> {
    while (!this.requestsFor(path).some((request) => request.bytesSent >= bytes)) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async stop(): Promise<void> {
    for (const response of this.stalled) response.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', this.url);
    const cdn = url.pathname.startsWith('/cdn/');
    const path = cdn ? url.pathname.slice(4) : url.pathname;
    const file = this.files.get(path);
    const seen: SeenRequest = { path: url.pathname, range: request.headers.range, authorization: request.headers.authorization, status: 0, bytesSent: 0 };
    this.requests.push(seen);
    const answer = (status: number, headers: Record<string, string | number> = {}, body?: Buffer) => {
      (seen as { status: number }).status = status;
      response.writeHead(status, headers);
      if (body !== undefined) seen.bytesSent += body.length;
      response.end(body);
    };
    if (file === undefined) return answer(404, { 'content-type': 'text/plain' }, Buffer.from('not found'));
    if (file.token !== undefined && !cdn && request.headers.authorization !== `Bearer ${file.token}`) return answer(401, {}, Buffer.from('unauthorized'));
    if (file.redirect && !cdn) return answer(302, { location: `/cdn${path}` });
    const etag = `"${sha256(file.body).slice(0, 16)}"`;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range !== null && (request.headers['if-range'] === undefined || request.headers['if-range'] === etag)) {
      start = Number(range[1]);
      if (start >= file.body.length) return answer(416, { 'content-range': `bytes */${file.body.length}` });
    }
    const rest = file.body.subarray(start);
    const headers = { 'content-length': rest.length, etag, 'accept-ranges': 'bytes', ...(start > 0 ? { 'content-range': `bytes ${start}-${file.body.length - 1}/${file.body.length}` } : {}) };
    (seen as { status: number }).status = start > 0 ? 206 : 200;
    response.writeHead(seen.status, headers);
    const gets = (this.served.get(path) ?? 0) + 1;
    this.served.set(path, gets);
    const limit = gets === 1 ? (file.cutAfter ?? file.stallAfter) : undefined;
    if (limit === undefined) {
      seen.bytesSent += rest.length;
      response.end(rest);
      return;
    }
    const head = rest.subarray(0, limit);
    response.write(head, () => {
      seen.bytesSent += head.length;
      if (file.cutAfter !== undefined) response.destroy();
      else this.stalled.push(response);
    });
  }
}
