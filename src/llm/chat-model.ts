/**
 * The language model behind the chat agent, as small as the engine contract: messages in, text
 * deltas out as an async iterable (one delta with the whole reply for servers that do not stream).
 * Stopping `signal` stops the request.
 */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface ChatRequest {
  readonly messages: readonly ChatMessage[];
  /** 0.1..1.0 for the agent; passed through. */
  readonly temperature?: number;
  readonly maxTokens?: number;
}

export interface ChatModel {
  /** The model's name, as responses report it. */
  readonly model: string;
  /** Where replies come from, for logs and errors (`model @ url`). */
  readonly description: string;
  stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<string>;
}
