// Groups sentences into engine-sized chunks, splitting over-long sentences at the gentlest boundary available.

import { isCjkAt, isHighSurrogate, isInsideSurrogatePair, isLowSurrogate, isSpaceUnit, trimBounds } from './char-classes.js';
import { splitSentences } from './split-sentences.js';
import { makeSpan } from './span.js';
import type { Span } from './span.js';

export interface ChunkOptions {
  /** Upper bound for every chunk, in UTF-16 code units (>= 1). */
  maxChars: number;
  /**
   * Upper bound for the first chunk only (clamped to maxChars), so that streaming can start speaking early:
   * the first chunk is the whole sentences that fit (a text that fits is one chunk), else the first sentence
   * cut at the last clause boundary (then word boundary) within this limit. Later chunks are grouped normally.
   */
  firstChunkMaxChars?: number;
}

/** Clause punctuation that needs a following space to count (so 1,000 and 3:45 stay whole). */
const LATIN_CLAUSE = new Set([0x2c /* , */, 0x3b /* ; */, 0x3a /* : */]);
/** Clause punctuation that counts anywhere: dashes and CJK commas/colons/semicolons. */
const FREE_CLAUSE = new Set([
  0x2014 /* — */, 0x2013 /* – */, 0xff0c /* ， */, 0x3001 /* 、 */, 0xff1b /* ； */, 0xff1a /* ： */, 0xff64 /* ､ */,
]);
/** Clause cuts in the first part of the window are only used if nothing better exists. */
const MIN_CLAUSE_FRACTION = 0.3;
const MARK = /^\p{M}/u;

/**
 * Splits `text` into chunks of at most `maxChars` UTF-16 units (offsets refer to `text`, chunk texts are
 * trimmed). Whole sentences are grouped greedily; a sentence longer than the limit is cut at clause punctuation
 * (`, ; : — – ， 、 ； ：`), else at whitespace, else next to a CJK character, else at any code-point boundary
 * (never inside a surrogate pair or before a combining mark). A single surrogate pair with maxChars 1 is the
 * only case that can exceed the limit. Runs in linear time.
 */
export function chunkText(text: string, options: ChunkOptions): Span[] {
  const maxChars = Math.floor(options.maxChars);
  if (!(maxChars >= 1)) throw new RangeError(`maxChars must be >= 1, got ${options.maxChars}`);
  let firstMax: number | undefined;
  if (options.firstChunkMaxChars !== undefined) {
    firstMax = Math.min(Math.floor(options.firstChunkMaxChars), maxChars);
    if (!(firstMax >= 1)) throw new RangeError(`firstChunkMaxChars must be >= 1, got ${options.firstChunkMaxChars}`);
  }

  const sentences = splitSentences(text);
  const chunks: Span[] = [];
  let current: [number, number] | undefined;
  const add = (start: number, end: number): void => {
    if (current !== undefined && end - current[0] <= maxChars) {
      current[1] = end;
      return;
    }
    if (current !== undefined) chunks.push(makeSpan(text, current[0], current[1]));
    current = [start, end];
  };
  const addUnit = (start: number, end: number): void => {
    let s = start;
    while (end - s > maxChars) {
      const cut = findCut(text, s, end, maxChars, MIN_CLAUSE_FRACTION);
      const [ps, pe] = trimBounds(text, s, cut);
      if (pe > ps) add(ps, pe);
      s = trimBounds(text, cut, end)[0];
    }
    if (end > s) add(s, end);
  };

  let index = 0;
  const first = sentences[0];
  if (firstMax !== undefined && first !== undefined) {
    if (first.end - first.start <= firstMax) {
      while (index + 1 < sentences.length && sentences[index + 1]!.end - first.start <= firstMax) index++;
      chunks.push(makeSpan(text, first.start, sentences[index]!.end));
    } else {
      const cut = findCut(text, first.start, first.end, firstMax, 0);
      const [ps, pe] = trimBounds(text, first.start, cut);
      chunks.push(makeSpan(text, ps, pe));
      const [rs, re] = trimBounds(text, cut, first.end);
      if (re > rs) addUnit(rs, re);
    }
    index++;
  }
  for (; index < sentences.length; index++) {
    const sentence = sentences[index];
    if (sentence !== undefined) addUnit(sentence.start, sentence.end);
  }
  if (current !== undefined) chunks.push(makeSpan(text, current[0], current[1]));
  return chunks;
}

/**
 * Where to cut [start, end) (which is longer than `limit`, start on a non-space) so the first piece fits.
 * Returns a position in (start, start + limit] (start + 2 for a lone surrogate pair with limit 1).
 */
function findCut(text: string, start: number, end: number, limit: number, minClauseFraction: number): number {
  const windowEnd = Math.min(start + limit, end);
  const minClause = start + Math.ceil(limit * minClauseFraction);

  const clause = lastClauseCut(text, Math.max(start + 1, minClause), windowEnd, end);
  if (clause > 0) return clause;

  for (let p = windowEnd; p > start; p--) {
    if (isSpaceUnit(text.charCodeAt(p))) return p;
  }

  if (minClause > start + 1) {
    const early = lastClauseCut(text, start + 1, minClause - 1, end);
    if (early > 0) return early;
  }

  for (let p = windowEnd; p > start; p--) {
    if (isInsideSurrogatePair(text, p)) continue;
    if (isCjkAt(text, p) || endsWithCjk(text, p)) return p;
  }

  let p = windowEnd;
  while (p > start + 1 && (isInsideSurrogatePair(text, p) || MARK.test(text.slice(p, p + 2)))) p--;
  if (isInsideSurrogatePair(text, p)) p++;
  return p;
}

/** The largest cut position p in [from, to] right after clause punctuation, or -1. */
function lastClauseCut(text: string, from: number, to: number, end: number): number {
  for (let p = to; p >= from; p--) {
    const c = text.charCodeAt(p - 1);
    if (FREE_CLAUSE.has(c)) return p;
    if (LATIN_CLAUSE.has(c) && p < end && isSpaceUnit(text.charCodeAt(p))) return p;
  }
  return -1;
}

/** True when the code point just before `index` is a CJK character. */
function endsWithCjk(text: string, index: number): boolean {
  if (index <= 0) return false;
  const last = index - 1;
  if (last > 0 && isLowSurrogate(text.charCodeAt(last)) && isHighSurrogate(text.charCodeAt(last - 1))) {
    return isCjkAt(text, last - 1);
  }
  return isCjkAt(text, last);
}
