import type { Context } from 'hono';
import { z } from 'zod';
import { errorResponses, jsonBody, schemaRef, type RouteDoc } from '../openapi/route-doc.js';
import { loadCatalogue, type CatalogueEntry } from '../../models/catalog.js';
import { listInstalled, type InstalledModel } from '../../models/installed-models.js';
import type { SpeechService } from '../../speech/speech-service.js';

export interface ModelCatalogSettings {
  readonly modelsDir: string;
  /** CHORUS_MODEL_CATALOG; absent = the built-in catalogue. */
  readonly modelCatalog?: string | undefined;
}

/**
 * `GET /v1/models/catalog`: every model `chorus models pull` knows and every installed one, with its
 * licence and whether this server serves it (`ready`), could not load it (`failed`, with the reason),
 * has it installed but not loaded (left out by CHORUS_ENGINES, or installed after the start), or does
 * not have it. Installing stays a command-line step: a download of hundreds of megabytes is not a request.
 */
export async function modelCatalogResponse(c: Context, speech: SpeechService, settings: ModelCatalogSettings): Promise<Response> {
  const [catalogue, installed] = await Promise.all([loadCatalogue(settings.modelCatalog), listInstalled(settings.modelsDir)]);
  const states = new Map(speech.engineStatus().map((entry) => [entry.id, entry]));
  const byName = new Map(installed.models.map((model) => [model.name, model]));
  const stateOf = (name: string) => {
    const status = states.get(name);
    if (status !== undefined) return { state: status.state, ...(status.reason === undefined ? {} : { reason: status.reason }) };
    return { state: byName.has(name) ? 'installed_not_loaded' : 'not_installed' };
  };
  const listed = new Set(catalogue.map((entry) => entry.name));
  const data = [
    ...catalogue.map((entry) => ({ ...catalogueView(entry, byName.get(entry.name)), ...stateOf(entry.name) })),
    // Imported models that no catalogue entry describes.
    ...installed.models.filter((model) => !listed.has(model.name)).map((model) => ({ ...installedView(model), ...stateOf(model.name) })),
  ];
  return c.json({ object: 'list', models_dir: settings.modelsDir, data });
}

function catalogueView(entry: CatalogueEntry, installed: InstalledModel | undefined) {
  const sizes = entry.sources[0]!.type === 'archive' ? [entry.sources[0]!.size] : entry.sources[0]!.files.map((file) => file.size);
  const known = sizes.every((size) => size !== undefined);
  const checksummed = entry.sources.some((source) => (source.type === 'archive' ? source.sha256 !== undefined : source.files.every((file) => file.sha256 !== undefined)));
  return {
    id: entry.name,
    object: 'model_catalog_entry' as const,
    family: entry.family,
    description: entry.description,
    license: entry.license,
    ...(entry.licenseNote === undefined ? {} : { license_note: entry.licenseNote }),
    languages: entry.languages,
    voices: entry.voices.count,
    download_bytes: known ? sizes.reduce((sum: number, size) => sum + (size ?? 0), 0) : null,
    sha256_published: checksummed,
    installed: installed !== undefined,
    ...(installed === undefined ? {} : { installed_bytes: installed.sizeBytes }),
    pull: `chorus models pull ${entry.name}`,
  };
}

function installedView(model: InstalledModel) {
  return {
    id: model.name,
    object: 'model_catalog_entry' as const,
    family: model.manifest.family,
    description: model.manifest.description ?? '',
    license: model.manifest.license,
    ...(model.manifest.licenseNote === undefined ? {} : { license_note: model.manifest.licenseNote }),
    languages: model.manifest.languages,
    installed: true,
    installed_bytes: model.sizeBytes,
    source: model.manifest.source,
  };
}

export const MODEL_CATALOG_ROUTE_DOC: RouteDoc = {
  method: 'get',
  path: '/v1/models/catalog',
  operationId: 'modelCatalog',
  summary: 'The models `chorus models pull` knows and the installed ones, with licences and state',
  tag: 'Models',
  auth: 'bearer',
  responses: {
    '200': {
      description: "Each model's licence, size and `state`: ready, failed (with `reason`), installed_not_loaded or not_installed.",
      content: jsonBody(
        z.object({
          object: z.literal('list'),
          models_dir: z.string(),
          data: z.array(z.object({ id: z.string(), object: z.literal('model_catalog_entry'), family: z.string(), license: z.string(), installed: z.boolean(), state: z.string(), reason: z.string().optional() })),
        }),
      ),
    },
    ...errorResponses(schemaRef('OpenAIError'), { '401': 'CHORUS_API_KEYS is set and the key is missing or wrong.' }),
  },
};
