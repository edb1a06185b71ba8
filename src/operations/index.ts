import type { ChorusConfig } from '../config/config.js';
import type { ResultCache } from '../cache/result-cache.js';
import { createChatterboxProfile } from './chatterbox.js';
import { createChatterboxOperationsProfile } from './chatterbox-operations.js';
import type { EndpointProfile } from './endpoint-profile.js';
import { createSparkTtsProfile } from './spark-tts.js';
import { createFishSpeechAgentProfile } from './fish-speech-agent.js';
import type { ChatModel } from '../llm/chat-model.js';
import type { ConversationStore } from '../conversations/conversation-store.js';
import { lazyS3Client } from '../storage/index.js';

/** Shared services a profile may use, made once by the server. */
export interface ProfileDependencies {
  /** The result cache (001's `cache_hit`); absent = no caching. */
  readonly resultCache?: ResultCache;
  /** The chat agent's language model; absent = none configured. */
  readonly chat?: ChatModel;
  /** The chat agent's memory (the server always makes one). */
  readonly conversations?: ConversationStore;
}

/** Endpoint profiles by kind. An endpoint id is bound to one kind by CHORUS_ENDPOINTS. */
const PROFILE_FACTORIES: Readonly<Record<string, (config: ChorusConfig, deps: ProfileDependencies) => EndpointProfile>> = {
  chatterbox: (config, deps) =>
    createChatterboxProfile({
      maxCharsPerChunk: config.maxCharsPerChunk,
      ...(deps.resultCache === undefined ? {} : { resultCache: deps.resultCache }),
    }),
  'chatterbox-v2': (config, deps) =>
    createChatterboxOperationsProfile({
      maxCharsPerChunk: config.maxCharsPerChunk,
      ...(deps.resultCache === undefined ? {} : { resultCache: deps.resultCache }),
    }),
  'fish-speech': (config, deps) =>
    createFishSpeechAgentProfile({
      chat: deps.chat,
      conversations: required(deps.conversations, 'a conversation store'),
      systemPrompt: config.llmSystemPrompt === 'none' ? undefined : config.llmSystemPrompt,
      limits: { maxTurns: config.conversationMaxTurns, maxChars: config.conversationMaxChars, idleMs: config.conversationIdleSeconds * 1000 },
    }),
  'spark-tts': (config, deps) =>
    createSparkTtsProfile({
      ...(deps.resultCache === undefined ? {} : { resultCache: deps.resultCache }),
      maxCharsPerChunk: config.maxCharsPerChunk,
      urlTtlSeconds: config.urlTtlSeconds,
      allowPrivateUrls: config.allowPrivateUrls,
      maxPromptAudioBytes: config.maxPromptAudioBytes,
      s3Client: lazyS3Client(config),
    }),
};

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`The fish-speech profile needs ${what}.`);
  return value;
}

export const PROFILE_KINDS: readonly string[] = Object.keys(PROFILE_FACTORIES);

/** Builds the endpoint id → profile map from `config.endpoints` (`id=kind` pairs). */
export function createProfiles(config: ChorusConfig, deps: ProfileDependencies = {}): Map<string, EndpointProfile> {
  const profiles = new Map<string, EndpointProfile>();
  const bindings = Object.keys(config.endpoints).length > 0 ? config.endpoints : Object.fromEntries(PROFILE_KINDS.map((kind) => [kind, kind]));
  for (const [endpointId, kind] of Object.entries(bindings)) {
    const factory = Object.hasOwn(PROFILE_FACTORIES, kind) ? PROFILE_FACTORIES[kind] : undefined;
    if (factory === undefined) {
      throw new Error(`Endpoint '${endpointId}' names unknown profile '${kind}'; known profiles: ${PROFILE_KINDS.join(', ')}.`);
    }
    profiles.set(endpointId, factory(config, deps));
  }
  return profiles;
}
