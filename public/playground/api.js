// Every call the page makes goes through `api()`: same-origin paths only, the key as a Bearer
// token, and a 401 answered by asking for the key again.

const KEY_STORAGE = 'chorus-playground-key';

/** An API's refusal, with the message of its own error shape (OpenAI's or the job API's). */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
  }
}

let key = readStoredKey();
/** One dialog for every request that was refused at the same moment. */
let keyRequest;
const keyListeners = new Set();

function readStoredKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? undefined;
  } catch {
    return undefined; // storage disabled: the key lives in memory only
  }
}

function storeKey(value) {
  key = value;
  try {
    if (value === undefined) sessionStorage.removeItem(KEY_STORAGE);
    else sessionStorage.setItem(KEY_STORAGE, value);
  } catch {
    // memory only
  }
  for (const listener of keyListeners) listener(value !== undefined);
}

export function onKeyChange(listener) {
  keyListeners.add(listener);
  listener(key !== undefined);
}

export function forgetKey() {
  storeKey(undefined);
}

/**
 * Resolves a path against this page's origin and refuses anything else: the key must never be
 * sent to another host, whatever a caller (or a value from a response) hands in.
 */
function ownOriginUrl(path) {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) {
    throw new Error(`Refusing to call '${path}': only paths on this server are allowed.`);
  }
  const url = new URL(path, location.origin);
  if (url.origin !== location.origin) throw new Error(`Refusing to call '${path}': not this server.`);
  return url;
}

/** fetch() on this server with the key; a non-2xx answer becomes an ApiError with the server's message. */
export async function api(path, init = {}) {
  const url = ownOriginUrl(path);
  for (;;) {
    const sentKey = key;
    const headers = new Headers(init.headers);
    if (sentKey !== undefined) headers.set('authorization', `Bearer ${sentKey}`);
    const response = await fetch(url, { ...init, headers, credentials: 'same-origin', referrerPolicy: 'no-referrer' });
    if (response.status === 401) {
      const refusal = await readError(response);
      // Another request may already have got a new key while this one was on its way.
      if (key === sentKey) {
        storeKey(undefined);
        await askForKey(sentKey === undefined ? 'This server needs an API key.' : `The key was refused: ${refusal.message}`);
      }
      continue;
    }
    if (!response.ok) throw await readError(response);
    return response;
  }
}

export async function apiJson(path, init = {}) {
  const response = await api(path, init);
  return response.json();
}

async function readError(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    return new ApiError(response.status, `${response.status} ${response.statusText}`);
  }
  const error = body?.error;
  if (typeof error === 'string') return new ApiError(response.status, error, body.field);
  if (error !== null && typeof error === 'object') return new ApiError(response.status, String(error.message ?? response.statusText), error.param ?? undefined);
  return new ApiError(response.status, `${response.status} ${response.statusText}`);
}

function askForKey(message) {
  if (keyRequest !== undefined) return keyRequest;
  const dialog = document.getElementById('key-dialog');
  const form = document.getElementById('key-form');
  const input = document.getElementById('key-input');
  document.getElementById('key-message').textContent = message;
  input.value = '';
  keyRequest = new Promise((resolve) => {
    const submitted = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (value === '') return;
      form.removeEventListener('submit', submitted);
      dialog.close();
      keyRequest = undefined;
      storeKey(value);
      resolve();
    };
    form.addEventListener('submit', submitted);
    // Escape would leave the page with no way to continue; the key is what it needs.
    dialog.oncancel = (event) => event.preventDefault();
    dialog.showModal();
    input.focus();
  });
  return keyRequest;
}
