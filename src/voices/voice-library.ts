import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { voiceDistance, type VoiceProfile } from '../audio/analysis/voice-profile.js';
import { planVoiceTransform } from '../audio/dsp/voice-transform.js';
import type { AudioContainer } from '../audio/decode-audio.js';
import type { EngineVoice } from '../engine/speech-engine.js';
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
  /** The engine voice rendered underneath. */
  readonly engineVoiceId: string;
  readonly gender: 'male' | 'female' | 'neutral' | undefined;
  /** Present when the voice is matched rather than native (user and reference voices). */
  readonly match?: VoiceMatch;
  readonly record?: UserVoiceRecord;
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
  readonly #builtinsById: Map<string, EngineVoice>;
  #builtinProfiles: Promise<Map<string, VoiceProfile>> | undefined;
  readonly #replans = new Map<string, Promise<VoiceMatch>>();

  constructor(options: { store: VoiceStore; blobs: BlobStore; speech: SpeechService; dataDir?: string }) {
    this.#store = options.store;
    this.#blobs = options.blobs;
    this.#speech = options.speech;
    const engine = options.speech.engine;
    this.#profilesFile =
      options.dataDir === undefined ? undefined : join(options.dataDir, 'voice-profiles', `${safe(engine.id)}-${safe(engine.version)}.json`);
    this.#builtinsById = new Map(options.speech.voices.voices.map((voice) => [builtinVoiceId(voice.id), voice]));
  }

  get engineKey(): string {
    return `${this.#speech.engine.id}@${this.#speech.engine.version}`;
  }

  /** The built-in voices, `default` first. */
  builtins(): readonly EngineVoice[] {
    return this.#speech.voices.voices;
  }

  /**
   * A voice by name (built-in names and OpenAI aliases included) or by id. Unknown voices are
   * `voice_not_found` naming `param`; a voice of another key is unknown.
   */
  async resolve(owner: string, reference: { name?: string; id?: string }, param: string): Promise<ResolvedVoice> {
    if (reference.name !== undefined) {
      const builtin = this.#speech.voices.find(reference.name);
      if (builtin !== undefined) return this.#builtin(builtin);
      const user = await this.#store.findByName(owner, reference.name);
      if (user !== undefined) return this.#user(user);
      // A name that is an id is accepted too: OpenAI clients can only send a string.
      const byId = await this.#byId(owner, reference.name);
      if (byId !== undefined) return byId;
      throw notFound(reference.name, param);
    }
    if (reference.id !== undefined) {
      const byId = await this.#byId(owner, reference.id);
      if (byId !== undefined) return byId;
      // OpenAI's `{"id": "…"}` is also sent with a voice's name.
      const builtin = this.#speech.voices.find(reference.id);
      if (builtin !== undefined) return this.#builtin(builtin);
      const user = await this.#store.findByName(owner, reference.id);
      if (user !== undefined) return this.#user(user);
      throw notFound(reference.id, param);
    }
    return this.#builtin(this.#speech.voices.resolve('default', param));
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
    if (this.#speech.voices.find(trimmed) !== undefined || openAIAlias(trimmed) !== undefined) {
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
  async referenceVoice(audio: Uint8Array, param: string, limits: ReferenceLimits, signal: AbortSignal): Promise<ResolvedVoice & { analysis: AnalyzeVoiceResult }> {
    const { analysis, match, gender } = await this.analyseReference(audio, param, limits, signal);
    return {
      kind: 'reference',
      name: 'reference audio',
      voiceId: createHash('sha256').update(audio).digest('hex').slice(0, 8),
      engineVoiceId: match.baseVoice,
      gender,
      match,
      analysis,
    };
  }

  /**
   * Makes a user voice: analyse, plan the match, store the audio, then the metadata. A failure at
   * any step leaves nothing behind (the audio is removed if the metadata cannot be written).
   */
  async create(owner: string, voice: NewVoice, signal: AbortSignal): Promise<UserVoiceRecord> {
    const name = voice.name.trim();
    await this.checkNewName(owner, name, voice.nameParam);
    const { analysis, match, gender } = await this.analyseReference(voice.audio, voice.param, CLONE_DURATION_SEC, signal);
    const record = await this.#newRecord(owner, name, voice, analysis, match, gender);
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
    const { analysis, match, gender } = await this.analyseReference(voice.audio, voice.param, CLONE_DURATION_SEC, signal);
    return this.#newRecord(owner, name, voice, analysis, match, gender);
  }

  /** Deletes a user voice by id or name. Built-in voices cannot be deleted; another key's voice is not found. */
  async delete(owner: string, idOrName: string, param: string): Promise<UserVoiceRecord> {
    const builtin = this.#speech.voices.find(idOrName) ?? this.#builtinsById.get(idOrName.trim().toLowerCase());
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
    const profile = profiles.get(voice.engineVoiceId);
    if (profile === undefined) throw new ChorusError({ code: 'internal', message: `No profile for built-in voice '${voice.engineVoiceId}'.` });
    return profile;
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
  ): Promise<UserVoiceRecord> {
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
      engine: this.engineKey,
      match,
    };
  }

  async #newId(): Promise<string> {
    for (;;) {
      const id = randomBytes(4).toString('hex');
      if (!this.#builtinsById.has(id) && !(await this.#store.idTaken(id))) return id;
    }
  }

  async #byId(owner: string, id: string): Promise<ResolvedVoice | undefined> {
    const key = id.trim().toLowerCase();
    const builtin = this.#builtinsById.get(key);
    if (builtin !== undefined) return this.#builtin(builtin);
    const user = await this.#store.get(owner, key);
    return user === undefined ? undefined : this.#user(user);
  }

  #builtin(voice: EngineVoice): ResolvedVoice {
    return { kind: 'builtin', name: voice.name, voiceId: builtinVoiceId(voice.id), engineVoiceId: voice.id, gender: voice.gender };
  }

  async #user(record: UserVoiceRecord): Promise<ResolvedVoice> {
    const match = record.engine === this.engineKey ? record.match : await this.#replanned(record);
    return { kind: 'user', name: record.name, voiceId: record.voiceId, engineVoiceId: match.baseVoice, gender: record.gender, match, record };
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

const CONTENT_TYPES: Record<AudioContainer, string> = { wav: 'audio/wav', mp3: 'audio/mpeg', flac: 'audio/flac', ogg: 'audio/ogg' };

export function genderOf(profile: VoiceProfile): 'male' | 'female' | undefined {
  if (!(profile.medianPitchHz > 0)) return undefined;
  return profile.medianPitchHz >= FEMALE_PITCH_HZ ? 'female' : 'male';
}

function notFound(value: string, param: string): ChorusError {
  return new ChorusError({ code: 'voice_not_found', param, message: `Voice '${value}' not found in any library` });
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
