import { describeSpeechEngine } from '../../engine/engine.case.js';
import { createEspeakEngine } from './espeak-engine.js';

describeSpeechEngine('espeak, in-process', async () => ({ engine: await createEspeakEngine() }), { voiceId: 'default' });
