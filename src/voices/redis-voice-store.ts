import type { Redis } from 'ioredis';
import { ChorusError } from '../errors.js';
import { commandClient, whenConnected } from '../storage/redis-client.js';
import type { UserVoiceRecord } from './voice-record.js';
import type { VoiceStore } from './voice-store.js';

type ScriptedRedis = Redis & {
  insertVoice(...args: (string | number)[]): Promise<number>;
  deleteVoice(...args: string[]): Promise<number>;
};

/**
 * User voices' metadata in Redis, shared by every API and worker process of a deployment: a voice
 * cloned through one process is usable through any other at once. Per voice one JSON string; per
 * owner a sorted set of ids (by creation time) and a hash from lower-cased name to id. Names and ids
 * are claimed with HSETNX/SETNX inside one Lua script, so two processes cannot both take one name.
 */
export class RedisVoiceStore implements VoiceStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #url: string;

  constructor(options: { url: string; prefix?: string }) {
    this.#prefix = `${options.prefix ?? 'chorus'}:voices`;
    this.#url = options.url;
    this.#redis = commandClient(options.url) as ScriptedRedis;
    // KEYS: voice, owner's name hash, owner's id set, global id set. ARGV: id, name key, record, createdAt.
    // → 1 stored, 0 the name is taken, -1 the id is taken.
    this.#redis.defineCommand('insertVoice', {
      numberOfKeys: 4,
      lua: `
        if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return -1 end
        if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[1]) == 0 then return 0 end
        redis.call('SADD', KEYS[4], ARGV[1])
        redis.call('SET', KEYS[1], ARGV[3])
        redis.call('ZADD', KEYS[3], tonumber(ARGV[4]), ARGV[1])
        return 1`,
    });
    // KEYS: voice, owner's name hash, owner's id set, global id set. ARGV: id, name key. → 1 or 0.
    this.#redis.defineCommand('deleteVoice', {
      numberOfKeys: 4,
      lua: `
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('HDEL', KEYS[2], ARGV[2])
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('SREM', KEYS[4], ARGV[1])
        return 1`,
    });
  }

  insert(voice: UserVoiceRecord): Promise<void> {
    return whenConnected(this.#redis, this.#url, () => this.#insert(voice));
  }

  async #insert(voice: UserVoiceRecord): Promise<void> {
    const id = voice.voiceId.toLowerCase();
    const result = await this.#redis.insertVoice(
      this.#voiceKey(voice.owner, id),
      this.#namesKey(voice.owner),
      this.#idsKey(voice.owner),
      `${this.#prefix}:all-ids`,
      id,
      nameKey(voice.name),
      JSON.stringify(voice),
      voice.createdAt,
    );
    if (result === 0) {
      throw new ChorusError({ code: 'conflict', param: 'voice_name', message: `A voice named '${voice.name}' already exists; choose another name or delete it first.` });
    }
    if (result === -1) throw new ChorusError({ code: 'conflict', param: 'voice_id', message: `The voice id '${id}' is taken.` });
  }

  get(owner: string, voiceId: string): Promise<UserVoiceRecord | undefined> {
    return whenConnected(this.#redis, this.#url, () => this.#get(owner, voiceId));
  }

  async #get(owner: string, voiceId: string): Promise<UserVoiceRecord | undefined> {
    const json = await this.#redis.get(this.#voiceKey(owner, voiceId.toLowerCase()));
    return json === null ? undefined : (JSON.parse(json) as UserVoiceRecord);
  }

  findByName(owner: string, name: string): Promise<UserVoiceRecord | undefined> {
    return whenConnected(this.#redis, this.#url, () => this.#findByName(owner, name));
  }

  async #findByName(owner: string, name: string): Promise<UserVoiceRecord | undefined> {
    const id = await this.#redis.hget(this.#namesKey(owner), nameKey(name));
    return id === null ? undefined : this.#get(owner, id);
  }

  list(owner: string): Promise<UserVoiceRecord[]> {
    return whenConnected(this.#redis, this.#url, () => this.#list(owner));
  }

  async #list(owner: string): Promise<UserVoiceRecord[]> {
    const ids = await this.#redis.zrange(this.#idsKey(owner), '0', '-1');
    if (ids.length === 0) return [];
    const records = await this.#redis.mget(...ids.map((id: string) => this.#voiceKey(owner, id)));
    return records.flatMap((json) => (json === null ? [] : [JSON.parse(json) as UserVoiceRecord]));
  }

  delete(owner: string, voiceId: string): Promise<boolean> {
    return whenConnected(this.#redis, this.#url, () => this.#delete(owner, voiceId));
  }

  async #delete(owner: string, voiceId: string): Promise<boolean> {
    const existing = await this.#get(owner, voiceId);
    if (existing === undefined) return false;
    const id = voiceId.toLowerCase();
    const removed = await this.#redis.deleteVoice(this.#voiceKey(owner, id), this.#namesKey(owner), this.#idsKey(owner), `${this.#prefix}:all-ids`, id, nameKey(existing.name));
    return removed === 1;
  }

  idTaken(voiceId: string): Promise<boolean> {
    return whenConnected(this.#redis, this.#url, () => this.#idTaken(voiceId));
  }

  async #idTaken(voiceId: string): Promise<boolean> {
    return (await this.#redis.sismember(`${this.#prefix}:all-ids`, voiceId.toLowerCase())) === 1;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }

  #voiceKey(owner: string, id: string): string {
    return `${this.#prefix}:${owner}:voice:${id}`;
  }

  #namesKey(owner: string): string {
    return `${this.#prefix}:${owner}:names`;
  }

  #idsKey(owner: string): string {
    return `${this.#prefix}:${owner}:ids`;
  }
}

const nameKey = (name: string): string => name.trim().toLowerCase();
