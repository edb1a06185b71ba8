import type { EngineVoice, Gender } from '../../engine/speech-engine.js';

/**
 * The built-in voices: the 37 named speakers of the Chatterbox voice library (21 male, 16 female)
 * plus `default`. eSpeak cannot imitate those recordings, so each name gets its own eSpeak
 * character instead: accent (base voice), variant (formant set), pitch, pitch range and rate.
 */
export interface EspeakVoiceDefinition {
  readonly name: string;
  readonly gender: Gender;
  /** eSpeak base voice: sets accent and default language. */
  readonly base: string;
  /** eSpeak variant file under voices/!v. */
  readonly variant: string;
  /** eSpeak parameters: pitch 0-100 (50 = voice default), range 0-100, rate in words per minute. */
  readonly pitch: number;
  readonly range: number;
  readonly rate: number;
  readonly accent: string;
}

const v = (
  name: string,
  gender: Gender,
  base: string,
  variant: string,
  pitch: number,
  range: number,
  rate: number,
  accent: string,
): EspeakVoiceDefinition => ({ name, gender, base, variant, pitch, range, rate, accent });

export const ESPEAK_VOICES: readonly EspeakVoiceDefinition[] = [
  v('default', 'male', 'en-us', '', 50, 50, 175, 'American'),
  // male (21)
  v('Aaron', 'male', 'en-us', 'm1', 46, 55, 178, 'American'),
  v('Adam', 'male', 'en-us', 'm3', 40, 45, 170, 'American'),
  v('Adrian', 'male', 'en-gb-x-rp', 'm2', 48, 60, 172, 'British (RP)'),
  v('Alan', 'male', 'en-gb-scotland', 'm4', 42, 50, 168, 'Scottish'),
  v('Albert', 'male', 'en-gb', 'm6', 36, 40, 160, 'British'),
  v('Alex', 'male', 'en-us', 'm7', 52, 62, 182, 'American'),
  v('Alexander', 'male', 'en-gb-x-rp', 'm8', 38, 48, 165, 'British (RP)'),
  v('Andrew', 'male', 'en-us', 'Andy', 45, 58, 176, 'American'),
  v('Anthony', 'male', 'en-us-nyc', 'Denis', 44, 52, 180, 'New York'),
  v('Arthur', 'male', 'en-gb', 'Diogo', 34, 42, 158, 'British'),
  v('Austin', 'male', 'en-us', 'Lee', 50, 65, 185, 'American'),
  v('Benjamin', 'male', 'en-gb', 'Henrique', 40, 55, 170, 'British'),
  v('Blake', 'male', 'en-us', 'Storm', 38, 50, 174, 'American'),
  v('Brandon', 'male', 'en-us', 'travis', 47, 60, 188, 'American'),
  v('Brian', 'male', 'en-029', 'm3', 45, 57, 172, 'Caribbean'),
  v('Bruce', 'male', 'en-gb-x-gbclan', 'm2', 35, 45, 164, 'Lancashire'),
  v('Bryan', 'male', 'en-us', 'victor', 43, 48, 179, 'American'),
  v('Carl', 'male', 'en-gb', 'croak', 39, 44, 166, 'British'),
  v('Charles', 'male', 'en-gb-x-rp', 'michel', 41, 52, 162, 'British (RP)'),
  v('Christian', 'male', 'en-us', 'antonio', 49, 63, 183, 'American'),
  v('Christopher', 'male', 'en-us-nyc', 'sandro', 37, 47, 171, 'New York'),
  // female (16)
  v('Abigail', 'female', 'en-us', 'f1', 55, 60, 175, 'American'),
  v('Amanda', 'female', 'en-us', 'f2', 58, 65, 178, 'American'),
  v('Amy', 'female', 'en-gb', 'f3', 60, 62, 172, 'British'),
  v('Angela', 'female', 'en-us', 'f4', 52, 58, 170, 'American'),
  v('Anna', 'female', 'en-gb-x-rp', 'f5', 57, 55, 168, 'British (RP)'),
  v('Ashley', 'female', 'en-us', 'Alicia', 54, 66, 185, 'American'),
  v('Barbara', 'female', 'en-gb', 'grandma', 50, 50, 160, 'British'),
  v('Betty', 'female', 'en-us', 'Annie', 56, 64, 174, 'American'),
  v('Beverly', 'female', 'en-gb-scotland', 'f2', 53, 57, 169, 'Scottish'),
  v('Brenda', 'female', 'en-us', 'linda', 51, 60, 177, 'American'),
  v('Brittany', 'female', 'en-us', 'Andrea', 59, 70, 190, 'American'),
  v('Carol', 'female', 'en-gb', 'belinda', 52, 54, 165, 'British'),
  v('Carolyn', 'female', 'en-029', 'f3', 55, 61, 171, 'Caribbean'),
  v('Catherine', 'female', 'en-gb-x-rp', 'steph', 58, 59, 167, 'British (RP)'),
  v('Christina', 'female', 'en-us', 'anika', 50, 63, 181, 'American'),
  v('Christine', 'female', 'en-us-nyc', 'steph2', 57, 56, 176, 'New York'),
];

export const DEFAULT_VOICE_BY_GENDER: Readonly<Record<'male' | 'female', string>> = {
  male: 'default',
  female: 'Amanda',
};

export function toEngineVoice(definition: EspeakVoiceDefinition): EngineVoice {
  const variant = definition.variant === '' ? 'no variant' : `variant ${definition.variant}`;
  return {
    id: definition.name,
    name: definition.name,
    gender: definition.gender,
    language: definition.base,
    description:
      definition.name === 'default'
        ? 'eSpeak NG default American English voice'
        : `${definition.accent} English, ${definition.gender}; eSpeak NG ${definition.base} ${variant}`,
  };
}
