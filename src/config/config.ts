import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { LogLevel } from '../util/logger.js';
import { ConfigError } from './config-error.js';
import { parseRemoteEngineSettings, type RemoteEngineSetting } from './remote-engines.js';

export { ConfigError };

/** Server settings. Environment variables win; an optional JSON file (CHORUS_CONFIG) fills the rest. */
export interface ChorusConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Accepted bearer tokens; empty = no authentication. Held only as sha256 digests after start-up. */
  readonly apiKeys: readonly string[];
  readonly maxCharsPerChunk: number;
  /** Longest speech text a request may send (`input`, `text`; the agent's `message`), characters. */
  readonly maxInputChars: number;
  /** Longest audio one request may make (one spoken reply of the agent), seconds. */
  readonly maxAudioSeconds: number;
  /** The default engine's id (CHORUS_DEFAULT_ENGINE; CHORUS_ENGINE is its older name). */
  readonly engine: string;
  /** Engines to load (CHORUS_ENGINES); empty = every registered engine that is available. */
  readonly engines: readonly string[];
  /** Engine worker threads; defaults to the number of cores. */
  readonly workers: number;
  /** sherpa-onnx instances per installed neural model, in the engine host (requests to a model share them). */
  readonly sherpaInstances: number;
  /** onnxruntime threads per sherpa-onnx instance. */
  readonly sherpaThreads: number;
  /** Model servers Chorus speaks to over HTTP, each an engine (CHORUS_REMOTE_ENGINES; docs/remote-engines.md). */
  readonly remoteEngines: readonly RemoteEngineSetting[];
  readonly ffmpegPath: string;
  /** Audio a streaming synthesis may make ahead of its client, bytes; then it pauses until the client reads. */
  readonly streamBufferBytes: number;
  /** Largest accepted request body, bytes. */
  readonly maxRequestBytes: number;
  readonly logLevel: LogLevel;
  /**
   * Job-API endpoint ids and the profile each serves (`chatterbox=chatterbox,tts=spark-tts`);
   * empty means every profile under its own name.
   */
  readonly endpoints: Readonly<Record<string, string>>;
  /** Jobs allowed to wait in the queue at once; beyond it /run answers 429. */
  readonly maxQueuedJobs: number;
  /** How long results stay readable after /run and after /runsync, ms. */
  readonly runRetentionMs: number;
  readonly runsyncRetentionMs: number;
  /** Largest /run and /runsync bodies, bytes. */
  readonly maxRunBytes: number;
  readonly maxRunsyncBytes: number;
  /** Result cache of the first Chatterbox profile: on/off, directory (default `<dataDir>/cache`), size limit in bytes. */
  readonly cacheEnabled: boolean;
  readonly cacheDir: string;
  readonly cacheMaxBytes: number;
  /** Installed neural models, one directory each (default `<dataDir>/models`); see docs/models.md. */
  readonly modelsDir: string;
  /** The model catalogue `chorus models` uses: a JSON file or http(s) URL; absent = the built-in one. */
  readonly modelCatalog: string | undefined;
  /** Hugging Face endpoint (a mirror) and token for model downloads, under their usual names. */
  readonly hfEndpoint: string;
  readonly hfToken: string | undefined;
  /** Where job outputs (audio files, subtitles) are kept: the data directory or an S3 bucket. */
  readonly storage: 'local' | 's3';
  /** Base URL of links Chorus hands out for local files; default: the server's own http://host:port. */
  readonly publicUrl: string | undefined;
  /** HMAC key of local file links; default: a random key kept in the data directory. */
  readonly urlSigningSecret: string | undefined;
  /** Lifetime of the links to stored files, seconds. */
  readonly urlTtlSeconds: number;
  readonly s3Bucket: string | undefined;
  /** S3-protocol endpoint (MinIO, R2, …); default: AWS for the region. */
  readonly s3Endpoint: string | undefined;
  readonly s3Region: string;
  readonly s3AccessKeyId: string | undefined;
  readonly s3SecretAccessKey: string | undefined;
  /** Lets user-supplied URLs (prompt audio) reach private and loopback addresses and use plain http. */
  readonly allowPrivateUrls: boolean;
  /** Largest reference audio fetched from a user-supplied URL, bytes. */
  readonly maxPromptAudioBytes: number;
  /** Standard Webhooks signing secret (`whsec_<base64>`); default: generated once and kept in the data directory. */
  readonly webhookSecret: string | undefined;
  /** Wait before each of the two webhook retries, ms. */
  readonly webhookRetryDelayMs: number;
  /** Per-attempt webhook timeout, ms. */
  readonly webhookTimeoutMs: number;
  /** API requests per second per key (per client address without keys); 0 turns rate limiting off. */
  readonly rateLimitRps: number;
  /** Requests a key may make at once after a quiet spell; 0 turns rate limiting off. */
  readonly rateLimitBurst: number;
  /** Failed authentications a client address may make a minute (at once, then refilled); 0: unlimited. */
  readonly authFailuresPerMinute: number;
  /** Serves the web playground at /playground (static files; its API calls need a key like any client's). */
  readonly playground: boolean;
  /**
   * What this process does: `all` (the default) serves the APIs and runs jobs; `api` serves the
   * APIs and leaves queued jobs to worker processes; `worker` runs queued jobs (and answers /health).
   * `api` and `worker` need `redisUrl`, so the processes share one queue.
   */
  readonly role: 'all' | 'api' | 'worker';
  /** `redis://…`: jobs go through Redis (BullMQ) instead of the embedded SQLite queue. */
  readonly redisUrl: string | undefined;
  /** Key prefix in Redis; deployments sharing one Redis need different prefixes. */
  readonly redisPrefix: string;
  /** A worker that stops renewing its job locks (crashed, killed) loses its jobs to others this long after, ms. */
  readonly jobLockMs: number;
  /** Base URL (up to `/v1`) of the OpenAI-compatible chat server behind the chat agent; absent = no agent. */
  readonly llmUrl: string | undefined;
  /** The model the chat server is asked for; required with `llmUrl`. */
  readonly llmModel: string | undefined;
  readonly llmApiKey: string | undefined;
  /** Sent first in every conversation; `none` sends no system message. */
  readonly llmSystemPrompt: string;
  /** Longest wait for the chat server's first byte and between its bytes, ms. */
  readonly llmTimeoutMs: number;
  /** Conversation memory: turns and characters kept per conversation, and how long an idle one lives, s. */
  readonly conversationMaxTurns: number;
  readonly conversationMaxChars: number;
  readonly conversationIdleSeconds: number;
  /** On SIGTERM/SIGINT, how long requests and jobs in flight get to finish before they are cut, ms. */
  readonly shutdownGraceMs: number;
  /** A client must send a request's headers within this (slow-loris clients are cut off), ms. */
  readonly headersTimeoutMs: number;
  /** …and the whole request, body included, within this; answering it may take longer, ms. */
  readonly requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this, ms. */
  readonly keepAliveTimeoutMs: number;
  /** Who may read `GET /metrics` (CHORUS_METRICS; docs/metrics.md). */
  readonly metrics: MetricsAccess;
  /** Port of the Wyoming protocol server (Home Assistant's TTS); absent = no Wyoming server. 0 = any free port. */
  readonly wyomingPort: number | undefined;
  /** Address the Wyoming server binds; '' = the server's HOST, resolved in loadConfig. */
  readonly wyomingHost: string;
  /** Announce the Wyoming server by mDNS under this name (CHORUS_WYOMING_ZEROCONF); absent = no announcements. */
  readonly wyomingZeroconf: string | undefined;
}

