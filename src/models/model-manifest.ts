import { z } from 'zod';

/**
 * What an installed model is: a directory `<CHORUS_MODELS_DIR>/<name>/` holding the model's files
 * and this manifest, written last by `chorus models pull|import` so a directory without it is an
 * unfinished install and is ignored. The engines read installed models only through it.
 */
export const MANIFEST_FILE = 'chorus-model.json';

export const MODEL_FAMILIES = ['kokoro', 'piper', 'kitten', 'pocket'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/**
 * Files of each family, by sherpa-onnx's own config key, as paths relative to the model directory
 * (`lexicon` may list several, comma-separated, as sherpa takes it).
 */
export const FAMILY_FILES = {
  kokoro: { required: ['model', 'voices', 'tokens', 'dataDir'], optional: ['lexicon'] },
  piper: { required: ['model', 'tokens', 'dataDir'], optional: [] },
  kitten: { required: ['model', 'voices', 'tokens', 'dataDir'], optional: [] },
  pocket: {
    required: ['lmFlow', 'lmMain', 'encoder', 'decoder', 'textConditioner', 'vocabJson', 'tokenScoresJson'],
    optional: [],
  },
} as const satisfies Record<ModelFamily, { required: readonly string[]; optional: readonly string[] }>;

/** A path that stays inside the model directory (no absolute paths, no `..`). */
export const relativePath = z
  .string()
  .min(1)
  .refine((path) => !path.startsWith('/') && !path.split(/[\\/]/).includes('..'), 'must be a path inside the model directory');

export const modelManifestSchema = z.object({
  /** Directory name and engine id: `[a-z0-9][a-z0-9._-]*`. */
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/),
  family: z.enum(MODEL_FAMILIES),
  /** Human-readable licence of the weights, shown by `chorus models list` and `/v1/models`. */
  license: z.string(),
  /** Set when the licence restricts use (Pocket's ONNX export: non-commercial). */
  licenseNote: z.string().optional(),
  /** BCP-47 tags the model speaks. */
  languages: z.array(z.string()),
  /** Where it came from: a catalogue entry name or `import`. */
  source: z.string(),
  /** ISO 8601. */
  installedAt: z.string(),
  /** sherpa-onnx config key → relative path (see FAMILY_FILES). */
  files: z.record(z.string(), relativePath),
  /** One line for listings (from the catalogue entry). */
  description: z.string().optional(),
  /**
   * What was downloaded and its sha256: `verified` when the digest matched the catalogue's, false
   * when the catalogue had none and this one was computed on first download (trust on first use).
   */
  downloads: z
    .array(z.object({ url: z.string(), sha256: z.string(), bytes: z.number().int().nonnegative(), verified: z.boolean() }))
    .optional(),
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;
