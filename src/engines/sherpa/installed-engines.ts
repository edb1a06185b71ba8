import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineHost, type HostedModelStatus } from '../../engine-host/engine-host.js';
import type { SpeechEngine } from '../../engine/speech-engine.js';
import { MANIFEST_FILE, modelManifestSchema } from '../../models/model-manifest.js';
import type { Logger } from '../../util/logger.js';
import { checkModel, type CheckedModel } from './model-check.js';
import { createSherpaEngine } from './sherpa-engine.js';

/** How the engine registry takes an engine that runs on the main thread (here: a client of the host). */
export interface MainThreadEngineRegistration {
  readonly id: string;
  readonly placement: 'main';
  readonly create: () => Promise<SpeechEngine>;
}

export interface NeuralEngineStatus {
  readonly id: string;
  readonly family?: string;
  /** `failed`: the pre-check or sherpa refused the model; `reason` says why. */
  readonly state: HostedModelStatus['state'];
  readonly reason?: string;
}

export interface InstalledNeuralEngines {
  /** One per installed model that passed the pre-check; `create` waits for the host to load it. */
  readonly registrations: readonly MainThreadEngineRegistration[];
  /** Every installed model with its state, for /health and the log. */
  status(): NeuralEngineStatus[];
  /** The engine host's process id, while it runs. */
  hostPid(): number | undefined;
  close(): Promise<void>;
}

export interface InstalledNeuralEnginesOptions {
  readonly modelsDir: string;
  /** sherpa-onnx instances per model (CHORUS_SHERPA_INSTANCES). */
  readonly instances: number;
  /** onnxruntime threads per instance (CHORUS_SHERPA_THREADS). */
  readonly threads: number;
  readonly logger?: Logger;
}

/**
 * The neural engines of the installed models under `modelsDir` (each `<name>/chorus-model.json`).
 * Every model is checked before sherpa-onnx sees it; those that pass are loaded into one engine
 * host child process, started only when there is a model, so a server without neural models never
 * loads sherpa-onnx at all.
 */
export async function loadInstalledNeuralEngines(options: InstalledNeuralEnginesOptions): Promise<InstalledNeuralEngines> {
  const { modelsDir, logger } = options;
  const host = new EngineHost({ instances: options.instances, threads: options.threads, ...(logger === undefined ? {} : { logger }) });
  const refused: NeuralEngineStatus[] = [];
  const families = new Map<string, string>();
  const registrations: MainThreadEngineRegistration[] = [];

  const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
    const dir = join(modelsDir, entry.name);
    // A directory without a manifest is an install in progress (the manifest is written last).
    const text = await readFile(join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let manifestJson: unknown;
    try {
      manifestJson = JSON.parse(text);
    } catch {
      refused.push({ id: entry.name, state: 'failed', reason: `${MANIFEST_FILE} is not valid JSON.` });
      continue;
    }
    const parsed = modelManifestSchema.safeParse(manifestJson);
    if (!parsed.success) {
      refused.push({ id: entry.name, state: 'failed', reason: `${MANIFEST_FILE} is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}.` });
      continue;
    }
    const manifest = parsed.data;
    families.set(manifest.name, manifest.family);
    let checked;
    try {
      checked = await checkModel(manifest, dir);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger?.error('model refused', { engine: manifest.name, reason });
      refused.push({ id: manifest.name, family: manifest.family, state: 'failed', reason });
      continue;
    }
    const engine = createSherpaEngine(checked, host);
    let ready: Promise<unknown> | undefined;
    registrations.push({
      id: manifest.name,
      placement: 'main',
      // Loaded when chosen (CHORUS_ENGINES), so a model left out never starts the host.
      create: async () => {
        ready ??= host.load(manifest.name, { [checked.sherpaFamily]: sherpaFamilyConfig(checked) });
        await ready;
        return engine;
      },
    });
  }

  return {
    registrations,
    status: () =>
      [...refused, ...host.status().map((status): NeuralEngineStatus => ({ ...status, family: families.get(status.id)! }))].sort((a, b) =>
        a.id.localeCompare(b.id),
      ),
    hostPid: () => host.pid,
    close: () => host.close(),
  };
}

/** The `model.<family>` block sherpa-onnx reads, from the checked files. */
function sherpaFamilyConfig(model: CheckedModel): Record<string, unknown> {
  if (model.sherpaFamily === 'pocket') return { ...model.familyConfig, voiceEmbeddingCacheCapacity: 16 };
  // Multi-language Kokoro needs a default language or it `_Exit`s; the model's own is the one.
  if (model.multiLanguage && model.espeakVoice !== undefined) return { ...model.familyConfig, lang: model.espeakVoice };
  return { ...model.familyConfig };
}
