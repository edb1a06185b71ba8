import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { voiceDistance, type VoiceProfile } from '../audio/analysis/voice-profile.js';
import { planVoiceTransform } from '../audio/dsp/voice-transform.js';
import type { AudioContainer } from '../audio/decode-audio.js';
import type { EngineDescription } from '../engine/engine-description.js';
import type { EngineVoice, PreparedVoice, VoiceReference } from '../engine/speech-engine.js';
import type { SpeechRequest } from '../pipeline/speech-request.js';
import { ChorusError } from '../errors.js';
import type { SpeechService } from '../speech/speech-service.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { AnalyzeVoiceResult } from '../workers/audio-tasks.js';
import { openAIAlias } from '../speech/voice-catalog.js';
import type { UserVoiceRecord, UserVoiceType, VoiceMatch } from './voice-record.js';
import type { VoiceStore } from './voice-store.js';

/** Reference length the Chatterbox document asks of a cloned voice, seconds. */
export const CLONE_DURATION_SEC = { minSec: 5, maxSec: 60 } as const;
/** What the embedded engine does instead of cloning; said in every response that involves it. */
export const VOICE_MATCHING_NOTE =
  'Voice matching, not neural cloning: the embedded eSpeak engine cannot reproduce a timbre. Chorus analysed the reference ' +
  "(pitch median and range, speaking rate, spectral envelope) and speaks with the nearest built-in voice moved to the reference's " +
  'pitch, range, formant scale and rate. A neural engine (configured separately) clones through the same calls.';

const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} _.'-]{0,99}$/u;
/** Spoken by every built-in voice to measure it; covers most English vowels and a natural sentence rhythm. */
const CALIBRATION_TEXT =
  'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore, and I would like to hear about your day.';
const FEMALE_PITCH_HZ = 165;
/** Measuring the built-in voices takes seconds; this only guards against a stuck worker. */
const BUILTIN_PROFILES_TIMEOUT_MS = 300_000;

/** A voice as a request resolved it: what the pipeline renders and how it is named back to the user. */
export interface ResolvedVoice {
  readonly kind: 'builtin' | 'user' | 'reference';
  readonly name: string;
  /** 8 hex digits (built-ins: a digest of the name; references sent inline: of their profile). */
  readonly voiceId: string;
  /** The engine that speaks it. */
  readonly engine: string;
  /** The engine voice rendered underneath. */
  readonly engineVoiceId: string;
  readonly gender: 'male' | 'female' | 'neutral' | undefined;
  /** Present when the voice is matched rather than native (user and reference voices on eSpeak). */
  readonly match?: VoiceMatch;
  /** Zero-shot cloning: the recording the engine speaks as, and what it prepared from it. */
  readonly reference?: VoiceReference;
  readonly prepared?: PreparedVoice;
  readonly record?: UserVoiceRecord;
}

/** How a voice is spoken, as responses say it (`voice_method`). */
export function voiceMethod(voice: Pick<ResolvedVoice, 'match' | 'reference'>): 'builtin' | 'voice_matching' | 'zero_shot' {
  return voice.reference !== undefined ? 'zero_shot' : voice.match !== undefined ? 'voice_matching' : 'builtin';
}

type VoiceRequestField = 'engine' | 'voiceId' | 'voiceMatch' | 'reference' | 'prepared';
/** The part of a pipeline request that a voice decides. */
export type VoiceRequestFields = Pick<SpeechRequest, 'engine' | 'voiceId'> & Partial<Pick<SpeechRequest, 'voiceMatch' | 'reference' | 'prepared'>>;

/** What job outputs say about how the voice was spoken (absent for a built-in voice). */
export function voiceMethodFields(voice: ResolvedVoice): Record<string, string> {
  const method = voiceMethod(voice);
  if (method === 'voice_matching') return { voice_method: 'voice_matching', base_voice: voice.match!.baseVoice, note: VOICE_MATCHING_NOTE };
  if (method === 'zero_shot') return { voice_method: 'zero_shot', engine: voice.engine };
  return {};
}

