import type { EngineVoice } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import type { SpeechService } from '../speech/speech-service.js';

/**
 * The language to ask the engine for, or undefined to let the voice speak its own. A request for
 * the voice's own language family ('en' for an en-us voice) keeps the voice's accent.
 */
export function languageFor(voice: EngineVoice, requested: string | undefined, speech: SpeechService, param = 'language'): string | undefined {
  if (requested === undefined) return undefined;
  const language = requested.trim().toLowerCase();
  if (voice.language === language || voice.language.startsWith(`${language}-`)) return undefined;
  if (!speech.engine.capabilities.languages.includes(language)) {
    throw new ChorusError({
      code: 'invalid_request',
      param,
      message: `Unknown language '${requested}'. Available: ${speech.engine.capabilities.languages.join(', ')}.`,
    });
  }
  return language;
}
