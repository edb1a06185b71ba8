// Small character-class helpers shared by the text modules (internal; not re-exported by index.ts).

/**
 * Chinese/Japanese characters that are read one by one and written without spaces:
 * Han ideographs (incl. 々 〆), hiragana and katakana (incl. ー), as long as they are letters or digits.
 */
const CJK_LETTER = /^(?=[\p{L}\p{N}])[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}]$/u;

/** True when the code point starting at `index` of `text` is a CJK ideograph or kana letter. */
export function isCjkAt(text: string, index: number): boolean {
  const cp = text.codePointAt(index);
  if (cp === undefined || cp < 0x2e80) return false;
  return CJK_LETTER.test(String.fromCodePoint(cp));
}

/** True when the UTF-16 unit is whitespace (JS `\s`, which includes NBSP and U+3000, plus NEL). */
export function isSpaceUnit(code: number): boolean {
  if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return true;
  if (code < 0x85) return false;
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** True for a low (trailing) surrogate, i.e. an index that is inside a surrogate pair if preceded by a high one. */
export function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** True when cutting `text` at `index` would separate a surrogate pair. */
export function isInsideSurrogatePair(text: string, index: number): boolean {
  return (
    index > 0 &&
    index < text.length &&
    isLowSurrogate(text.charCodeAt(index)) &&
    isHighSurrogate(text.charCodeAt(index - 1))
  );
}

/** Trims whitespace from both ends of [start, end) and returns the new bounds (start === end when blank). */
export function trimBounds(text: string, start: number, end: number): [number, number] {
  let s = start;
  let e = end;
  while (s < e && isSpaceUnit(text.charCodeAt(s))) s++;
  while (e > s && isSpaceUnit(text.charCodeAt(e - 1))) e--;
  return [s, e];
}
