import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatServerRequest {
  readonly body: { model?: string; messages?: { role: string; content: string }[]; stream?: boolean; temperature?: number; max_tokens?: number };
  readonly authorization: string | undefined;
  /** `performance.now()` when each streamed delta was written (benchmarks time speech against them). */
  readonly sentAt: number[];
}

export interface ScriptedReply {
  /** The reply, sent as these deltas (streamed) or joined (JSON). */
  readonly tokens?: readonly string[];
  /** Milliseconds between streamed deltas. */
  readonly tokenIntervalMs?: number;
  /** Answer with one JSON completion even when a stream was asked for (servers that do not stream). */
  readonly json?: boolean;
  /** Answer with this HTTP status and an OpenAI-style error body. */
  readonly status?: number;
  /** Send this many deltas, then stop talking without ending the response. */
  readonly stallAfter?: number;
}

export interface ChatServer {
  /** Base URL up to /v1. */
  readonly url: string;
  readonly requests: ChatServerRequest[];
  close(): Promise<void>;
}

/**
 * A scripted OpenAI-compatible chat-completions server on loopback, standing in for llama.cpp,
 * Ollama or vLLM: `/v1/chat/completions` answers each request with `reply(request)`, streamed as
 * server-sent events at a fixed token rate, as JSON, or as an error.
 */
export async function startChatServer(reply: (request: ChatServerRequest) => ScriptedReply): Promise<ChatServer> {
  const requests: ChatServerRequest[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      void (async () => {
        if (request.url !== '/v1/chat/completions' || request.method !== 'POST') {
          response.writeHead(404).end();
          return;
        }
        const scripted: ChatServerRequest = { body: JSON.parse(raw) as ChatServerRequest['body'], authorization: request.headers.authorization, sentAt: [] };
        requests.push(scripted);
        const script = reply(scripted);
        if (script.status !== undefined) {
          response.writeHead(script.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `scripted failure ${script.status}`, type: 'server_error' } }));
          return;
        }
        const tokens = script.tokens ?? [];
        if (script.json === true || scripted.body.stream !== true) {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: tokens.join('') }, finish_reason: 'stop' }] }));
          return;
        }
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const [index, token] of tokens.entries()) {
          if (script.stallAfter !== undefined && index >= script.stallAfter) return;
          if (response.destroyed) return;
          response.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: token }, finish_reason: null }] })}\n\n`);
          scripted.sentAt.push(performance.now());
          await new Promise((resolve) => setTimeout(resolve, script.tokenIntervalMs ?? 0));
        }
        response.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        response.end('data: [DONE]\n\n');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
