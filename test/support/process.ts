import { spawn, type ChildProcess } from 'node:child_process';
import { chorusCli } from './chorus-cli.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface ChorusProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly pid: number;
  /** SIGKILL, as a crash or the OOM killer would; resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful shutdown); resolves once it is gone. */
  stop(): Promise<void>;
}

/** `chorus serve` as a child process, as an operator runs it (the build), on 127.0.0.1 and a random port; not waited for. */
export function spawnChorus(env: Record<string, string>, args: readonly string[] = []): ChildProcess {
  return spawn(process.execPath, [...chorusCli(), 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: ROOT,
    env: { ...process.env, CHORUS_WORKERS: '1', CHORUS_LOG_LEVEL: 'warn', CHORUS_API_KEYS: '', CHORUS_RATE_LIMIT_RPS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** `chorus serve` as a child process, once it listens. */
export async function startChorusProcess(env: Record<string, string>, args: readonly string[] = []): Promise<ChorusProcess> {
  const child = spawnChorus(env, args);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s; stderr: ${stderr}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /Chorus listening on (http:\/\/\S+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}; stderr: ${stderr}`));
    });
  });
  const end = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  return { child, url, pid: child.pid!, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}
