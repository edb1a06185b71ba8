/**
 * Messages between the server and its engine-host child process (Node IPC with `serialization:
 * 'advanced'`, so a reference's Float32Array crosses as it is); the audio comes back on a pipe of
 * its own (audio-frames.ts). The host knows sherpa-onnx and nothing of Chorus.
 */

/** sherpa-onnx's OfflineTts config: one family block under `model`, paths absolute. */
export interface HostedModelConfig {
  readonly model: Readonly<Record<string, unknown>> & { readonly numThreads: number };
  readonly maxNumSentences: number;
  readonly silenceScale: number;
}

/** sherpa-onnx's GenerationConfig fields. */
export interface GenerationSettings {
  readonly sid: number;
  readonly speed: number;
  readonly silenceScale: number;
  readonly numSteps?: number;
  readonly referenceAudio?: Float32Array;
  readonly referenceSampleRate?: number;
  readonly referenceText?: string;
  readonly extra?: Readonly<Record<string, string | number>>;
}

export type HostRequest =
  | { readonly type: 'load'; readonly modelId: string; readonly config: HostedModelConfig; readonly instances: number }
  | {
      readonly type: 'generate';
      readonly requestId: number;
      readonly modelId: string;
      readonly text: string;
      readonly generation: GenerationSettings;
      /** Stop once this many samples are made (the pipeline refuses more anyway). */
      readonly maxSamples: number;
    }
  | { readonly type: 'cancel'; readonly requestId: number };

export type HostReply =
  | { readonly type: 'started'; readonly sherpaVersion: string }
  | { readonly type: 'loaded'; readonly modelId: string; readonly sampleRate: number; readonly numSpeakers: number }
  | { readonly type: 'load-failed'; readonly modelId: string; readonly message: string };
