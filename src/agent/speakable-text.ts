/**
 * A sentence of a chat reply as it should be spoken. Language models write Markdown even when
 * asked not to; read aloud, its markup becomes "asterisk asterisk" or "hash". Link and emphasis
 * text is kept, the markup goes.
 */
export function speakableText(sentence: string): string {
  return sentence
    .replace(/!?\[([^\]]*)\]\([^)\s]*\)/g, '$1')
    .replace(/`+/g, '')
    .replace(/^[ \t]{0,3}#{1,6}[ \t]+/gm, '')
    .replace(/^[ \t]*(?:[-*+•])[ \t]+/gm, '')
    .replace(/\*+|~~|__(?=\S)|(?<=\S)__/g, '')
    .replace(/[ \t]{2,}/g, ' ')
    .trim();
}
