import type { VoiceProfile } from '../audio/analysis/voice-profile.js';
import type { VoiceTransform } from '../audio/dsp/voice-transform.js';

/** How a user voice came to be: Chatterbox's `voice_cloning` or Fish Speech's `/v1/references/add`. */
export type UserVoiceType = 'user_cloned_voice' | 'reference';

/**
 * How the embedded engine speaks a voice it cannot clone: render with a built-in voice, then move
 * pitch, pitch range and formants toward the reference's profile, at an adjusted speaking rate.
 */
export interface VoiceMatch {
  readonly method: 'voice_matching';
  /** The built-in voice rendered underneath. */
  readonly baseVoice: string;
  readonly transform: VoiceTransform;
  /** Speaking-rate factor applied on top of the request's own speed. */
  readonly rate: number;
}

/** A voice a key made. Metadata lives in the voice store, the reference audio in blob storage. */
export interface UserVoiceRecord {
  /** 8 hex digits, unique. */
  readonly voiceId: string;
  /** Digest of the API key that owns it ('' on a server without keys). */
  readonly owner: string;
  /** Unique per owner, case-insensitively. */
  readonly name: string;
  readonly description: string;
  /** From the reference's pitch; undefined when it has too little voiced speech to tell. */
  readonly gender: 'male' | 'female' | undefined;
  readonly type: UserVoiceType;
  readonly transcript: string | undefined;
  /** Of the reference as uploaded. */
  readonly durationSec: number;
  readonly sampleRate: number;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** Blob-store key of the reference audio (as uploaded). */
  readonly audioKey: string;
  readonly audioContentType: string;
  readonly profile: VoiceProfile;
  /**
   * The engine the voice belongs to, `id@version`: eSpeak's for a matched voice (the match below was
   * planned for it; a new version re-plans), a cloning engine's for a zero-shot voice.
   */
  readonly engine: string;
  /** `zero_shot`: the engine speaks as the stored reference; absent or `voice_matching`: the match below. */
  readonly method?: 'zero_shot' | 'voice_matching';
  /** How eSpeak speaks the voice: always planned, so a zero-shot voice still speaks when its engine is not loaded. */
  readonly match: VoiceMatch;
}
