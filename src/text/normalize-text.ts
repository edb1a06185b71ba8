// Conservative clean-up of user text before it goes to the engine, with an exact offset map back to
// the original so word timings can point at the words the user actually sent.
//
// Deliberately does NOT expand numbers, dates or abbreviations: eSpeak NG does that itself.

export interface NormalizedText {
  /** The normalised text. */
  readonly text: string;
  /**
   * Maps a UTF-16 offset in `text` to the offset of the character in the original it came from.
   * `offset === text.length` maps to the end of the original; out-of-range offsets are clamped.
   */
  toOriginal(offset: number): number;
}

export interface NormalizedTextMap extends NormalizedText {
  /**
   * Maps an exclusive end offset in `text` to the exclusive end in the original: the end of the original
   * character(s) that produced `text[offset - 1]`. Use it for the end of a word span, so that characters
   * dropped after the word (markdown, emoji...) are not included. `offset <= 0` behaves like toOriginal(0).
   */
  toOriginalEnd(offset: number): number;
}

/**
 * Normalises text for speech:
 * - Unicode NFC;
 * - control, format (zero-width, bidi, soft hyphen, BOM...) and variation-selector characters removed;
 * - emoji removed (emoji-presentation characters, pictographs, flags, skin tones, ZWJ sequences, keycap marks);
 * - every whitespace run (newlines, tabs, NBSP, U+3000, ...) collapsed to one space, ends trimmed;
 * - simple Markdown markup that should not be spoken is stripped: `**strong**`, `__strong__`, `*em*`, `_em_`,
 *   backticks, code-fence lines, headings `#`, block quotes `>`, bullets `- * + •` at line starts,
 *   horizontal rules, `[text](url)` links and `![alt](url)` images (kept: text / alt);
 * - `http(s)://` and `www.` prefixes of URLs removed (the rest of the URL is left for eSpeak).
 */
export function normalizeText(original: string): NormalizedTextMap {
  const drop = markdownDrops(original);
  const parts: string[] = [];
  const map: number[] = [];
  /** Output index -> exclusive original end, only for characters produced by a changed (NFC) cluster. */
  const ends = new Map<number, number>();
  let outLength = 0;
  let pendingSpace = -1;
  /** Something (an emoji...) was dropped after the pending space: "word 😀." must not become "word .". */
  let droppedAfterSpace = false;
  const n = original.length;

  const flushSpace = (next: string): void => {
    if (pendingSpace >= 0) {
      if (outLength > 0 && !(droppedAfterSpace && CLOSING_PUNCTUATION.test(next))) {
        parts.push(' ');
        map.push(pendingSpace);
        outLength++;
      }
      pendingSpace = -1;
      droppedAfterSpace = false;
    }
  };
  const startSpace = (at: number): void => {
    if (pendingSpace < 0) pendingSpace = at;
    else if (original.charCodeAt(pendingSpace) !== 0x20 && original.charCodeAt(at) === 0x20) pendingSpace = at;
  };
  /** Emits original[from, to) unchanged (identity mapping), skipping markdown drops. */
  const emitIdentity = (from: number, to: number): void => {
    let runStart = -1;
    for (let i = from; i < to; i++) {
      if (drop !== undefined && drop[i] === 1) {
        if (runStart >= 0) {
          parts.push(original.slice(runStart, i));
          outLength += i - runStart;
          runStart = -1;
        }
        continue;
      }
      if (runStart < 0) {
        flushSpace(original.charAt(i));
        runStart = i;
      }
      map.push(i);
    }
    if (runStart >= 0) {
      parts.push(original.slice(runStart, to));
      outLength += to - runStart;
    }
  };

  /** Handles one cluster (a code point plus the marks / conjoining jamo that follow it). */
  const processCluster = (at: number, cluster: string): void => {
    if (drop !== undefined && drop[at] === 1) return;
    const cp0 = cluster.codePointAt(0) ?? 0;
    if (isSpaceCodePoint(cp0)) {
      startSpace(at); // marks on a space are dropped with it
      return;
    }
    if (isDroppable(cp0) || isEmoji(cp0, cluster)) {
      if (pendingSpace >= 0) droppedAfterSpace = true;
      return;
    }
    const nfc = cluster.normalize('NFC');
    if (nfc === cluster) {
      // Keep the base and every mark that is not itself droppable, each mapped to itself.
      let k = 0;
      for (const ch of cluster) {
        const cp = ch.codePointAt(0) ?? 0;
        const keep = k === 0 || !(isDroppable(cp) || (drop !== undefined && drop[at + k] === 1));
        if (keep) {
          flushSpace(ch);
          parts.push(ch);
          map.push(at + k);
          if (ch.length === 2) map.push(at + k + 1);
          outLength += ch.length;
        }
        k += ch.length;
      }
      return;
    }
    // Changed by NFC: every produced unit maps to the start of the cluster, and ends at its end.
    for (const ch of nfc) {
      if (isDroppable(ch.codePointAt(0) ?? 0)) continue;
      flushSpace(ch);
      parts.push(ch);
      for (let u = 0; u < ch.length; u++) {
        map.push(at);
        ends.set(outLength + u, at + cluster.length);
      }
      outLength += ch.length;
    }
  };

  let pos = 0;
  while (pos < n) {
    PLAIN_RUN.lastIndex = pos;
    const plain = PLAIN_RUN.exec(original);
    if (plain !== null) {
      let runEnd = pos + plain[0].length;
      // The last code point of the run belongs to the cluster of any marks that follow it.
      if (runEnd < n && startsClusterExtension(original, runEnd)) {
        runEnd -= runEnd - 2 >= pos && isLowSurrogateAt(original, runEnd - 1) ? 2 : 1;
      }
      if (runEnd > pos) {
        const segment = plain[0].length === runEnd - pos ? plain[0] : original.slice(pos, runEnd);
        if (!NEEDS_NFC_CHECK.test(segment) || segment.normalize('NFC') === segment) {
          emitIdentity(pos, runEnd);
        } else {
          // Rare (singleton decompositions such as U+2126 OHM SIGN, CJK compatibility ideographs).
          let at = pos;
          for (const ch of segment) {
            processCluster(at, ch);
            at += ch.length;
          }
        }
        pos = runEnd;
        continue;
      }
    }
    CLUSTER.lastIndex = pos;
    const cluster = CLUSTER.exec(original)?.[0] ?? original.charAt(pos);
    processCluster(pos, cluster);
    pos += cluster.length;
  }

  const text = parts.join('');
  const toOriginal = (offset: number): number => {
    const i = Math.floor(offset);
    if (!(i < text.length)) return n; // also NaN
    if (i <= 0) return map[0] ?? n;
    return map[i] ?? n;
  };
  const toOriginalEnd = (offset: number): number => {
    const i = Math.min(Math.floor(offset), text.length);
    if (!(i > 0)) return toOriginal(0);
    const last = i - 1;
    return ends.get(last) ?? (map[last] ?? n - 1) + 1;
  };
  return { text, toOriginal, toOriginalEnd };
}

