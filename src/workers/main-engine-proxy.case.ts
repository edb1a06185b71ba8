import { MessageChannel } from 'node:worker_threads';
import type { SpeechEngine } from '../engine/speech-engine.js';
import { MainEngineChannel, MainEngineHost } from './main-engine-proxy.js';
import type { FromWorker, ToWorker } from './protocol.js';

/**
 * An engine on one end of a real MessageChannel (the main thread's side, MainEngineHost) and the proxy a
 * worker's pipeline uses on the other: every part crosses structured cloning and transfer as it does
 * between threads.
 */
export async function proxiedEngine(engine: SpeechEngine): Promise<{ engine: SpeechEngine; close(): Promise<void> }> {
  const { port1: workerSide, port2: mainSide } = new MessageChannel();
  const host = new MainEngineHost(new Map([[engine.id, engine]]), (message: ToWorker, transfer) => mainSide.postMessage(message, transfer));
  const channel = new MainEngineChannel((message: FromWorker) => workerSide.postMessage(message));
  mainSide.on('message', (message: FromWorker) => {
    if (MainEngineHost.handles(message)) host.handle(message);
  });
  workerSide.on('message', (message: ToWorker) => {
    if (message.type === 'engine-part' || message.type === 'engine-end') channel.receive(message);
  });
  const proxy = channel.engine({ id: engine.id, version: engine.version, capabilities: engine.capabilities, voices: engine.listVoices(), placement: 'main' });
  return {
    engine: proxy,
    close: async () => {
      host.abortAll();
      workerSide.close();
      mainSide.close();
    },
  };
}
