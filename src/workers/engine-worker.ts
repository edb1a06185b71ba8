import { parentPort, workerData } from 'node:worker_threads';
import { alignWords } from '../alignment/forced-aligner.js';
import { initDsp } from '../audio/dsp/index.js';
import { findLanguage } from '../engine/engine-languages.js';
import type { SpeechEngine } from '../engine/speech-engine.js';
import { ESPEAK_ENGINE_ID } from '../engines/espeak/espeak-id.js';
import { createWorkerEngine } from '../engines/registry.js';
import { ChorusError } from '../errors.js';
import type { SpeechRequest } from '../pipeline/speech-request.js';
import { synthesizeSpeech, type ChunkAligner } from '../pipeline/synthesize-speech.js';
import { runAudioTask, type AudioTask } from './audio-tasks.js';
import { MainEngineChannel } from './main-engine-proxy.js';
import type { EngineDescription, FromWorker, ToWorker, WorkerSettings } from './protocol.js';
import { SendCredit } from './send-credit.js';
import { serializeError } from './serialize-error.js';

/**
 * An engine worker thread: owns one instance of each worker engine, reaches the main thread's
 * engines through a proxy, and runs the whole pipeline (engine, DSP, encoder) for the jobs the pool
 * gives it, so the main thread only moves bytes. Jobs on one worker interleave at chunk boundaries.
 */
const port = parentPort;
if (port === null) throw new Error('engine-worker must run in a worker thread');
const settings = workerData as WorkerSettings;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

const engines = new Map<string, SpeechEngine>();
const own: EngineDescription[] = [];
// eSpeak is always here: the forced aligner's reference and voice matching speak with it.
for (const id of new Set([ESPEAK_ENGINE_ID, ...settings.workerEngines])) {
  const engine = await createWorkerEngine(id);
  engines.set(id, engine);
  own.push({ id, version: engine.version, capabilities: engine.capabilities, voices: engine.listVoices(), placement: 'worker' });
}
const espeak = engines.get(ESPEAK_ENGINE_ID)!;
const mainEngines = new MainEngineChannel(send);
for (const description of settings.mainEngines) engines.set(description.id, mainEngines.engine(description));
/** Word timings for engines without their own: the forced aligner, its reference spoken by eSpeak in the request's language when eSpeak has it. */
const align: ChunkAligner = async (samples, sampleRate, text, language, signal) => {
  const code = language === undefined ? undefined : findLanguage(espeak.capabilities.languages, language)?.code;
  const words = await alignWords(espeak, samples, sampleRate, text, { ...(code === undefined ? {} : { language: code }), signal });
  return words.map((word) => ({ charStart: word.charStart, charEnd: word.charEnd, startMs: word.start * 1000, endMs: word.end * 1000 }));
};
await initDsp();
const running = new Map<number, AbortController>();
const credits = new Map<number, SendCredit>();

send({ type: 'ready', engines: own });

port.on('message', (message: ToWorker) => {
  if (message.type === 'abort') running.get(message.jobId)?.abort();
  else if (message.type === 'credit') credits.get(message.jobId)?.grant(message.bytes);
  else if (message.type === 'task') void runTask(message.jobId, message.task);
  else if (message.type === 'engine-part' || message.type === 'engine-end') mainEngines.receive(message);
  else void run(message.jobId, message.request, message.creditBytes);
});

function engineFor(request: SpeechRequest): SpeechEngine {
  const engine = engines.get(request.engine);
  if (engine !== undefined) return engine;
  throw new ChorusError({ code: 'model_not_found', param: 'engine', message: `Engine '${request.engine}' is not loaded; loaded: ${[...engines.keys()].join(', ')}.` });
}

async function run(jobId: number, request: SpeechRequest, creditBytes: number): Promise<void> {
  const controller = new AbortController();
  const credit = new SendCredit(creditBytes, controller.signal);
  running.set(jobId, controller);
  credits.set(jobId, credit);
  try {
    const context = { engine: engineFor(request), align, ffmpegPath: settings.ffmpegPath };
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
    const result = await runAudioTask(task, { engine: espeak }, controller.signal);
    const transfer = 'wav' in result ? [result.wav.buffer as ArrayBuffer] : 'samples' in result ? [result.samples.buffer as ArrayBuffer] : [];
    send({ type: 'task-result', jobId, result }, transfer);
  } catch (error) {
    send({ type: 'error', jobId, error: serializeError(error) });
  } finally {
    running.delete(jobId);
  }
}
