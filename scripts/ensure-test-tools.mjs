#!/usr/bin/env node
// The test suite validates every audio file with ffprobe, encodes aac with ffmpeg and runs the
// job documents' curl examples with curl. On a fresh Debian/Ubuntu machine this installs them (as
// root); elsewhere it says what is missing.
import { spawnSync } from 'node:child_process';

const has = (cmd, flag = '-version') => spawnSync(cmd, [flag], { stdio: 'ignore' }).status === 0;
const ready = () => has('ffprobe') && has('ffmpeg') && has('curl', '--version');
if (ready()) process.exit(0);
const packages = [...(has('ffprobe') && has('ffmpeg') ? [] : ['ffmpeg']), ...(has('curl', '--version') ? [] : ['curl'])];

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (isRoot && hasApt) {
  console.log(`missing test tools: installing Debian package(s) ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
  if (update.status === 0 && install.status === 0 && ready()) process.exit(0);
}
console.error('The tests need ffmpeg, ffprobe and curl on PATH. Install them (Debian: apt-get install ffmpeg curl) and retry.');
process.exit(1);
