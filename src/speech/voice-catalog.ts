import type { EngineVoice } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';

/**
 * OpenAI's voice names, mapped to built-in voices of a similar character so unmodified OpenAI
 * clients work. The mapping is fixed: the same OpenAI voice always sounds the same.
 */
export const OPENAI_VOICE_ALIASES: Readonly<Record<string, string>> = {
  alloy: 'Ashley',
  ash: 'Adam',
  ballad: 'Arthur',
  coral: 'Amy',
  echo: 'Aaron',
  fable: 'Alexander',
  onyx: 'Albert',
  nova: 'Amanda',
  sage: 'Anna',
  shimmer: 'Brittany',
  verse: 'Andrew',
  marin: 'Catherine',
  cedar: 'Charles',
};

/**
 * The built-in voice an OpenAI name stands for. The table is a plain object, so a name such as
 * `constructor` or `__proto__` must not be read through its prototype.
 */
export function openAIAlias(name: string): string | undefined {
  const key = name.trim().toLowerCase();
  return Object.hasOwn(OPENAI_VOICE_ALIASES, key) ? OPENAI_VOICE_ALIASES[key] : undefined;
}

const DEFAULT_BY_GENDER = { male: 'default', female: 'Amanda' } as const;

/** Looks voices up by name, case-insensitively, including OpenAI aliases. */
export class VoiceCatalog {
  readonly voices: readonly EngineVoice[];
  readonly #byName = new Map<string, EngineVoice>();

  constructor(voices: readonly EngineVoice[]) {
    this.voices = voices;
    for (const voice of voices) this.#byName.set(voice.id.toLowerCase(), voice);
  }

  find(name: string): EngineVoice | undefined {
    return this.#byName.get(name.trim().toLowerCase()) ?? this.#byName.get(openAIAlias(name)?.toLowerCase() ?? '');
  }

  /** Throws `voice_not_found` naming the field and the voices that exist. */
  resolve(name: string, param: string): EngineVoice {
    const voice = this.find(name);
    if (voice !== undefined) return voice;
    throw new ChorusError({
      code: 'voice_not_found',
      param,
      message: `Voice '${name}' not found. Available voices: ${this.voices.map((v) => v.id).join(', ')}; OpenAI names ${Object.keys(OPENAI_VOICE_ALIASES).join(', ')} are accepted too.`,
    });
  }

  defaultFor(gender: 'male' | 'female' | undefined): EngineVoice {
    return this.resolve(DEFAULT_BY_GENDER[gender ?? 'male'], 'speaker_gender');
  }
}
