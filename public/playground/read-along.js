// The spoken text with one element per timed word: words already spoken are marked, and the
// current one (the last whose start has passed) stands out. Timings come from the server
// (`word_timings`: seconds from the start of the audio, character offsets into the input).

export function createReadAlong(container, text) {
  const words = [];
  let spans = [];
  let current = -1;
  container.textContent = text;
  container.dataset.currentWord = '-1';

  function render() {
    const fragment = document.createDocumentFragment();
    spans = [];
    let cursor = 0;
    for (const word of words) {
      // Offsets that run backwards or past the text cannot be placed; the word is still timed.
      if (word.char_start < cursor || word.char_end > text.length || word.char_end <= word.char_start) {
        spans.push(undefined);
        continue;
      }
      fragment.append(text.slice(cursor, word.char_start));
      const span = document.createElement('span');
      span.className = 'word';
      span.dataset.index = String(spans.length);
      span.dataset.start = String(word.start);
      span.title = `${word.start.toFixed(2)}–${word.end.toFixed(2)} s`;
      span.textContent = text.slice(word.char_start, word.char_end);
      fragment.append(span);
      spans.push(span);
      cursor = word.char_end;
    }
    fragment.append(text.slice(cursor));
    container.replaceChildren(fragment);
    const shown = current;
    current = -1;
    highlight(shown);
  }

  function highlight(index) {
    if (index === current) return;
    for (let i = Math.max(0, Math.min(index, current) + 1); i <= Math.max(index, current); i++) spans[i]?.classList.toggle('spoken', i <= index);
    spans[current]?.classList.remove('current');
    spans[index]?.classList.add('current');
    current = index;
    container.dataset.currentWord = String(index);
  }

  return {
    get wordCount() {
      return words.length;
    },
    addWords(batch) {
      words.push(...batch);
      words.sort((a, b) => a.start - b.start);
      render();
    },
    /** Marks the words up to the one being spoken at `seconds` into the audio. */
    at(seconds) {
      let index = -1;
      while (index + 1 < words.length && words[index + 1].start <= seconds) index++;
      highlight(index);
    },
  };
}
