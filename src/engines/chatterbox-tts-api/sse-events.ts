/**
 * The `data` of each Server-Sent Event in a body, as events complete: the network cuts the body
 * anywhere (inside `data:`, inside a UTF-8 character, between the two newlines that end an event).
 * Multi-line data is joined with `\n`; comments and other fields are skipped (WHATWG HTML §9.2.6).
 */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  // The line being received, in the pieces it came in: an audio event's line is tens of kilobytes
  // and must not be copied or searched again for each piece.
  let line: string[] = [];
  let data: string[] = [];
  // The last piece ended in `\r`: a `\n` starting the next one belongs to it.
  let afterCarriageReturn = false;
  const lineEnd = /[\r\n]/g;
  for await (const piece of body) {
    let text = decoder.decode(piece, { stream: true });
    if (afterCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    afterCarriageReturn = false;
    let start = 0;
    lineEnd.lastIndex = 0;
    for (let match = lineEnd.exec(text); match !== null; match = lineEnd.exec(text)) {
      line.push(text.slice(start, match.index));
      start = match.index + 1;
      if (match[0] === '\r') {
        if (start === text.length) afterCarriageReturn = true;
        else if (text[start] === '\n') start++;
        lineEnd.lastIndex = start;
      }
      const complete = line.join('');
      line = [];
      if (complete === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (complete.startsWith('data:')) {
        data.push(complete.slice(complete[5] === ' ' ? 6 : 5));
      }
    }
    if (start < text.length) line.push(text.slice(start));
  }
  // An event needs its blank line: a stream cut before it delivered nothing complete.
}
