import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { LogLevel } from '../util/logger.js';

/** Server settings. Environment variables win; an optional JSON file (CHORUS_CONFIG) fills the rest. */
export interface ChorusConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Accepted bearer tokens; empty = no authentication. Held only as sha256 digests after start-up. */
  readonly apiKeys: readonly string[];
  readonly maxCharsPerChunk: number;
  readonly engine: string;
  /** Engine worker threads; defaults to the number of cores. */
  readonly workers: number;
  readonly ffmpegPath: string;
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
}

/** Every setting: environment variable, config-file key, default, and how to read it. */
const SETTINGS = {
  port: { env: 'PORT', parse: integer(0, 65535), default: 8080 },
  host: { env: 'HOST', parse: text, default: '127.0.0.1' },
  dataDir: { env: 'CHORUS_DATA_DIR', parse: text, default: './data' },
  apiKeys: { env: 'CHORUS_API_KEYS', parse: list, default: [] as string[] },
  maxCharsPerChunk: { env: 'MAX_CHARS_PER_CHUNK', parse: integer(20, 100_000), default: 500 },
  engine: { env: 'CHORUS_ENGINE', parse: text, default: 'espeak' },
  workers: { env: 'CHORUS_WORKERS', parse: integer(1, 64), default: availableParallelism() },
  ffmpegPath: { env: 'CHORUS_FFMPEG_PATH', parse: text, default: 'ffmpeg' },
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
} as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

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
  const config = { ...values, ...overrides } as ChorusConfig;
  return { ...config, dataDir: resolve(config.dataDir) };
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

function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: unknown): T => {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    throw new Error(`expected one of ${allowed.join(', ')}, got '${String(value)}'`);
  };
}
