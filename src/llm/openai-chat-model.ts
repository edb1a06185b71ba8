import { ChorusError } from '../errors.js';
import type { ChatModel, ChatRequest } from './chat-model.js';

export interface OpenAIChatModelOptions {
  /** Base URL of an OpenAI-compatible API, up to `/v1` (`http://127.0.0.1:8080/v1`, `https://api.openai.com/v1`). */
  readonly url: string;
  readonly model: string;
  readonly apiKey?: string;
  /** Longest wait for the first byte and between streamed bytes, ms. */
  readonly timeoutMs?: number;
}

/**
 * Any OpenAI-compatible chat-completions server: llama.cpp's server, Ollama, vLLM, OpenAI itself.
 * Asks for a stream (`stream: true`) and reads its server-sent events; a server that answers with a
 * plain JSON completion instead is read whole. Failures name the server and what went wrong:
 * unreachable or silent → `engine_unavailable` (503), an error answer → `engine_failed`.
 */
export function createOpenAIChatModel(options: OpenAIChatModelOptions): ChatModel {
  const endpoint = `${options.url.replace(/\/+$/, '')}/chat/completions`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const description = `${options.model} at ${options.url}`;
  return {
    model: options.model,
    description,
    async *stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<string> {
      const controller = new AbortController();
      const stop = () => controller.abort(signal.reason);
      signal.addEventListener('abort', stop, { once: true });
      // Restarted on every byte: a server that stops talking is given up on.
      let timer = setTimeout(() => controller.abort(new Error('timeout')), timeoutMs);
      const alive = () => {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(new Error('timeout')), timeoutMs);
      };
      const unavailable = (why: string, cause?: unknown) =>
        new ChorusError({ code: 'engine_unavailable', retryable: true, message: `The language model (${description}, CHORUS_LLM_URL) ${why}.`, ...(cause === undefined ? {} : { cause }) });
      try {
        let response: Response;
        try {
          response = await fetch(endpoint, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'text/event-stream, application/json',
              ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }),
            },
            body: JSON.stringify({
              model: options.model,
              messages: request.messages,
              stream: true,
              ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
              ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
            }),
            signal: controller.signal,
          });
        } catch (error) {
          if (signal.aborted) return;
          throw unavailable(controller.signal.aborted ? `did not answer within ${timeoutMs} ms` : 'cannot be reached', error);
        }
        alive();
        if (!response.ok) {
          const body = await response.text().catch(() => '');
          throw new ChorusError({ code: 'engine_failed', message: `The language model (${description}) answered ${response.status}: ${errorMessage(body)}` });
        }
        const type = response.headers.get('content-type') ?? '';
        if (!type.includes('text/event-stream')) {
          const json = (await response.json()) as { choices?: { message?: { content?: unknown } }[] };
          const content = json.choices?.[0]?.message?.content;
          if (typeof content !== 'string') throw new ChorusError({ code: 'engine_failed', message: `The language model (${description}) answered without a message.` });
          if (content.length > 0) yield content;
          return;
        }
        const decoder = new TextDecoder();
        let buffered = '';
        try {
          for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
            alive();
            buffered += decoder.decode(bytes, { stream: true });
            let newline: number;
            while ((newline = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              if (!line.startsWith('data:')) continue;
              const data = line.slice(5).trim();
              if (data === '[DONE]') return;
              const delta = deltaOf(data, description);
              if (delta.length > 0) yield delta;
            }
          }
        } catch (error) {
          if (signal.aborted) return;
          if (ChorusError.isInstance(error)) throw error;
          throw unavailable(controller.signal.aborted ? `stopped sending for ${timeoutMs} ms` : 'broke off its answer', error);
        }
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', stop);
      }
    },
  };
}

function deltaOf(data: string, description: string): string {
  let event: { choices?: { delta?: { content?: unknown } }[]; error?: unknown };
  try {
    event = JSON.parse(data) as typeof event;
  } catch {
    throw new ChorusError({ code: 'engine_failed', message: `The language model (${description}) sent an event that is not JSON.` });
  }
  if (event.error !== undefined) throw new ChorusError({ code: 'engine_failed', message: `The language model (${description}) failed: ${errorMessage(JSON.stringify(event))}` });
  const content = event.choices?.[0]?.delta?.content;
  return typeof content === 'string' ? content : '';
}

/** The message of an OpenAI-style error body, or the start of whatever came back. */
function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string };
    if (typeof parsed.error === 'string') return parsed.error;
    if (typeof parsed.error?.message === 'string') return parsed.error.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 200) || '(empty body)';
}
