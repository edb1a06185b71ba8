import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { AUDIO_FD, encodeAudioFrame, type AudioFrame } from './audio-frames.js';
import type { GenerationSettings, HostReply, HostRequest, HostedModelConfig } from './host-protocol.js';

/**
 * The engine-host child process: loads sherpa-onnx models and generates speech for the server over
 * IPC. It lives apart from the server because sherpa's C++ ends the process with `_Exit` on model
 * errors Chorus could not foresee, and aborts it when a thread is torn down mid-generation; here
 * that costs the requests in flight, and the server starts a new host.
 */

interface GeneratedAudio {
  readonly samples: Float32Array;
  readonly sampleRate: number;
}

interface OfflineTts {
  readonly sampleRate: number;
  readonly numSpeakers: number;
  generateAsync(request: {
    text: string;
    generationConfig: object;
    onProgress: (info: { samples: Float32Array; progress: number }) => number;
  }): Promise<GeneratedAudio>;
}

interface SherpaModule {
  readonly version: string;
  readonly OfflineTts: { createAsync(config: HostedModelConfig): Promise<OfflineTts> };
  readonly GenerationConfig: new (fields: GenerationSettings) => object;
}

const sherpa = createRequire(import.meta.url)('sherpa-onnx-node') as SherpaModule;

interface Instance {
  readonly tts: OfflineTts;
  busy: number;
}

const models = new Map<string, Instance[]>();
const active = new Set<number>();
const cancelled = new Set<number>();

function send(reply: HostReply): void {
  process.send?.(reply);
}

const audio = new Socket({ fd: AUDIO_FD, readable: false, writable: true });
function sendAudio(frame: AudioFrame): void {
  audio.write(encodeAudioFrame(frame));
}

async function load(modelId: string, config: HostedModelConfig, count: number): Promise<void> {
  try {
    const instances: Instance[] = [];
    for (let i = 0; i < count; i++) instances.push({ tts: await sherpa.OfflineTts.createAsync(config), busy: 0 });
    models.set(modelId, instances);
    send({ type: 'loaded', modelId, sampleRate: instances[0]!.tts.sampleRate, numSpeakers: instances[0]!.tts.numSpeakers });
  } catch (error) {
    send({ type: 'load-failed', modelId, message: error instanceof Error ? error.message : String(error) });
  }
}

async function generate(request: Extract<HostRequest, { type: 'generate' }>): Promise<void> {
  const { requestId } = request;
  const instances = models.get(request.modelId);
  if (instances === undefined) {
    sendAudio({ kind: 'failed', requestId, message: `model '${request.modelId}' is not loaded in the engine host` });
    return;
  }
  const instance = instances.reduce((least, candidate) => (candidate.busy < least.busy ? candidate : least));
  instance.busy++;
  active.add(requestId);
  let made = 0;
  try {
    await instance.tts.generateAsync({
      text: request.text,
      generationConfig: new sherpa.GenerationConfig(request.generation),
      // sherpa reuses the chunk's memory once this returns: the frame is a copy, made before it returns.
      onProgress: ({ samples }) => {
        if (cancelled.has(requestId)) return 0;
        made += samples.length;
        sendAudio({ kind: 'chunk', requestId, samples });
        return made >= request.maxSamples ? 0 : 1;
      },
    });
    sendAudio({ kind: 'done', requestId });
  } catch (error) {
    // A cancelled generation that had made nothing yet rejects with "produced no audio": not a failure.
    if (cancelled.has(requestId)) sendAudio({ kind: 'done', requestId });
    else sendAudio({ kind: 'failed', requestId, message: error instanceof Error ? error.message : String(error) });
  } finally {
    instance.busy--;
    active.delete(requestId);
    cancelled.delete(requestId);
  }
}

process.on('message', (message: HostRequest) => {
  switch (message.type) {
    case 'load':
      void load(message.modelId, message.config, message.instances);
      break;
    case 'generate':
      void generate(message);
      break;
    case 'cancel':
      if (active.has(message.requestId)) cancelled.add(message.requestId);
      break;
  }
});
// The server going away closes the IPC channel: nothing is left to serve.
process.on('disconnect', () => process.exit(0));
send({ type: 'started', sherpaVersion: sherpa.version });
