import { analyzeVoice, type VoiceProfile } from '../audio/analysis/voice-profile.js';
import { decodeAudioBytes } from '../audio/decode-audio.js';
import { alignWords, type AlignedWord } from '../alignment/forced-aligner.js';
import { initDsp, limitInPlace, resampleBuffer } from '../audio/dsp/index.js';
import { planVoiceTransform, transformVoice, type VoiceTransform } from '../audio/dsp/voice-transform.js';
import { floatToS16leBytes, wavHeader } from '../audio/encoders/wav-encoder.js';
import { concatBytes, concatFloat32 } from '../audio/pcm.js';
import { applyWatermark, detectWatermark, type WatermarkDetection } from '../audio/watermark/watermark.js';
import type { SpeechEngine } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';

/**
 * CPU-heavy audio work that is not text-to-speech: analysing a reference voice, converting a
 * recording, detecting the watermark. It runs on the engine worker threads, like synthesis, so the
 * event loop that answers HTTP never computes a pitch track.
 */
export type AudioTask =
  | {
      readonly kind: 'analyze-voice';
      /** An audio file as uploaded (WAV, MP3, FLAC, Ogg). */
      readonly bytes: Uint8Array;
      /** The request field it came from, for error messages. */
      readonly param: string;
      readonly minSec: number;
      readonly maxSec: number;
      /** Only this much of the start is analysed (Chatterbox's `max_reference_duration_sec`). */
      readonly maxAnalysedSec?: number;
    }
  | { readonly kind: 'profile-builtin'; readonly voiceId: string; readonly text: string }
  | {
      readonly kind: 'convert-voice';
      readonly bytes: Uint8Array;
      readonly param: string;
      readonly maxSec: number;
      readonly target: VoiceProfile;
      readonly watermark: boolean;
      readonly sampleRate: number;
      /** What the recording says: its words are then timed on the converted audio by forced alignment. */
      readonly transcript?: string;
      readonly language?: string;
    }
  | { readonly kind: 'detect-watermark'; readonly bytes: Uint8Array; readonly param: string }
  /** A reference recording as mono samples at its own rate, for engines that clone from it. */
  | { readonly kind: 'decode-audio'; readonly bytes: Uint8Array; readonly param: string; readonly maxSec: number };

export interface AnalyzeVoiceResult {
  readonly profile: VoiceProfile;
  readonly format: string;
  readonly sampleRate: number;
  readonly channels: number;
  readonly durationSec: number;
}

export interface ConvertVoiceResult {
  /** 16-bit mono WAV at the requested rate. */
  readonly wav: Uint8Array;
  readonly sampleRate: number;
  readonly durationSec: number;
  readonly inputDurationSec: number;
  readonly source: VoiceProfile;
  readonly transform: VoiceTransform;
  /** With a transcript: each of its words on the output's time line (forced alignment). */
  readonly words?: readonly AlignedWord[];
}

export type DetectWatermarkResult = WatermarkDetection & { readonly durationSec: number };

export interface AudioTaskResults {
  'analyze-voice': AnalyzeVoiceResult;
  'profile-builtin': { readonly profile: VoiceProfile };
  'convert-voice': ConvertVoiceResult;
  'detect-watermark': DetectWatermarkResult;
  'decode-audio': { readonly samples: Float32Array; readonly sampleRate: number };
}
export type AudioTaskResult = AudioTaskResults[keyof AudioTaskResults];

export interface AudioTaskContext {
  readonly engine: SpeechEngine;
}

export async function runAudioTask(task: AudioTask, context: AudioTaskContext, signal: AbortSignal): Promise<AudioTaskResult> {
  await initDsp();
  switch (task.kind) {
    case 'analyze-voice': {
      const decoded = await decodeAudioBytes(task.bytes, task.param, { minSec: task.minSec, maxSec: task.maxSec });
      const analysed =
        task.maxAnalysedSec === undefined ? decoded.samples : decoded.samples.subarray(0, Math.round(task.maxAnalysedSec * decoded.sampleRate));
      return {
        profile: analyze(analysed, decoded.sampleRate, task.param),
        format: decoded.format,
        sampleRate: decoded.sampleRate,
        channels: decoded.channels,
        durationSec: decoded.durationSec,
      };
    }
    case 'profile-builtin': {
      const parts: Float32Array[] = [];
      let rate = context.engine.capabilities.sampleRate;
      for await (const part of context.engine.synthesize({ text: task.text, voiceId: task.voiceId }, signal)) {
        if (part.type === 'audio') {
          parts.push(part.samples);
          rate = part.sampleRate;
        }
      }
      return { profile: analyzeVoice(concatFloat32(parts), rate) };
    }
    case 'convert-voice': {
      const decoded = await decodeAudioBytes(task.bytes, task.param, { minSec: 0.5, maxSec: task.maxSec });
      const input = resampleBuffer(decoded.samples, decoded.sampleRate, task.sampleRate);
      const source = analyze(input, task.sampleRate, task.param);
      const transform = planVoiceTransform(source, task.target);
      const converted = transformVoice(input, task.sampleRate, transform, signal);
      if (signal.aborted) throw new ChorusError({ code: 'aborted', message: 'The conversion was stopped.' });
      limitInPlace(converted, 0.98, task.sampleRate);
      const output = task.watermark ? applyWatermark(converted, task.sampleRate) : converted;
      const words =
        task.transcript === undefined
          ? undefined
          : await alignWords(context.engine, output, task.sampleRate, task.transcript, { signal, ...(task.language === undefined ? {} : { language: task.language }) });
      const data = floatToS16leBytes(output);
      return {
        wav: concatBytes([wavHeader(task.sampleRate, data.length), data]),
        sampleRate: task.sampleRate,
        durationSec: output.length / task.sampleRate,
        inputDurationSec: decoded.durationSec,
        source,
        transform,
        ...(words === undefined ? {} : { words }),
      };
    }
    case 'decode-audio': {
      const decoded = await decodeAudioBytes(task.bytes, task.param, { minSec: 0.1, maxSec: task.maxSec });
      return { samples: decoded.samples.slice(), sampleRate: decoded.sampleRate };
    }
    case 'detect-watermark': {
      const decoded = await decodeAudioBytes(task.bytes, task.param, { minSec: 0.1, maxSec: 3600 });
      return { ...detectWatermark(decoded.samples, decoded.sampleRate), durationSec: decoded.durationSec };
    }
  }
}

function analyze(samples: Float32Array, sampleRate: number, param: string): VoiceProfile {
  try {
    return analyzeVoice(samples, sampleRate);
  } catch (error) {
    throw new ChorusError({
      code: 'invalid_request',
      param,
      message: `'${param}' holds too little speech to analyse a voice (${error instanceof Error ? error.message : String(error)}).`,
    });
  }
}

