import { z } from 'zod';
import type { MediaDoc, ResponseDoc, RouteDoc, SchemaDoc } from './route-doc.js';

export interface OpenApiSettings {
  readonly version: string;
  /** CHORUS_API_KEYS is set: the routes that ask for a key say so. */
  readonly keysRequired: boolean;
  readonly routes: readonly RouteDoc[];
  /** Shared schemas (error shapes), referred to with `schemaRef(name)`. */
  readonly components: Readonly<Record<string, z.ZodType>>;
  readonly tags: readonly { readonly name: string; readonly description: string }[];
}

export type OpenApiDocument = Readonly<Record<string, unknown>> & { readonly paths: Readonly<Record<string, Readonly<Record<string, unknown>>>> };

/**
 * The OpenAPI 3.1 document of the routes described, built once at start. Schemas are converted from
 * zod as the request is read (`io: 'input'`: defaults optional, unknown fields allowed, as the routes
 * take them), in JSON Schema 2020-12, OpenAPI 3.1's own dialect.
 */
export function openApiDocument(settings: OpenApiSettings): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of settings.routes) {
    const item = (paths[route.path] ??= {});
    if (item[route.method] !== undefined) throw new Error(`${route.method.toUpperCase()} ${route.path} is described twice.`);
    item[route.method] = operation(route, settings.keysRequired);
  }
  const operationIds = settings.routes.map((route) => route.operationId);
  const repeated = operationIds.find((id, index) => operationIds.indexOf(id) !== index);
  if (repeated !== undefined) throw new Error(`operationId '${repeated}' is used twice.`);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Chorus',
      version: settings.version,
      summary: 'Self-hosted speech server: OpenAI-compatible speech, Fish Speech references and RunPod-style jobs.',
      description:
        'Generated at start from the schemas the server validates requests with. ' +
        (settings.keysRequired
          ? 'This server has API keys (CHORUS_API_KEYS): /v1 routes take `Authorization: Bearer <key>`, /v2 routes also RunPod\'s bare `Authorization: <key>`.'
          : 'This server has no API keys (CHORUS_API_KEYS is empty): no route asks for one.') +
        ' Errors come in each API\'s own shape: OpenAI\'s `{"error": {"message", "type", "param", "code"}}` under /v1, RunPod\'s `{"error": "...", "field"}` under /v2.',
      license: { name: 'GPL-3.0-or-later', identifier: 'GPL-3.0-or-later' },
    },
    tags: settings.tags,
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(settings.components).map(([name, schema]) => [name, jsonSchema(schema)])),
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key from CHORUS_API_KEYS: `Authorization: Bearer <key>`.' },
        runpodKey: { type: 'apiKey', in: 'header', name: 'Authorization', description: "RunPod's form, accepted by the job API: `Authorization: <key>`." },
        ...Object.fromEntries(
          settings.routes.flatMap(({ auth }) => (typeof auth === 'object' ? [[auth.ownToken, { type: 'http', scheme: 'bearer', description: auth.description }]] : [])),
        ),
      },
    },
  };
}

function operation(route: RouteDoc, keysRequired: boolean): Record<string, unknown> {
  const parameters = [
    ...parametersOf(route.pathParams, 'path'),
    ...parametersOf(route.query, 'query'),
    ...parametersOf(route.requestHeaders, 'header'),
  ];
  const security =
    typeof route.auth === 'object'
      ? [{ [route.auth.ownToken]: [] }]
      : !keysRequired || route.auth === 'none'
        ? []
        : route.auth === 'bearer'
          ? [{ bearerAuth: [] }]
          : [{ bearerAuth: [] }, { runpodKey: [] }];
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    tags: [route.tag],
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(route.body === undefined ? {} : { requestBody: { required: true, content: content(route.body) } }),
    responses: Object.fromEntries(Object.entries(route.responses).map(([status, response]) => [status, responseObject(response)])),
    security,
  };
}

function parametersOf(schema: z.ZodObject | undefined, where: 'path' | 'query' | 'header'): Record<string, unknown>[] {
  if (schema === undefined) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const { description, ...fieldSchema } = jsonSchema(field as z.ZodType);
    return {
      name,
      in: where,
      required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
      ...(description === undefined ? {} : { description }),
      schema: fieldSchema,
    };
  });
}

function responseObject(response: ResponseDoc): Record<string, unknown> {
  return {
    description: response.description,
    ...(response.headers === undefined
      ? {}
      : { headers: Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])) }),
    ...(response.content === undefined ? {} : { content: content(response.content) }),
  };
}

function content(media: Readonly<Record<string, MediaDoc>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(media).map(([type, { schema, examples }]) => [type, { schema: schemaOf(schema), ...(examples === undefined ? {} : { examples }) }]),
  );
}

function schemaOf(schema: SchemaDoc): Record<string, unknown> {
  return schema instanceof z.ZodType ? jsonSchema(schema) : { ...schema };
}

/** A zod schema as an inline JSON Schema: no `$schema`, and no `$defs` (their refs would point into the document's root). */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...converted } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  if (converted['$defs'] !== undefined) throw new Error(`A documented schema refers to itself or repeats a named part (${Object.keys(converted['$defs'] as object).join(', ')}); inline it.`);
  return converted;
}
