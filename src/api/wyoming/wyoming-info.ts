import type { EngineDescription } from '../../engine/engine-description.js';
import { bcp47Tag, findLanguage } from '../../engine/engine-languages.js';
import type { EngineVoice } from '../../engine/speech-engine.js';
import type { SpeechService } from '../../speech/speech-service.js';

interface Attribution {
  readonly name: string;
  readonly url: string;
}

/** Who made an engine, for the `attribution` Home Assistant shows; engines Chorus cannot credit by name get their id. */
function attributionOf(engine: EngineDescription): Attribution {
  if (engine.id === 'espeak') return { name: 'eSpeak NG', url: 'https://github.com/espeak-ng/espeak-ng' };
  return { name: engine.id, url: '' };
}

/**
 * The languages a voice is offered for. Only its own: Home Assistant lists a voice under each of
 * them and then sends just its name, so a voice listed for a language it does not speak by default
 * would read that language with its own accent's rules.
 */
function voiceLanguages(engine: EngineDescription, voice: EngineVoice): string[] {
  return [findLanguage(engine.capabilities.languages, voice.language)?.tag ?? bcp47Tag(voice.language)];
}

/**
 * The `info` event's data (wyoming `info.py`): every list present, one TTS program whose voices are
 * every loaded engine's, named as the other APIs name them (bare on the default engine,
 * `<engine>:<voice>` elsewhere).
 */
export function wyomingInfo(speech: SpeechService, version: string): Record<string, unknown> {
  const directory = speech.engines;
  const voices = directory.engines.flatMap((engine) =>
    engine.voices.map((voice) => ({
      name: directory.qualifiedName(engine.id, voice.id),
      attribution: attributionOf(engine),
      installed: true,
      // Home Assistant shows the description as the voice's name in its voice picker.
      description: voice.description === '' ? `${voice.name} (${engine.id})` : `${voice.name} (${engine.id}): ${voice.description}`,
      version: engine.version,
      languages: voiceLanguages(engine, voice),
    })),
  );
  return {
    asr: [],
    tts: [
      {
        name: 'chorus',
        attribution: { name: 'Chorus', url: '' },
        installed: true,
        description: 'Chorus speech server',
        version,
        voices,
        supports_synthesize_streaming: true,
      },
    ],
    handle: [],
    intent: [],
    wake: [],
    mic: [],
    snd: [],
  };
}