// ---------------------------------------------------------------------------------------------
// Character classes

/**
 * A run of characters that need no special handling: not whitespace, control/format/surrogate,
 * marks, conjoining jamo, variation selectors or emoji. (Markdown drops are still checked per index.)
 */
const PLAIN_RUN =
  /[^\s\u0085\p{Cc}\p{Cf}\p{Cs}\p{M}\p{Emoji_Presentation}\p{Extended_Pictographic}\u1160-\u11FF\uD7B0-\uD7FF]+/uy;
/** One code point plus the combining marks / Hangul vowel & final jamo that compose with it. */
const CLUSTER = /[^][\p{M}\u1160-\u11FF\uD7B0-\uD7FF]*/uy;
const CLUSTER_EXTENSION = /[\p{M}\u1160-\u11FF\uD7B0-\uD7FF]/uy;
/** Everything below U+0300 is stable under NFC on its own. */
const NEEDS_NFC_CHECK = /[^\u0000-\u02FF]/;
const CLOSING_PUNCTUATION = /^[.,!?;:…‽)\]}»”’、。，！？；：」』）]/u;
const FORMAT = /^[\p{Cf}\p{Cs}]$/u;
const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}$/u;
const PICTOGRAPHIC = /^\p{Extended_Pictographic}$/u;

function startsClusterExtension(text: string, index: number): boolean {
  CLUSTER_EXTENSION.lastIndex = index;
  return CLUSTER_EXTENSION.test(text);
}

function isLowSurrogateAt(text: string, index: number): boolean {
  const c = text.charCodeAt(index);
  return c >= 0xdc00 && c <= 0xdfff;
}

