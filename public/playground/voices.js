// The key's voice library through Fish Speech's reference API: GET /v1/references,
// POST /v1/references/add (multipart id, text, audio), DELETE /v1/references/{id}.

import { apiJson } from './api.js';
import { speakWith } from './speak.js';

const $ = (id) => document.getElementById(id);
const TRY_TEXT = 'Hello, this is my cloned voice reading a short sentence.';

/** Called after the library changes, so the Speak panel's voice list follows. */
let libraryChanged = () => {};

export function setUpVoices(onChange) {
  libraryChanged = onChange;
  $('clone-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void cloneVoice();
  });
}

export async function refreshVoiceLibrary() {
  const { references } = await apiJson('/v1/references');
  const rows = references.map((reference) => {
    const row = document.createElement('tr');
    row.dataset.voice = reference.id;
    const cells = [reference.id, reference.voice_id, reference.engine, reference.method, `${reference.duration.toFixed(1)} s`];
    for (const text of cells) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    const actions = document.createElement('td');
    actions.append(
      button('Try it', 'try-voice', () => speakWith(reference.id, TRY_TEXT)),
      button('Delete', 'delete-voice', () => void deleteVoice(reference.id)),
    );
    row.append(actions);
    return row;
  });
  $('voice-table').tBodies[0].replaceChildren(...rows);
  $('voice-table').dataset.count = String(references.length);
  return references;
}

function button(label, className, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = label;
  element.addEventListener('click', onClick);
  return element;
}

async function cloneVoice() {
  const message = $('voices-message');
  const audio = $('clone-audio').files?.[0];
  if (audio === undefined) return;
  const form = new FormData();
  form.set('id', $('clone-name').value.trim());
  form.set('text', $('clone-text').value.trim());
  form.set('audio', audio, audio.name);
  $('clone-button').disabled = true;
  message.textContent = 'Analysing the reference…';
  try {
    const result = await apiJson('/v1/references/add', { method: 'POST', body: form });
    message.textContent = `${result.message} Method: ${result.reference.method}${result.note === undefined ? '' : `. ${result.note}`}`;
    $('clone-form').reset();
    await refreshVoiceLibrary();
    libraryChanged();
  } catch (error) {
    message.textContent = `Cloning failed: ${error.message}`;
  } finally {
    $('clone-button').disabled = false;
  }
}

async function deleteVoice(id) {
  const message = $('voices-message');
  try {
    const result = await apiJson(`/v1/references/${encodeURIComponent(id)}`, { method: 'DELETE' });
    message.textContent = result.message;
    await refreshVoiceLibrary();
    libraryChanged();
  } catch (error) {
    message.textContent = `Delete failed: ${error.message}`;
  }
}
