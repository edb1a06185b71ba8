import { parentPort, workerData } from 'node:worker_threads';
import { initDsp } from '../audio/dsp/index.js';
import { createEngine } from '../engines/registry.js';
import { ChorusError } from '../errors.js';
import { synthesizeSpeech } from '../pipeline/synthesize-speech.js';
import { runAudioTask, type AudioTask } from './audio-tasks.js';
import type { FromWorker, SerializedError, ToWorker, WorkerSettings } from './protocol.js';
import { SendCredit } from './send-credit.js';

/**
 * An engine worker thread: owns one engine instance and runs the whole pipeline (engine, DSP,
 * encoder) for the jobs the pool gives it, so the main thread only moves bytes. Jobs on one
 * worker interleave at chunk boundaries.
 */
const port = parentPort;
if (port === null) throw new Error('engine-worker must run in a worker thread');
const settings = workerData as WorkerSettings;
const engine = await createEngine(settings.engineId);
await initDsp();
const running = new Map<number, AbortController>();
const credits = new Map<number, SendCredit>();

const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

send({
  type: 'ready',
  description: {
    id: engine.id,
    version: engine.version,
    capabilities: engine.capabilities,
    voices: engine.listVoices(),
  },
});

port.on('message', (message: ToWorker) => {
  if (message.type === 'abort') running.get(message.jobId)?.abort();
  else if (message.type === 'credit') credits.get(message.jobId)?.grant(message.bytes);
  else if (message.type === 'task') void runTask(message.jobId, message.task);
  else void run(message.jobId, message.request, message.creditBytes);
});

async function run(jobId: number, request: Extract<ToWorker, { type: 'synthesize' }>['request'], creditBytes: number): Promise<void> {
  const controller = new AbortController();
  const credit = new SendCredit(creditBytes, controller.signal);
  running.set(jobId, controller);
  credits.set(jobId, credit);
  try {
    const context = { engine, ffmpegPath: settings.ffmpegPath };
    for await (const part of synthesizeSpeech(context, request, controller.signal)) {
      if (part.type === 'audio') {
        // Move the bytes instead of copying them; a view into a larger buffer is copied first.
        const bytes =
          part.bytes.byteOffset === 0 && part.bytes.byteLength === part.bytes.buffer.byteLength
            ? part.bytes
            : part.bytes.slice();
        credit.spend(bytes.byteLength);
        send({ type: 'part', jobId, part: { type: 'audio', bytes } }, [bytes.buffer as ArrayBuffer]);
        // The pipeline (and the engine) of this job goes on only while its consumer keeps up, so a
        // client that does not read holds a window of audio, not the whole text's.
        await credit.available();
        if (controller.signal.aborted) break;
      } else {
        send({ type: 'part', jobId, part });
      }
    }
    send({ type: 'done', jobId, aborted: controller.signal.aborted });
  } catch (error) {
    send({ type: 'error', jobId, error: serializeError(error) });
  } finally {
    running.delete(jobId);
    credits.delete(jobId);
  }
}

async function runTask(jobId: number, task: AudioTask): Promise<void> {
  const controller = new AbortController();
  running.set(jobId, controller);
  try {
    const result = await runAudioTask(task, { engine }, controller.signal);
    const transfer = 'wav' in result ? [result.wav.buffer as ArrayBuffer] : [];
    send({ type: 'task-result', jobId, result }, transfer);
  } catch (error) {
    send({ type: 'error', jobId, error: serializeError(error) });
  } finally {
    running.delete(jobId);
  }
}

function serializeError(error: unknown): SerializedError {
  if (ChorusError.isInstance(error)) {
    return {
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      ...(error.param === undefined ? {} : { param: error.param }),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'engine_failed', message: `Synthesis failed: ${message}`, retryable: false };
}
