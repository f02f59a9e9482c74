// The operator console: the callbacks (GET service/callback?... with paging and a window of
// desired times), cancel one or many (DELETE, POST admin/callback/cancel), reschedule the
// selected (PUT), CSV export of the current search, a few metrics, the queues
// (admin/callback/queues) with their outstanding count sampled over time, the agents and the
// services (admin/agents, admin/services). Everything with the operator's token.
import { api, json, element } from '/pages/api.js';

const GMS_KEYS = ['_id', '_desired_time', '_service_name', '_callback_state', '_callback_reason', '_customer_number'];
const PAGE = 25;
let offset = 0;
let total = 0;
const history = new Map(); // queue -> [outstanding counts], the last 60 samples

const error = document.getElementById('error');
const fail = (e) => { error.textContent = e.message || String(e); };
const gms = (path, options) => api('/genesys/1/' + path, options);

function query(paged) {
  const form = new FormData(document.getElementById('filter'));
  const params = new URLSearchParams();
  for (const [k, v] of form) if (v && k !== 'service') params.set(k, v);
  if (paged) { params.set('offset', offset); params.set('limit', PAGE); }
  const service = form.get('service');
  return 'service/callback' + (service ? '/' + encodeURIComponent(service) : '') + '?' + params;
}

function columns(records) {
  const user = new Set();
  for (const r of records) for (const k of Object.keys(r)) if (k.startsWith('usr_')) user.add(k);
  return [...GMS_KEYS, ...[...user].sort()];
}

async function search() {
  error.textContent = '';
  const body = await json(await gms(query(true)));
  total = body.total;
  const records = body.callbacks;
  const keys = columns(records);
  const table = document.getElementById('callbacks');
  table.tHead.replaceChildren(element('tr', {}, element('th', { text: '' }), ...keys.map((k) => element('th', { text: k })), element('th', { text: '' })));
  table.tBodies[0].replaceChildren(...records.map((r) => {
    const pick = element('input', { type: 'checkbox', 'data-id': r._id });
    const cancel = element('button', { type: 'button', class: 'cancel-one', text: 'Cancel' });
    cancel.disabled = r._callback_state === 'COMPLETED';
    cancel.addEventListener('click', () => cancelOne(r._id).catch(fail));
    return element('tr', { 'data-id': r._id }, element('td', {}, pick),
      ...keys.map((k) => element('td', { class: k === '_id' ? 'mono' : '', 'data-key': k, text: r[k] == null ? '' : String(r[k]) })),
      element('td', {}, cancel));
  }));
  document.getElementById('summary').textContent = total + ' callback' + (total === 1 ? '' : 's');
  document.getElementById('page').textContent = total ? (offset + 1) + '–' + Math.min(offset + PAGE, total) + ' of ' + total : '';
  document.getElementById('previous').disabled = offset === 0;
  document.getElementById('next').disabled = offset + PAGE >= total;
}

async function cancelOne(id) {
  const response = await gms('service/' + encodeURIComponent(id), { method: 'DELETE' });
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).message || response.status);
  await search();
}

async function cancelSelected() {
  const ids = [...document.querySelectorAll('#callbacks tbody input:checked')].map((i) => i.dataset.id);
  if (!ids.length) return;
  const reason = 'cancelled from the operator console';
  const results = await json(await gms('admin/callback/cancel', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ reason, ids }),
  }));
  const refused = results.filter((r) => r.status >= 300);
  await search();
  if (refused.length) fail(new Error(refused.map((r) => r._id + ': ' + (r.error && r.error.message)).join('; ')));
}

function csvCell(value) {
  const text = value == null ? '' : String(value);
  return /[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}

async function exportCsv() {
  const records = await json(await gms(query(false)));
  const keys = columns(records);
  const lines = [keys.join(','), ...records.map((r) => keys.map((k) => csvCell(r[k])).join(','))];
  const blob = new Blob([lines.join('\n') + '\n'], { type: 'text/csv' });
  const link = element('a', { href: URL.createObjectURL(blob), download: 'callbacks.csv' });
  document.body.append(link);
  link.click();
  link.remove();
}

function sparkline(values) {
  const width = 160, height = 28, max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = values.map((v, i) => (i * step).toFixed(1) + ',' + (height - (v / max) * (height - 2) - 1).toFixed(1)).join(' ');
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', width); svg.setAttribute('height', height);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points); line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#1f6feb');
  svg.append(line);
  return svg;
}

