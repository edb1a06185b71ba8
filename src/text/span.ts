/** A piece of a text: UTF-16 offsets [start, end) into the text it was taken from, and `text.slice(start, end)`. */
export interface Span {
  start: number;
  end: number;
  text: string;
}

export function makeSpan(source: string, start: number, end: number): Span {
  return { start, end, text: source.slice(start, end) };
}
