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
  /** Engine id and version the match below was planned for; a new engine re-plans. */
  readonly engine: string;
  readonly match: VoiceMatch;
}
