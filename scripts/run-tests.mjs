#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with Node's own test runner (tsx compiles on the fly).
// Node 20 does not expand globs for --test, so the file list is built here.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

/** Newest modification time of the files the build compiles (tests and their helpers are not built). */
function newestSource(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestSource(path) : /\.(test|case)\.ts$|test-support\.ts$/.test(name) ? 0 : stat.mtimeMs);
  }
  return newest;
}

// Tests run the `chorus` command and server processes from the build, as operators do.
const builtCli = 'dist/cli/main.js';
if (!existsSync(builtCli) || newestSource('src') > statSync(builtCli).mtimeMs) {
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const filters = process.argv.slice(2);
let files = ['src', 'test'].flatMap((dir) => findTests(dir)).sort();
if (filters.length > 0) files = files.filter((file) => filters.some((f) => file.includes(f)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Two files at a time: most tests wait on a server, a child process or ffmpeg as much as they compute,
// and on these 2-core machines Node's default (cores - 1) runs one. The slowest files start first so
// the run does not end on one of them alone.
const SLOWEST_FIRST = [
  'test/adversarial/lifecycle.test.ts',
  'test/models-cli.test.ts',
  'test/scale-out.test.ts',
  'test/playground.test.ts',
  'test/runpod-jobs.test.ts',
  'test/fish-speech-agent.test.ts',
  'test/adversarial/job-api.test.ts',
  'test/crash-recovery.test.ts',
];
const rank = (file) => {
  const index = SLOWEST_FIRST.findIndex((slow) => file.endsWith(slow));
  return index === -1 ? SLOWEST_FIRST.length : index;
};
files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const concurrency = Number(process.env.CHORUS_TEST_CONCURRENCY ?? 2);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, CHORUS_LOG_LEVEL: process.env.CHORUS_LOG_LEVEL ?? 'silent' } },
);
process.exit(result.status ?? 1);
