import type { Logger } from '../util/logger.js';
import { chatterboxServerAdapter } from './chatterbox-server/chatterbox-server-adapter.js';
import { fishSpeechAdapter } from './fish-speech/fish-speech-adapter.js';
import { chatterboxTtsApiAdapter } from './chatterbox-tts-api/chatterbox-tts-api-adapter.js';
import { kokoroFastapiAdapter } from './kokoro-fastapi/kokoro-fastapi-adapter.js';
import { openaiSpeechAdapter } from './openai-speech/openai-speech-adapter.js';
import type { EngineRegistration } from './registry.js';
import type { RemoteAdapter } from './remote/remote-adapter.js';
import { createRemoteEngine } from './remote/remote-engine.js';
import type { RemoteEngineKind, RemoteEngineSetting } from '../config/remote-engines.js';

/** One adapter per kind of model server, each in its own folder. */
const ADAPTERS: Readonly<Record<RemoteEngineKind, RemoteAdapter>> = {
  openai: openaiSpeechAdapter,
  'chatterbox-server': chatterboxServerAdapter,
  'fish-speech': fishSpeechAdapter,
  'chatterbox-tts-api': chatterboxTtsApiAdapter,
  'kokoro-fastapi': kokoroFastapiAdapter,
};

/** The configured remote engines as registrations: created once, on the main thread. */
export function remoteEngineRegistrations(settings: readonly RemoteEngineSetting[], logger?: Logger): EngineRegistration[] {
  return settings.map((setting) => ({
    id: setting.id,
    placement: 'main' as const,
    create: () => createRemoteEngine(setting, ADAPTERS[setting.kind], logger),
  }));
}
