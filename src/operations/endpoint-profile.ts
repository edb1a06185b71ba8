import type { JobContext } from '../jobs/job-runner.js';
import type { JobEndpoint } from '../jobs/job-service.js';
import type { SpeechService } from '../speech/speech-service.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { VoiceLibrary } from '../voices/voice-library.js';

/** What an operation can use while it runs inside a job. */
export interface OperationContext extends JobContext {
  readonly jobId: string;
  /** Digest of the API key that submitted the job ('' without keys). */
  readonly owner: string;
  readonly speech: SpeechService;
  readonly voices: VoiceLibrary;
  /** Where outputs go (audio files, subtitles); `signedUrl` makes the links handed to clients. */
  readonly storage: BlobStore;
}

/** What submission-time validation can use: it may resolve the submitting key's voices. */
export interface ValidationContext {
  readonly speech: SpeechService;
  readonly voices: VoiceLibrary;
  readonly owner: string;
  readonly signal: AbortSignal;
}

/**
 * The handler of one worker document (Spark-TTS, Chatterbox, …). An endpoint id is bound to one
 * profile by configuration. `validate` runs at submission: input it refuses (a ChorusError naming
 * the field) makes a job that is FAILED at once with that message, as a RunPod handler's refusal
 * does; `run` runs inside the job and its errors become the job's `error` string.
 */
export interface EndpointProfile extends JobEndpoint {
  /**
   * May be async (decoding uploaded audio, say); the job service awaits it before queueing. Returns
   * the input as the job stores it and `run` gets it: parsed, with only the fields the profile
   * knows (a request padded with unknown fields must not be stored with them).
   */
  validate(input: unknown, context: ValidationContext): Promise<Record<string, unknown>>;
  run(input: unknown, context: OperationContext): Promise<unknown>;
}
