import { findLanguage } from '../engine/engine-languages.js';
import type { EngineVoice } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import type { SpeechService } from '../speech/speech-service.js';

/**
 * The language to ask the engine for, or undefined to let the voice speak its own. A request for
 * the voice's own language family ('en' for an en-us voice) keeps the voice's accent.
 */
export function languageFor(
  voice: EngineVoice,
  requested: string | undefined,
  speech: SpeechService,
  param = 'language',
  engineId: string = speech.engine.id,
): string | undefined {
  if (requested === undefined) return undefined;
  const wanted = requested.trim().toLowerCase();
  if (voice.language === wanted || voice.language.startsWith(`${wanted}-`)) return undefined;
  return engineLanguage(speech, engineId, requested, param);
}

/** The engine's code for a language a request names by BCP-47 tag or engine code; unknown: 400 naming `param`. */
export function engineLanguage(speech: SpeechService, engineId: string, requested: string, param = 'language'): string {
  const languages = speech.engines.engine(engineId, 'engine').capabilities.languages;
  const language = findLanguage(languages, requested);
  if (language !== undefined) return language.code;
  throw new ChorusError({
    code: 'invalid_request',
    param,
    message: `Unknown language '${requested}' for the ${engineId} engine. Available: ${languages.map((entry) => entry.tag).join(', ')}.`,
  });
}

/**
 * The engine a job input chooses with `engine` (or `model`, its synonym where the worker's own
 * schema has no `model` of its own); absent = the default engine. Unknown: `model_not_found` naming the field.
 */
export function engineInput(speech: SpeechService, input: { readonly engine?: string | undefined; readonly model?: string | undefined }): string | undefined {
  if (input.engine !== undefined) return speech.engines.engine(input.engine, 'engine').id;
  if (input.model !== undefined) return speech.engines.engine(input.model, 'model').id;
  return undefined;
}

/** Knobs a request sent that its engine does not declare (reported as ignored). */
export function undeclaredOptions(speech: SpeechService, engineId: string, sent: readonly string[]): string[] {
  const declared = speech.engines.engine(engineId, 'engine').capabilities.options ?? {};
  return sent.filter((name) => !Object.hasOwn(declared, name));
}
