/**
 * Small helpers for the benchmark: statistics, timing, HTTP requests, Chorus server child processes,
 * a throw-away compiled build, /proc readings and a description of the machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The value below which `fraction` of the values lie (nearest rank). */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  return {
    median: median(values),
    min: values.length === 0 ? Number.NaN : Math.min(...values),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
    n: values.length,
  };
}

/** `12.3 (11.9–13.0)`: median, then the range over all runs. */
export function fmtSummary(summary: Summary, digits = 1, unit = ''): string {
  const f = (value: number): string => value.toFixed(digits);
  return `${f(summary.median)}${unit} (${f(summary.min)}–${f(summary.max)})`;
}

export function fmtPercent(ratio: number, digits = 0): string {
  return `${(ratio * 100).toFixed(digits)} %`;
}

/**
 * `**met** (≥ 80 %)` / `**not met** (≥ 80 %)`, judged on the median; flagged as borderline when
 * individual runs fall on both sides of the goal.
 */
export function verdict(summary: Summary, passes: (value: number) => boolean, goal: string): string {
  const mark = passes(summary.median) ? '**met**' : '**not met**';
  const borderline = passes(summary.min) !== passes(summary.max) ? '; borderline, runs on both sides' : '';
  return `${mark} (${goal}${borderline})`;
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Rotates `items` by `round` places, so that no entry is always measured first or last. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const k = ((round % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

// ---------------------------------------------------------------------------------------------
// Timing

export const now = (): number => performance.now();

export async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = now();
  const value = await run();
  return { ms: now() - start, value };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface SpeechBody {
  readonly model: string;
  readonly voice: string;
  readonly input: string;
  readonly response_format: string;
  readonly stream?: boolean;
  readonly no_watermark?: boolean;
}

const REQUEST_TIMEOUT_MS = 120_000;

async function postSpeech(url: string, body: SpeechBody): Promise<Response> {
  const response = await fetch(`${url}/v1/audio/speech`, {
    method: 'POST',
    // These figures measure synthesis: the result cache (figure 10) must not answer the repeated texts.
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`POST /v1/audio/speech (${body.response_format}) answered ${response.status}: ${await response.text()}`);
  return response;
}

/** Non-streaming request: wall time from fetch() start to the last byte of the body. */
export async function speechRequest(url: string, body: SpeechBody): Promise<{ ms: number; bytes: number }> {
  const start = now();
  const response = await postSpeech(url, body);
  const bytes = (await response.arrayBuffer()).byteLength;
  return { ms: now() - start, bytes };
}

/** Streaming request: time to the first non-empty body chunk and to the end of the body. */
export async function streamingRequest(url: string, body: SpeechBody): Promise<{ firstByteMs: number; totalMs: number; bytes: number }> {
  const start = now();
  const response = await postSpeech(url, { ...body, stream: true });
  if (response.body === null) throw new Error('streaming response without a body');
  let firstByteMs = Number.NaN;
  let bytes = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value.byteLength > 0 && Number.isNaN(firstByteMs)) firstByteMs = now() - start;
    bytes += value.byteLength;
  }
  return { firstByteMs, totalMs: now() - start, bytes };
}

/** A cheap request with no synthesis: the HTTP round-trip floor. */
export async function modelsRequest(url: string): Promise<number> {
  const start = now();
  const response = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`GET /v1/models answered ${response.status}`);
  return now() - start;
}

/** A JSON request (the job API): wall time from fetch() start to the last byte of the body, then the parsed body. */
export async function jsonRequest(
  url: string,
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown } = {},
): Promise<{ ms: number; bytes: number; json: Record<string, unknown> }> {
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
  const start = now();
  const response = await fetch(`${url}${path}`, {
    method,
    ...(init.body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  const ms = now() - start;
  if (response.status !== 200) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return { ms, bytes: Buffer.byteLength(text), json: JSON.parse(text) as Record<string, unknown> };
}

// ---------------------------------------------------------------------------------------------
// Chorus server child processes

/** How a server child process runs: the compiled build (`node dist/cli/main.js`) or the sources under tsx. */
export type ServerMode = { readonly kind: 'build'; readonly buildRoot: string } | { readonly kind: 'source' };

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  readonly label: string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the benchmark dies or is interrupted: never leave a server behind.
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping servers`);
      process.exit(130);
    });
  }
}

export function makeTempDir(prefix: string): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

const START_TIMEOUT_MS = 90_000;

/**
 * Starts `chorus serve --port 0` as a child process on 127.0.0.1 and waits for its
 * "Chorus listening on http://127.0.0.1:PORT" line.
 */
export async function startServerProcess(options: {
  workers: number;
  mode: ServerMode;
  label: string;
  /** Extra environment (a role, the Redis URL); wins over the defaults below. */
  env?: NodeJS.ProcessEnv;
}): Promise<ServerProcess> {
  installExitHook();
  const dataDir = makeTempDir('chorus-bench-data-');
  const args =
    options.mode.kind === 'build'
      ? [join(options.mode.buildRoot, 'dist', 'cli', 'main.js'), 'serve', '--port', '0', '--host', '127.0.0.1']
      : ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'serve', '--port', '0', '--host', '127.0.0.1'];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    CHORUS_WORKERS: String(options.workers),
    CHORUS_LOG_LEVEL: 'warn',
    CHORUS_DATA_DIR: dataDir,
    // The rate limiter (10 requests/s per key by default) would turn the figure 6 load into 429s and
    // delays; the benchmark measures the server's own work, so every server runs with it off.
    CHORUS_RATE_LIMIT_RPS: '0',
  };
  // Defaults everywhere else: no keys, every job profile under its own name, the result cache on
  // under the data directory.
  for (const name of ['CHORUS_API_KEYS', 'CHORUS_CONFIG', 'CHORUS_ENDPOINTS', 'CACHE_ENABLED', 'CACHE_DIR', 'CACHE_MAX_BYTES', 'CHORUS_ROLE', 'CHORUS_REDIS_URL']) delete env[name];
  Object.assign(env, options.env);
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));

  const url = await new Promise<string>((resolveUrl, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`${options.label}: no "listening" line within ${START_TIMEOUT_MS} ms\n${stderr}`)), START_TIMEOUT_MS);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /Chorus listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${options.label} exited during start-up (code ${code}, signal ${signal})\n${stderr}`));
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    children.delete(child);
    removeTempDir(dataDir);
    throw error;
  });

  let stopping: Promise<void> | undefined;
  return {
    url,
    pid: child.pid!,
    label: options.label,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(killTimer);
        }
        children.delete(child);
        removeTempDir(dataDir);
      })();
      return stopping;
    },
  };
}

