import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ChorusError } from '../errors.js';
import { BUILT_IN_CATALOGUE } from './catalog-data.js';
import { FAMILY_FILES, MODEL_FAMILIES, modelManifestSchema, relativePath } from './model-manifest.js';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/** One file to fetch, with what is known of it; `sha256` absent = not published anywhere we found. */
const archiveSourceSchema = z.object({
  type: z.literal('archive'),
  /** A `.tar.bz2`, `.tar.gz`/`.tgz` or `.tar`; a single top-level directory in it is stripped. */
  url: z.url({ protocol: /^https?$/ }),
  sha256: sha256Hex.optional(),
  /** Digests of earlier uploads of the same URL that are also accepted (sherpa-onnx re-uploads tarballs). */
  previousSha256: z.array(sha256Hex).optional(),
  size: z.number().int().positive().optional(),
});

const huggingFaceSourceSchema = z.object({
  type: z.literal('huggingface'),
  repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name'),
  revision: z.string().min(1).default('main'),
  /** Each file lands at the same path inside the model directory. */
  files: z
    .array(z.object({ path: relativePath, sha256: sha256Hex.optional(), size: z.number().int().positive().optional() }))
    .min(1),
});

export const catalogueEntrySchema = z
  .object({
    name: modelManifestSchema.shape.name,
    /** Other names `pull` accepts (matched without regard to case, as the name is). */
    aliases: z.array(z.string()).default([]),
    family: z.enum(MODEL_FAMILIES),
    description: z.string(),
    license: z.string(),
    licenseNote: z.string().optional(),
    languages: z.array(z.string()).min(1),
    voices: z.object({ count: z.number().int().positive(), names: z.array(z.string()).optional() }),
    files: z.record(z.string(), relativePath),
    /** Alternatives; `pull` uses the first unless told `--source huggingface|archive`. */
    sources: z.array(z.discriminatedUnion('type', [archiveSourceSchema, huggingFaceSourceSchema])).min(1),
    /** Where the digests and sizes came from, shown by `list --json` and in docs. */
    checksumNote: z.string().optional(),
  })
  .superRefine((entry, context) => {
    const missing = FAMILY_FILES[entry.family].required.filter((key) => !(key in entry.files));
    if (missing.length > 0) context.addIssue({ code: 'custom', path: ['files'], message: `${entry.family} needs ${missing.join(', ')}` });
  });

export type CatalogueEntry = z.infer<typeof catalogueEntrySchema>;
export type CatalogueSource = CatalogueEntry['sources'][number];
export type ArchiveSource = z.infer<typeof archiveSourceSchema>;
export type HuggingFaceSource = z.infer<typeof huggingFaceSourceSchema>;

/** The catalogue's JSON form: `{ "models": [entry, …] }`, as `CHORUS_MODEL_CATALOG` supplies it. */
const catalogueSchema = z.object({ models: z.array(catalogueEntrySchema) });

/**
 * The known models: the built-in list, or the file or http(s) URL `location` names
 * (`CHORUS_MODEL_CATALOG`), for tests and for sites that mirror models themselves.
 */
export async function loadCatalogue(location?: string): Promise<CatalogueEntry[]> {
  if (location === undefined || location === '') return parseCatalogue(BUILT_IN_CATALOGUE, 'the built-in catalogue');
  let text: string;
  try {
    if (/^https?:\/\//i.test(location)) {
      const response = await fetch(location, { signal: AbortSignal.timeout(30_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
    } else {
      text = await readFile(location, 'utf8');
    }
  } catch (error) {
    throw new ChorusError({ code: 'invalid_request', param: 'CHORUS_MODEL_CATALOG', message: `Cannot read the model catalogue ${location}: ${(error as Error).message}` });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ChorusError({ code: 'invalid_request', param: 'CHORUS_MODEL_CATALOG', message: `The model catalogue ${location} is not JSON: ${(error as Error).message}` });
  }
  return parseCatalogue(json, location);
}

function parseCatalogue(json: unknown, where: string): CatalogueEntry[] {
  const parsed = catalogueSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ChorusError({ code: 'invalid_request', param: 'CHORUS_MODEL_CATALOG', message: `The model catalogue ${where} is invalid at ${issue.path.join('.') || 'the top'}: ${issue.message}` });
  }
  const seen = new Set<string>();
  for (const entry of parsed.data.models) {
    if (seen.has(entry.name)) throw new ChorusError({ code: 'invalid_request', param: 'CHORUS_MODEL_CATALOG', message: `The model catalogue ${where} lists ${entry.name} twice.` });
    seen.add(entry.name);
  }
  return parsed.data.models;
}

/** The entry called `name` (or one of its aliases), case-insensitively. */
export function findCatalogueEntry(catalogue: readonly CatalogueEntry[], name: string): CatalogueEntry {
  const wanted = name.toLowerCase();
  const entry = catalogue.find((candidate) => candidate.name === wanted || candidate.aliases.some((alias) => alias.toLowerCase() === wanted));
  if (entry !== undefined) return entry;
  throw new ChorusError({
    code: 'model_not_found',
    param: 'NAME',
    message: `No model '${name}' in the catalogue. Known models: ${catalogue.map((candidate) => candidate.name).join(', ')}. ('chorus models import PATH' installs one from a file.)`,
  });
}
