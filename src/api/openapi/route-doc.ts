import { z } from 'zod';

/**
 * How a route is described in the OpenAPI document. Each route module keeps these next to its
 * routes, built from the zod schemas the routes validate with; `openApiDocument` turns them into
 * OpenAPI 3.1. A schema is a zod schema (converted with `z.toJSONSchema`), a reference to one of the
 * document's shared schemas (`schemaRef`), or a JSON Schema literal for what has no zod form (an
 * audio body).
 */
export type SchemaDoc = z.ZodType | { readonly $ref: string } | Readonly<Record<string, unknown>>;

export interface ExampleDoc {
  readonly summary: string;
  readonly value: unknown;
}

export interface MediaDoc {
  readonly schema: SchemaDoc;
  readonly examples?: Readonly<Record<string, ExampleDoc>>;
}

export interface ResponseDoc {
  readonly description: string;
  /** Content type → body. */
  readonly content?: Readonly<Record<string, MediaDoc>>;
  /** Response header → what it says. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type HttpMethod = 'get' | 'post' | 'delete';

export interface RouteDoc {
  readonly method: HttpMethod;
  /** The full OpenAPI path, `{name}` for path parameters. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  /**
   * What the route asks for when CHORUS_API_KEYS is set: `bearer` (`Authorization: Bearer <key>`),
   * `bearer-or-bare` (the job API also takes RunPod's bare `Authorization: <key>`), or nothing; or a
   * bearer token of its own, asked for whatever the keys (a security scheme of that name).
   */
  readonly auth: 'bearer' | 'bearer-or-bare' | 'none' | { readonly ownToken: string; readonly description: string };
  /** One string property per path parameter. */
  readonly pathParams?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly requestHeaders?: z.ZodObject;
  /** Content type → body; the first is the one the reference page's form sends. */
  readonly body?: Readonly<Record<string, MediaDoc>>;
  /** Status code → answer. */
  readonly responses: Readonly<Record<string, ResponseDoc>>;
}

export function schemaRef(name: string): { readonly $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

/** A JSON body of this schema, with its examples. */
export function jsonBody(schema: SchemaDoc, examples?: Readonly<Record<string, ExampleDoc>>): Readonly<Record<string, MediaDoc>> {
  return { 'application/json': examples === undefined ? { schema } : { schema, examples } };
}

/** Responses of the same error body for each status, with what each status means on this route. */
export function errorResponses(schema: SchemaDoc, statuses: Readonly<Record<string, string>>): Record<string, ResponseDoc> {
  return Object.fromEntries(Object.entries(statuses).map(([status, description]) => [status, { description, content: jsonBody(schema) }]));
}

/** Path parameters, all non-empty strings, each with what it names. */
export function pathParams(descriptions: Readonly<Record<string, string>>): z.ZodObject {
  return z.object(Object.fromEntries(Object.entries(descriptions).map(([name, description]) => [name, z.string().min(1).describe(description)])));
}