/**
 * `off`: no /metrics (404); `open`: anyone who can reach the port; `api-keys`: any key of
 * CHORUS_API_KEYS; `token`: only this bearer token, which is not an API key.
 */
export type MetricsAccess =
  | { readonly mode: 'off' }
  | { readonly mode: 'open' }
  | { readonly mode: 'api-keys' }
  | { readonly mode: 'token'; readonly token: string };

/** What the agent is told unless CHORUS_LLM_SYSTEM_PROMPT says otherwise: its replies are heard, not read. */
export const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful voice assistant. Your replies are spoken aloud: answer in short, plain sentences, without Markdown, lists, code or emoji.';

/** Every setting: environment variable, config-file key, default, and how to read it. */
const SETTINGS = {
  port: { env: 'PORT', parse: integer(0, 65535), default: 8080 },
  host: { env: 'HOST', parse: text, default: '127.0.0.1' },
  dataDir: { env: 'CHORUS_DATA_DIR', parse: text, default: './data' },
  apiKeys: { env: 'CHORUS_API_KEYS', parse: list, default: [] as string[] },
  maxCharsPerChunk: { env: 'MAX_CHARS_PER_CHUNK', parse: integer(20, 100_000), default: 500 },
  maxInputChars: { env: 'CHORUS_MAX_INPUT_CHARS', parse: integer(1, 1_000_000), default: 10_000 },
  maxAudioSeconds: { env: 'CHORUS_MAX_AUDIO_SECONDS', parse: integer(1, 86_400), default: 1200 },
  // '' = CHORUS_ENGINE, the older name of the setting, or else espeak; resolved in loadConfig.
  defaultEngine: { env: 'CHORUS_DEFAULT_ENGINE', parse: text, default: '' },
  engine: { env: 'CHORUS_ENGINE', parse: text, default: '' },
  engines: { env: 'CHORUS_ENGINES', parse: list, default: [] as string[] },
  workers: { env: 'CHORUS_WORKERS', parse: integer(1, 64), default: availableParallelism() },
  sherpaInstances: { env: 'CHORUS_SHERPA_INSTANCES', parse: integer(1, 16), default: 1 },
  sherpaThreads: { env: 'CHORUS_SHERPA_THREADS', parse: integer(1, 64), default: Math.min(4, availableParallelism()) },
  remoteEngines: { env: 'CHORUS_REMOTE_ENGINES', parse: parseRemoteEngineSettings, default: [] as RemoteEngineSetting[] },
  ffmpegPath: { env: 'CHORUS_FFMPEG_PATH', parse: text, default: 'ffmpeg' },
  streamBufferBytes: { env: 'CHORUS_STREAM_BUFFER_BYTES', parse: integer(16 * 1024, 1 << 30), default: 256 * 1024 },
  maxRequestBytes: { env: 'CHORUS_MAX_REQUEST_BYTES', parse: integer(1024, 1 << 30), default: 1 << 20 },
  logLevel: { env: 'CHORUS_LOG_LEVEL', parse: oneOf(['debug', 'info', 'warn', 'error', 'silent'] as const), default: 'info' as LogLevel },
  endpoints: {
    env: 'CHORUS_ENDPOINTS',
    parse: pairs,
    // Empty: every profile is served under its own name (spark-tts, chatterbox, chatterbox-v2, …).
    default: {} as Record<string, string>,
  },
  maxQueuedJobs: { env: 'CHORUS_MAX_QUEUED_JOBS', parse: integer(1, 10_000_000), default: 1000 },
  runRetentionMs: { env: 'CHORUS_RUN_RETENTION_MS', parse: integer(0, 7 * 24 * 3600 * 1000), default: 30 * 60 * 1000 },
  runsyncRetentionMs: { env: 'CHORUS_RUNSYNC_RETENTION_MS', parse: integer(0, 7 * 24 * 3600 * 1000), default: 60 * 1000 },
  maxRunBytes: { env: 'CHORUS_MAX_RUN_BYTES', parse: integer(1024, 1 << 30), default: 10 * 1024 * 1024 },
  maxRunsyncBytes: { env: 'CHORUS_MAX_RUNSYNC_BYTES', parse: integer(1024, 1 << 30), default: 20 * 1024 * 1024 },
  cacheEnabled: { env: 'CACHE_ENABLED', parse: yesNo, default: true },
  // '' = `<dataDir>/cache`, resolved in loadConfig.
  cacheDir: { env: 'CACHE_DIR', parse: text, default: '' },
  cacheMaxBytes: { env: 'CACHE_MAX_BYTES', parse: integer(0, Number.MAX_SAFE_INTEGER), default: 512 * 1024 * 1024 },
  // '' = `<dataDir>/models`, resolved in loadConfig.
  modelsDir: { env: 'CHORUS_MODELS_DIR', parse: text, default: '' },
  modelCatalog: { env: 'CHORUS_MODEL_CATALOG', parse: text, default: undefined as string | undefined },
  hfEndpoint: { env: 'HF_ENDPOINT', parse: httpUrl, default: 'https://huggingface.co' },
  hfToken: { env: 'HF_TOKEN', parse: text, default: undefined as string | undefined },
  storage: { env: 'CHORUS_STORAGE', parse: oneOf(['local', 's3'] as const), default: 'local' as 'local' | 's3' },
  publicUrl: { env: 'CHORUS_PUBLIC_URL', parse: httpUrl, default: undefined as string | undefined },
  urlSigningSecret: { env: 'CHORUS_URL_SIGNING_SECRET', parse: text, default: undefined as string | undefined },
  urlTtlSeconds: { env: 'CHORUS_URL_TTL_SECONDS', parse: integer(1, 7 * 24 * 3600), default: 3600 },
  s3Bucket: { env: 'CHORUS_S3_BUCKET', parse: text, default: undefined as string | undefined },
  s3Endpoint: { env: 'CHORUS_S3_ENDPOINT', parse: httpUrl, default: undefined as string | undefined },
  s3Region: { env: 'CHORUS_S3_REGION', parse: text, default: 'us-east-1' },
  s3AccessKeyId: { env: 'CHORUS_S3_ACCESS_KEY_ID', parse: text, default: undefined as string | undefined },
  s3SecretAccessKey: { env: 'CHORUS_S3_SECRET_ACCESS_KEY', parse: text, default: undefined as string | undefined },
  allowPrivateUrls: { env: 'CHORUS_ALLOW_PRIVATE_URLS', parse: yesNo, default: false },
  maxPromptAudioBytes: { env: 'CHORUS_MAX_PROMPT_AUDIO_BYTES', parse: integer(1024, 1 << 30), default: 20 * 1024 * 1024 },
  webhookSecret: { env: 'CHORUS_WEBHOOK_SECRET', parse: webhookSecret, default: undefined as string | undefined },
  webhookRetryDelayMs: { env: 'CHORUS_WEBHOOK_RETRY_DELAY_MS', parse: integer(0, 3_600_000), default: 10_000 },
  webhookTimeoutMs: { env: 'CHORUS_WEBHOOK_TIMEOUT_MS', parse: integer(100, 300_000), default: 10_000 },
  rateLimitRps: { env: 'CHORUS_RATE_LIMIT_RPS', parse: decimal(0, 1_000_000), default: 10 },
  rateLimitBurst: { env: 'CHORUS_RATE_LIMIT_BURST', parse: integer(0, 1_000_000), default: 50 },
  authFailuresPerMinute: { env: 'CHORUS_AUTH_FAILURES_PER_MINUTE', parse: integer(0, 1_000_000), default: 10 },
  playground: { env: 'CHORUS_PLAYGROUND', parse: yesNo, default: true },
  role: { env: 'CHORUS_ROLE', parse: oneOf(['all', 'api', 'worker'] as const), default: 'all' as 'all' | 'api' | 'worker' },
  redisUrl: { env: 'CHORUS_REDIS_URL', parse: redisUrl, default: undefined as string | undefined },
  redisPrefix: { env: 'CHORUS_REDIS_PREFIX', parse: text, default: 'chorus' },
  jobLockMs: { env: 'CHORUS_JOB_LOCK_MS', parse: integer(1000, 3_600_000), default: 30_000 },
  llmUrl: { env: 'CHORUS_LLM_URL', parse: httpUrl, default: undefined as string | undefined },
  llmModel: { env: 'CHORUS_LLM_MODEL', parse: text, default: undefined as string | undefined },
  llmApiKey: { env: 'CHORUS_LLM_API_KEY', parse: text, default: undefined as string | undefined },
  llmSystemPrompt: { env: 'CHORUS_LLM_SYSTEM_PROMPT', parse: text, default: DEFAULT_SYSTEM_PROMPT },
  llmTimeoutMs: { env: 'CHORUS_LLM_TIMEOUT_MS', parse: integer(100, 600_000), default: 60_000 },
  conversationMaxTurns: { env: 'CHORUS_CONVERSATION_MAX_TURNS', parse: integer(1, 10_000), default: 20 },
  conversationMaxChars: { env: 'CHORUS_CONVERSATION_MAX_CHARS', parse: integer(100, 10_000_000), default: 24_000 },
  conversationIdleSeconds: { env: 'CHORUS_CONVERSATION_IDLE_SECONDS', parse: integer(1, 365 * 24 * 3600), default: 24 * 3600 },
  shutdownGraceMs: { env: 'CHORUS_SHUTDOWN_GRACE_MS', parse: integer(0, 600_000), default: 10_000 },
  headersTimeoutMs: { env: 'CHORUS_HEADERS_TIMEOUT_MS', parse: integer(1000, 600_000), default: 10_000 },
  // A 20 MB /runsync body at about 600 kbit/s.
  requestTimeoutMs: { env: 'CHORUS_REQUEST_TIMEOUT_MS', parse: integer(1000, 3_600_000), default: 300_000 },
  // Longer than clients' and proxies' own idle timeouts (undici 4 s, AWS load balancers 60 s): the
  // client gives up a connection before the server closes it, so no request is sent into a closing one.
  keepAliveTimeoutMs: { env: 'CHORUS_KEEP_ALIVE_TIMEOUT_MS', parse: integer(1000, 600_000), default: 65_000 },
  // Absent: open on a server without API keys (nothing there is closed anyway), off on one with them; resolved in loadConfig.
  metrics: { env: 'CHORUS_METRICS', parse: metricsAccess, default: undefined as MetricsAccess | undefined },
  wyomingPort: { env: 'CHORUS_WYOMING_PORT', parse: integer(0, 65535), default: undefined as number | undefined },
  // '' = HOST, resolved in loadConfig.
  wyomingHost: { env: 'CHORUS_WYOMING_HOST', parse: text, default: '' },
  // Off unless asked: mDNS sends multicast to the whole network.
  wyomingZeroconf: { env: 'CHORUS_WYOMING_ZEROCONF', parse: zeroconfName, default: undefined as string | undefined },
} as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ChorusConfig> = {}): ChorusConfig {
  const file = env['CHORUS_CONFIG'] ? readConfigFile(env['CHORUS_CONFIG']) : {};
  const values: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS)) {
    const fromEnv = env[setting.env];
    const fromFile = file[key];
    const source = fromEnv !== undefined && fromEnv !== '' ? fromEnv : fromFile;
    try {
      values[key] = source === undefined ? setting.default : (setting.parse as (value: unknown) => unknown)(source);
    } catch (error) {
      const where = fromEnv !== undefined && fromEnv !== '' ? setting.env : `${key} in ${env['CHORUS_CONFIG']}`;
      throw new ConfigError(`Invalid ${where}: ${(error as Error).message}`);
    }
  }
  const { defaultEngine, ...settings } = values;
  const engine = [overrides.engine, defaultEngine, settings['engine']].find((id) => typeof id === 'string' && id !== '') as string | undefined;
  const config = { ...settings, ...overrides, engine: engine ?? 'espeak' } as ChorusConfig;
  if (config.role !== 'all' && config.redisUrl === undefined) {
    throw new ConfigError(`CHORUS_ROLE=${config.role} needs CHORUS_REDIS_URL: API and worker processes share their jobs through Redis.`);
  }
  if (config.llmUrl !== undefined && config.llmModel === undefined) {
    throw new ConfigError('CHORUS_LLM_URL needs CHORUS_LLM_MODEL: the name of the model the chat server serves (llama.cpp accepts any name; Ollama, vLLM and OpenAI need theirs).');
  }
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError(`CHORUS_HEADERS_TIMEOUT_MS (${config.headersTimeoutMs}) must not exceed CHORUS_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs}): the headers are part of the request.`);
  }
  if (config.wyomingZeroconf !== undefined && config.wyomingPort === undefined) {
    throw new ConfigError('CHORUS_WYOMING_ZEROCONF needs CHORUS_WYOMING_PORT: it announces the Wyoming server, which is off without a port.');
  }
  const wyomingHost = config.wyomingHost === '' ? config.host : config.wyomingHost;
  if (config.wyomingZeroconf !== undefined && !announceable(wyomingHost)) {
    throw new ConfigError(
      `CHORUS_WYOMING_ZEROCONF needs the Wyoming server on an address Home Assistant can reach: CHORUS_WYOMING_HOST is ${wyomingHost}; use 0.0.0.0 (every interface) or this machine's IPv4 address.`,
    );
  }
  const metrics = (config.metrics as MetricsAccess | undefined) ?? { mode: config.apiKeys.length === 0 ? 'open' : 'off' };
  if (metrics.mode === 'api-keys' && config.apiKeys.length === 0) {
    throw new ConfigError('CHORUS_METRICS=api-keys needs CHORUS_API_KEYS: without keys, use on (open to all) or a token of its own.');
  }
  const dataDir = resolve(config.dataDir);
  return {
    ...config,
    metrics,
    dataDir,
    wyomingHost,
    cacheDir: config.cacheDir === '' ? join(dataDir, 'cache') : resolve(config.cacheDir),
    modelsDir: config.modelsDir === '' ? join(dataDir, 'models') : resolve(config.modelsDir),
  };
}

