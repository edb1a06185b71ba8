// Spoken-word segmentation for word timings.

import { normalizeText } from './normalize-text.js';
import { makeSpan } from './span.js';
import type { Span } from './span.js';

const CJK = String.raw`[\p{scx=Han}\p{scx=Hira}\p{scx=Kana}]`;
/**
 * A CJK ideograph or kana letter (with its combining marks), which is a word on its own since these
 * scripts are written without spaces; or a run of anything else but whitespace.
 */
const PIECE = new RegExp(String.raw`(?=[\p{L}\p{N}])${CJK}\p{M}*|(?:(?!(?=[\p{L}\p{N}])${CJK})[^\s\u0085])+`, 'gu');
const CJK_LETTER = new RegExp(String.raw`^(?=[\p{L}\p{N}])${CJK}`, 'u');
/** What a word may begin and end with: letters, digits, marks and the symbols that are read out ($5, 3.5%, #1, @me). */
const WORD_EDGE = /[\p{L}\p{N}\p{M}\p{Sc}%‰‱°#@&+§]/u;
const SPEAKABLE = /[\p{L}\p{N}]/u;

/**
 * The spoken words of `text`, in order, with offsets into `text`: each whitespace-separated word that
 * has a letter or digit, whole ("9:30", "p.m.", "e-mail", "AT&T", "x86_64", "3.5%", "$100"), without
 * the punctuation, quotes, brackets or markup around it ("(U.S.A.)," → "U.S.A"). Scripts written
 * without spaces are split further: each CJK ideograph or kana is a word of its own ("2024年" →
 * "2024", "年"). Word timings, subtitles and the forced aligner all count words this way.
 */
export function findWords(text: string): Span[] {
  const words: Span[] = [];
  for (const piece of text.matchAll(PIECE)) {
    const start = piece.index;
    const end = start + piece[0].length;
    if (CJK_LETTER.test(piece[0])) {
      words.push(makeSpan(text, start, end));
      continue;
    }
    let first = start;
    while (first < end && !WORD_EDGE.test(codePointAt(text, first))) first += codePointAt(text, first).length;
    let last = end;
    while (last > first && !WORD_EDGE.test(codePointBefore(text, last))) last -= codePointBefore(text, last).length;
    if (last > first && SPEAKABLE.test(text.slice(first, last))) words.push(makeSpan(text, first, last));
  }
  return words;
}

function codePointAt(text: string, index: number): string {
  return String.fromCodePoint(text.codePointAt(index)!);
}

/** The code point that ends at `index` (a whole surrogate pair when there is one). */
function codePointBefore(text: string, index: number): string {
  const low = text.charCodeAt(index - 1);
  if (low >= 0xdc00 && low <= 0xdfff && index >= 2) {
    const high = text.charCodeAt(index - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.slice(index - 2, index);
  }
  return text.charAt(index - 1);
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

/**
 * True when `text`, normalised as the pipeline normalises it, has a letter or digit to speak. Text
 * that is only emoji, punctuation, symbols, markup or spaces is refused before synthesis (and a chat
 * reply's sentence of that kind is skipped), so a check and the synthesis always agree.
 */
export function hasSpeakableText(text: string): boolean {
  return SPEAKABLE.test(normalizeText(text).text);
}
