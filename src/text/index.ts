export type { Span } from './span.js';
export { normalizeText } from './normalize-text.js';
export type { NormalizedText, NormalizedTextMap } from './normalize-text.js';
export { splitSentences } from './split-sentences.js';
export { sentenceStream } from './sentence-stream.js';
export { chunkText } from './chunk-text.js';
export type { ChunkOptions } from './chunk-text.js';
export { findWords, hasSpeakableText, wordIndexAt } from './words.js';
export { detectScriptLanguage } from './detect-language.js';
