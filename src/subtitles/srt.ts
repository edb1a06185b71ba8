import { cueText, groupCues, type AssOptions, type TimedWord } from './ass.js';

/** `HH:MM:SS,mmm` (SubRip: comma before the milliseconds). */
export function srtTime(seconds: number): string {
  return clockTime(seconds, ',');
}

/** `HH:MM:SS.mmm` (WebVTT: period before the milliseconds, hours always written). */
export function vttTime(seconds: number): string {
  return clockTime(seconds, '.');
}

function clockTime(seconds: number, separator: string): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

/** Cue start and end: a cue lasts at least 10 ms and never runs into the next one. */
export function cueTimes(cues: readonly TimedWord[][]): { start: number; end: number }[] {
  return cues.map((cue, i) => {
    const start = cue[0]!.start;
    const next = cues[i + 1]?.[0]?.start;
    const end = Math.max(cue.at(-1)!.end, start + 0.01);
    return { start, end: next === undefined ? end : Math.max(start + 0.001, Math.min(end, next)) };
  });
}

/** SubRip subtitles: numbered cues of readable lines (SubRip has no karaoke). */
export function buildSrt(words: readonly TimedWord[], options: AssOptions = {}): string {
  const cues = groupCues(words, options);
  const times = cueTimes(cues);
  const blocks = cues.map((cue, i) => {
    const text = cueText(cue, options.text).replace(/-->/g, '→');
    return `${i + 1}\n${srtTime(times[i]!.start)} --> ${srtTime(times[i]!.end)}\n${text}\n`;
  });
  return blocks.join('\n');
}
