// The playground's start: engines from GET /v1/models, voices from GET /v1/voices (the chosen
// engine's built-in voices and the key's own), then the three panels.

import { apiJson, forgetKey, onKeyChange } from './api.js';
import { setUpJobs } from './jobs.js';
import { setUpSpeak } from './speak.js';
import { refreshVoiceLibrary, setUpVoices } from './voices.js';

const $ = (id) => document.getElementById(id);

let voices = [];

async function loadEngines() {
  const { data } = await apiJson('/v1/models');
  // Aliases (tts-1, s1-mini, …) name the default engine again; the engines themselves are listed once.
  const engines = data.filter((model) => model.alias_of === undefined);
  const select = $('speak-engine');
  select.replaceChildren(
    ...engines.map((engine) => {
      const option = new Option(`${engine.id}${engine.default ? ' (default)' : ''}`, engine.id, engine.default, engine.default);
      option.title = `${engine.voices} voices, ${engine.capabilities.sample_rate} Hz, cloning: ${engine.capabilities.cloning}`;
      return option;
    }),
  );
  return engines;
}

async function loadVoices() {
  ({ voices } = await apiJson('/v1/voices'));
  showVoices();
}

/** The chosen engine's built-in voices, then the key's voices (they speak with any engine). */
function showVoices() {
  const select = $('speak-voice');
  const chosen = select.value;
  const engine = $('speak-engine').value;
  const builtIn = document.createElement('optgroup');
  builtIn.label = `${engine} voices`;
  builtIn.append(...voices.filter((voice) => voice.type === 'built-in' && voice.engine === engine).map((voice) => voiceOption(voice)));
  const own = document.createElement('optgroup');
  own.label = 'Your voices';
  own.append(...voices.filter((voice) => voice.type !== 'built-in').map((voice) => voiceOption(voice)));
  select.replaceChildren(builtIn, ...(own.children.length > 0 ? [own] : []));
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
}

function voiceOption(voice) {
  const details = [voice.gender, voice.language, voice.method].filter(Boolean).join(', ');
  // User voices are sent by name, which is unique per key; built-ins by the name a request uses.
  const value = voice.type === 'built-in' ? voice.voice_id : voice.name;
  return new Option(details === '' ? voice.name : `${voice.name} (${details})`, value);
}

async function start() {
  setUpSpeak();
  setUpVoices(() => void loadVoices().catch(showFailure));
  setUpJobs();
  onKeyChange((hasKey) => ($('forget-key').hidden = !hasKey));
  $('forget-key').addEventListener('click', () => forgetKey());
  $('speak-engine').addEventListener('change', showVoices);
  try {
    const engines = await loadEngines();
    await Promise.all([loadVoices(), refreshVoiceLibrary()]);
    $('server-status').textContent = `${engines.length} engine${engines.length === 1 ? '' : 's'}, ${voices.length} voices.`;
    document.body.dataset.ready = 'true';
  } catch (error) {
    showFailure(error);
  }
}

function showFailure(error) {
  $('server-status').textContent = `Could not reach the API: ${error.message}`;
}

void start();
