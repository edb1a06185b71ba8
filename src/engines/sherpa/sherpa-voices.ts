import type { EngineVoice, Gender } from '../../engine/speech-engine.js';
import { ESPEAK_VOICES } from '../espeak/espeak-voices.js';
import type { CheckedModel } from './model-check.js';
import { OPENAI_VOICE_GENDERS } from '../../engine/openai-voices.js';

/**
 * The voices of an installed sherpa model. Kokoro names its speakers `<language><gender>_<name>`
 * (`af_heart`: American English, female), which gives each a language and gender; requests written
 * for OpenAI's voices or the named voices of the source documents reach a Kokoro speaker of the
 * same gender and accent through `aliases` (the table is in docs/neural-engines.md).
 */

/** Kokoro's language letters (hexgrad/kokoro `pipeline.py` LANG_CODES) as BCP-47 tags. */
export const KOKORO_LANGUAGES: Readonly<Record<string, string>> = {
  a: 'en-US',
  b: 'en-GB',
  e: 'es',
  f: 'fr',
  h: 'hi',
  i: 'it',
  j: 'ja',
  p: 'pt-BR',
  z: 'cmn',
};

export interface SpeakerTraits {
  readonly language: string | undefined;
  readonly gender: Gender;
}

/** A Kokoro speaker's language and gender, read from its name (`af_heart`: American English, female). */
export function kokoroTraits(speaker: string): SpeakerTraits {
  const match = /^([a-z])([fm])_/.exec(speaker);
  if (match === null) return { language: undefined, gender: 'neutral' };
  return { language: KOKORO_LANGUAGES[match[1]!], gender: match[2] === 'f' ? 'female' : 'male' };
}

function kittenTraits(speaker: string): SpeakerTraits {
  const gender = speaker.endsWith('-f') ? 'female' : speaker.endsWith('-m') ? 'male' : 'neutral';
  return { language: undefined, gender };
}

/** OpenAI's voices: Kokoro's speaker of the same name first, then one of the same gender and accent. */
const OPENAI_KOKORO_VOICES: readonly { alias: string; accent: 'a' | 'b'; prefer: string }[] = [
  { alias: 'alloy', accent: 'a', prefer: 'af_alloy' },
  { alias: 'ash', accent: 'a', prefer: 'am_adam' },
  { alias: 'ballad', accent: 'b', prefer: 'bm_george' },
  { alias: 'coral', accent: 'a', prefer: 'af_jessica' },
  { alias: 'echo', accent: 'a', prefer: 'am_echo' },
  { alias: 'fable', accent: 'b', prefer: 'bm_fable' },
  { alias: 'nova', accent: 'a', prefer: 'af_nova' },
  { alias: 'onyx', accent: 'a', prefer: 'am_onyx' },
  { alias: 'sage', accent: 'a', prefer: 'af_sarah' },
  { alias: 'shimmer', accent: 'a', prefer: 'af_bella' },
  { alias: 'verse', accent: 'a', prefer: 'am_michael' },
  { alias: 'marin', accent: 'a', prefer: 'af_heart' },
  { alias: 'cedar', accent: 'a', prefer: 'am_eric' },
];

/** The accents of the named voices, as Kokoro's two English accents. */
function accentGroup(accent: string): 'a' | 'b' {
  return /British|Scottish|Lancashire/.test(accent) ? 'b' : 'a';
}

/**
 * Alias → speaker for a Kokoro model's speakers: each OpenAI voice and each named voice (in the
 * library's order, shared out in turn among the speakers of its gender and accent so that
 * different names sound different), plus `default` for Kokoro's own default `af_heart`.
 */
export function kokoroAliases(speakers: readonly string[]): Map<string, string> {
  const candidates = (gender: Gender, accent: 'a' | 'b'): string[] => {
    const letter = gender === 'female' ? 'f' : 'm';
    const exact = speakers.filter((speaker) => speaker.startsWith(`${accent}${letter}_`));
    if (exact.length > 0) return exact;
    const english = speakers.filter((speaker) => /^[ab]/.test(speaker) && kokoroTraits(speaker).gender === gender);
    if (english.length > 0) return english;
    const sameGender = speakers.filter((speaker) => kokoroTraits(speaker).gender === gender);
    return sameGender.length > 0 ? sameGender : [...speakers];
  };
  const aliases = new Map<string, string>();
  if (speakers.length === 0) return aliases;
  aliases.set('default', speakers.includes('af_heart') ? 'af_heart' : speakers[0]!);
  for (const voice of OPENAI_KOKORO_VOICES) {
    aliases.set(voice.alias, speakers.includes(voice.prefer) ? voice.prefer : candidates(OPENAI_VOICE_GENDERS[voice.alias]!, voice.accent)[0]!);
  }
  const turns = new Map<string, number>();
  for (const named of ESPEAK_VOICES) {
    if (named.name === 'default') continue;
    const accent = accentGroup(named.accent);
    const pool = candidates(named.gender, accent);
    const key = `${named.gender}/${accent}`;
    const turn = turns.get(key) ?? 0;
    turns.set(key, turn + 1);
    aliases.set(named.name, pool[turn % pool.length]!);
  }
  return aliases;
}

/** `kokoroAliases` turned round: each speaker's aliases. */
export function kokoroAliasesBySpeaker(speakers: readonly string[]): Map<string, string[]> {
  const bySpeaker = new Map<string, string[]>();
  for (const [alias, speaker] of kokoroAliases(speakers)) bySpeaker.set(speaker, [...(bySpeaker.get(speaker) ?? []), alias]);
  return bySpeaker;
}

export function voicesOf(model: CheckedModel): EngineVoice[] {
  const { manifest } = model;
  const fallbackLanguage = manifest.languages[0] ?? 'en';
  if (manifest.family === 'pocket') {
    return [...model.referenceClips.keys()].map((clip) => ({
      id: clip,
      name: clip,
      gender: 'neutral',
      language: fallbackLanguage,
      description: `Cloned from the reference clip test_wavs/${clip}.wav shipped with ${manifest.name}.`,
    }));
  }
  const aliasesBySpeaker = manifest.family === 'kokoro' ? kokoroAliasesBySpeaker(model.speakers) : new Map<string, string[]>();
  return model.speakers.map((speaker, sid) => {
    const traits = manifest.family === 'kokoro' ? kokoroTraits(speaker) : manifest.family === 'kitten' ? kittenTraits(speaker) : undefined;
    const aliases = aliasesBySpeaker.get(speaker);
    return {
      id: speaker,
      name: speaker,
      gender: traits?.gender ?? 'neutral',
      language: traits?.language ?? fallbackLanguage,
      description: `${manifest.family} speaker ${sid} of ${manifest.name}.`,
      ...(aliases === undefined ? {} : { aliases }),
    };
  });
}
