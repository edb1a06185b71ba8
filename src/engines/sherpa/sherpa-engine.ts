import { readFile } from 'node:fs/promises';
import { decodeAudioBytes } from '../../audio/decode-audio.js';
import type { EngineHost } from '../../engine-host/engine-host.js';
import type { GenerationSettings } from '../../engine-host/host-protocol.js';
import type {
  EngineCapabilities,
  EngineOptionSpec,
  EnginePart,
  EngineSynthesisRequest,
  EngineVoice,
  SpeechEngine,
  VoiceReference,
} from '../../engine/speech-engine.js';
import { ChorusError, invalidRequest } from '../../errors.js';
import type { CheckedModel } from './model-check.js';
import { voicesOf } from './sherpa-voices.js';

/** The sherpa-onnx-node version pinned in package.json; part of every engine's cache version. */
export const SHERPA_ONNX_VERSION = '1.13.8';
/** Speed factors sherpa applies itself (Kokoro/Kitten's speed input, VITS's length scale). */
const NATIVE_SPEED_RANGE = [0.5, 2] as const;
/** Pocket keeps this much of a reference (sherpa's `max_reference_audio_len`), so no more is sent. */
const MAX_REFERENCE_SECONDS = 10;

const POCKET_OPTIONS: Readonly<Record<string, EngineOptionSpec>> = {
  temperature: { type: 'number', min: 0, max: 2, default: 0.7, description: 'Sampling temperature of the flow noise: lower is steadier, higher more varied.' },
  numSteps: { type: 'integer', min: 1, max: 32, default: 5, description: 'Flow-matching steps per audio frame: more is slower and cleaner.' },
  seed: { type: 'integer', min: -1, max: 2_147_483_647, default: -1, description: 'Random seed; -1 picks a new one each time.' },
};

/**
 * A SpeechEngine for one installed sherpa-onnx model, running in the engine host. Everything that
 * can be decided without the model (voices, languages, limits, the request's shape) is decided
 * here, in the server; the host only generates.
 */
export function createSherpaEngine(model: CheckedModel, host: EngineHost): SpeechEngine {
  const { manifest } = model;
  const voices = voicesOf(model);
  const voicesByName = new Map<string, { voice: EngineVoice; sid: number }>();
  voices.forEach((voice, sid) => {
    voicesByName.set(voice.id.toLowerCase(), { voice, sid });
  });
  voices.forEach((voice, sid) => {
    for (const alias of voice.aliases ?? []) {
      if (!voicesByName.has(alias.toLowerCase())) voicesByName.set(alias.toLowerCase(), { voice, sid });
    }
  });
  const isPocket = manifest.family === 'pocket';
  const tokenBudget = model.maxTokens === undefined ? undefined : model.maxTokens - 2;
  const languages = supportedLanguages(model);

  const capabilities: EngineCapabilities = {
    // The engine's own code is the lower-cased tag: `languageExtra` turns it into an eSpeak voice.
    languages: languages.map((tag) => ({ tag, code: tag.toLowerCase() })),
    sampleRate: model.sampleRate,
    streaming: isPocket ? 'incremental' : 'sentence',
    wordTimings: false,
    cloning: isPocket ? 'neural' : 'none',
    ...(isPocket ? {} : { nativeSpeedRange: NATIVE_SPEED_RANGE }),
    // Kokoro-style models `_Exit` on a token sequence longer than their style table; the pipeline
    // chunks below this, and longer-phonemising text (digits) is split further here.
    ...(tokenBudget === undefined ? {} : { maxInputChars: Math.floor(tokenBudget / TOKENS_PER_LETTER) }),
    deterministic: false,
    ...(isPocket ? { options: POCKET_OPTIONS } : {}),
  };

  const clips = new Map<string, Promise<VoiceReference>>();
  function clipReference(name: string, path: string): Promise<VoiceReference> {
    let clip = clips.get(name);
    if (clip === undefined) {
      clip = readFile(path).then(async (bytes) => {
        const decoded = await decodeAudioBytes(bytes, `${manifest.name}/test_wavs/${name}.wav`);
        return { samples: decoded.samples, sampleRate: decoded.sampleRate, key: `${manifest.name}/${name}` };
      });
      clip.catch(() => clips.delete(name));
      clips.set(name, clip);
    }
    return clip;
  }

  async function referenceFor(request: EngineSynthesisRequest): Promise<VoiceReference> {
    if (request.reference !== undefined) return request.reference;
    const clip = [...model.referenceClips].find(([name]) => name.toLowerCase() === request.voiceId.toLowerCase());
    if (clip !== undefined) return clipReference(clip[0], clip[1]);
    if (model.referenceClips.size === 0) {
      throw invalidRequest(
        'reference',
        `Engine '${manifest.name}' (Pocket) speaks only by cloning a reference voice, and none was given: send reference audio (reference_audio, voice_cloning, prompt_speech_url or a reference id).`,
      );
    }
    throw new ChorusError({
      code: 'voice_not_found',
      param: 'voice',
      message: `Voice '${request.voiceId}' does not exist on engine '${manifest.name}'; it clones a reference, or speaks as one of: ${[...model.referenceClips.keys()].join(', ')}.`,
    });
  }

  function speakerFor(request: EngineSynthesisRequest): { voice: EngineVoice; sid: number } {
    const found = voicesByName.get(request.voiceId.toLowerCase());
    if (found === undefined) {
      throw new ChorusError({
        code: 'voice_not_found',
        param: 'voice',
        message: `Voice '${request.voiceId}' does not exist on engine '${manifest.name}'. It has: ${voices.map((voice) => voice.id).join(', ')}.`,
      });
    }
    return found;
  }

  function languageExtra(request: EngineSynthesisRequest, voice: EngineVoice): Record<string, string> {
    if (request.language === undefined) {
      // A multi-language Kokoro speaker speaks its own language unless told otherwise (ef_dora: Spanish).
      const own = model.multiLanguage ? model.espeakLanguages.get(voice.language.toLowerCase()) : undefined;
      return own === undefined ? {} : { lang: own };
    }
    const wanted = request.language.toLowerCase();
    if (model.multiLanguage) {
      const voice = model.espeakLanguages.get(wanted) ?? model.espeakLanguages.get(wanted.split('-')[0]!);
      if (voice !== undefined && languages.some((tag) => sameLanguage(tag, wanted))) return { lang: voice };
    } else if (languages.some((tag) => sameLanguage(tag, wanted))) {
      return {};
    }
    throw invalidRequest('language', `Engine '${manifest.name}' does not speak '${request.language}'; it speaks: ${languages.join(', ')}.`);
  }

  async function* synthesize(request: EngineSynthesisRequest, signal: AbortSignal): AsyncGenerator<EnginePart> {
    let generation: GenerationSettings;
    if (isPocket) {
      const reference = await referenceFor(request);
      const keep = Math.min(reference.samples.length, Math.round(reference.sampleRate * MAX_REFERENCE_SECONDS));
      const options = request.options ?? {};
      generation = {
        sid: 0,
        speed: 1,
        silenceScale: 1,
        numSteps: numberOption(options, 'numSteps'),
        referenceAudio: reference.samples.subarray(0, keep),
        referenceSampleRate: reference.sampleRate,
        ...(reference.transcript === undefined ? {} : { referenceText: reference.transcript }),
        extra: { temperature: numberOption(options, 'temperature'), seed: numberOption(options, 'seed') },
      };
    } else {
      const { voice, sid } = speakerFor(request);
      const extra = languageExtra(request, voice);
      const speed = Math.min(NATIVE_SPEED_RANGE[1], Math.max(NATIVE_SPEED_RANGE[0], request.speed ?? 1));
      generation = { sid, speed, silenceScale: 1, ...(Object.keys(extra).length > 0 ? { extra } : {}) };
    }
    if (signal.aborted) return;
    const maxSamples = request.maxDurationSec === undefined ? Number.MAX_SAFE_INTEGER : Math.ceil(request.maxDurationSec * model.sampleRate) + 1;
    const pieces = tokenBudget === undefined ? [request.text] : splitForTokenBudget(request.text, tokenBudget);
    for (const piece of pieces) {
      for await (const samples of host.generate(manifest.name, piece, generation, maxSamples, signal)) {
        if (signal.aborted) return;
        yield { type: 'audio', samples, sampleRate: model.sampleRate };
      }
      if (signal.aborted) return;
    }
  }

  return {
    id: manifest.name,
    version: `${manifest.family}:${manifest.name}@${manifest.installedAt}+sherpa-onnx-${SHERPA_ONNX_VERSION}`,
    capabilities,
    listVoices: () => voices,
    synthesize,
  };
}

