import { z } from 'zod';
import { AUDIO_FORMATS } from '../../audio/encoders/audio-encoder.js';
import { numberInRange } from '../../validation/validation.js';

/** OpenAI's limit of `input` (and `instructions`); CHORUS_MAX_INPUT_CHARS applies when it is lower. */
export const MAX_INPUT_CHARS = 4096;

/**
 * What a model name OpenAI and Fish Speech clients send stands for: `default` (the default engine),
 * an engine id (`chorus-espeak` is eSpeak's older name here), or undefined when it is no alias (an engine id itself, or unknown).
 */
export function modelAliases(model: string): string | undefined {
  if (['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts', 's1-mini'].includes(model) || model.startsWith('gpt-4o-mini-tts-')) return 'default';
  if (model.startsWith('chorus-')) return model.slice('chorus-'.length);
  return undefined;
}

const voiceSchema = z.union([z.string().min(1), z.object({ id: z.string().min(1) })]);

/** OpenAI's CreateSpeechRequest plus Chorus's pipeline controls. Unknown fields are ignored. */
const speechFields = {
  model: z.string().min(1),
  /** Its length and content are checked by `checkSpeechText`, as every API's speech text is. */
  input: z.string().min(1),
  voice: voiceSchema,
  response_format: z.enum(AUDIO_FORMATS).optional(),
  speed: numberInRange('speed', 0.25, 4).optional(),
  instructions: z.string().max(MAX_INPUT_CHARS).optional(),
  stream: z.boolean().optional(),
  stream_format: z.enum(['audio', 'sse']).optional(),
  sample_rate: numberInRange('sample_rate', 8000, 48000, { integer: true }).optional(),
  language: z.string().min(1).optional(),
  pitch_shift: numberInRange('pitch_shift', -12, 12).optional(),
  normalization: z.enum(['none', 'peak', 'rms']).optional(),
  /** Chorus extension: leave out the inaudible watermark every generated file carries. */
  no_watermark: z.boolean().optional(),
  /** Chorus extension: knobs of the chosen engine (`/v1/models` lists each engine's `options`). */
  options: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])).optional(),
};

export const speechRequestSchema = z.object(speechFields);

/** Fish Speech's extended endpoint: sampling knobs (validated, reported as unsupported) and more. */
export const extendedSpeechRequestSchema = z.object({
  ...speechFields,
  model: z.string().min(1).optional(),
  voice: voiceSchema.optional(),
  temperature: numberInRange('temperature', 0.1, 1).optional(),
  top_p: numberInRange('top_p', 0.1, 1).optional(),
  repetition_penalty: numberInRange('repetition_penalty', 0.9, 2).optional(),
  max_new_tokens: numberInRange('max_new_tokens', 100, 4096, { integer: true }).optional(),
  chunk_length: numberInRange('chunk_length', 100, 300, { integer: true }).optional(),
  seed: z.number().int().optional(),
  multi_sentence_gap: numberInRange('multi_sentence_gap', 0, 5).optional(),
  /** Picks the male or female default voice when `voice` is absent. */
  speaker_gender: z.enum(['male', 'female']).optional(),
  timestamps: z.boolean().optional(),
});

export type SpeechRequestBody = z.infer<typeof speechRequestSchema>;
export type ExtendedSpeechRequestBody = z.infer<typeof extendedSpeechRequestSchema>;
