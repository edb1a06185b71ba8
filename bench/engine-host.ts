/**
 * The engine host's cost over calling sherpa-onnx directly, on the generated test models (no real
 * weights can be downloaded here): `node --import tsx bench/engine-host.ts`. Prints markdown.
 *
 *   - per-request overhead: the same sentence through a hosted engine's `synthesize` (IPC, the
 *     server-side checks) against `generateAsync` on the same model in this process;
 *   - time to first audio both ways;
 *   - memory: the host's RSS with the models loaded once and twice.
 *
 * The tiny models compute in a few milliseconds, so the overhead is reported in milliseconds; as a
 * share of the engine's time it is an upper bound (real Kokoro takes hundreds of ms per sentence).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpeechEngine } from '../src/engine/speech-engine.js';
import { loadInstalledNeuralEngines, type InstalledNeuralEngines } from '../src/engines/sherpa/installed-engines.js';
import { buildKokoro, buildPiper } from '../test/support/tiny-models/tiny-models.js';
import { markdownTable, median, now, readProcMemory } from './support.js';

const ROUNDS = 30;
const TEXT = 'The quick brown fox jumps over the lazy dog, and then it rests for a while in the warm sun.';

interface RawTts {
  generateAsync(request: { text: string; generationConfig: object; onProgress: (info: { samples: Float32Array }) => number }): Promise<unknown>;
}
interface Sherpa {
  OfflineTts: { createAsync(config: object): Promise<RawTts> };
  GenerationConfig: new (fields: object) => object;
}

async function timeRaw(tts: RawTts, sherpa: Sherpa): Promise<{ total: number; first: number }> {
  const start = now();
  let first = Number.NaN;
  await tts.generateAsync({
    text: TEXT,
    generationConfig: new sherpa.GenerationConfig({ sid: 1, speed: 1, silenceScale: 1 }),
    onProgress: () => {
      if (Number.isNaN(first)) first = now() - start;
      return 1;
    },
  });
  return { total: now() - start, first };
}

async function timeHosted(engine: SpeechEngine, voiceId: string): Promise<{ total: number; first: number }> {
  const start = now();
  let first = Number.NaN;
  for await (const part of engine.synthesize({ text: TEXT, voiceId }, new AbortController().signal)) {
    if (part.type === 'audio' && Number.isNaN(first)) first = now() - start;
  }
  return { total: now() - start, first };
}

async function main(): Promise<void> {
  const modelsDir = await mkdtemp(join(tmpdir(), 'chorus-bench-sherpa-'));
  const sherpa = createRequire(import.meta.url)('sherpa-onnx-node') as Sherpa;
  const rows: string[][] = [];
  const installs: InstalledNeuralEngines[] = [];
  try {
    const models = [
      { model: await buildPiper(modelsDir, { name: 'piper-tiny', speakers: 2 }), voice: 'speaker_1', family: 'vits' },
      { model: await buildKokoro(modelsDir, { name: 'kokoro-tiny', version: 1 }), voice: 'af_heart', family: 'kokoro' },
    ];
    const installed = await loadInstalledNeuralEngines({ modelsDir, instances: 1, threads: 1 });
    installs.push(installed);
    for (const { model, voice, family } of models) {
      const files = Object.fromEntries(Object.entries(model.manifest.files).map(([key, path]) => [key, join(model.dir, path)]));
      const raw = await sherpa.OfflineTts.createAsync({ model: { [family]: files, numThreads: 1 }, maxNumSentences: 1, silenceScale: 1 });
      const engine = await installed.registrations.find((registration) => registration.id === model.manifest.name)!.create();
      const rawTimes: { total: number; first: number }[] = [];
      const hostedTimes: { total: number; first: number }[] = [];
      for (let round = 0; round < ROUNDS + 3; round++) {
        // Alternate which goes first; the first three rounds warm both up and are not counted.
        const pair = round % 2 === 0 ? [await timeRaw(raw, sherpa), await timeHosted(engine, voice)] : [undefined, await timeHosted(engine, voice)];
        const rawTime = pair[0] ?? (await timeRaw(raw, sherpa));
        if (round < 3) continue;
        rawTimes.push(rawTime);
        hostedTimes.push(pair[1]!);
      }
      const rawTotal = median(rawTimes.map((time) => time.total));
      const hostedTotal = median(hostedTimes.map((time) => time.total));
      rows.push([
        model.manifest.name,
        rawTotal.toFixed(2),
        hostedTotal.toFixed(2),
        (hostedTotal - rawTotal).toFixed(2),
        median(rawTimes.map((time) => time.first)).toFixed(2),
        median(hostedTimes.map((time) => time.first)).toFixed(2),
      ]);
    }
    const oneInstance = readProcMemory(installed.hostPid()!).rssMB;
    await installed.close();
    installs.pop();
    const twoInstances = await loadInstalledNeuralEngines({ modelsDir, instances: 2, threads: 1 });
    installs.push(twoInstances);
    await Promise.all(twoInstances.registrations.map((registration) => registration.create()));
    const twoEach = readProcMemory(twoInstances.hostPid()!).rssMB;

    console.log(`Engine host against sherpa-onnx called in-process, ${ROUNDS} rounds, median ms, one ${TEXT.length}-character sentence (${process.version}):\n`);
    console.log(markdownTable(['model', 'raw sherpa', 'through the host', 'overhead', 'raw first audio', 'host first audio'], rows));
    // A tiny model's weights are ~100 KB, so this is the host's own footprint (Node, onnxruntime,
    // eSpeak data); a real model adds about its file size per instance.
    console.log(`\nEngine host RSS with both tiny models loaded: ${oneInstance.toFixed(0)} MB with one instance each, ${twoEach.toFixed(0)} MB with two.`);
  } finally {
    for (const installed of installs) await installed.close();
    await rm(modelsDir, { recursive: true, force: true });
  }
}

await main();
