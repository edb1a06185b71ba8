/** ASS (Advanced SubStation Alpha v4.00+) subtitles from word timings. */

export interface TimedWord {
  readonly word: string;
  /** Seconds. */
  readonly start: number;
  readonly end: number;
  /** UTF-16 offsets of the word in `AssOptions.text`; with them cues show the text's own punctuation. */
  readonly charStart?: number;
  readonly charEnd?: number;
}

export interface AssOptions {
  /** Longest line of a cue, characters. */
  readonly maxLineChars?: number;
  /** A silence longer than this starts a new cue, seconds. */
  readonly maxGapSec?: number;
  /** The text the words were spoken from. */
  readonly text?: string;
  /** Word-by-word highlighting: ASS `\kf` sweeps, WebVTT inline timestamps. */
  readonly karaoke?: boolean;
}

/** Where the word stands in the text, widened to the punctuation attached to it ("Hello," / "(world)."). */
function displaySpan(word: TimedWord, text: string): [number, number] | undefined {
  if (word.charStart === undefined || word.charEnd === undefined) return undefined;
  let start = word.charStart;
  let end = word.charEnd;
  const attached = /[^\s\p{L}\p{N}]/u;
  while (start > 0 && attached.test(text[start - 1]!)) start--;
  while (end < text.length && attached.test(text[end]!)) end++;
  return [start, end];
}

/** The word as written in the text, with the punctuation attached to it. */
function displayWord(word: TimedWord, text: string | undefined): string {
  const span = text === undefined ? undefined : displaySpan(word, text);
  return span === undefined ? word.word : text!.slice(span[0], span[1]);
}

/**
 * A cue's line: with the text known, everything it says from the first word to the last (so
 * symbols between words, "3 < 4", stay), whitespace collapsed; otherwise the words joined.
 */
export function cueText(cue: readonly TimedWord[], text: string | undefined): string {
  const first = text === undefined ? undefined : displaySpan(cue[0]!, text);
  const last = text === undefined ? undefined : displaySpan(cue.at(-1)!, text);
  if (first === undefined || last === undefined || last[1] < first[0]) return cue.map((w) => w.word).join(' ');
  return text!.slice(first[0], last[1]).replace(/\s+/g, ' ');
}

/** `H:MM:SS.cc`: rounded to centiseconds before splitting, so 59.996 s is 0:01:00.00. */
export function assTime(seconds: number): string {
  const cs = Math.max(0, Math.round(seconds * 100));
  const h = Math.floor(cs / 360_000);
  const m = Math.floor((cs % 360_000) / 6000);
  const s = Math.floor((cs % 6000) / 100);
  const c = cs % 100;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(c).padStart(2, '0')}`;
}

/** Dialogue text: braces and backslashes cannot start override tags; newlines become hard breaks. */
export function assText(text: string): string {
  return text
    .replace(/\\/g, '\u29f5')
    .replace(/\{/g, '(')
    .replace(/\}/g, ')')
    .replace(/\r?\n/g, '\\N');
}

/** Groups words into cues: a new cue after sentence-ending punctuation, a long pause, or a full line. */
export function groupCues(words: readonly TimedWord[], options: AssOptions = {}): TimedWord[][] {
  const maxChars = options.maxLineChars ?? 42;
  const maxGap = options.maxGapSec ?? 0.8;
  const cues: TimedWord[][] = [];
  let current: TimedWord[] = [];
  let length = 0;
  for (const original of words) {
    const word = { ...original, word: displayWord(original, options.text) };
    const previous = current.at(-1);
    const breakHere =
      previous !== undefined &&
      (/[.!?。！？]["')\]]?$/.test(previous.word) || word.start - previous.end > maxGap || length + 1 + word.word.length > maxChars);
    if (breakHere) {
      cues.push(current);
      current = [];
      length = 0;
    }
    current.push(word);
    length += (length === 0 ? 0 : 1) + word.word.length;
  }
  if (current.length > 0) cues.push(current);
  return cues;
}

/** A complete ASS script with one Dialogue line per cue. */
export function buildAss(words: readonly TimedWord[], options: AssOptions = {}): string {
  const lines = [
    '[Script Info]',
    '; Made by Chorus',
    'ScriptType: v4.00+',
    'PlayResX: 1920',
    'PlayResY: 1080',
    'WrapStyle: 0',
    'ScaledBorderAndShadow: yes',
    'YCbCr Matrix: None',
    '',
    '[V4+ Styles]',
    'Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding',
    'Style: Default,Arial,64,&H00FFFFFF,&H0000FFFF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,1,3,0,2,40,40,60,1',
    '',
    '[Events]',
    'Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text',
  ];
  for (const cue of groupCues(words, options)) {
    const start = cue[0]!.start;
    const end = Math.max(cue.at(-1)!.end, start + 0.01);
    const text = options.karaoke === true ? karaokeText(cue, end) : assText(cueText(cue, options.text));
    lines.push(`Dialogue: 0,${assTime(start)},${assTime(end)},Default,,0,0,0,,${text}`);
  }
  return `\ufeff${lines.join('\n')}\n`;
}

/**
 * `{\kfNN}` before each word, NN in centiseconds from this word's start to the next one's (the last
 * word runs to the cue's end), so the sweep follows the speech and the durations add up to the cue's.
 */
function karaokeText(cue: readonly TimedWord[], cueEnd: number): string {
  const start = Math.round(cue[0]!.start * 100);
  let elapsed = 0;
  return cue
    .map((word, i) => {
      const next = i + 1 < cue.length ? Math.round(cue[i + 1]!.start * 100) : Math.round(cueEnd * 100);
      const centiseconds = Math.max(0, next - start - elapsed);
      elapsed += centiseconds;
      return `{\\kf${centiseconds}}${assText(word.word)}`;
    })
    .join(' ');
}
