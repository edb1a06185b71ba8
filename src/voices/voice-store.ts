import type { UserVoiceRecord } from './voice-record.js';

/**
 * Where user voices' metadata lives. Every call is scoped to an owner: a voice of another key is
 * indistinguishable from one that does not exist. The embedded implementation is SQLite; a shared
 * one (Redis) passes the same conformance suite (voice-store.case.ts).
 */
export interface VoiceStore {
  /** Throws `conflict` when the owner already has a voice of that name (case-insensitive) or the id is taken. */
  insert(voice: UserVoiceRecord): Promise<void>;
  get(owner: string, voiceId: string): Promise<UserVoiceRecord | undefined>;
  findByName(owner: string, name: string): Promise<UserVoiceRecord | undefined>;
  /** Oldest first. */
  list(owner: string): Promise<UserVoiceRecord[]>;
  /** True when a voice was removed. */
  delete(owner: string, voiceId: string): Promise<boolean>;
  /** True when any owner holds this id (ids are global so they can be handed out freely). */
  idTaken(voiceId: string): Promise<boolean>;
  close(): Promise<void>;
}