/** The one way a resolved voice becomes a pipeline request: its engine, voice, match or reference, plus the rest. */
export function speechRequestFor<Fields extends Omit<Partial<SpeechRequest>, VoiceRequestField>>(voice: ResolvedVoice, fields: Fields): Fields & VoiceRequestFields {
  return {
    ...fields,
    engine: voice.engine,
    voiceId: voice.engineVoiceId,
    ...(voice.match === undefined || voice.reference !== undefined ? {} : { voiceMatch: { transform: voice.match.transform, rate: voice.match.rate } }),
    ...(voice.reference === undefined ? {} : { reference: voice.reference }),
    ...(voice.prepared === undefined ? {} : { prepared: voice.prepared }),
  };
}

export interface NewVoice {
  readonly name: string;
  readonly description?: string;
  readonly transcript?: string;
  readonly type: UserVoiceType;
  /** The reference file as uploaded. */
  readonly audio: Uint8Array;
  /** The request field the audio came in, for error messages. */
  readonly param: string;
  /** Field that carried the name (`voice_name`, `id`). */
  readonly nameParam: string;
  /** The engine to clone with (`engine`/`model` input); absent = the first neural one, else voice matching. */
  readonly engine?: string;
}

export interface ReferenceLimits {
  readonly minSec: number;
  readonly maxSec: number;
  /** Analyse only this much of the start. */
  readonly maxAnalysedSec?: number;
}

export interface AnalysedReference {
  readonly analysis: AnalyzeVoiceResult;
  readonly match: VoiceMatch;
  readonly gender: 'male' | 'female' | undefined;
}

/** A built-in voice's stable id: the first 8 hex digits of sha256 of its name. */
export function builtinVoiceId(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 8);
}

/**
 * The one voice library every API shares: the engine's built-in voices plus the voices each API key
 * made (cloning, references). A voice made through one API is usable by name or id through all
 * others; a key never sees another key's voices.
 */
export class VoiceLibrary {
  readonly #store: VoiceStore;
  readonly #blobs: BlobStore;
  readonly #speech: SpeechService;
  readonly #profilesFile: string | undefined;
  readonly #builtinsById: Map<string, { engine: EngineDescription; voice: EngineVoice }>;
  #builtinProfiles: Promise<Map<string, VoiceProfile>> | undefined;
  readonly #replans = new Map<string, Promise<VoiceMatch>>();
  /** Decoded references and what engines prepared from them, per voice: decoded once, not per request. */
  readonly #references = new Map<string, Promise<{ reference: VoiceReference; prepared: PreparedVoice | undefined }>>();