function readConfigFile(path: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${path}: ${(error as Error).message}`);
  }
}

function text(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Error('expected a non-empty string');
  return value.trim();
}

/** An http(s) URL without a trailing slash. */
function httpUrl(value: unknown): string {
  const raw = text(value);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`expected an http:// or https:// URL, got '${raw}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`expected an http:// or https:// URL, got '${raw}'`);
  return raw.replace(/\/+$/, '');
}

/** redis:// or rediss:// (TLS) URL. */
function redisUrl(value: unknown): string {
  const raw = text(value);
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
    throw new Error(`expected a redis:// or rediss:// URL, got '${raw}'`);
  }
  return raw;
}

/** true/false, 1/0, yes/no, on/off (or a JSON boolean in the config file). */
function yesNo(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const word = String(value).trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(word)) return true;
  if (['false', '0', 'no', 'off'].includes(word)) return false;
  throw new Error(`expected true or false, got '${String(value)}'`);
}

/** An address other machines can reach the Wyoming server on, to announce: every interface or an IPv4 one but loopback. */
function announceable(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || (isIP(host) === 4 && !host.startsWith('127.'));
}

/** `true` (the name `chorus`), `false`, or the name to announce: one DNS label, as Home Assistant shows it. */
function zeroconfName(value: unknown): string | undefined {
  if (typeof value === 'boolean') return value ? 'chorus' : undefined;
  const word = String(value).trim();
  if (['true', '1', 'yes', 'on'].includes(word.toLowerCase())) return 'chorus';
  if (['false', '0', 'no', 'off'].includes(word.toLowerCase())) return undefined;
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9 _-]{0,61}[A-Za-z0-9])?$/.test(word)) {
    throw new Error(`expected true, false or a name of 1–63 letters, digits, spaces, '-' and '_' (no dots), got '${word}'`);
  }
  return word;
}

