// The live statechart view of one session: the chart drawn once (GET /sessions/{id}/chart),
// the configuration from GET /sessions/{id}, then each macrostep from the server-sent trace
// (GET /sessions/{id}/trace, read with fetch so the credential can go in a header): the
// active states lit, the event logged, the datamodel read again with what changed marked.
import { api, json, element } from '/pages/api.js';
import { drawChart, showConfiguration } from '/pages/chart.js';

const id = new URLSearchParams(location.search).get('id');
const error = document.getElementById('error');
const log = document.getElementById('log');
const datamodelPlace = document.getElementById('datamodel');
let boxes = new Map();
let active = null;
let lastData = {};
let source = '';

function fail(e) { error.textContent = e.message || String(e); }

function logEntry(text, detail, data) {
  const entry = element('div', { class: 'entry' }, element('span', { class: 'mono', text }));
  if (data !== undefined && data !== null) entry.append(element('div', { class: 'mono payload', text: JSON.stringify(data) }));
  if (detail) entry.append(element('div', { class: 'muted mono logs', text: detail }));
  log.prepend(entry);
}

// The filter: which parts of the log show (payloads, logs, platform errors).
function applyFilter() {
  log.classList.toggle('hide-payloads', !document.getElementById('show-data').checked);
  log.classList.toggle('hide-logs', !document.getElementById('show-logs').checked);
  log.classList.toggle('hide-errors', !document.getElementById('show-errors').checked);
}
for (const id of ['show-data', 'show-logs', 'show-errors']) document.getElementById(id).addEventListener('change', applyFilter);

// Marks the transitions the last macrostep took (until the next one).
function markTaken(indices) {
  document.querySelectorAll('.transitions li.taken').forEach((li) => li.classList.remove('taken'));
  for (const index of indices) {
    const li = document.querySelector('.transitions li[data-transition="' + index + '"]');
    if (li) li.classList.add('taken');
  }
}

// An error event of the session: the element, where it is, why; a click shows the line.
function logError(error) {
  const d = error.data || {};
  const where = d.tagname ? '<' + d.tagname + '>' + (d.line ? ' at line ' + d.line + ', column ' + d.column : '') : '';
  const entry = element('div', { class: 'entry bad error-event' },
    element('span', { class: 'mono', text: error.name + ' ' + where }),
    element('div', { class: 'mono', text: d.reason || JSON.stringify(d) }));
  if (d.line) entry.addEventListener('click', () => showSource({ id: '<' + d.tagname + '>', line: d.line, column: d.column }));
  log.prepend(entry);
}

function showDatamodel(data) {
  datamodelPlace.replaceChildren();
  for (const [key, value] of Object.entries(data || {})) {
    const text = key + ' = ' + JSON.stringify(value);
    const changed = JSON.stringify(lastData[key]) !== JSON.stringify(value);
    datamodelPlace.append(element('div', { class: changed ? 'changed' : '', text }));
  }
  lastData = data || {};
}

function showSource(state) {
  const lines = source.split('\n');
  const from = Math.max(0, state.line - 3);
  const to = Math.min(lines.length, state.line + 12);
  const place = document.getElementById('source');
  place.replaceChildren(...lines.slice(from, to).map((line, i) => element('div', {
    class: from + i + 1 === state.line ? 'here' : '',
    text: String(from + i + 1).padStart(4) + '  ' + line,
  })));
  document.getElementById('source-where').textContent = state.id + ' at line ' + state.line + ', column ' + state.column;
}

async function refresh() {
  const view = await json(await api('/sessions/' + encodeURIComponent(id)));
  document.getElementById('status').textContent = view.status + (view.failure ? ': ' + view.failure : '');
  active = showConfiguration(boxes, view.configuration, active);
  showDatamodel(view.datamodel);
  return view;
}

async function follow() {
  const response = await api('/sessions/' + encodeURIComponent(id) + '/trace');
  if (!response.ok) throw new Error('the trace: ' + response.status);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (!data || !frame.includes('event: macrostep')) continue;
      const step = JSON.parse(data);
      active = showConfiguration(boxes, step.configuration, active);
      logEntry('#' + step.seq + ' ' + (step.event || '(start)') + ' → ' + step.configuration.join(' '),
        step.logs.length ? step.logs.join('\n') : '', step.data);
      for (const error of step.errors || []) logError(error);
      markTaken(step.transitions || []);
      document.getElementById('status').textContent = step.status;
      refresh().catch(fail);
    }
  }
}

document.getElementById('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const body = { name: form.get('name') };
  const text = String(form.get('data') || '').trim();
  if (text) {
    try { body.data = JSON.parse(text); } catch { return fail(new Error('the data is not JSON')); }
  }
  error.textContent = '';
  const response = await api('/sessions/' + encodeURIComponent(id) + '/events', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!response.ok) fail(new Error((await response.json().catch(() => ({}))).message || response.status));
});

async function start() {
  if (!id) throw new Error('no session id in the address (?id=...)');
  document.getElementById('title').textContent = id;
  const chart = await json(await api('/sessions/' + encodeURIComponent(id) + '/chart'));
  source = chart.source || '';
  boxes = drawChart(chart, document.getElementById('chart'), showSource);
  await refresh();
  follow().catch(fail);
}

start().catch(fail);
