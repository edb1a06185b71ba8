/**
 * The chat agent's memory: the turns of each conversation, scoped by owner (the API key's digest),
 * so another key's conversation of the same id is a different, empty one. The embedded store is
 * SQLite; the shared one (Redis) passes the same conformance suite (conversation-store.case.ts).
 */
export interface ConversationTurn {
  /** What the user said. */
  readonly user: string;
  /** What the agent answered. */
  readonly assistant: string;
  /** When the turn was saved, ms since the epoch. */
  readonly at: number;
}

export interface ConversationLimits {
  /** Most turns kept; the oldest go first. */
  readonly maxTurns: number;
  /** Most characters (user + assistant, over the kept turns); the oldest turns go first, the newest always stays. */
  readonly maxChars: number;
  /** A conversation nobody extended for this long is gone, ms. */
  readonly idleMs: number;
}

export interface ConversationStore {
  /** The kept turns, oldest first; empty for a conversation that does not exist, expired, or is another owner's. */
  history(owner: string, conversationId: string): Promise<ConversationTurn[]>;
  /** Adds one whole turn (creating the conversation), trims to `limits` and restarts the idle clock. */
  append(owner: string, conversationId: string, turn: ConversationTurn, limits: ConversationLimits): Promise<void>;
  close(): Promise<void>;
}

/** Characters a turn counts against `maxChars`. */
export function turnChars(turn: ConversationTurn): number {
  return turn.user.length + turn.assistant.length;
}

/** The newest turns within `limits` (always at least the last one), oldest first. */
export function trimTurns(turns: readonly ConversationTurn[], limits: Pick<ConversationLimits, 'maxTurns' | 'maxChars'>): ConversationTurn[] {
  let first = Math.max(0, turns.length - Math.max(1, limits.maxTurns));
  let chars = 0;
  for (let i = first; i < turns.length; i++) chars += turnChars(turns[i]!);
  while (first < turns.length - 1 && chars > limits.maxChars) chars -= turnChars(turns[first++]!);
  return turns.slice(first);
}
