#!/usr/bin/env node
// The test suite (and npm run bench, for its Redis and ffmpeg figures) validates every audio file with ffprobe, encodes aac with ffmpeg, runs the
// job documents' curl examples with curl and their Python examples with python3 + requests (and httpx), checks
// that converted speech still says the right words with pocketsphinx forced alignment (+ its en-us
// model), makes reference voices with flite, runs the Redis backend against Debian's
// redis-server and drives the web playground in Debian's chromium (headless). On a fresh Debian/Ubuntu machine this installs them (as root); elsewhere it says
// what is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const has = (cmd, flag = '-version') => spawnSync(cmd, [flag], { stdio: 'ignore' }).status === 0;
// Either the python3 on PATH or Debian's own /usr/bin/python3 (where apt installs python3-requests)
// will do; the tests pick the first that can import requests.
const hasPython = (module) =>
  ['python3', '/usr/bin/python3'].some((python) => spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0);
const hasRequests = () => hasPython('requests');
const hasHttpx = () => hasPython('httpx');
// pocketsphinx_batch prints its usage and exits non-zero without arguments, so look for it on PATH.
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const hasSphinx = () => onPath('pocketsphinx_batch');
const hasSphinxModel = () => existsSync('/usr/share/pocketsphinx/model/en-us/en-us/mdef') && existsSync('/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict');
const hasFlite = () => has('flite', '-lv'); // `flite --version` exits 1
const hasRedis = () => has('redis-server', '--version');
// The playground test and the API reference page (/docs) test launch this binary through playwright-core, which downloads no browser.
const hasChromium = () => existsSync('/usr/bin/chromium');
const ready = () =>
  has('ffprobe') && has('ffmpeg') && has('curl', '--version') && hasRequests() && hasHttpx() && hasSphinx() && hasSphinxModel() && hasFlite() && hasRedis() && hasChromium();
if (ready()) process.exit(0);
const packages = [
  ...(has('ffprobe') && has('ffmpeg') ? [] : ['ffmpeg']),
  ...(has('curl', '--version') ? [] : ['curl']),
  ...(hasRequests() ? [] : ['python3-requests']),
  ...(hasHttpx() ? [] : ['python3-httpx']),
  ...(hasSphinx() ? [] : ['pocketsphinx']),
  ...(hasSphinxModel() ? [] : ['pocketsphinx-en-us']),
  ...(hasFlite() ? [] : ['flite']),
  ...(hasRedis() ? [] : ['redis-server']),
  ...(hasChromium() ? [] : ['chromium']),
];

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (isRoot && hasApt) {
  console.log(`missing test tools: installing Debian package(s) ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
  if (update.status === 0 && install.status === 0 && ready()) process.exit(0);
}
console.error(
  'The tests need ffmpeg, ffprobe, curl, pocketsphinx_batch (with the en-us model), flite and redis-server on PATH, /usr/bin/chromium, and python3 ' +
    'able to `import requests` and `import httpx`. Install them (Debian: apt-get install ffmpeg curl python3-requests python3-httpx pocketsphinx ' +
    'pocketsphinx-en-us flite redis-server chromium) and retry.',
);
process.exit(1);