  constructor(options: { store: VoiceStore; blobs: BlobStore; speech: SpeechService; dataDir?: string }) {
    this.#store = options.store;
    this.#blobs = options.blobs;
    this.#speech = options.speech;
    const engine = options.speech.matching.engine;
    this.#profilesFile =
      options.dataDir === undefined ? undefined : join(options.dataDir, 'voice-profiles', `${safe(engine.id)}-${safe(engine.version)}.json`);
    const directory = options.speech.engines;
    // A built-in voice's id digests its name as users write it: bare on the default engine, so ids stay as they were.
    this.#builtinsById = new Map(
      directory.engines.flatMap((description) =>
        description.voices.map((voice) => [builtinVoiceId(directory.qualifiedName(description.id, voice.id)), { engine: description, voice }] as const),
      ),
    );
  }

  /** The engine matched voices are planned for, `id@version`. */
  get engineKey(): string {
    return `${this.#speech.matching.engine.id}@${this.#speech.matching.engine.version}`;
  }

  /** The voices voice matching renders with (eSpeak's), `default` first. */
  builtins(): readonly EngineVoice[] {
    return this.#speech.matching.voices.voices;
  }

  /** Every loaded engine's built-in voices with their engine. */
  allBuiltins(): readonly { readonly engine: EngineDescription; readonly voice: EngineVoice; readonly name: string; readonly voiceId: string }[] {
    const directory = this.#speech.engines;
    return directory.engines.flatMap((engine) =>
      engine.voices.map((voice) => {
        const name = directory.qualifiedName(engine.id, voice.id);
        return { engine, voice, name, voiceId: builtinVoiceId(name) };
      }),
    );
  }

  /**
   * The engine a new voice is cloned with: the one asked for, else the first loaded engine that
   * clones neurally, else eSpeak's voice matching. Unknown engines are `model_not_found`.
   */
  cloningEngine(requested: string | undefined, param = 'engine'): EngineDescription {
    if (requested !== undefined) return this.#speech.engines.engine(requested, param);
    return this.#speech.engines.engines.find((engine) => engine.capabilities.cloning === 'neural') ?? this.#speech.matching.engine;
  }

  /**
   * A voice by name (built-in names and OpenAI aliases included) or by id. Unknown voices are
   * `voice_not_found` naming `param`; a voice of another key is unknown.
   */
  async resolve(owner: string, reference: { name?: string; id?: string }, param: string, engine?: string): Promise<ResolvedVoice> {
    const engines = this.#speech.engines;
    if (reference.name !== undefined) {
      const builtin = engines.find(reference.name, engine);
      if (builtin !== undefined) return this.#builtin(builtin.engine, builtin.voice);
      const user = await this.#store.findByName(owner, reference.name);
      if (user !== undefined) return this.#user(user, engine);
      // A name that is an id is accepted too: OpenAI clients can only send a string.
      const byId = await this.#byId(owner, reference.name, engine);
      if (byId !== undefined) return byId;
      throw notFound(reference.name, param, engine);
    }
    if (reference.id !== undefined) {
      const byId = await this.#byId(owner, reference.id, engine);
      if (byId !== undefined) return byId;
      // OpenAI's `{"id": "…"}` is also sent with a voice's name.
      const builtin = engines.find(reference.id, engine);
      if (builtin !== undefined) return this.#builtin(builtin.engine, builtin.voice);
      const user = await this.#store.findByName(owner, reference.id);
      if (user !== undefined) return this.#user(user, engine);
      throw notFound(reference.id, param, engine);
    }
    const description = engines.engine(engine, 'engine');
    return this.#builtin(description, engines.voices(description.id).defaultFor(undefined));
  }

  /** The engine's default voice for a gender (`speaker_gender`), resolved like any other. */
  async defaultVoice(owner: string, gender: 'male' | 'female' | undefined, engine?: string): Promise<ResolvedVoice> {
    const description = this.#speech.engines.engine(engine, 'engine');
    return this.#builtin(description, this.#speech.engines.voices(description.id).defaultFor(gender));
  }

  async listUserVoices(owner: string): Promise<UserVoiceRecord[]> {
    return this.#store.list(owner);
  }

  async getUserVoice(owner: string, idOrName: string): Promise<UserVoiceRecord | undefined> {
    return (await this.#store.get(owner, idOrName.trim().toLowerCase())) ?? (await this.#store.findByName(owner, idOrName));
  }

  /** Fails fast, before any analysis, when `name` cannot become a voice of `owner`. */
  async checkNewName(owner: string, name: string, param: string): Promise<void> {
    const trimmed = name.trim();
    if (!NAME_PATTERN.test(trimmed)) {
      throw new ChorusError({
        code: 'invalid_request',
        param,
        message: `'${param}' must be 1 to 100 letters, digits, spaces, '_', '.', "'" or '-', starting with a letter or digit; got ${JSON.stringify(name)}.`,
      });
    }
    if (this.#speech.engines.engines.some((engine) => this.#speech.engines.find(trimmed, engine.id) !== undefined) || openAIAlias(trimmed) !== undefined) {
      throw new ChorusError({ code: 'conflict', param, message: `'${trimmed}' is the name of a built-in voice; choose another name.` });
    }
    if (this.#builtinsById.has(trimmed.toLowerCase())) {
      throw new ChorusError({ code: 'conflict', param, message: `'${trimmed}' is the id of a built-in voice; choose another name.` });
    }
    if ((await this.#store.findByName(owner, trimmed)) !== undefined) {
      throw new ChorusError({ code: 'conflict', param, message: `A voice named '${trimmed}' already exists; choose another name or delete it first.` });
    }
  }

  /** Analyses reference audio and plans how the engine will speak like it. Nothing is stored. */
  async analyseReference(audio: Uint8Array, param: string, limits: ReferenceLimits, signal: AbortSignal): Promise<AnalysedReference> {
    const analysis = await this.#speech.runTask({ kind: 'analyze-voice', bytes: audio, param, ...limits }, signal);
    const match = await this.planMatch(analysis.profile, signal);
    return { analysis, match, gender: genderOf(analysis.profile) };
  }

  /** An inline reference (`reference_audio`, `prompt_speech_url`) as a voice for one request. */
  async referenceVoice(
    audio: Uint8Array,
    param: string,
    limits: ReferenceLimits,
    signal: AbortSignal,
    options: { engine?: string; transcript?: string } = {},
  ): Promise<ResolvedVoice & { analysis: AnalyzeVoiceResult }> {
    const { analysis, match, gender } = await this.analyseReference(audio, param, limits, signal);
    const voiceId = createHash('sha256').update(audio).digest('hex').slice(0, 8);
    const base = { kind: 'reference' as const, name: 'reference audio', voiceId, gender, match, analysis };
    const cloning = this.cloningEngine(options.engine);
    if (cloning.capabilities.cloning !== 'neural') return { ...base, engine: this.#speech.matching.engine.id, engineVoiceId: match.baseVoice };
    const decoded = await this.#speech.runTask({ kind: 'decode-audio', bytes: audio, param, maxSec: limits.maxAnalysedSec ?? limits.maxSec }, signal);
    const reference: VoiceReference = { ...decoded, key: `reference:${voiceId}`, ...(options.transcript === undefined ? {} : { transcript: options.transcript }) };
    const prepared = await this.#speech.prepareVoice(cloning.id, reference, signal);
    return { ...base, ...zeroShot(cloning, reference, prepared) };
  }

  /**
   * Makes a user voice: analyse, plan the match, store the audio, then the metadata. A failure at
   * any step leaves nothing behind (the audio is removed if the metadata cannot be written).
   */
  async create(owner: string, voice: NewVoice, signal: AbortSignal): Promise<UserVoiceRecord> {
    const name = voice.name.trim();
    await this.checkNewName(owner, name, voice.nameParam);
    const cloning = this.cloningEngine(voice.engine);
    const { analysis, match, gender } = await this.analyseReference(voice.audio, voice.param, CLONE_DURATION_SEC, signal);
    const record = await this.#newRecord(owner, name, voice, analysis, match, gender, cloning);
    await this.#blobs.put(record.audioKey, voice.audio, record.audioContentType);
    try {
      await this.#store.insert(record);
    } catch (error) {
      await this.#blobs.delete(record.audioKey).catch(() => undefined);
      throw ChorusError.isInstance(error) && error.code === 'conflict'
        ? new ChorusError({ code: 'conflict', param: voice.nameParam, message: error.message })
        : error;
    }
    return record;
  }

  /** A record like `create` makes, without storing anything (`save_to_library: false`). */
  async describeUnsaved(owner: string, voice: NewVoice, signal: AbortSignal): Promise<UserVoiceRecord> {
    const name = voice.name.trim();
    const cloning = this.cloningEngine(voice.engine);
    const { analysis, match, gender } = await this.analyseReference(voice.audio, voice.param, CLONE_DURATION_SEC, signal);
    return this.#newRecord(owner, name, voice, analysis, match, gender, cloning);
  }

  /** Deletes a user voice by id or name. Built-in voices cannot be deleted; another key's voice is not found. */
  async delete(owner: string, idOrName: string, param: string): Promise<UserVoiceRecord> {
    const builtin = this.#speech.engines.find(idOrName) ?? this.#builtinsById.get(idOrName.trim().toLowerCase());
    if (builtin !== undefined) {
      throw new ChorusError({ code: 'forbidden', param, message: `'${idOrName}' is a built-in voice; only voices you created can be deleted.` });
    }
    const record = await this.getUserVoice(owner, idOrName);
    if (record === undefined || !(await this.#store.delete(owner, record.voiceId))) {
      throw new ChorusError({ code: 'not_found', param, message: `Voice '${idOrName}' not found in your voice library.` });
    }
    await this.#blobs.delete(record.audioKey).catch(() => undefined);
    return record;
  }

  /** The profile a conversion moves toward: a user voice's reference, or a built-in voice's calibration rendering. */
  async targetProfile(voice: ResolvedVoice, signal: AbortSignal): Promise<VoiceProfile> {
    if (voice.record !== undefined) return voice.record.profile;
    const profiles = await this.builtinProfiles(signal);
    const profile = voice.engine === this.#speech.matching.engine.id ? profiles.get(voice.engineVoiceId) : undefined;
    if (profile === undefined) {
      throw new ChorusError({ code: 'invalid_request', param: 'target_voice', message: `Voice '${voice.name}' has no measured profile to convert toward (only eSpeak voices and library voices do).` });
    }
    return profile;
  }

  /**
   * How a record made by `describeUnsaved` speaks, without a store: its own audio as the reference
   * when it is zero-shot (the voice-cloning sample), else its match.
   */
  async unsavedVoice(record: UserVoiceRecord, audio: Uint8Array, signal: AbortSignal): Promise<ResolvedVoice> {
    const base = { kind: 'user' as const, name: record.name, voiceId: record.voiceId, gender: record.gender, match: record.match, record };
    const engine = this.#zeroShotEngine(record, undefined);
    if (engine === undefined) return { ...base, engine: this.#speech.matching.engine.id, engineVoiceId: record.match.baseVoice };
    const { reference, prepared } = await this.#decodeReference(record, audio, engine, signal);
    return { ...base, ...zeroShot(engine, reference, prepared) };
  }

  /** Nearest built-in voice (same gender first) and the transform that moves it to `target`. */
  async planMatch(target: VoiceProfile, signal: AbortSignal): Promise<VoiceMatch> {
    const profiles = await this.builtinProfiles(signal);
    const gender = genderOf(target);
    let best: { voice: string; distance: number } | undefined;
    for (const voice of this.builtins()) {
      const profile = profiles.get(voice.id);
      if (profile === undefined) continue;
      const sameGender = gender === undefined || voice.gender === gender;
      const distance = voiceDistance(profile, target) + (sameGender ? 0 : 1000);
      if (best === undefined || distance < best.distance) best = { voice: voice.id, distance };
    }
    if (best === undefined) throw new ChorusError({ code: 'internal', message: 'No built-in voice profiles to match against.' });
    const base = profiles.get(best.voice)!;
    const rate = base.syllablesPerSec > 0 && target.syllablesPerSec > 0 ? clamp(target.syllablesPerSec / base.syllablesPerSec, 0.75, 1.35) : 1;
    return { method: 'voice_matching', baseVoice: best.voice, transform: planVoiceTransform(base, target), rate: round(rate, 3) };
  }

  /** Each built-in voice's profile, measured once per engine version and kept in the data directory. */
  async builtinProfiles(signal: AbortSignal): Promise<Map<string, VoiceProfile>> {
    this.#builtinProfiles ??= this.#loadBuiltinProfiles().catch((error: unknown) => {
      this.#builtinProfiles = undefined;
      throw error;
    });
    if (signal.aborted) throw new ChorusError({ code: 'aborted', message: 'The request was stopped.' });
    return this.#builtinProfiles;
  }

  async #loadBuiltinProfiles(): Promise<Map<string, VoiceProfile>> {
    const file = this.#profilesFile;
    if (file !== undefined) {
      try {
        const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, VoiceProfile>;
        const map = new Map(Object.entries(stored));
        if (this.builtins().every((voice) => map.has(voice.id))) return map;
      } catch {
        // Missing or unreadable: measure again.
      }
    }
    // Measuring is independent per voice, so it runs on every worker at once. It serves every later
    // caller too, so it is not tied to the first caller's signal; only a time limit stops it.
    const measuring = AbortSignal.timeout(BUILTIN_PROFILES_TIMEOUT_MS);
    setMaxListeners(this.builtins().length + 1, measuring);
    const entries = await Promise.all(
      this.builtins().map(async (voice) => {
        const { profile } = await this.#speech.runTask({ kind: 'profile-builtin', voiceId: voice.id, text: CALIBRATION_TEXT }, measuring);
        return [voice.id, profile] as const;
      }),
    );
    const map = new Map(entries);
    if (file !== undefined) {
      // Only a record of the measurement: a directory that cannot take it (read-only, full) costs a
      // measurement at the next start, not this request.
      try {
        mkdirSync(join(file, '..'), { recursive: true });
        const temporary = `${file}.${process.pid}.tmp`;
        writeFileSync(temporary, JSON.stringify(Object.fromEntries(map)));
        renameSync(temporary, file);
      } catch {
        // Measured again next time.
      }
    }
    return map;
  }

  async #newRecord(
    owner: string,
    name: string,
    voice: NewVoice,
    analysis: AnalyzeVoiceResult,
    match: VoiceMatch,
    gender: 'male' | 'female' | undefined,
    cloning: EngineDescription,
  ): Promise<UserVoiceRecord> {
    const neural = cloning.capabilities.cloning === 'neural';
    const voiceId = await this.#newId();
    const format = analysis.format as AudioContainer;
    return {
      voiceId,
      owner,
      name,
      description: voice.description ?? '',
      gender,
      type: voice.type,
      transcript: voice.transcript,
      durationSec: round(analysis.durationSec, 3),
      sampleRate: analysis.sampleRate,
      createdAt: Date.now(),
      audioKey: `voices/${owner === '' ? 'public' : owner.slice(0, 32)}/${voiceId}.${format}`,
      audioContentType: CONTENT_TYPES[format],
      profile: analysis.profile,
      engine: neural ? `${cloning.id}@${cloning.version}` : this.engineKey,
      ...(neural ? { method: 'zero_shot' as const } : {}),
      match,
    };
  }

  async #newId(): Promise<string> {
    for (;;) {
      const id = randomBytes(4).toString('hex');
      if (!this.#builtinsById.has(id) && !(await this.#store.idTaken(id))) return id;
    }
  }

  async #byId(owner: string, id: string, engine: string | undefined): Promise<ResolvedVoice | undefined> {
    const key = id.trim().toLowerCase();
    const builtin = this.#builtinsById.get(key);
    if (builtin !== undefined && (engine === undefined || builtin.engine.id === engine)) return this.#builtin(builtin.engine, builtin.voice);
    const user = await this.#store.get(owner, key);
    return user === undefined ? undefined : this.#user(user, engine);
  }

  #builtin(engine: EngineDescription, voice: EngineVoice): ResolvedVoice {
    const name = this.#speech.engines.qualifiedName(engine.id, voice.id);
    return { kind: 'builtin', name: voice.name, voiceId: builtinVoiceId(name), engine: engine.id, engineVoiceId: voice.id, gender: voice.gender };
  }

  /**
   * A user voice: zero-shot on its cloning engine when that engine is loaded (and the request did not
   * choose another engine), else voice matching on eSpeak from its stored profile.
   */
  async #user(record: UserVoiceRecord, requestedEngine: string | undefined): Promise<ResolvedVoice> {
    const base = { kind: 'user' as const, name: record.name, voiceId: record.voiceId, gender: record.gender, record };
    const engine = this.#zeroShotEngine(record, requestedEngine);
    if (engine !== undefined) {
      const { reference, prepared } = await this.#storedReference(record, engine);
      return { ...base, match: record.match, ...zeroShot(engine, reference, prepared) };
    }
    const match = record.method !== 'zero_shot' && record.engine === this.engineKey ? record.match : await this.#replanned(record);
    return { ...base, engine: this.#speech.matching.engine.id, engineVoiceId: match.baseVoice, match };
  }

  #zeroShotEngine(record: UserVoiceRecord, requestedEngine: string | undefined): EngineDescription | undefined {
    if (record.method !== 'zero_shot') return undefined;
    const id = record.engine.split('@')[0]!;
    if (requestedEngine !== undefined && requestedEngine !== id) return undefined;
    return this.#speech.engines.has(id) ? this.#speech.engines.engine(id, 'engine') : undefined;
  }

  /** A stored voice's reference, decoded from blob storage and prepared once per process. */
  #storedReference(record: UserVoiceRecord, engine: EngineDescription): Promise<{ reference: VoiceReference; prepared: PreparedVoice | undefined }> {
    const key = `${record.voiceId}@${engine.id}`;
    let entry = this.#references.get(key);
    if (entry === undefined) {
      entry = (async () => {
        const blob = await this.#blobs.get(record.audioKey);
        if (blob === undefined) throw new ChorusError({ code: 'storage_unavailable', message: `The reference audio of voice '${record.name}' is missing from storage.` });
        return this.#decodeReference(record, blob.bytes, engine, AbortSignal.timeout(120_000));
      })();
      entry.catch(() => this.#references.delete(key));
      // Bounded: references are seconds of audio each, and the busiest voices come back at once if dropped.
      if (this.#references.size >= MAX_CACHED_REFERENCES) this.#references.delete(this.#references.keys().next().value!);
      this.#references.set(key, entry);
    }
    return entry;
  }

  async #decodeReference(
    record: UserVoiceRecord,
    audio: Uint8Array,
    engine: EngineDescription,
    signal: AbortSignal,
  ): Promise<{ reference: VoiceReference; prepared: PreparedVoice | undefined }> {
    const decoded = await this.#speech.runTask({ kind: 'decode-audio', bytes: audio, param: 'reference_audio', maxSec: CLONE_DURATION_SEC.maxSec }, signal);
    const reference: VoiceReference = { ...decoded, key: record.voiceId, ...(record.transcript === undefined ? {} : { transcript: record.transcript }) };
    return { reference, prepared: await this.#speech.prepareVoice(engine.id, reference, signal) };
  }

  /** A voice made under another engine (or version) is matched again from its stored profile, once per process. */
  #replanned(record: UserVoiceRecord): Promise<VoiceMatch> {
    const key = `${record.voiceId}@${record.engine}`;
    let match = this.#replans.get(key);
    if (match === undefined) {
      match = this.planMatch(record.profile, AbortSignal.timeout(120_000));
      match.catch(() => this.#replans.delete(key));
      this.#replans.set(key, match);
    }
    return match;
  }
}

const MAX_CACHED_REFERENCES = 64;

/** The engine part of a zero-shot voice: the engine's first voice underneath, the reference on top. */
function zeroShot(engine: EngineDescription, reference: VoiceReference, prepared: PreparedVoice | undefined) {
  return {
    engine: engine.id,
    engineVoiceId: engine.voices[0]?.id ?? 'default',
    reference,
    ...(prepared === undefined ? {} : { prepared }),
  };
}

const CONTENT_TYPES: Record<AudioContainer, string> = { wav: 'audio/wav', mp3: 'audio/mpeg', flac: 'audio/flac', ogg: 'audio/ogg' };

export function genderOf(profile: VoiceProfile): 'male' | 'female' | undefined {
  if (!(profile.medianPitchHz > 0)) return undefined;
  return profile.medianPitchHz >= FEMALE_PITCH_HZ ? 'female' : 'male';
}

function notFound(value: string, param: string, engine: string | undefined): ChorusError {
  return new ChorusError({ code: 'voice_not_found', param, message: `Voice '${value}' not found in any library${engine === undefined ? '' : ` (engine ${engine})`}` });
}

function safe(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_');
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