function numberOption(options: Readonly<Record<string, unknown>>, name: keyof typeof POCKET_OPTIONS): number {
  const value = options[name];
  return typeof value === 'number' ? value : (POCKET_OPTIONS[name]!.default as number);
}

function sameLanguage(tag: string, wanted: string): boolean {
  const lower = tag.toLowerCase();
  return lower === wanted || lower.split('-')[0] === wanted || lower === wanted.split('-')[0];
}

/**
 * The model's languages (BCP-47, from its manifest); for multi-language Kokoro only those its
 * espeak-ng-data has a voice for, since sherpa fails a request whose voice it cannot set.
 */
function supportedLanguages(model: CheckedModel): string[] {
  const tags = model.manifest.languages;
  if (!model.multiLanguage) return [...tags];
  return tags.filter((tag) => {
    const lower = tag.toLowerCase();
    return model.espeakLanguages.has(lower) || model.espeakLanguages.has(lower.split('-')[0]!);
  });
}

/**
 * An upper bound on the phoneme tokens eSpeak makes of text: letters rarely make more than one
 * phoneme and a stress mark, but a digit or symbol is read as words ("7" → "seven", "%" → "percent").
 */
const TOKENS_PER_LETTER = 1.5;
const TOKENS_PER_SPELLED_CHAR = 10;

function estimateTokens(text: string): number {
  let tokens = 0;
  for (const char of text) {
    if (/[\p{L}\p{M}\s.,;:!?'"()-]/u.test(char)) tokens += TOKENS_PER_LETTER;
    else tokens += TOKENS_PER_SPELLED_CHAR;
  }
  return tokens;
}

/** Splits text at spaces (or, for one overlong word, anywhere) so no piece can exceed the budget. */
export function splitForTokenBudget(text: string, budget: number): string[] {
  if (estimateTokens(text) <= budget) return [text];
  const pieces: string[] = [];
  let current = '';
  for (const word of text.split(/(?<=\s)/)) {
    if (estimateTokens(current + word) <= budget) {
      current += word;
      continue;
    }
    if (current.trim() !== '') pieces.push(current);
    current = '';
    for (const char of word) {
      if (estimateTokens(current + char) > budget) {
        pieces.push(current);
        current = '';
      }
      current += char;
    }
  }
  if (current.trim() !== '') pieces.push(current);
  return pieces;
}