/** Stops every server child process still running (used in `finally`). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all(
    [...children].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killTimer);
    }),
  );
  children.clear();
}

/** Runs a command to completion; rejects with its output if it fails. */
export function runCommand(command: string, args: readonly string[], cwd = REPO_ROOT): Promise<void> {
  installExitHook();
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (error) => {
      children.delete(child);
      reject(error);
    });
    child.once('exit', (code) => {
      children.delete(child);
      if (code === 0) resolveRun();
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${output.slice(-4000)}`));
    });
  });
}

/**
 * Compiles src/ with the project's build settings into a temporary directory laid out like the
 * repository (dist/, package.json, node_modules and public/ links), so the benchmark measures the compiled
 * server without touching the repository's own dist/. Returns the directory.
 */
export async function buildToTempDir(): Promise<string> {
  const root = makeTempDir('chorus-bench-build-');
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await runCommand(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(root, 'dist')]);
  copyFileSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  // The server reads its static files (the playground) from public/, next to dist/.
  symlinkSync(join(REPO_ROOT, 'public'), join(root, 'public'), 'dir');
  return root;
}

// ---------------------------------------------------------------------------------------------
// /proc and the machine

export interface ProcMemory {
  /** Peak resident set size (VmHWM), MB of 10^6 bytes. */
  readonly peakMB: number;
  /** Current resident set size (VmRSS), MB of 10^6 bytes. */
  readonly rssMB: number;
}

/** VmHWM and VmRSS of a process, from /proc/<pid>/status (Linux only). */
export function readProcMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${name}`);
    return (Number(match[1]) * 1024) / 1e6;
  };
  return { peakMB: field('VmHWM'), rssMB: field('VmRSS') };
}

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly memoryGiB: number;
  readonly loadAverage: readonly number[];
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match !== null) cpuModel = match[1]!.trim();
  } catch {
    // Not Linux: keep os.cpus()'s answer.
  }
  return {
    cores: availableParallelism(),
    cpuModel,
    node: process.version,
    memoryGiB: totalmem() / 1024 ** 3,
    loadAverage: loadavg(),
  };
}

export interface CodeState {
  /** Short commit id, or `unknown` outside a git checkout. */
  readonly commit: string;
  /** `git status --porcelain -- src` lines: uncommitted changes in the measured code. */
  readonly changes: readonly string[];
}

/** Which code is being measured: the commit and any uncommitted changes under src/. */
export function codeState(): CodeState {
  const git = (args: readonly string[]): string =>
    execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const commit = git(['rev-parse', '--short', 'HEAD']).trim();
    const changes = git(['status', '--porcelain', '--', 'src'])
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
    return { commit, changes };
  } catch {
    return { commit: 'unknown', changes: [] };
  }
}
