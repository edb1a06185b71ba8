#!/usr/bin/env node
// The test suite validates every audio file with ffprobe and encodes aac with ffmpeg. On a fresh
// Debian/Ubuntu machine this installs them (as root); elsewhere it says what is missing.
import { spawnSync } from 'node:child_process';

const has = (cmd) => spawnSync(cmd, ['-version'], { stdio: 'ignore' }).status === 0;
if (has('ffprobe') && has('ffmpeg')) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (isRoot && hasApt) {
  console.log('ffmpeg/ffprobe not found: installing Debian package ffmpeg');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', 'ffmpeg'], { stdio: 'inherit', env });
  if (update.status === 0 && install.status === 0 && has('ffprobe')) process.exit(0);
}
console.error('The tests need ffmpeg and ffprobe on PATH. Install them (Debian: apt-get install ffmpeg) and retry.');
process.exit(1);
