import { findWords, wordIndexAt, type NormalizedText, type Span } from '../text/index.js';
import type { WordTiming } from './speech-request.js';

/** A word event as an engine reports it: offsets into the chunk's text, times in the chunk's own audio. */
export interface EngineWordEvent {
  readonly textStart: number;
  readonly textEnd: number;
  readonly startMs: number;
  readonly endMs: number;
}

/** Where a chunk's audio sits in the output, and how its engine times become output times. */
export interface ChunkTiming {
  /** Output time where the chunk's audio starts and ends, seconds. */
  readonly startSec: number;
  readonly endSec: number;
  /** Engine audio cut from the chunk's start before output (sentence gaps trim edges), ms. */
  readonly leadingTrimMs: number;
  /** The time-stretch applied after the engine (output time = engine time / stretch). */
  readonly stretch: number;
}

/** Consecutive words that share one stretch of time: words from `first` up to the next group's. */
interface Group {
  first: number;
  last: number;
  start: number;
  end: number;
}

/**
 * Engine word events, chunk by chunk, turned into exactly one timing per word of the original text
 * (as `findWords` counts them), in order. Events inside one word merge ("9:30" read as "nine
 * thirty"); words the engine gave no event of share the time of the event before them by length
 * (kana an engine reads as one word; a chunk the engine timed nothing in shares the chunk's span);
 * a word a chunk boundary cuts in two ("Wait—this", a very long word) is held back and timed once,
 * over both chunks.
 */
export class WordTimeline {
  readonly #original: string;
  readonly #toOriginal: (offset: number) => number;
  readonly #words: Span[];
  /** The first word not yet timed. */
  #next = 0;
  /** The last group of the previous chunk, when its last word runs on into the next chunk. */
  #held: Group | undefined;

  constructor(original: string, normalized: Pick<NormalizedText, 'toOriginal'>) {
    this.#original = original;
    this.#toOriginal = (offset) => normalized.toOriginal(offset);
    this.#words = findWords(original);
  }

  /** The timings a chunk completes. `span` is the chunk in the normalised text, `events` its engine's. */
  addChunk(span: Span, events: readonly EngineWordEvent[], timing: ChunkTiming): WordTiming[] {
    const words = this.#words;
    const chunkEnd = this.#toOriginal(span.end);
    const after = wordIndexAt(words, chunkEnd);
    // The chunk's last word: the one its end cuts, else the one before the first word after it.
    const lastWord = after < 0 ? words.length - 1 : words[after]!.start < chunkEnd ? after : after - 1;
    if (lastWord < this.#next) return [];
    const toSec = (ms: number): number => timing.startSec + Math.max(0, ms - timing.leadingTrimMs) / 1000 / timing.stretch;

    const held = this.#held;
    this.#held = undefined;
    const groups: Group[] = held === undefined ? [] : [held];
    let heldSpoken = false;
    for (const event of events) {
      const found = wordIndexAt(words, this.#toOriginal(span.start + event.textStart));
      if (found < 0) continue;
      const index = Math.min(Math.max(found, this.#next), lastWord);
      const start = toSec(event.startMs);
      const end = Math.max(start, toSec(event.endMs));
      const previous = groups.at(-1);
      if (previous !== undefined && index <= previous.first) {
        previous.end = Math.max(previous.end, end);
        heldSpoken ||= previous === held;
      } else {
        groups.push({ first: index, last: index, start, end });
      }
    }
    if (groups.length === 0) groups.push({ first: this.#next, last: this.#next, start: timing.startSec, end: timing.endSec });
    // Words before the first event are the engine's silence about them: they share the first event's time.
    groups[0]!.first = this.#next;
    for (let i = 0; i < groups.length; i++) groups[i]!.last = (groups[i + 1]?.first ?? lastWord + 1) - 1;
    // A held word the engine said nothing more about still runs on in this chunk, up to the next event.
    if (held !== undefined && !heldSpoken) held.end = Math.max(held.end, groups[1]?.start ?? timing.endSec);

    const cut = words[lastWord]!.end > chunkEnd;
    if (cut) this.#held = groups.pop();
    this.#next = (groups.at(-1)?.last ?? this.#next - 1) + 1;
    return groups.flatMap((group) => this.#shareOut(group));
  }

  /** The timing still held back (a word the last chunk ended inside of), and any word left untimed. */
  finish(): WordTiming[] {
    const held = this.#held;
    this.#held = undefined;
    const timings = held === undefined ? [] : this.#shareOut({ ...held, last: Math.max(held.last, this.#words.length - 1) });
    this.#next = this.#words.length;
    return timings;
  }

  /** A group's time shared among its words by length, so each word has its own timing. */
  #shareOut(group: Group): WordTiming[] {
    const words = this.#words.slice(group.first, group.last + 1);
    const total = words.reduce((sum, word) => sum + word.text.length, 0);
    let start = group.start;
    return words.map((word, i) => {
      const end = i === words.length - 1 ? group.end : start + ((group.end - group.start) * word.text.length) / total;
      const timing = { word: this.#original.slice(word.start, word.end), start, end, charStart: word.start, charEnd: word.end };
      start = end;
      return timing;
    });
  }
}
