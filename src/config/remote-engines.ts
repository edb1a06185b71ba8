/**
 * One remote engine as configured (CHORUS_REMOTE_ENGINES, or `remoteEngines` in the config file): a
 * model server Chorus speaks to over HTTP. Parsed here, with no knowledge of the adapters, so the
 * config loader can check it at start.
 */
export const REMOTE_ENGINE_KINDS = ['openai', 'chatterbox-server', 'fish-speech', 'chatterbox-tts-api', 'kokoro-fastapi'] as const;
export type RemoteEngineKind = (typeof REMOTE_ENGINE_KINDS)[number];

export interface RemoteEngineSetting {
  /** The engine id requests use (`model`, `engine`); lower-case letters, digits, `-`, `_`, `.`. */
  readonly id: string;
  readonly kind: RemoteEngineKind;
  /** Base URL of the server (`http://gpu-box:8080`), no trailing slash. */
  readonly url: string;
  /** Sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: string;
  /** Requests in flight at once; more wait in line (default 2). */
  readonly concurrency: number;
  /** Requests allowed to wait for a free slot; beyond it a request fails at once with `engine_unavailable` (default 32). */
  readonly maxQueued: number;
  /** Longest wait for the remote's answer, and for each next piece of its audio, ms (default 60000). */
  readonly timeoutMs: number;
  /** Failures in a row (no answer, 5xx) after which the engine is reported down and requests fail fast (default 3). */
  readonly failureThreshold: number;
  /** How often a down engine's health is checked, ms (default 5000). */
  readonly probeIntervalMs: number;
  /** The `model` sent to OpenAI-compatible servers (default: the kind's usual one). */
  readonly model?: string;
  /** Voice names to offer when the server cannot list its own (or is down at start). */
  readonly voices?: readonly string[];
  /** The rate the server's audio is at, Hz, where the protocol does not say (default: the kind's). */
  readonly sampleRate?: number;
}

const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A JSON array (a string in the environment, an array in the config file) of settings. */
export function parseRemoteEngineSettings(value: unknown): RemoteEngineSetting[] {
  let items: unknown = value;
  if (typeof value === 'string') {
    if (value.trim() === '') return [];
    try {
      items = JSON.parse(value);
    } catch {
      throw new Error('expected a JSON array of {id, kind, url, …} objects');
    }
  }
  if (!Array.isArray(items)) throw new Error('expected a JSON array of {id, kind, url, …} objects');
  const seen = new Set<string>();
  return items.map((item, index) => {
    const where = `remote engine ${index + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error(`${where}: expected an object`);
    const entry = item as Record<string, unknown>;
    const known = new Set(['id', 'kind', 'url', 'apiKey', 'concurrency', 'maxQueued', 'timeoutMs', 'failureThreshold', 'probeIntervalMs', 'model', 'voices', 'sampleRate']);
    for (const key of Object.keys(entry)) if (!known.has(key)) throw new Error(`${where}: unknown field '${key}'; allowed: ${[...known].join(', ')}`);
    const id = entry['id'];
    if (typeof id !== 'string' || !ID.test(id)) throw new Error(`${where}: 'id' must be 1-64 lower-case letters, digits, '.', '-' or '_', got ${JSON.stringify(id)}`);
    if (seen.has(id)) throw new Error(`${where}: the id '${id}' is used twice`);
    seen.add(id);
    const kind = entry['kind'];
    if (typeof kind !== 'string' || !(REMOTE_ENGINE_KINDS as readonly string[]).includes(kind)) {
      throw new Error(`${where} (${id}): 'kind' must be one of ${REMOTE_ENGINE_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    }
    const url = entry['url'];
    let parsed: URL | undefined;
    try {
      parsed = typeof url === 'string' ? new URL(url) : undefined;
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw new Error(`${where} (${id}): 'url' must be an http:// or https:// URL, got ${JSON.stringify(url)}`);
    const integer = (name: string, min: number, max: number, fallback: number): number => {
      const raw = entry[name];
      if (raw === undefined) return fallback;
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) throw new Error(`${where} (${id}): '${name}' must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return raw;
    };
    const optionalText = (name: string): string | undefined => {
      const raw = entry[name];
      if (raw === undefined) return undefined;
      if (typeof raw !== 'string' || raw.trim() === '') throw new Error(`${where} (${id}): '${name}' must be a non-empty string`);
      return raw;
    };
    const voices = entry['voices'];
    if (voices !== undefined && (!Array.isArray(voices) || voices.length === 0 || voices.some((voice) => typeof voice !== 'string' || voice.trim() === ''))) {
      throw new Error(`${where} (${id}): 'voices' must be a non-empty array of voice names`);
    }
    const apiKey = optionalText('apiKey');
    const model = optionalText('model');
    const sampleRate = entry['sampleRate'] === undefined ? undefined : integer('sampleRate', 8000, 192_000, 24_000);
    return {
      id,
      kind: kind as RemoteEngineKind,
      url: (url as string).replace(/\/+$/, ''),
      ...(apiKey === undefined ? {} : { apiKey }),
      concurrency: integer('concurrency', 1, 256, 2),
      maxQueued: integer('maxQueued', 0, 10_000, 32),
      timeoutMs: integer('timeoutMs', 100, 3_600_000, 60_000),
      failureThreshold: integer('failureThreshold', 1, 1000, 3),
      probeIntervalMs: integer('probeIntervalMs', 50, 3_600_000, 5000),
      ...(model === undefined ? {} : { model }),
      ...(voices === undefined ? {} : { voices: (voices as string[]).map((voice) => voice.trim()) }),
      ...(sampleRate === undefined ? {} : { sampleRate }),
    };
  });
}
