// Spoken-word segmentation for word timings.

import { normalizeText } from './normalize-text.js';
import { makeSpan } from './span.js';
import type { Span } from './span.js';

/**
 * A word: a CJK ideograph or kana (with any combining marks) on its own, or a run of other letters, digits and
 * marks, joined across inner apostrophes/hyphens (don't, e-mail, rock'n'roll) and across `.`/`,` between
 * digits (3.14, 1,000).
 */
const WORD = new RegExp(
  String.raw`(?=[\p{L}\p{N}])[\p{scx=Han}\p{scx=Hira}\p{scx=Kana}]\p{M}*` +
    String.raw`|W+(?:['’\-‐‑]W+|(?<=\p{N})[.,](?=\p{N})W+)*`.replaceAll(
      'W',
      String.raw`(?:(?![\p{scx=Han}\p{scx=Hira}\p{scx=Kana}])[\p{L}\p{N}\p{M}])`,
    ),
  'gu',
);

/** The spoken words of `text`, in order, with offsets into `text`. Punctuation, symbols and emoji are not words. */
export function findWords(text: string): Span[] {
  const words: Span[] = [];
  for (const m of text.matchAll(WORD)) words.push(makeSpan(text, m.index, m.index + m[0].length));
  return words;
}

/**
 * Index of the word containing `offset` (start <= offset < end), or else of the first word after it;
 * -1 when no word ends after `offset`. `words` must be sorted and non-overlapping (as findWords returns).
 */
export function wordIndexAt(words: readonly Span[], offset: number): number {
  let lo = 0;
  let hi = words.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const word = words[mid];
    if (word !== undefined && word.end <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo < words.length ? lo : -1;
}

const SPEAKABLE = /[\p{L}\p{N}]/u;

/**
 * True when `text`, normalised as the pipeline normalises it, has a letter or digit to speak. Text
 * that is only emoji, punctuation, symbols, markup or spaces is refused before synthesis (and a chat
 * reply's sentence of that kind is skipped), so a check and the synthesis always agree.
 */
export function hasSpeakableText(text: string): boolean {
  return SPEAKABLE.test(normalizeText(text).text);
}
