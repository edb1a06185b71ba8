import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const BUILT_CLI = join(ROOT, 'dist', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : /\.(test|case)\.ts$|test-support\.ts$/.test(entry.name) ? 0 : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The arguments that run `chorus` as operators do: the build (`npm start`, the `chorus` bin), which
 * also starts in a third of the time the sources take under tsx. `npm test` builds when the sources
 * are newer; a test run some other way on a stale build is stopped here rather than testing old code.
 */
export function chorusCli(): string[] {
  let built: number;
  try {
    built = statSync(BUILT_CLI).mtimeMs;
  } catch {
    throw new Error(`${BUILT_CLI} is missing: run \`npm run build\` (npm test does it).`);
  }
  if (newestSource(join(ROOT, 'src')) > built) throw new Error('dist/ is older than src/: run `npm run build` (npm test does it).');
  return [BUILT_CLI];
}
