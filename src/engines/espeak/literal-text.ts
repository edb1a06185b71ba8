/**
 * The echogarden eSpeak NG build synthesises with SSML and phoneme input switched on (its
 * `synth_` passes `espeakSSML | espeakPHONEMES`, fixed at compile time), so text reaching it
 * unchanged is a program: `<break time="10000s"/>` is obeyed, `<prosody>`, `<say-as>`, `<voice>`
 * and `<audio>` too, `&lt;` is decoded, `[[h@l'oU]]` is read as phoneme mnemonics and U+0001 starts
 * an embedded command (`\u000110S`: ten words a minute). Chorus speaks text literally, so before
 * eSpeak sees it:
 * - `<`, `>` and `&` become `&lt;`, `&gt;` and `&amp;` (quotes matter only inside tags, and there
 *   are none left), which eSpeak decodes back to the characters and speaks or skips as in plain text;
 * - a ZERO WIDTH SPACE goes between the brackets of `[[` (eSpeak decodes entities before it looks
 *   for `[[`, so `&#91;` would not do; the zero-width space is silent);
 * - control characters other than tab, line feed and carriage return become spaces.
 */
export interface LiteralText {
  /** What eSpeak is given. */
  readonly text: string;
  /** The source offset of the character that `text[offset]` spells (`text.length` maps to the source's end). */
  toSourceStart(offset: number): number;
  /** The exclusive source end for an exclusive end `offset` in `text`. */
  toSourceEnd(offset: number): number;
}

const ESCAPES: Readonly<Record<string, string>> = { '<': '&lt;', '>': '&gt;', '&': '&amp;' };
const NEEDS_CHANGE = /[<>&[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const ZERO_WIDTH_SPACE = '\u200b';

export function literalEspeakText(source: string): LiteralText {
  if (!NEEDS_CHANGE.test(source)) {
    const clamp = (offset: number): number => Math.min(Math.max(0, offset), source.length);
    return { text: source, toSourceStart: clamp, toSourceEnd: clamp };
  }
  const parts: string[] = [];
  /** For each UTF-16 unit of the output, the source index of the character it spells. */
  const sourceOf: number[] = [];
  const emit = (piece: string, index: number): void => {
    parts.push(piece);
    for (let k = 0; k < piece.length; k++) sourceOf.push(index);
  };
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    const escape = ESCAPES[char];
    if (escape !== undefined) emit(escape, i);
    else if (CONTROL.test(char)) emit(' ', i);
    else if (char === '[' && source[i + 1] === '[') emit(`[${ZERO_WIDTH_SPACE}`, i);
    else {
      parts.push(char);
      sourceOf.push(i);
    }
  }
  const text = parts.join('');
  return {
    text,
    toSourceStart: (offset) => (offset >= text.length ? source.length : (sourceOf[Math.max(0, offset)] ?? 0)),
    toSourceEnd: (offset) => (offset <= 0 ? 0 : (sourceOf[Math.min(offset, text.length) - 1] ?? source.length - 1) + 1),
  };
}
