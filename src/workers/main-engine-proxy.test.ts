import { describeSpeechEngine } from '../engine/engine.case.js';
import { createEspeakEngine } from '../engines/espeak/espeak-engine.js';
import { proxiedEngine } from './main-engine-proxy.case.js';

describeSpeechEngine('espeak, through the main-engine proxy', async () => proxiedEngine(await createEspeakEngine()), { voiceId: 'default' });