function isSpaceCodePoint(cp: number): boolean {
  return (
    cp === 0x20 ||
    (cp >= 0x09 && cp <= 0x0d) ||
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/** Control, format (ZW*, bidi, BOM, soft hyphen, tags), lone surrogates, variation selectors, keycap mark. */
function isDroppable(cp: number): boolean {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true;
  if (cp < 0xad) return false;
  if ((cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef) || cp === 0x20e3) return true;
  return FORMAT.test(String.fromCodePoint(cp));
}

/**
 * Emoji: anything with default emoji presentation, pictographs from U+2300 on (❤ ☺ ✔ ...), and text-style
 * pictographs below that (© ® ™ ‼ ↔ ...) only when followed by VS16. CJK symbols (〰 ㊗) are kept unless VS16.
 */
function isEmoji(cp: number, cluster: string): boolean {
  if (cp < 0xa9) return false;
  const ch = String.fromCodePoint(cp);
  if (EMOJI_PRESENTATION.test(ch)) return true;
  if (!PICTOGRAPHIC.test(ch)) return false;
  if (cluster.includes('\uFE0F')) return true;
  return cp >= 0x2300 && !(cp >= 0x3000 && cp <= 0x33ff);
}

// ---------------------------------------------------------------------------------------------
// Markdown

const MARKDOWN_HINT = /[*_`#>+\-•=~[]|https?:\/\/|www\./i;
/** Block markers at line starts: code fences, rules, quote markers followed by a heading or bullet. */
const LINE_START =
  /^[ \t]*(?:(?:```|~~~)[^\n\r]*|(?:[-*_=][ \t]*){3,}(?=[\r\n]|$)|(?:>[ \t]?)*(?:#{1,6}(?=[ \t\r\n]|$)|[-*+•](?=[ \t]))?)/gm;
const LINK = /(!?\[)[^\]\n]{0,500}(\]\([^()\s]{0,2000}(?:[ \t]+"[^"\n]{0,500}")?\))/g;
const AUTOLINK = /<(https?:\/\/[^\s<>]{1,2000})>/gi;
const URL_PREFIX = /(?<![\p{L}\p{N}_.])(?:https?:\/\/(?:www\.)?|www\.)(?=[\p{L}\p{N}])/giu;
const STRONG_STAR = /(?<![\p{L}\p{N}\\])\*\*(?=\S)[^\n]{0,500}?\S\*\*(?![\p{L}\p{N}])/gu;
const STRONG_UNDERSCORE = /(?<![\p{L}\p{N}\\])__(?=\S)[^\n]{0,500}?\S__(?![\p{L}\p{N}])/gu;
const EM_STAR = /(?<![\p{L}\p{N}\\*])\*(?=[^\s*])(?:[^\n*]{0,500}?[^\s*\\])?\*(?![\p{L}\p{N}*])/gu;
const EM_UNDERSCORE = /(?<![\p{L}\p{N}\\_])_(?=[^\s_])(?:[^\n_]{0,500}?[^\s_\\])?_(?![\p{L}\p{N}_])/gu;

/** Returns a per-UTF-16-index flag (1 = drop) for Markdown markup, or undefined when there is none. */
function markdownDrops(s: string): Uint8Array | undefined {
  if (!MARKDOWN_HINT.test(s)) return undefined;
  const drop = new Uint8Array(s.length);
  let any = false;
  const mark = (from: number, to: number): void => {
    if (to > from) {
      drop.fill(1, from, to);
      any = true;
    }
  };

  for (const m of s.matchAll(LINE_START)) mark(m.index, m.index + m[0].length);
  for (const m of s.matchAll(LINK)) {
    const open = m[1] ?? '';
    const close = m[2] ?? '';
    mark(m.index, m.index + open.length);
    mark(m.index + m[0].length - close.length, m.index + m[0].length);
  }
  for (const m of s.matchAll(AUTOLINK)) {
    mark(m.index, m.index + 1);
    mark(m.index + m[0].length - 1, m.index + m[0].length);
  }
  for (const m of s.matchAll(URL_PREFIX)) mark(m.index, m.index + m[0].length);
  for (let i = s.indexOf('`'); i >= 0; i = s.indexOf('`', i + 1)) mark(i, i + 1);

  // Emphasis passes run on a copy where everything dropped so far is masked out, so that the
  // delimiters of an outer pair do not confuse the inner pass (***both***).
  let masked = any ? maskDropped(s, drop) : s;
  for (const re of [STRONG_STAR, STRONG_UNDERSCORE]) {
    for (const m of masked.matchAll(re)) {
      const end = m.index + m[0].length;
      mark(m.index, m.index + 2);
      mark(end - 2, end);
    }
  }
  if (any) masked = maskDropped(s, drop);
  for (const re of [EM_STAR, EM_UNDERSCORE]) {
    for (const m of masked.matchAll(re)) {
      const end = m.index + m[0].length;
      mark(m.index, m.index + 1);
      mark(end - 1, end);
    }
  }
  return any ? drop : undefined;
}

function maskDropped(s: string, drop: Uint8Array): string {
  const parts: string[] = [];
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    if (drop[i] === 1) {
      if (i > runStart) parts.push(s.slice(runStart, i));
      parts.push('\u0000');
      runStart = i + 1;
    }
  }
  parts.push(s.slice(runStart));
  return parts.join('');
}
