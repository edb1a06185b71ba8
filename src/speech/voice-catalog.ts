import type { EngineDescription } from '../engine/engine-description.js';
import { OPENAI_VOICE_GENDERS } from '../engine/openai-voices.js';
import type { EngineVoice } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';

/**
 * OpenAI's voice names, mapped to built-in eSpeak voices of a similar character so unmodified OpenAI
 * clients work. The mapping is fixed: the same OpenAI voice always sounds the same. Other engines
 * name their own (`EngineVoice.aliases`).
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


/** One engine's voices, looked up by id or alias, case-insensitively. */
export class VoiceCatalog {
  readonly engine: string;
  readonly voices: readonly EngineVoice[];
  readonly #byName = new Map<string, EngineVoice>();

  /** `extraAliases`: names → voice ids the engine's voices do not declare themselves (OpenAI's, for eSpeak). */
  constructor(voices: readonly EngineVoice[], engine = 'espeak', extraAliases: Readonly<Record<string, string>> = {}) {
    this.engine = engine;
    this.voices = voices;
    for (const voice of voices) this.#byName.set(voice.id.toLowerCase(), voice);
    // Ids win over aliases: an alias never hides a voice's own id.
    const alias = (name: string, voice: EngineVoice | undefined): void => {
      if (voice !== undefined && !this.#byName.has(name.toLowerCase())) this.#byName.set(name.toLowerCase(), voice);
    };
    for (const voice of voices) for (const name of voice.aliases ?? []) alias(name, voice);
    for (const [name, id] of Object.entries(extraAliases)) alias(name, this.#byName.get(id.toLowerCase()));
    // Unmodified OpenAI clients send `alloy` to whatever engine `model` picks (a one-voice Piper model too).
    if (voices.length > 0) {
      for (const [name, gender] of Object.entries(OPENAI_VOICE_GENDERS)) alias(name, this.defaultFor(gender));
    }
  }

  find(name: string): EngineVoice | undefined {
    return this.#byName.get(name.trim().toLowerCase());
  }

  /** Throws `voice_not_found` naming the field and the voices that exist. */
  resolve(name: string, param: string): EngineVoice {
    const voice = this.find(name);
    if (voice !== undefined) return voice;
    const aliases = [...this.#byName.keys()].filter((key) => !this.voices.some((v) => v.id.toLowerCase() === key));
    throw new ChorusError({
      code: 'voice_not_found',
      param,
      message:
        `Voice '${name}' not found on the ${this.engine} engine. Available voices: ${this.voices.map((v) => v.id).join(', ')}` +
        (aliases.length > 0 ? `; also accepted: ${aliases.join(', ')}.` : '.'),
    });
  }

  /** The engine's voice for a gender: eSpeak's `default`/`Amanda`, else the first voice of that gender. */
  defaultFor(gender: 'male' | 'female' | undefined): EngineVoice {
    const named = this.find(DEFAULT_BY_GENDER[gender ?? 'male']);
    if (named !== undefined) return named;
    const voice = this.voices.find((candidate) => candidate.gender === (gender ?? 'male')) ?? this.voices[0];
    if (voice === undefined) throw new ChorusError({ code: 'engine_unavailable', message: `The ${this.engine} engine has no voices.` });
    return voice;
  }
}

/** An engine voice with its engine. */
export interface EngineVoiceMatch {
  readonly engine: EngineDescription;
  readonly voice: EngineVoice;
}

/**
 * Every loaded engine and its voices. Voice names never collide across engines: the default
 * engine's voices keep their bare names, another engine's are `<engine>:<voice>` or a bare name with
 * that engine chosen by the request.
 */
export class EngineDirectory {
  readonly engines: readonly EngineDescription[];
  readonly default: EngineDescription;
  readonly #catalogs = new Map<string, VoiceCatalog>();

  constructor(engines: readonly EngineDescription[], defaultEngine: string) {
    this.engines = engines;
    const found = engines.find((engine) => engine.id === defaultEngine);
    if (found === undefined) throw new ChorusError({ code: 'engine_unavailable', message: `The default engine '${defaultEngine}' is not loaded.` });
    this.default = found;
    for (const engine of engines) {
      this.#catalogs.set(engine.id, new VoiceCatalog(engine.voices, engine.id, engine.id === 'espeak' ? OPENAI_VOICE_ALIASES : {}));
    }
  }

  has(engineId: string): boolean {
    return this.#catalogs.has(engineId);
  }

  /** An engine by id; absent = the default. Unknown: `model_not_found` naming `param` and listing the engines. */
  engine(id: string | undefined, param: string): EngineDescription {
    if (id === undefined) return this.default;
    const engine = this.engines.find((candidate) => candidate.id === id.trim().toLowerCase());
    if (engine !== undefined) return engine;
    throw new ChorusError({
      code: 'model_not_found',
      param,
      message: `Engine '${id}' is not loaded here. Available engines: ${this.engines.map((candidate) => candidate.id).join(', ')}.`,
    });
  }

  voices(engineId: string): VoiceCatalog {
    const catalog = this.#catalogs.get(engineId);
    if (catalog === undefined) throw new ChorusError({ code: 'model_not_found', message: `Engine '${engineId}' is not loaded here.` });
    return catalog;
  }

  /** `name` as `<engine>:<voice>`, or bare on `engineId` (absent: the default engine). */
  find(name: string, engineId?: string): EngineVoiceMatch | undefined {
    const colon = name.indexOf(':');
    if (colon > 0) {
      const prefix = name.slice(0, colon).trim().toLowerCase();
      const catalog = this.#catalogs.get(prefix);
      // A prefix naming another engine than the request's is a different voice, not this engine's.
      if (catalog !== undefined && (engineId === undefined || engineId === prefix)) {
        const voice = catalog.find(name.slice(colon + 1));
        return voice === undefined ? undefined : { engine: this.engine(prefix, 'voice'), voice };
      }
    }
    const engine = engineId === undefined ? this.default : this.engines.find((candidate) => candidate.id === engineId);
    if (engine === undefined) return undefined;
    const voice = this.#catalogs.get(engine.id)!.find(name);
    return voice === undefined ? undefined : { engine, voice };
  }

  /** How a voice is named back to users: bare on the default engine, `<engine>:<voice>` elsewhere. */
  qualifiedName(engineId: string, voiceId: string): string {
    return engineId === this.default.id ? voiceId : `${engineId}:${voiceId}`;
  }
}