async function queues() {
  const listing = await json(await gms('admin/callback/queues?states=QUEUED,SCHEDULED,ROUTING,PROCESSING'));
  const rows = [];
  const names = new Set([...Object.keys(listing), ...history.keys()]);
  for (const name of [...names].sort()) {
    const count = (listing[name] || []).length;
    // The estimated wait of the last in line (what a new callback would wait at least).
    const etas = (listing[name] || []).map((r) => r._eta).filter((e) => typeof e === 'number');
    const wait = etas.length ? Math.max(...etas) + ' s' : 'n/a';
    const samples = history.get(name) || [];
    samples.push(count);
    if (samples.length > 60) samples.shift();
    history.set(name, samples);
    rows.push(element('tr', { 'data-queue': name }, element('td', { class: 'mono', text: name }),
      element('td', { class: 'count', text: String(count) }), element('td', { class: 'eta', text: wait }),
      element('td', {}, sparkline(samples))));
  }
  document.querySelector('#queues tbody').replaceChildren(...rows);
}

async function agents() {
  const list = await json(await gms('admin/agents'));
  document.querySelector('#agents tbody').replaceChildren(...list.map((a) => element('tr', { 'data-agent': a.id },
    element('td', { text: a.name + ' (' + a.id + ')' }), element('td', { text: (a.groups || []).join(', ') }),
    element('td', { class: 'agent-state', text: a.state.state }))));
}

async function services() {
  const all = await json(await gms('admin/services'));
  const select = document.getElementById('service-filter');
  const place = document.getElementById('services');
  place.replaceChildren();
  for (const [name, service] of Object.entries(all)) {
    if (![...select.options].some((o) => o.value === name)) select.append(element('option', { value: name, text: name }));
    const rows = Object.entries(service.options).map(([k, v]) => {
      const name = element('td', { class: 'mono', text: k });
      if (service.locked.includes(k)) name.prepend(element('span', { class: 'badge', text: 'scenario' }), ' ');
      return element('tr', {}, name, element('td', { class: 'mono', text: JSON.stringify(v) }));
    });
    place.append(element('h3', { text: name }), element('table', { class: 'options' }, element('tbody', {}, ...rows)));
  }
}

async function reschedule(when) {
  const rows = [...document.querySelectorAll('#callbacks tbody input:checked')].map((i) => i.closest('tr'));
  const refused = [];
  for (const row of rows) {
    const service = row.querySelector('td[data-key="_service_name"]').textContent;
    const response = await gms('service/callback/' + encodeURIComponent(service) + '/' + encodeURIComponent(row.dataset.id), {
      method: 'PUT', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _new_desired_time: when }).toString(),
    });
    if (!response.ok) refused.push(row.dataset.id + ': ' + ((await response.json().catch(() => ({}))).message || response.status));
  }
  await search();
  if (refused.length) fail(new Error(refused.join('; ')));
}

// A few lines of /metrics: sessions, requests, macrosteps.
async function metrics() {
  const response = await api('/metrics');
  if (!response.ok) return;
  const text = await response.text();
  const wanted = /^scxml_(sessions_|events_total|macrosteps_total|workers_abandoned|http_requests)/;
  const lines = text.split('\n').filter((l) => wanted.test(l)).slice(0, 16);
  document.getElementById('metrics').textContent = lines.join('\n');
}

async function health() {
  const response = await fetch('/healthz');
  const body = await response.json().catch(() => ({}));
  document.getElementById('health').textContent = 'node: ' + (body.status || response.status);
}

document.getElementById('filter').addEventListener('submit', (e) => { e.preventDefault(); offset = 0; search().catch(fail); });
document.getElementById('previous').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); search().catch(fail); });
document.getElementById('next').addEventListener('click', () => { offset += PAGE; search().catch(fail); });
document.getElementById('export').addEventListener('click', () => exportCsv().catch(fail));
document.getElementById('cancel-selected').addEventListener('click', () => cancelSelected().catch(fail));
document.getElementById('reschedule').addEventListener('submit', (e) => {
  e.preventDefault();
  reschedule(e.target.elements.when.value.trim()).catch(fail);
});

async function start() {
  await services();
  await Promise.all([search(), queues(), agents(), health(), metrics()]);
  setInterval(() => { queues().catch(fail); agents().catch(fail); metrics().catch(fail); }, 5000);
}
start().catch(fail);
