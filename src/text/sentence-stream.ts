import { endsSentenceForSure, splitSentences } from './split-sentences.js';

/**
 * Text that arrives in pieces (a language model's deltas) regrouped into whole sentences, each
 * yielded as soon as it is known to be complete: when it ends in a way no continuation can undo
 * ("there." "you?"), when the next sentence has begun after it (so "Dr." or "3." wait for the next
 * piece to tell), or when the text ends. Speech can then start on the first sentence while the
 * model is still writing the rest.
 */
export async function* sentenceStream(pieces: AsyncIterable<string>): AsyncIterable<string> {
  let buffer = '';
  for await (const piece of pieces) {
    buffer += piece;
    const sentences = splitSentences(buffer);
    if (sentences.length === 0) continue;
    for (const sentence of sentences.slice(0, -1)) yield sentence.text;
    const last = sentences[sentences.length - 1]!;
    if (endsSentenceForSure(buffer)) {
      yield last.text;
      buffer = '';
    } else {
      buffer = buffer.slice(last.start);
    }
  }
  for (const sentence of splitSentences(buffer)) yield sentence.text;
}
