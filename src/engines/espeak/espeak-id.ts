/** Kept apart from the engine so the main thread can name eSpeak without loading its 840 KB module. */
export const ESPEAK_ENGINE_ID = 'espeak';
