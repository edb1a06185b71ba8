import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildSubtitles, SUBTITLE_FORMATS, type TimedWord } from './index.js';
import { srtTime, vttTime } from './srt.js';

const TEXT = 'Hello, world! This is a test of the subtitle writers. Is 3 < 4 & 5 > 2? Yes --> surely.';
function words(): TimedWord[] {
  const out: TimedWord[] = [];
  const pattern = /[\p{L}\p{N}]+/gu;
  let t = 0.25;
  for (const match of TEXT.matchAll(pattern)) {
    out.push({ word: match[0], start: t, end: t + 0.3, charStart: match.index, charEnd: match.index + match[0].length });
    t += 0.42;
  }
  return out;
}

/** The cues as ffmpeg's subtitle demuxer reads them: [start, end, text] per cue, via its SRT output. */
function readWithFfmpeg(path: string): { start: number; end: number; text: string }[] {
  const srt = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'srt', '-'], { encoding: 'utf8' });
  const toSec = (stamp: string) => {
    const [h, m, rest] = stamp.split(':');
    return Number(h) * 3600 + Number(m) * 60 + Number(rest!.replace(',', '.'));
  };
  return srt
    .trim()
    .split(/\r?\n\r?\n/)
    .map((block) => {
      const lines = block.split(/\r?\n/);
      const [start, end] = lines[1]!.split(' --> ');
      return { start: toSec(start!), end: toSec(end!), text: lines.slice(2).join(' ').replace(/<\/?[a-z][^>]*>|<\d\d:[\d:.]+>|\{\\[^}]*\}/g, '') };
    });
}

describe('subtitle files (ASS, SRT, WebVTT)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-subtitles-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('clock times: SubRip uses a comma, WebVTT a period, both with hours and rounding carry', () => {
    assert.equal(srtTime(3723.4567), '01:02:03,457');
    assert.equal(vttTime(59.9996), '00:01:00.000');
    assert.equal(srtTime(-1), '00:00:00,000');
  });

  for (const format of SUBTITLE_FORMATS) {
    for (const karaoke of [false, true]) {
      it(`${format}${karaoke ? ' with karaoke' : ''}: ffmpeg reads every cue with the words' times and the text's punctuation`, () => {
        const timed = words();
        const file = buildSubtitles(format, timed, { text: TEXT, karaoke });
        const path = join(dir, `test-${karaoke}.${file.extension}`);
        writeFileSync(path, file.text);
        const cues = readWithFfmpeg(path);
        assert.ok(cues.length >= 3, `${cues.length} cues`);
        // Every word appears once, in order, with its punctuation.
        const spoken = cues.map((cue) => cue.text).join(' ');
        // Karaoke lines (ASS, WebVTT) are built word by word, so symbols standing alone between words are left out there.
        const expected = karaoke && format !== 'srt' ? /^Hello, world! This is a test of the subtitle writers\. Is 3 4 5 2\? Yes surely\.$/ : /^Hello, world! This is a test of the subtitle writers\. Is 3 < 4 & 5 > 2\? Yes .* surely\.$/;
        assert.match(spoken, expected);
        assert.ok(Math.abs(cues[0]!.start - timed[0]!.start) < 0.011, `first cue starts with the first word (${cues[0]!.start})`);
        assert.ok(Math.abs(cues.at(-1)!.end - timed.at(-1)!.end) < 0.011, 'last cue ends with the last word');
        for (let i = 1; i < cues.length; i++) assert.ok(cues[i]!.start >= cues[i - 1]!.end - 0.011, 'cues do not overlap');
        if (karaoke && format === 'ass') assert.equal((file.text.match(/\{\\kf\d+\}/g) ?? []).length, timed.length);
        if (karaoke && format === 'vtt') assert.ok(/<00:00:00\.670>/.test(file.text), 'inline timestamps mark word starts');
        if (format === 'vtt') assert.ok(file.text.startsWith('WEBVTT\n\n'));
      });
    }
  }

  it('ASS karaoke durations add up to each cue', () => {
    const file = buildSubtitles('ass', words(), { text: TEXT, karaoke: true });
    for (const line of file.text.split('\n').filter((l) => l.startsWith('Dialogue:'))) {
      const [, start, end] = line.split(',');
      const cs = (stamp: string) => {
        const [h, m, s] = stamp.split(':');
        return Math.round((Number(h) * 3600 + Number(m) * 60 + Number(s)) * 100);
      };
      const sum = [...line.matchAll(/\{\\kf(\d+)\}/g)].reduce((total, match) => total + Number(match[1]), 0);
      assert.equal(sum, cs(end!) - cs(start!), line);
    }
  });
});
