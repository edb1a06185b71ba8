import { buildAss, type AssOptions, type TimedWord } from './ass.js';
import { buildSrt } from './srt.js';
import { buildVtt } from './vtt.js';

export type { AssOptions as SubtitleOptions, TimedWord } from './ass.js';
export { buildAss } from './ass.js';
export { buildSrt } from './srt.js';
export { buildVtt } from './vtt.js';

export const SUBTITLE_FORMATS = ['ass', 'srt', 'vtt'] as const;
export type SubtitleFormat = (typeof SUBTITLE_FORMATS)[number];

const CONTENT_TYPES: Record<SubtitleFormat, string> = {
  ass: 'text/x-ssa; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
};

/** A subtitle file in the chosen format, with its content type and file extension. */
export function buildSubtitles(
  format: SubtitleFormat,
  words: readonly TimedWord[],
  options: AssOptions = {},
): { readonly text: string; readonly contentType: string; readonly extension: SubtitleFormat } {
  const text = format === 'ass' ? buildAss(words, options) : format === 'srt' ? buildSrt(words, options) : buildVtt(words, options);
  return { text, contentType: CONTENT_TYPES[format], extension: format };
}
