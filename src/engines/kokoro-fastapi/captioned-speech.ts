import type { EnginePart } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';

/**
 * Kokoro-FastAPI's `POST /dev/captioned_speech` answer with `stream: true`: NDJSON
 * (`JSONStreamingResponse`), one `CaptionedSpeechResponse` a line, `{audio, audio_format,
 * timestamps}`: `audio` a base64 piece of the requested format, `timestamps` the words of that
 * piece as `{word, start_time, end_time}` in seconds from the start of the whole answer's audio
 * (the server adds each piece's offset). Read from remsky/Kokoro-FastAPI `api/src/routers/development.py`,
 * `structures/schemas.py`, `structures/custom_responses.py` and `services/tts_service.py`.
 */
export interface CaptionedPiece {
  readonly audio: Uint8Array;
  readonly audioFormat: string;
  readonly words: readonly ServerWord[];
}

export interface ServerWord {
  readonly word: string;
  readonly startSec: number;
  readonly endSec: number;
}

/** The answer's pieces as their lines arrive; the network may cut a line anywhere. */
export async function* captionedPieces(body: AsyncIterable<Uint8Array>, engineId: string): AsyncGenerator<CaptionedPiece> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const bytes of body) {
    pending += decoder.decode(bytes, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== '') yield parseLine(line, engineId);
    }
  }
  // The server ends every line with a newline; a last one without is still whole if it parses.
  const last = (pending + decoder.decode()).trim();
  if (last !== '') yield parseLine(last, engineId);
}

function parseLine(line: string, engineId: string): CaptionedPiece {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw badAnswer(engineId, `a line that is not JSON (${JSON.stringify(line.slice(0, 80))})`);
  }
  const piece = value as { audio?: unknown; audio_format?: unknown; timestamps?: unknown };
  if (typeof value !== 'object' || value === null || typeof piece.audio !== 'string') {
    throw badAnswer(engineId, `a line without base64 'audio' (${JSON.stringify(line.slice(0, 80))})`);
  }
  const words: ServerWord[] = [];
  // `timestamps` is null when the server made none (return_timestamps off, a language it cannot time).
  for (const entry of Array.isArray(piece.timestamps) ? (piece.timestamps as unknown[]) : []) {
    const { word, start_time: start, end_time: end } = (entry ?? {}) as { word?: unknown; start_time?: unknown; end_time?: unknown };
    if (typeof word !== 'string' || typeof start !== 'number' || typeof end !== 'number' || !Number.isFinite(start) || !Number.isFinite(end) || start < 0) continue;
    words.push({ word, startSec: start, endSec: Math.max(start, end) });
  }
  return { audio: Buffer.from(piece.audio, 'base64'), audioFormat: typeof piece.audio_format === 'string' ? piece.audio_format : '', words };
}

function badAnswer(engineId: string, what: string): ChorusError {
  return new ChorusError({ code: 'engine_failed', retryable: true, detail: 'remote_server_error', message: `The remote engine '${engineId}' sent ${what}.` });
}

/** Letters, digits and marks: what a word is made of in scripts that put spaces between words. */
const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
/** Scripts written without spaces: a word there may touch its neighbours. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u;
const EDGE_PUNCTUATION = /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;
/**
 * How many words of the text a server word may lie past the last one found. Words the server
 * spelled its own way ("3" spoken as "three", "Dr." as "Doctor") are not in the text; without a
 * bound, a common one ("the", "two") would be found far ahead and every word in between skipped.
 */
const MAX_SKIPPED_WORDS = 3;

/**
 * The server's words found in the text it was sent, in order: UTF-16 offsets into the text. The
 * server speaks a normalised text (numbers, abbreviations, symbols spelled out; punctuation as
 * tokens of its own), so a word it reports may not be in the text: it is skipped, and the word
 * timeline times the text's word from its neighbours.
 */
export class WordLocator {
  #cursor = 0;

  constructor(private readonly text: string) {}

  locate(serverWord: string): { start: number; end: number } | undefined {
    const word = serverWord.replace(EDGE_PUNCTUATION, '');
    if (word === '') return undefined;
    // Case-insensitive under Unicode rules (offsets stay those of the text); any apostrophe matches any other.
    const pattern = new RegExp(
      [...word].map((char) => (/['’‘ʼ]/.test(char) ? "['’‘ʼ]" : char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join(''),
      'giu',
    );
    pattern.lastIndex = this.#cursor;
    for (let match = pattern.exec(this.text); match !== null; match = pattern.exec(this.text)) {
      const start = match.index;
      const end = start + match[0].length;
      if (wordsBetween(this.text, this.#cursor, start) > MAX_SKIPPED_WORDS) return undefined;
      if (joined(this.text, start - 1, start) || joined(this.text, end - 1, end)) continue;
      this.#cursor = end;
      return { start, end };
    }
    return undefined;
  }
}

/** True when the characters at `left` and `right` belong to one word of a spaced script. */
function joined(text: string, left: number, right: number): boolean {
  if (left < 0 || right >= text.length) return false;
  const before = text.charAt(left);
  const after = text.charAt(right);
  return WORD_CHAR.test(before) && WORD_CHAR.test(after) && !UNSPACED.test(before) && !UNSPACED.test(after);
}

function wordsBetween(text: string, from: number, to: number): number {
  return text.slice(from, to).match(/[\p{L}\p{N}]+/gu)?.length ?? 0;
}

/** A piece's words as engine `word` parts; the ones not found in the text are left out. */
export function wordParts(words: readonly ServerWord[], locator: WordLocator): EnginePart[] {
  const parts: EnginePart[] = [];
  for (const word of words) {
    const found = locator.locate(word.word);
    if (found === undefined) continue;
    parts.push({ type: 'word', textStart: found.start, textEnd: found.end, startMs: word.startSec * 1000, endMs: word.endSec * 1000 });
  }
  return parts;
}
