// Picks an eSpeak NG language from the writing system alone, for text whose script gives the language away.

/** Scripts that identify a language well enough for eSpeak, with the code to use. */
const SCRIPTS: readonly { code: string; pattern: RegExp }[] = [
  { code: 'ko', pattern: /\p{sc=Hangul}/gu },
  { code: 'ru', pattern: /\p{sc=Cyrillic}/gu },
  { code: 'ar', pattern: /\p{sc=Arabic}/gu },
  { code: 'hi', pattern: /\p{sc=Devanagari}/gu },
  { code: 'el', pattern: /\p{sc=Greek}/gu },
  { code: 'he', pattern: /\p{sc=Hebrew}/gu },
  { code: 'th', pattern: /\p{sc=Thai}/gu },
  { code: 'ka', pattern: /\p{sc=Georgian}/gu },
  { code: 'hy', pattern: /\p{sc=Armenian}/gu },
  { code: 'bn', pattern: /\p{sc=Bengali}/gu },
  { code: 'ta', pattern: /\p{sc=Tamil}/gu },
];
const HAN = /\p{sc=Han}/gu;
const KANA = /[\p{sc=Hiragana}\p{sc=Katakana}]/gu;
/** Letters and script-specific marks (vowel signs etc.); Common/Inherited characters do not count. */
const LETTER = /(?=[\p{L}\p{M}])[^\p{sc=Zyyy}\p{sc=Zinh}]/gu;
/** Only this much of the text is looked at. */
const SAMPLE_CHARS = 20_000;

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

/**
 * Returns an eSpeak NG language code when more than half of the letters of `text` are in one script that
 * identifies a language: Han -> 'cmn' (or 'ja' when kana make up at least 5% of the Han+kana letters, or
 * any kana in short text), Hangul 'ko', Cyrillic 'ru', Arabic 'ar', Devanagari 'hi', Greek 'el', Hebrew 'he',
 * Thai 'th', Georgian 'ka', Armenian 'hy', Bengali 'bn', Tamil 'ta'. Returns undefined otherwise (including
 * Latin text, whose language cannot be told from the script). Only the first 20,000 characters are examined.
 */
export function detectScriptLanguage(text: string): string | undefined {
  const sample = text.length > SAMPLE_CHARS ? text.slice(0, SAMPLE_CHARS) : text;
  const letters = count(sample, LETTER);
  if (letters === 0) return undefined;
  const half = letters / 2;

  const han = count(sample, HAN);
  const kana = count(sample, KANA);
  if (han + kana > half) return kana > 0 && kana * 20 >= han + kana - 20 ? 'ja' : 'cmn';

  for (const { code, pattern } of SCRIPTS) {
    if (count(sample, pattern) > half) return code;
  }
  return undefined;
}
