import { PLAYGROUND_ROUTE_DOCS } from './playground-routes.js';
import { z } from 'zod';
import { MODEL_CATALOG_ROUTE_DOC } from '../api/models/model-catalog-route.js';
import { openAIErrorSchema } from '../api/openai/openai-errors.js';
import { OPENAI_ROUTE_DOCS } from '../api/openai/openai-routes.js';
import { REFERENCE_ROUTE_DOCS } from '../api/openai/reference-routes.js';
import { openApiDocument, type OpenApiDocument } from '../api/openapi/openapi-document.js';
import { jsonBody, schemaRef, type RouteDoc } from '../api/openapi/route-doc.js';
import { agentErrorSchema, runpodErrorSchema } from '../api/runpod/runpod-errors.js';
import { runpodRouteDocs } from '../api/runpod/runpod-routes.js';
import type { JobEndpoint } from '../jobs/job-service.js';
import type { MetricsAccess } from '../config/config.js';

/** The routes app.ts registers itself (the APIs' own are described next to them), as the document shows them. */
const SERVER_ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/health',
    operationId: 'health',
    summary: 'Engine and worker health',
    tag: 'Server',
    auth: 'none',
    responses: {
      '200': {
        description: 'Healthy: at least one engine thread is ready.',
        content: jsonBody(
          z.object({
            status: z.enum(['healthy', 'unhealthy']),
            provider: z.string(),
            version: z.string(),
            engines: z.array(z.object({ id: z.string(), default: z.boolean(), ready: z.boolean() })),
            workers: z.object({ total: z.number().int(), ready: z.number().int() }),
            formats: z.array(z.string()),
          }),
        ),
      },
      '503': { description: 'Unhealthy: no engine thread is ready (same body).' },
    },
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApiDocument',
    summary: 'This document (OpenAPI 3.1)',
    tag: 'Server',
    auth: 'none',
    responses: { '200': { description: 'The document.', content: { 'application/json': { schema: { type: 'object' } } } } },
  },
  {
    method: 'get',
    path: '/docs',
    operationId: 'apiReference',
    summary: 'The API reference page, with a form to try each route',
    tag: 'Server',
    auth: 'none',
    responses: { '200': { description: 'An HTML page that renders /openapi.json.', content: { 'text/html': { schema: { type: 'string' } } } } },
  },
];

/** Unless CHORUS_METRICS is off; asks for a token of its own or an API key as CHORUS_METRICS says. */
function metricsRouteDoc(access: Exclude<MetricsAccess, { mode: 'off' }>): RouteDoc {
  return {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics (docs/metrics.md)',
    tag: 'Server',
    auth:
      access.mode === 'open'
        ? 'none'
        : { ownToken: 'metricsToken', description: access.mode === 'token' ? 'The CHORUS_METRICS token: `Authorization: Bearer <token>`.' : 'Any key of CHORUS_API_KEYS: `Authorization: Bearer <key>`.' },
    responses: {
      '200': { description: "Prometheus's text exposition format.", content: { 'text/plain': { schema: { type: 'string' } } } },
      '401': { description: 'The token is missing or wrong.', content: jsonBody(schemaRef('OpenAIError')) },
    },
  };
}

/** Only with local storage: the signed links it hands out point here. */
const FILE_ROUTE_DOC: RouteDoc = {
  method: 'get',
  path: '/files/{key}',
  operationId: 'signedFile',
  summary: 'A stored output (audio, subtitles) behind a signed link',
  description: 'The link a job output holds; `key` may contain slashes. The signature is the credential: no API key.',
  tag: 'Server',
  auth: 'none',
  pathParams: z.object({ key: z.string().min(1).describe('The stored file, as the link names it.') }),
  query: z.object({ expires: z.string().describe('Unix time the link expires.'), sig: z.string().describe("The link's signature.") }),
  responses: {
    '200': { description: 'The file.', content: { 'application/octet-stream': { schema: { type: 'string', description: 'The file, with its own content type (audio/wav, text/vtt, …).' } } } },
    '403': { description: 'Expired or tampered link.', content: jsonBody(z.object({ error: z.string() })) },
    '404': { description: 'No such file.', content: jsonBody(z.object({ error: z.string() })) },
  },
};

export interface ApiDocumentSettings {
  readonly version: string;
  readonly keysRequired: boolean;
  readonly endpoints: readonly { readonly id: string; readonly endpoint: JobEndpoint }[];
  readonly localFiles: boolean;
  /** How /metrics is served; off (or absent): it is not. */
  readonly metrics?: MetricsAccess;
  /** The web playground is served (CHORUS_PLAYGROUND). */
  readonly playground?: boolean;
}

/** The OpenAPI document of everything an API process serves. */
export function apiDocument(settings: ApiDocumentSettings): OpenApiDocument {
  return openApiDocument({
    version: settings.version,
    keysRequired: settings.keysRequired,
    routes: [
      ...SERVER_ROUTE_DOCS,
      ...OPENAI_ROUTE_DOCS,
      MODEL_CATALOG_ROUTE_DOC,
      ...REFERENCE_ROUTE_DOCS,
      ...runpodRouteDocs(settings.endpoints),
      ...(settings.localFiles ? [FILE_ROUTE_DOC] : []),
      ...(settings.metrics === undefined || settings.metrics.mode === 'off' ? [] : [metricsRouteDoc(settings.metrics)]),
      ...(settings.playground === true ? PLAYGROUND_ROUTE_DOCS : []),
    ],
    components: { OpenAIError: openAIErrorSchema, RunPodError: runpodErrorSchema, AgentError: agentErrorSchema },
    tags: [
      { name: 'OpenAI', description: "OpenAI's speech API (docs/openai-api.md); errors in OpenAI's shape." },
      { name: 'Voices', description: 'Built-in and library voices.' },
      { name: 'References', description: "Fish Speech's reference voices: library voices made from a recording." },
      { name: 'Models', description: 'Engines and the model catalogue (docs/models.md).' },
      ...settings.endpoints.map(({ id, endpoint }) => ({ name: `Jobs: ${id}`, description: `RunPod's job API for endpoint \`${id}\`: ${endpoint.description}. Errors in RunPod's shape (docs/job-api.md).` })),
      { name: 'Server', description: 'Health, metrics, this document, and signed file links.' },
    ],
  });
}
