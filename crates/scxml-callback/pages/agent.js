// The agent desktop: the agent's state for routing, the interaction offered (accept or
// reject), the callback it belongs to (service, customer number, attached data, desired
// time), the chat with the customer, ending it with a disposition and a wrap-up, and the
// notifications both ways. With the agent's own token (or an administrator's).
import { api, json, element } from '/pages/api.js';

const $ = (id) => document.getElementById(id);
const fail = (e) => { $('error').textContent = e.message || String(e); };
let agent = 'agent1';
let offer = null;
let next = 1;

const agentApi = (path, options) => api('/genesys/1/agents/' + encodeURIComponent(agent) + path, options);
const post = (path, body) => agentApi(path, body === undefined ? { method: 'POST' } : {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});

async function poll() {
  const view = await json(await agentApi(''));
  $('state').textContent = view.state.state;
  const offers = await json(await agentApi('/interactions'));
  const current = offers[0] || null;
  if (!current) {
    if (offer) { $('offer').textContent = 'nothing offered'; $('offer-actions').hidden = true; }
    offer = null;
    return;
  }
  if (!offer || offer.interaction !== current.interaction) {
    offer = current;
    next = 1;
    $('transcript').replaceChildren();
    $('offer').textContent = 'chat ' + current.interaction + ' for callback ' + current.service_id;
    await showCallback(current);
  }
  offer = current;
  $('offer-actions').hidden = current.accepted;
  if (current.accepted) await readTranscript();
}

async function showCallback(current) {
  const rows = [];
  const response = await api('/genesys/1/service/' + encodeURIComponent(current.service_id));
  const record = response.ok ? await response.json() : {};
  const userData = (current.chat && current.chat.userData) || {};
  const show = { service: record._service_name, number: record._customer_number, desired: record._desired_time, state: record._callback_state };
  for (const [k, v] of Object.entries(record)) if (k.startsWith('usr_')) show[k] = v;
  for (const [k, v] of Object.entries(userData)) show['attached ' + k] = typeof v === 'string' ? v : JSON.stringify(v);
  for (const [k, v] of Object.entries(show)) if (v !== undefined) rows.push(element('tr', {}, element('td', { text: k }), element('td', { class: 'mono', text: String(v) })));
  $('callback').tBodies[0].replaceChildren(...rows);
}

async function readTranscript() {
  const response = await agentApi('/interactions/' + encodeURIComponent(offer.interaction) + '/transcript?from=' + next);
  if (!response.ok) return;
  const t = await response.json();
  for (const m of t.messages) {
    const text = m.type === 'Message' ? m.text : m.type + (m.text ? ': ' + m.text : '');
    $('transcript').append(element('div', { class: 'entry chat-' + m.type, text: m.from.nickname + ': ' + text }));
  }
  next = t.nextPosition;
}

document.querySelectorAll('[data-step]').forEach((b) => b.addEventListener('click', () =>
  post('/' + b.dataset.step).then(json).then(poll).catch(fail)));
$('who').addEventListener('submit', (e) => { e.preventDefault(); agent = e.target.elements.agent.value; $('me').textContent = agent; poll().catch(fail); });
$('accept').addEventListener('click', () => post('/interactions/' + encodeURIComponent(offer.interaction) + '/accept').then(json).then(poll).catch(fail));
$('reject').addEventListener('click', () => post('/interactions/' + encodeURIComponent(offer.interaction) + '/reject').then(json).then(poll).catch(fail));
$('chat').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = e.target.elements.text;
  try {
    await json(await post('/interactions/' + encodeURIComponent(offer.interaction) + '/messages', { text: input.value }));
    input.value = '';
    await readTranscript();
  } catch (err) { fail(err); }
});
$('end').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = {};
  const disposition = e.target.elements.disposition.value.trim();
  const wrap = e.target.elements.wrap_up_secs.value.trim();
  if (disposition) body.disposition = disposition;
  if (wrap) body.wrap_up_secs = Number(wrap);
  try {
    await json(await post('/interactions/' + encodeURIComponent(offer.interaction) + '/end', body));
    await poll();
  } catch (err) { fail(err); }
});
$('notify').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new URLSearchParams({ _display_message: e.target.elements.message.value });
  try {
    await json(await api('/genesys/1/service/' + encodeURIComponent(offer.service_id) + '/internal-notification', {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString(),
    }));
  } catch (err) { fail(err); }
});
$('from-device').addEventListener('click', async () => {
  try {
    const list = await json(await api('/genesys/1/service/' + encodeURIComponent(offer.service_id) + '/retrieve-agent-notifications', { method: 'POST' }));
    for (const n of list) $('device-messages').append(element('div', { class: 'entry', text: JSON.parse(n.message)._display_message }));
  } catch (err) { fail(err); }
});

$('me').textContent = agent;
poll().catch(fail);
setInterval(() => poll().catch(fail), 1000);
