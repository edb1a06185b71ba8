import { z } from 'zod';
import { ChorusError } from '../errors.js';
import { hasSpeakableText } from '../text/index.js';

/** A number field with its range spelled out in every error message. */
export function numberInRange(field: string, min: number, max: number, options: { integer?: boolean } = {}) {
  const what = options.integer ? 'an integer' : 'a number';
  const message = `'${field}' must be ${what} from ${min} to ${max}`;
  const base = options.integer ? z.number().int(message) : z.number();
  return base.min(min, message).max(max, message);
}

/**
 * The length check every API makes on the text it speaks (and the agent on its `message`): at most
 * `serverMax` characters (CHORUS_MAX_INPUT_CHARS), or the API's own documented limit when that is
 * lower (OpenAI's 4096). One code, `text_too_long`, naming the field and the limit, on every API.
 */
export function checkTextLength(field: string, text: string, serverMax: number, documentMax = Infinity): void {
  const max = Math.min(serverMax, documentMax);
  if (text.length <= max) return;
  throw new ChorusError({
    code: 'text_too_long',
    param: field,
    detail: 'string_above_max_length',
    message: `'${field}' must be at most ${max} characters${serverMax < documentMax ? ' (CHORUS_MAX_INPUT_CHARS)' : ''}, but got ${text.length}.`,
  });
}

/** `checkTextLength`, and the text must have something to speak (not only emoji, punctuation or markup). */
export function checkSpeechText(field: string, text: string, serverMax: number, documentMax = Infinity): void {
  checkTextLength(field, text, serverMax, documentMax);
  if (!hasSpeakableText(text)) {
    throw new ChorusError({
      code: 'invalid_request',
      param: field,
      message: `'${field}' contains nothing that can be spoken (only emoji, punctuation, symbols, markup or spaces): send words or numbers.`,
    });
  }
}

/** Deepest nesting of objects and arrays a request body may have; no real request needs more than about five. */
export const MAX_JSON_DEPTH = 64;

/**
 * Parses a JSON body text, answering malformed JSON with a 400 that says so. Bodies nested deeper
 * than MAX_JSON_DEPTH are refused before they are parsed: everything that later walks the value
 * recursively (validation messages, JSON.stringify when a job is stored) would overflow the stack.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') {
    throw new ChorusError({ code: 'invalid_request', message: 'The request body is empty; send a JSON object.', detail: 'invalid_json' });
  }
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new ChorusError({
      code: 'invalid_request',
      message: `The request body is nested more than ${MAX_JSON_DEPTH} levels deep (objects and arrays inside each other); send at most ${MAX_JSON_DEPTH}.`,
      detail: 'invalid_json',
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ChorusError({
      code: 'invalid_request',
      message: `The request body is not valid JSON: ${(error as Error).message}`,
      detail: 'invalid_json',
    });
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]);
const CLOSERS = new Set([0x5d, 0x7d]);

/**
 * Whether JSON text nests objects and arrays deeper than `limit`: one pass over the text, no
 * recursion. Brackets inside strings are skipped (strings are jumped over with indexOf, so long
 * base64 fields cost little). Malformed text may count wrongly; JSON.parse refuses it anyway.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && isEscaped(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return false;
      i = end;
    } else if (OPENERS.has(code)) {
      if (++depth > limit) return true;
    } else if (CLOSERS.has(code)) {
      depth--;
    }
  }
  return false;
}

/** A quote is escaped when an odd number of backslashes stands right before it. */
function isEscaped(text: string, quote: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
  return backslashes % 2 === 1;
}

/**
 * Validates `input` against `schema`. The first problem becomes a ChorusError naming the field,
 * what is allowed and what was sent.
 */
export function validate<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ChorusError({ code: 'invalid_request', message: 'The request body must be a JSON object.', detail: 'invalid_json' });
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = issue.path.map(String).join('.');
  const received = lookup(input, issue.path);
  throw new ChorusError({ code: 'invalid_request', param, ...describeIssue(issue, param, received) });
}

function describeIssue(issue: z.core.$ZodIssue, param: string, received: unknown): { message: string; detail: string } {
  if (received === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) {
    return { message: `Missing required parameter: '${param}'.`, detail: 'missing_required_parameter' };
  }
  switch (issue.code) {
    case 'too_big':
      if (issue.origin === 'string') {
        return {
          message: `'${param}' must be at most ${issue.maximum} characters, but got ${String(received).length}.`,
          detail: 'string_above_max_length',
        };
      }
      return { message: `${issue.message}, got ${JSON.stringify(received)}.`, detail: 'invalid_value' };
    case 'too_small':
      if (issue.origin === 'string') {
        return { message: `'${param}' must be at least ${issue.minimum} character(s) long.`, detail: 'string_below_min_length' };
      }
      return { message: `${issue.message}, got ${JSON.stringify(received)}.`, detail: 'invalid_value' };
    case 'invalid_value':
      return {
        message: `'${param}' must be one of ${issue.values.map(String).join(', ')}; got ${JSON.stringify(received)}.`,
        detail: 'invalid_value',
      };
    case 'invalid_type':
      // A fractional number where an integer belongs: numberInRange's message says the whole range.
      if (issue.expected === 'int' && typeof received === 'number') return { message: `${issue.message}, got ${received}.`, detail: 'invalid_value' };
      return { message: `'${param}' must be ${article(issue.expected)}, got ${typeName(received)}.`, detail: 'invalid_type' };
    case 'invalid_union':
      return { message: `'${param}' has the wrong type: ${issue.message === 'Invalid input' ? 'see the API documentation' : issue.message}; got ${typeName(received)}.`, detail: 'invalid_type' };
    default:
      return { message: `Invalid '${param}': ${issue.message}.`, detail: 'invalid_value' };
  }
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function lookup(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
