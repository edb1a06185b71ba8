/**
 * `GET /docs`: the API reference, one self-contained page that renders /openapi.json in the browser
 * (no CDN, no build step, nothing from node_modules): each route with its parameters, body and
 * answers, and a form that sends a request with fetch and shows or plays the answer. Everything
 * from the document is put in with textContent, never as markup.
 */
export const DOCS_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; form-action 'none'";

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chorus API reference</title>
<style>
  :root { color-scheme: light dark; --line: #8884; --muted: #888; --get: #2b7a3d; --post: #1f5fa8; --delete: #a82a1f; }
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; }
  header { position: sticky; top: 0; display: flex; gap: 1em; align-items: center; flex-wrap: wrap; padding: .6em 1.2em; border-bottom: 1px solid var(--line); background: Canvas; }
  header h1 { font-size: 1.15em; margin: 0; }
  main { max-width: 70em; margin: 0 auto; padding: 0 1.2em 4em; }
  h2 { margin: 1.6em 0 .3em; font-size: 1.1em; }
  .tagdesc, .muted { color: var(--muted); }
  details.op { border: 1px solid var(--line); border-radius: 6px; margin: .4em 0; }
  details.op > summary { cursor: pointer; padding: .45em .7em; display: flex; gap: .7em; align-items: baseline; }
  .method { font: bold 12px monospace; text-transform: uppercase; color: #fff; padding: .15em .5em; border-radius: 3px; min-width: 4.2em; text-align: center; }
  .method.get { background: var(--get); } .method.post { background: var(--post); } .method.delete { background: var(--delete); }
  .path { font-family: monospace; }
  .body { padding: 0 1em 1em; }
  pre { background: #8881; padding: .6em; overflow: auto; max-height: 28em; font-size: 13px; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .25em .5em; border-bottom: 1px solid var(--line); vertical-align: top; }
  textarea { width: 100%; min-height: 9em; font: 13px monospace; box-sizing: border-box; }
  input[type=text], input[type=password], select { font: inherit; padding: .2em .4em; }
  button { font: inherit; padding: .3em 1em; cursor: pointer; }
  .answer { margin-top: .8em; }
</style>
</head>
<body>
<header>
  <h1>Chorus API <span id="version" class="muted"></span></h1>
  <label>API key <input id="api-key" type="password" size="28" placeholder="only if CHORUS_API_KEYS is set" autocomplete="off"></label>
  <label>Filter <input id="filter" type="text" size="20" placeholder="path or words"></label>
  <a href="openapi.json">openapi.json</a>
</header>
<main id="main"><p id="status">Loading openapi.json…</p></main>
<script>
(() => {
  'use strict';
  const base = new URL('.', location.href);
  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child !== undefined && child !== null) node.append(child);
    return node;
  };
  const keyInput = document.getElementById('api-key');
  keyInput.value = sessionStorage.getItem('chorus-api-key') || '';
  keyInput.addEventListener('change', () => sessionStorage.setItem('chorus-api-key', keyInput.value));

  let doc;
  const resolve = (schema, depth = 0) => {
    if (!schema || typeof schema !== 'object' || depth > 20) return schema;
    if (typeof schema.$ref === 'string') return resolve(doc.components.schemas[schema.$ref.split('/').pop()], depth + 1);
    if (Array.isArray(schema)) return schema.map((item) => resolve(item, depth + 1));
    return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, resolve(value, depth + 1)]));
  };
  const pretty = (value) => el('pre', {}, JSON.stringify(value, null, 2));

  function parameterTable(parameters) {
    return el('table', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'in'), el('th', {}, 'schema'), el('th', {}, 'description')),
      ...parameters.map((p) => el('tr', {}, el('td', { class: 'path' }, p.name + (p.required ? ' *' : '')), el('td', {}, p.in),
        el('td', { class: 'path' }, JSON.stringify(p.schema)), el('td', {}, p.description || ''))));
  }

  function tryIt(path, method, op) {
    const parameters = op.parameters || [];
    const inputs = new Map(parameters.map((p) => [p, el('input', { type: 'text', placeholder: p.in + (p.required ? ', required' : '') })]));
    const content = op.requestBody ? op.requestBody.content : undefined;
    const bodyType = content ? Object.keys(content)[0] : undefined;
    const form = el('div', { class: 'try' }, el('h4', {}, 'Try it'));
    for (const [p, input] of inputs) form.append(el('label', {}, el('span', { class: 'path' }, p.name + ' '), input), ' ');
    let bodyInput;
    const fileInputs = new Map();
    if (bodyType === 'multipart/form-data') {
      const schema = resolve(content[bodyType].schema);
      for (const [name, field] of Object.entries(schema.properties || {})) {
        const input = field.format === 'binary' ? el('input', { type: 'file' }) : el('input', { type: 'text' });
        fileInputs.set(name, input);
        form.append(el('div', {}, el('label', {}, el('span', { class: 'path' }, name + ' '), input)));
      }
    } else if (bodyType) {
      const examples = Object.entries(content[bodyType].examples || {});
      bodyInput = el('textarea', { spellcheck: 'false' });
      bodyInput.value = examples.length > 0 ? JSON.stringify(examples[0][1].value, null, 2) : '{}';
      if (examples.length > 1) {
        const pick = el('select', { onchange: () => { bodyInput.value = JSON.stringify(content[bodyType].examples[pick.value].value, null, 2); } },
          ...examples.map(([key, example]) => el('option', { value: key }, example.summary || key)));
        form.append(el('div', {}, 'Example ', pick));
      }
      form.append(bodyInput);
    }
    const answer = el('div', { class: 'answer' });
    const send = async () => {
      answer.replaceChildren('Sending…');
      let url = path;
      const query = new URLSearchParams();
      const headers = {};
      for (const [p, input] of inputs) {
        if (input.value === '') continue;
        if (p.in === 'path') url = url.replace('{' + p.name + '}', encodeURIComponent(input.value));
        else if (p.in === 'query') query.set(p.name, input.value);
        else headers[p.name] = input.value;
      }
      if (keyInput.value) headers.authorization = 'Bearer ' + keyInput.value;
      let body;
      if (bodyType === 'multipart/form-data') {
        body = new FormData();
        for (const [name, input] of fileInputs) {
          if (input.type === 'file') { if (input.files[0]) body.set(name, input.files[0]); }
          else if (input.value !== '') body.set(name, input.value);
        }
      } else if (bodyInput) {
        body = bodyInput.value;
        headers['content-type'] = bodyType;
      }
      const target = new URL(url.replace(/^\\//, '') + (query.size > 0 ? '?' + query : ''), base);
      try {
        const response = await fetch(target, { method: method.toUpperCase(), headers, body });
        const type = response.headers.get('content-type') || '';
        const head = el('div', {}, el('b', {}, response.status + ' ' + response.statusText), ' ', el('span', { class: 'path' }, type));
        const headerList = el('pre', {}, [...response.headers].map(([k, v]) => k + ': ' + v).join('\\n'));
        answer.replaceChildren(head, el('details', {}, el('summary', {}, 'headers'), headerList));
        if (type.startsWith('audio/')) {
          const blob = await response.blob();
          const link = URL.createObjectURL(blob);
          answer.append(el('audio', { controls: '', src: link }), ' ', el('a', { href: link, download: 'speech' }, 'download (' + blob.size + ' bytes)'));
        } else if (type.includes('json') && !type.includes('ndjson')) {
          const text = await response.text();
          let shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch {}
          answer.append(el('pre', {}, shown));
        } else {
          // Streams (SSE, NDJSON) show as they arrive.
          const out = el('pre', {});
          answer.append(out);
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) { const { value, done } = await reader.read(); if (done) break; out.append(value); }
        }
      } catch (error) {
        answer.replaceChildren('Request failed: ' + error);
      }
    };
    form.append(el('div', {}, el('button', { onclick: send }, 'Send ' + method.toUpperCase() + ' ' + path)), answer);
    return form;
  }

  function operationView(path, method, op) {
    const body = el('div', { class: 'body' });
    if (op.description) body.append(el('p', {}, op.description));
    if ((op.security || []).length > 0) body.append(el('p', { class: 'muted' }, 'Needs the API key.'));
    if (op.parameters) body.append(el('h4', {}, 'Parameters'), parameterTable(op.parameters));
    if (op.requestBody) {
      for (const [type, media] of Object.entries(op.requestBody.content)) {
        body.append(el('h4', {}, 'Body: ', el('span', { class: 'path' }, type)), el('details', {}, el('summary', {}, 'schema'), pretty(resolve(media.schema))));
        for (const [key, example] of Object.entries(media.examples || {})) body.append(el('details', {}, el('summary', {}, 'example: ' + (example.summary || key)), pretty(example.value)));
      }
    }
    body.append(el('h4', {}, 'Responses'));
    for (const [status, response] of Object.entries(op.responses)) {
      const types = Object.entries(response.content || {});
      body.append(el('details', {}, el('summary', {}, el('b', {}, status), ' ' + response.description + (types.length ? ' (' + types.map(([t]) => t).join(', ') + ')' : '')),
        ...types.map(([type, media]) => el('div', {}, el('span', { class: 'path' }, type), pretty(resolve(media.schema)))),
        response.headers ? parameterTable(Object.entries(response.headers).map(([name, h]) => ({ name, in: 'header', schema: h.schema, description: h.description }))) : null));
    }
    body.append(tryIt(path, method, op));
    const details = el('details', { class: 'op', id: op.operationId, 'data-search': (method + ' ' + path + ' ' + op.summary + ' ' + (op.tags || []).join(' ')).toLowerCase() },
      el('summary', {}, el('span', { class: 'method ' + method }, method), el('span', { class: 'path' }, path), el('span', { class: 'muted' }, op.summary),
        el('a', { href: '#' + encodeURIComponent(op.operationId), class: 'muted', title: 'link to this route' }, '#')), body);
    return details;
  }

  function render() {
    document.getElementById('version').textContent = doc.info.version;
    const main = document.getElementById('main');
    main.replaceChildren(el('p', {}, doc.info.description || ''));
    const byTag = new Map((doc.tags || []).map((tag) => [tag.name, { tag, ops: [] }]));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const name = (op.tags || ['Other'])[0];
        if (!byTag.has(name)) byTag.set(name, { tag: { name }, ops: [] });
        byTag.get(name).ops.push([path, method, op]);
      }
    }
    for (const { tag, ops } of byTag.values()) {
      if (ops.length === 0) continue;
      main.append(el('section', { class: 'tag' }, el('h2', {}, tag.name), tag.description ? el('div', { class: 'tagdesc' }, tag.description) : null, ...ops.map(([p, m, o]) => operationView(p, m, o))));
    }
    // /docs#<operationId> opens that route.
    const linked = location.hash.length > 1 ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    if (linked) { linked.open = true; linked.scrollIntoView(); }
  }

  document.getElementById('filter').addEventListener('input', (event) => {
    const words = event.target.value.toLowerCase().split(/\\s+/).filter(Boolean);
    for (const op of document.querySelectorAll('details.op')) op.hidden = !words.every((word) => op.dataset.search.includes(word));
  });

  fetch(new URL('openapi.json', base)).then((response) => {
    if (!response.ok) throw new Error('openapi.json answered ' + response.status);
    return response.json();
  }).then((loaded) => { doc = loaded; render(); }, (error) => { document.getElementById('status').textContent = 'Could not load openapi.json: ' + error.message; });
})();
</script>
</body>
</html>
`;
