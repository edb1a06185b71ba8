// The job API: POST /v2/{endpoint}/run, then /status long-polled (`?wait=`) until the job ends;
// /cancel while it is queued or running. Finished audio is playable when the output carries it.

import { api, apiJson } from './api.js';
import { base64Bytes } from './speak.js';

const $ = (id) => document.getElementById(id);
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
/** Each status request waits this long for the job to end: one request instead of many polls. */
const POLL_WAIT_MS = 10_000;

const EXAMPLE_INPUTS = {
  chatterbox: { text: 'A job spoken by the chatterbox endpoint.', format: 'mp3' },
  'spark-tts': { text: 'A job spoken by the Spark-TTS endpoint.', speaker_gender: 'female' },
  'chatterbox-v2': { operation: 'tts', mode: 'basic', text: 'A job spoken by the operations endpoint.' },
};

export function setUpJobs() {
  const endpoint = $('job-endpoint');
  const fillExample = () => {
    const example = EXAMPLE_INPUTS[endpoint.value];
    if (example !== undefined) $('job-input').value = JSON.stringify(example, null, 2);
  };
  endpoint.addEventListener('change', fillExample);
  fillExample();
  $('job-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void submitJob();
  });
}

async function submitJob() {
  const message = $('jobs-message');
  message.textContent = '';
  const endpoint = $('job-endpoint').value.trim();
  let input;
  try {
    input = JSON.parse($('job-input').value);
  } catch (error) {
    message.textContent = `The input is not JSON: ${error.message}`;
    return;
  }
  try {
    const job = await apiJson(`/v2/${encodeURIComponent(endpoint)}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input }),
    });
    const row = jobRow(endpoint, job);
    $('job-table').tBodies[0].prepend(row);
    await watch(endpoint, job.id, row);
  } catch (error) {
    message.textContent = `Job failed to start: ${error.message}`;
  }
}

function jobRow(endpoint, job) {
  const row = document.createElement('tr');
  row.dataset.job = job.id;
  for (const text of [job.id, endpoint, '', '', '']) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'cancel-job';
  cancel.textContent = 'Cancel';
  cancel.addEventListener('click', () => void api(`/v2/${encodeURIComponent(endpoint)}/cancel/${encodeURIComponent(job.id)}`, { method: 'POST' }).catch(() => {}));
  const actions = document.createElement('td');
  actions.append(cancel);
  row.append(actions);
  showJob(row, job);
  return row;
}

async function watch(endpoint, id, row) {
  for (;;) {
    const job = await apiJson(`/v2/${encodeURIComponent(endpoint)}/status/${encodeURIComponent(id)}?wait=${POLL_WAIT_MS}`);
    showJob(row, job);
    if (TERMINAL.has(job.status)) return;
  }
}

function showJob(row, job) {
  const [, , status, times, result, actions] = row.cells;
  row.dataset.status = job.status;
  status.textContent = job.status;
  status.className = `status-${job.status.toLowerCase()}`;
  const parts = [];
  if (job.delayTime !== undefined) parts.push(`waited ${job.delayTime} ms`);
  if (job.executionTime !== undefined) parts.push(`ran ${job.executionTime} ms`);
  times.textContent = parts.join(', ');
  if (!TERMINAL.has(job.status)) return;
  actions.replaceChildren();
  result.replaceChildren(...describeResult(job));
}

/** Audio in the output becomes a player; the rest is shown as JSON with long strings cut short. */
function describeResult(job) {
  if (job.status !== 'COMPLETED') return [document.createTextNode(job.error ?? job.status)];
  const output = job.output ?? {};
  const nodes = [];
  const base64 = typeof output.audio_base64 === 'string' ? output.audio_base64 : typeof output.audio === 'string' ? output.audio : undefined;
  if (base64 !== undefined) {
    const type = output.mimetype ?? output.content_type ?? `audio/${output.format ?? 'wav'}`;
    nodes.push(audioElement(URL.createObjectURL(new Blob([base64Bytes(base64)], { type }))));
  } else if (typeof output.audio_url === 'string' && /^https?:\/\//i.test(output.audio_url)) {
    const link = document.createElement('a');
    link.href = output.audio_url;
    link.textContent = 'audio file';
    link.rel = 'noreferrer';
    nodes.push(link);
  }
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = 'output';
  const pre = document.createElement('pre');
  pre.textContent = JSON.stringify(output, (_key, value) => (typeof value === 'string' && value.length > 120 ? `${value.slice(0, 120)}… (${value.length} characters)` : value), 2);
  details.append(summary, pre);
  nodes.push(details);
  return nodes;
}

function audioElement(url) {
  const audio = document.createElement('audio');
  audio.controls = true;
  audio.src = url;
  return audio;
}