function list(value: unknown): string[] {
  const items = Array.isArray(value) ? value : String(value).split(',');
  return items.map((item) => String(item).trim()).filter((item) => item.length > 0);
}

/** `a=b,c=d` (or a JSON object in the config file). */
function pairs(value: unknown): Record<string, string> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, text(v)]));
  }
  const result: Record<string, string> = {};
  for (const item of list(value)) {
    const [key, kind, ...rest] = item.split('=').map((part) => part.trim());
    if (!key || !kind || rest.length > 0) throw new Error(`expected id=profile pairs separated by commas, got '${item}'`);
    result[key] = kind;
  }
  return result;
}

function integer(min: number, max: number) {
  return (value: unknown): number => {
    const number = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isInteger(number) || number < min || number > max) {
      throw new Error(`expected an integer from ${min} to ${max}, got '${String(value)}'`);
    }
    return number;
  };
}

function decimal(min: number, max: number) {
  return (value: unknown): number => {
    const number = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isFinite(number) || number < min || number > max) {
      throw new Error(`expected a number from ${min} to ${max}, got '${String(value)}'`);
    }
    return number;
  };
}

/** `whsec_` followed by base64 of at least 16 bytes (the Standard Webhooks secret format). */
function webhookSecret(value: unknown): string {
  const raw = text(value);
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(raw);
  if (match === null || Buffer.from(match[1]!, 'base64').length < 16) {
    throw new Error("expected 'whsec_' followed by the base64 of at least 16 random bytes");
  }
  return raw;
}

/** off | on | api-keys | a bearer token of at least 16 characters (or a JSON boolean in the config file). */
function metricsAccess(value: unknown): MetricsAccess {
  if (value === false) return { mode: 'off' };
  if (value === true) return { mode: 'open' };
  const raw = text(value);
  const word = raw.toLowerCase();
  if (['off', 'false', 'no', '0'].includes(word)) return { mode: 'off' };
  if (['on', 'true', 'yes', '1'].includes(word)) return { mode: 'open' };
  if (word === 'api-keys') return { mode: 'api-keys' };
  // A short word is more likely a mistyped mode than a token; a token must be worth guessing.
  if (/^[A-Za-z0-9._~+/=-]{16,}$/.test(raw)) return { mode: 'token', token: raw };
  throw new Error('expected off, on, api-keys, or a bearer token of at least 16 characters (letters, digits, . _ ~ + / = -)');
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: unknown): T => {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    throw new Error(`expected one of ${allowed.join(', ')}, got '${String(value)}'`);
  };
}
