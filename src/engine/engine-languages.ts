import type { EngineLanguage } from './speech-engine.js';

/**
 * The BCP-47 spelling of an engine's language code: language lower case, script title case, region
 * upper case (`en-us` → `en-US`, `sr-latn` → `sr-Latn`); private-use and longer subtags kept as they are.
 */
export function bcp47Tag(code: string): string {
  const [language = '', ...rest] = code.split(/[-_]/);
  let privateUse = false;
  const subtags = rest.map((subtag) => {
    if (subtag.toLowerCase() === 'x') privateUse = true;
    if (privateUse) return subtag.toLowerCase();
    if (/^[a-z]{2}$/i.test(subtag) || /^\d{3}$/.test(subtag)) return subtag.toUpperCase();
    if (/^[a-z]{4}$/i.test(subtag)) return subtag[0]!.toUpperCase() + subtag.slice(1).toLowerCase();
    return subtag.toLowerCase();
  });
  return [language.toLowerCase(), ...subtags].join('-');
}

/** The language a request names, by tag or engine code, case-insensitively (`_` taken as `-`). */
export function findLanguage(languages: readonly EngineLanguage[], requested: string): EngineLanguage | undefined {
  const wanted = requested.trim().toLowerCase().replaceAll('_', '-');
  return languages.find((language) => language.code.toLowerCase() === wanted || language.tag.toLowerCase() === wanted);
}
