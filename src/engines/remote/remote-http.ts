import { ChorusError } from '../../errors.js';
import { concatBytes } from '../../audio/pcm.js';

/**
 * HTTP to one remote engine: its base URL and key, a deadline for every wait, and one retry when
 * the connection itself failed (nothing was sent, so nothing can be done twice). Everything else,
 * a status the server answered with included, is the caller's to judge.
 */
export class RemoteHttp {
  constructor(
    readonly engineId: string,
    readonly baseUrl: string,
    private readonly apiKey: string | undefined,
    readonly timeoutMs: number,
  ) {}

  /**
   * The response to `path`, once its headers arrive. Rejects with `engine_failed` (retryable) when
   * the server cannot be reached or does not answer within the timeout; `signal` aborts it.
   */
  async fetch(path: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      // The deadline covers the wait for the headers only; the body has its own per-piece one.
      const controller = new AbortController();
      const abort = (): void => controller.abort();
      signal.addEventListener('abort', abort, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.timeoutMs);
      try {
        return await fetch(`${this.baseUrl}${path}`, {
          ...init,
          headers: { ...(this.apiKey === undefined ? {} : { authorization: `Bearer ${this.apiKey}` }), ...(init.headers as Record<string, string> | undefined) },
          signal: controller.signal,
        });
      } catch (error) {
        signal.removeEventListener('abort', abort);
        if (signal.aborted) throw abortedError();
        if (timedOut) throw this.timeoutError();
        if (attempt === 1 && isConnectionError(error)) continue;
        throw new ChorusError({
          code: 'engine_failed',
          retryable: true,
          message: `The remote engine '${this.engineId}' could not be reached (${describe(error)}).`,
          cause: error,
        });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /**
   * The body of `response` piece by piece; each piece must come within the timeout. Stops (and
   * closes the connection) when `signal` aborts.
   */
  async *body(response: Response, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    if (response.body === null) return;
    const reader = response.body.getReader();
    const onAbort = (): void => void reader.cancel().catch(() => {});
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(this.timeoutError()), this.timeoutMs);
        });
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await Promise.race([reader.read(), idle]);
        } catch (error) {
          if (signal.aborted) return;
          if (error instanceof ChorusError) throw error;
          throw new ChorusError({ code: 'engine_failed', retryable: true, message: `The remote engine '${this.engineId}' broke off its answer (${describe(error)}).`, cause: error });
        } finally {
          clearTimeout(timer);
        }
        if (next.done || signal.aborted) return;
        yield next.value;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      // Ends the connection if the caller stopped early; a finished body is unaffected.
      void reader.cancel().catch(() => {});
    }
  }

  /** `fetch`, with a non-2xx answer thrown as its `failure`. */
  async fetchOk(path: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
    const response = await this.fetch(path, init, signal);
    if (!response.ok) throw await this.failure(response, signal);
    return response;
  }

  /** `POST path` with a JSON body; a non-2xx answer is thrown as its `failure`. */
  postJson(path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    return this.fetchOk(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, signal);
  }

  /** The whole body parsed as JSON (a body that is not JSON throws a SyntaxError: callers decide what that means). */
  async json(response: Response, signal: AbortSignal): Promise<unknown> {
    return JSON.parse(new TextDecoder().decode(await this.bytes(response, signal)));
  }

  /** The whole body, within the timeout per piece. */
  async bytes(response: Response, signal: AbortSignal): Promise<Uint8Array> {
    const pieces: Uint8Array[] = [];
    for await (const piece of this.body(response, signal)) {
      pieces.push(piece);
    }
    return concatBytes(pieces);
  }

  /**
   * A ChorusError for a response that is not 2xx, with the server's own message when it gave one.
   * `retryable` (and counted against the engine's health) for 5xx, 408 and 429; a 4xx is the request's.
   */
  async failure(response: Response, signal: AbortSignal): Promise<ChorusError> {
    let detail = '';
    try {
      const text = new TextDecoder().decode(await this.bytes(response, signal)).trim();
      detail = messageOf(text);
    } catch {
      detail = '';
    }
    const serverSide = response.status >= 500 || response.status === 408 || response.status === 429;
    return new ChorusError({
      code: 'engine_failed',
      retryable: serverSide,
      detail: serverSide ? 'remote_server_error' : 'remote_refused',
      message: `The remote engine '${this.engineId}' answered ${response.status}${detail === '' ? '' : `: ${detail}`}.`,
    });
  }

  timeoutError(): ChorusError {
    return new ChorusError({
      code: 'engine_failed',
      retryable: true,
      detail: 'remote_timeout',
      message: `The remote engine '${this.engineId}' did not answer within ${this.timeoutMs} ms.`,
    });
  }
}

function abortedError(): ChorusError {
  return new ChorusError({ code: 'aborted', message: 'The request was cancelled.' });
}

/** Failures of the connection itself: refused, reset before an answer, unknown host. */
function isConnectionError(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } })?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code !== undefined) return cause.code;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A short message from an error body: FastAPI's `detail` (a string, an object with a `message` as
 * Kokoro-FastAPI sends, or pydantic's list of `{loc, msg}`), OpenAI's `error.message`, fish's
 * `message`, or the text.
 */
function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const detail = fastapiDetail(body['detail']) ?? (body['error'] as Record<string, unknown> | undefined)?.['message'] ?? body['message'] ?? body['error'];
    if (typeof detail === 'string') return detail.slice(0, 300);
    if (detail !== undefined) return JSON.stringify(detail).slice(0, 300);
  } catch {
    // not JSON
  }
  return text.replace(/\s+/g, ' ').slice(0, 300);
}

function fastapiDetail(detail: unknown): unknown {
  if (Array.isArray(detail)) {
    const messages = detail.map((entry: { loc?: unknown; msg?: unknown }) =>
      typeof entry?.msg === 'string' ? `${Array.isArray(entry.loc) ? `${entry.loc.filter((part) => part !== 'body').join('.')}: ` : ''}${entry.msg}` : undefined,
    );
    if (messages.every((message) => message !== undefined)) return messages.join('; ');
  }
  if (typeof detail === 'object' && detail !== null && typeof (detail as { message?: unknown }).message === 'string') return (detail as { message: string }).message;
  return detail;
}
