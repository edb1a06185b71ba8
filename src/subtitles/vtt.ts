import { cueText, groupCues, type AssOptions, type TimedWord } from './ass.js';
import { cueTimes, vttTime } from './srt.js';

/** Cue payload text: `&`, `<`, `>` escaped, and no `-->` (which would end the cue). */
function vttText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/--&gt;/g, '→');
}

/**
 * WebVTT subtitles. With `karaoke`, each word after the first is preceded by its start as an inline
 * timestamp (`<00:00:01.250>`), strictly inside the cue and increasing, which players style with
 * `::cue(:past)` / `::cue(:future)`.
 */
export function buildVtt(words: readonly TimedWord[], options: AssOptions = {}): string {
  const cues = groupCues(words, options);
  const times = cueTimes(cues);
  const blocks = cues.map((cue, i) => {
    const { start, end } = times[i]!;
    let last = start;
    if (options.karaoke !== true) return `${i + 1}\n${vttTime(start)} --> ${vttTime(end)}\n${vttText(cueText(cue, options.text))}\n`;
    const parts = cue.map((word, j) => {
      const text = vttText(word.word);
      if (j === 0 || !(word.start > last && word.start < end)) return text;
      last = word.start;
      return `<${vttTime(word.start)}>${text}`;
    });
    return `${i + 1}\n${vttTime(start)} --> ${vttTime(end)}\n${parts.join(' ')}\n`;
  });
  return ['WEBVTT\n', ...blocks].join('\n');
}
