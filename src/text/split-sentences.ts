// Rule-based sentence splitting for Latin-style and CJK punctuation.

import { isCjkAt, isSpaceUnit, trimBounds } from './char-classes.js';
import { makeSpan } from './span.js';
import type { Span } from './span.js';

/**
 * Candidate sentence ends: a run of terminators plus any closing quotes/brackets right after it,
 * or a paragraph break (a blank or whitespace-only line).
 */
const CANDIDATE = /([.!?…‽。！？；．｡]+)([\p{Pe}\p{Pf}"']*)|\n[^\S\n]*\n/gu;
const CJK_TERMINATOR = /[。！？；．｡]/u;
const LATIN_EXCLAIM = /[!?‽]/;
const ELLIPSIS = /…|\.\./;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
const WORD_CHAR = /[\p{L}\p{N}\p{M}.]/u;
const LOWER_OR_DIGIT = /^[\p{Ll}\p{N}]/u;
const DIGITS = /^\p{N}+$/u;
const SINGLE_CAPITAL = /^\p{Lu}$/u;
const DOTTED_ACRONYM = /^\p{L}{1,3}(?:\.\p{L}{1,3})+$/u;

/** Abbreviations after which a period never ends a sentence (compared lower-cased, inner dots kept). */
const NEVER_ENDS = new Set([
  'mr', 'mrs', 'ms', 'mx', 'dr', 'prof', 'st', 'mt', 'jr', 'sr', 'vs', 'e.g', 'i.e', 'cf', 'viz', 'fig', 'figs',
  'u.s', 'u.k', 'u.n', 'a.k.a', 'approx', 'ca', 'rev', 'gen', 'col', 'capt', 'lt', 'sgt', 'gov', 'sen', 'rep',
  'hon', 'messrs', 'mme', 'mlle', 'sta', 'ste', 'bzw', 'z.b', 'd.h', 'usw', 'ggf',
]);
/** Abbreviations that only keep the sentence going when a number follows ("No. 5", "p. 12"). */
const BEFORE_NUMBER = new Set(['no', 'nos', 'nr', 'p', 'pp', 'vol', 'ch', 'art', 'sec', 'op', 'tel', 'ex', 'eq']);
/** Abbreviations that often end a sentence: split only when the next word does not start lower-case or with a digit. */
const MAYBE_ENDS = new Set(['etc', 'a.m', 'p.m', 'inc', 'ltd', 'co', 'corp', 'bros', 'al']);
const MAX_TOKEN = 24;

/**
 * Splits `text` into sentences. Offsets refer to `text`; each span's text is trimmed and non-empty, and the
 * spans cover all non-whitespace content in order.
 *
 * - Latin terminators `. ! ? … ‽` (runs such as `?!` and `...`, plus closing quotes/brackets right after them)
 *   end a sentence when followed by whitespace or the end of the text (`!`/`?` also without a space when a CJK character is on either side).
 * - No split after common abbreviations (Mr. Dr. e.g. U.S. ...), single capital initials (J. R. R. Tolkien),
 *   "No. 5"-style references, list numbers at the start of a sentence ("1. First"), or an ellipsis / closing
 *   quote followed by a lower-case word. etc./a.m./p.m. end a sentence only before an upper-case word.
 * - CJK terminators `。！？；．` split even without a following space (closing `」』）”` stay attached).
 * - A blank line (paragraph break) always splits.
 * - A "sentence" of punctuation only is merged into the following one.
 */
export function splitSentences(text: string): Span[] {
  const boundaries: number[] = [];
  let sentenceStart = 0;
  let scannedTo = 0;
  let hasContent = false;

  for (const m of text.matchAll(CANDIDATE)) {
    const at = m.index;
    const end = at + m[0].length;
    const run = m[1];
    if (run === undefined) {
      boundaries.push(at);
      sentenceStart = scannedTo = end;
      hasContent = false;
      continue;
    }
    if (!hasContent) {
      hasContent = LETTER_OR_DIGIT.test(text.slice(Math.max(scannedTo, sentenceStart), at));
    }
    scannedTo = at;
    if (hasContent && endsSentence(text, at, end, run, m[2] ?? '', sentenceStart)) {
      boundaries.push(end);
      sentenceStart = scannedTo = end;
      hasContent = false;
    }
  }

  const spans: Span[] = [];
  let previous = 0;
  for (const boundary of [...boundaries, text.length]) {
    const [s, e] = trimBounds(text, previous, boundary);
    if (e > s) spans.push(makeSpan(text, s, e));
    previous = boundary;
  }
  return spans;
}

function endsSentence(
  text: string,
  at: number,
  end: number,
  run: string,
  closers: string,
  sentenceStart: number,
): boolean {
  if (CJK_TERMINATOR.test(run)) {
    // Full-width decimal point: ３．１４
    if (run === '．' && closers === '' && end < text.length && /\p{N}/u.test(text.charAt(end))) return false;
    return true;
  }
  if (end >= text.length) return true;
  if (!isSpaceUnit(text.charCodeAt(end))) {
    // "好的!我们" / "走吧?OK": ASCII !/? used in CJK text, where no space follows.
    return LATIN_EXCLAIM.test(run) && (isCjkAt(text, end) || (at > 0 && isCjkAt(text, at - 1)));
  }
  let next = end;
  while (next < text.length && isSpaceUnit(text.charCodeAt(next))) next++;
  if (next >= text.length) return true;
  const nextChar = text.slice(next, next + 2);
  const nextLowerOrDigit = LOWER_OR_DIGIT.test(nextChar);

  if ((ELLIPSIS.test(run) || closers !== '') && nextLowerOrDigit) return false;
  if (run !== '.' || closers !== '') return true;

  // A single period: look at the word in front of it.
  let tokenStart = at;
  while (tokenStart > 0 && at - tokenStart < MAX_TOKEN && WORD_CHAR.test(text.charAt(tokenStart - 1))) tokenStart--;
  const token = text.slice(tokenStart, at).replace(/^\.+/, '');
  if (token === '') return true;
  const lower = token.toLowerCase();
  if (NEVER_ENDS.has(lower)) return false;
  if (SINGLE_CAPITAL.test(token)) return false;
  if (BEFORE_NUMBER.has(lower) && /^\p{N}/u.test(nextChar)) return false;
  if (MAYBE_ENDS.has(lower) || DOTTED_ACRONYM.test(token)) return !nextLowerOrDigit;
  // "1. First item": a bare number that is the whole sentence so far is a list marker.
  if (DIGITS.test(token) && trimBounds(text, sentenceStart, tokenStart)[0] === tokenStart) return false;
  return true;
}

const FINAL_TERMINATOR = /([.!?…‽。！？；．｡]+)([\p{Pe}\p{Pf}"']*)\s*$/u;
const LETTERS = /^\p{L}+$/u;
const HAS_LOWER = /\p{Ll}/u;

/**
 * True when `text` ends a sentence whatever comes after it, so a stream of text can hand the
 * sentence on without waiting for the next one to begin. Only ends that no continuation can undo
 * qualify: `!`/`?` without closing quotes, CJK terminators, and a single period after an ordinary
 * lower-case word (not an abbreviation, initial or number: "Dr." "J." "3." wait for the next piece).
 */
export function endsSentenceForSure(text: string): boolean {
  const match = FINAL_TERMINATOR.exec(text);
  if (match === null) return false;
  const run = match[1]!;
  const closers = match[2]!;
  const at = match.index;
  if (!LETTER_OR_DIGIT.test(text.slice(0, at))) return false;
  if (CJK_TERMINATOR.test(run)) return run !== '．';
  if (closers !== '' || ELLIPSIS.test(run)) return false;
  if (/^[!?‽]+$/.test(run)) return true;
  if (run !== '.') return false;
  let tokenStart = at;
  while (tokenStart > 0 && at - tokenStart < MAX_TOKEN && WORD_CHAR.test(text.charAt(tokenStart - 1))) tokenStart--;
  const token = text.slice(tokenStart, at);
  if (token.length < 2 || !LETTERS.test(token) || !HAS_LOWER.test(token)) return false;
  const lower = token.toLowerCase();
  return !NEVER_ENDS.has(lower) && !BEFORE_NUMBER.has(lower) && !MAYBE_ENDS.has(lower);
}
