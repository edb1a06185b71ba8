import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSpeechEngine, type EngineUnderTest } from '../../engine/engine.case.js';
import { buildKokoro, buildPiper } from '../../../test/support/tiny-models/tiny-models.js';
import { loadInstalledNeuralEngines } from './installed-engines.js';

/** The conformance suite on sherpa-onnx engines as the server runs them: in the engine host, with tiny generated models. */
async function hosted(build: (modelsDir: string) => Promise<unknown>): Promise<EngineUnderTest> {
  const modelsDir = mkdtempSync(join(tmpdir(), 'chorus-conformance-'));
  await build(modelsDir);
  const installed = await loadInstalledNeuralEngines({ modelsDir, instances: 1, threads: 1 });
  const engine = await installed.registrations[0]!.create();
  return {
    engine,
    async close() {
      await installed.close();
      rmSync(modelsDir, { recursive: true, force: true });
    },
  };
}

describeSpeechEngine('sherpa Kokoro (multi-lang), in the engine host', () => hosted((dir) => buildKokoro(dir)));
describeSpeechEngine('sherpa Piper, in the engine host', () => hosted((dir) => buildPiper(dir)));
