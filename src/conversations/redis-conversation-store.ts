import type { Redis } from 'ioredis';
import { commandClient, whenConnected } from '../storage/redis-client.js';
import { turnChars, type ConversationLimits, type ConversationStore, type ConversationTurn } from './conversation-store.js';

type ScriptedRedis = Redis & {
  appendTurn(key: string, turn: string, maxTurns: number, maxChars: number, idleMs: number): Promise<number>;
};

/**
 * Conversations in Redis, shared by every API process of a deployment: a turn saved through one
 * process is the history of the next request through any other. One list per conversation, one
 * JSON element per turn, expiring with PEXPIRE. Each element carries its `chars` counted in JS,
 * because Lua's string length counts bytes where `turnChars` counts UTF-16 units.
 */
export class RedisConversationStore implements ConversationStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #url: string;

  constructor(options: { url: string; prefix?: string }) {
    this.#prefix = `${options.prefix ?? 'chorus'}:conversations`;
    this.#url = options.url;
    this.#redis = commandClient(options.url) as ScriptedRedis;
    // KEYS: conversation. ARGV: turn JSON, maxTurns, maxChars, idleMs. The same trim as trimTurns,
    // in one script so two processes appending at once cannot interleave push and trim.
    this.#redis.defineCommand('appendTurn', {
      numberOfKeys: 1,
      lua: `
        local length = redis.call('RPUSH', KEYS[1], ARGV[1])
        local maxTurns, maxChars = tonumber(ARGV[2]), tonumber(ARGV[3])
        local items = redis.call('LRANGE', KEYS[1], 0, -1)
        local chars = {}
        local total = 0
        for i = 1, #items do
          chars[i] = cjson.decode(items[i]).chars
          total = total + chars[i]
        end
        local drop = 0
        while length - drop > 1 and (length - drop > maxTurns or total > maxChars) do
          drop = drop + 1
          total = total - chars[drop]
        end
        if drop > 0 then redis.call('LTRIM', KEYS[1], drop, -1) end
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        return length - drop`,
    });
  }

  history(owner: string, conversationId: string): Promise<ConversationTurn[]> {
    return whenConnected(this.#redis, this.#url, async () => {
      const items = await this.#redis.lrange(this.#key(owner, conversationId), 0, -1);
      return items.map((item) => {
        const { user, assistant, at } = JSON.parse(item) as ConversationTurn;
        return { user, assistant, at };
      });
    });
  }

  append(owner: string, conversationId: string, turn: ConversationTurn, limits: ConversationLimits): Promise<void> {
    const element = JSON.stringify({ user: turn.user, assistant: turn.assistant, at: turn.at, chars: turnChars(turn) });
    return whenConnected(this.#redis, this.#url, async () => {
      // PEXPIRE takes whole milliseconds only.
      await this.#redis.appendTurn(this.#key(owner, conversationId), element, limits.maxTurns, limits.maxChars, Math.ceil(limits.idleMs));
    });
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }

  // An owner never contains ':', so the id after it cannot make one owner's key another's.
  #key(owner: string, conversationId: string): string {
    return `${this.#prefix}:${owner}:${conversationId}`;
  }
}
