// The callback tester: what GMS's gmstester did. A customer's device asks for a callback,
// follows its position, hears the agent-available push over CometD (or retrieves its
// notifications), confirms with the pushed action, chats with the agent. Every request and
// answer is shown raw, with the same request as curl. It uses only the device API.
import { element } from '/pages/api.js';
import { Bayeux } from '/genesys/pages/bayeux.js';

const $ = (id) => document.getElementById(id);
const error = $('error');
const fail = (e) => { error.textContent = e.message || String(e); };
let device = 'tester-' + Math.random().toString(36).slice(2, 10);
let serviceId = null;
let pushedAction = null;
let positionTimer = null;
let bayeux = null;

function curl(method, path, form) {
  const url = location.origin + path;
  const data = form ? ' ' + [...new URLSearchParams(form)].map(([k, v]) => "-d '" + encodeURIComponent(k) + '=' + encodeURIComponent(v) + "'").join(' ') : '';
  return "curl -s -X " + method + " -H 'gms_user: " + device + "'" + data + " '" + url + "'";
}

// A device request, shown raw in the log with its curl twin.
async function call(method, path, form) {
  const init = { method, headers: { gms_user: device } };
  if (form) {
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(form).toString();
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const entry = element('div', { class: 'entry request' },
    element('div', { class: 'mono', text: method + ' ' + path + (init.body ? '  ' + init.body : '') }),
    element('pre', { class: 'mono', text: response.status + ' ' + text }),
    element('div', { class: 'muted mono', text: curl(method, path, form) }));
  $('requests').prepend(entry);
  let body = null;
  try { body = JSON.parse(text); } catch { body = text; }
  if (!response.ok) throw new Error(method + ' ' + path + ': ' + response.status + ' ' + (body && body.message || text));
  return body;
}

function showChatEntries(messages) {
  for (const m of messages || []) {
    const who = m.from ? m.from.nickname + ' (' + m.from.type + ')' : '';
    const text = m.type === 'Message' ? m.text : m.type + (m.text ? ': ' + m.text : '');
    $('transcript').append(element('div', { class: 'entry chat-' + m.type, text: who + ': ' + text }));
  }
}

function onPush(channel, data) {
  if (channel !== '/_genesys' || !data) return;
  if (data.tag && data.tag.startsWith('service.agentavailable.')) {
    pushedAction = data.message && data.message._action;
    $('confirm').hidden = false;
  } else if (data.messages) {
    showChatEntries(data.messages);
    if (data.chatEnded) $('transcript').append(element('div', { class: 'entry muted', text: 'the chat has ended' }));
  } else if (data.message && data.message._display_message !== undefined) {
    $('transcript').append(element('div', { class: 'entry notice', text: 'agent: ' + data.message._display_message }));
  }
}

async function refresh() {
  const record = await call('GET', '/genesys/1/service/' + serviceId);
  $('state').textContent = record._callback_state + (record._callback_reason ? ' / ' + record._callback_reason : '');
  if (record._callback_state === 'COMPLETED') { clearInterval(positionTimer); return; }
  if (record._callback_state === 'QUEUED' || record._callback_state === 'ROUTING') {
    // The service may have moved on meanwhile (409): the next refresh says where it is.
    const p = await call('GET', '/genesys/1/service/' + serviceId + '/check-queue-position').catch(() => null);
    $('position').textContent = p ? 'position ' + p._position + ' of ' + p._total_waiting + ', eta ' + p._eta : '';
  } else {
    $('position').textContent = '';
  }
}

$('create').addEventListener('submit', async (e) => {
  e.preventDefault();
  error.textContent = '';
  const form = new FormData(e.target);
  device = String(form.get('gms_user') || device);
  const fields = {};
  for (const name of ['_customer_number', '_desired_time', '_device_os', '_device_notification_id']) {
    const v = String(form.get(name) || '').trim();
    if (v || name === '_device_os') fields[name] = v;
  }
  if (!fields._device_notification_id) fields._device_notification_id = device;
  for (const line of String(form.get('usr') || '').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) fields[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  try {
    if (bayeux) bayeux.stop();
    bayeux = new Bayeux('/genesys/cometd', device, onPush);
    await bayeux.start(['/_genesys']);
    const created = await call('POST', '/genesys/1/service/callback/' + encodeURIComponent(form.get('service')), fields);
    serviceId = created._id;
    $('service-id').textContent = serviceId;
    $('live').href = '/pages/session.html?id=' + encodeURIComponent(serviceId);
    if (created._action === 'StartChat') $('start-chat').disabled = false;
    clearInterval(positionTimer);
    positionTimer = setInterval(() => refresh().catch(fail), 3000);
    await refresh();
  } catch (err) { fail(err); }
});

$('connect').addEventListener('click', async () => {
  try {
    const dialog = await call('POST', '/genesys/1/service/' + serviceId + '/' + (pushedAction || 'connect'));
    $('confirm').hidden = true;
    if (dialog._action === 'StartChat') $('start-chat').disabled = false;
    await refresh();
  } catch (e) { fail(e); }
});

$('start-chat').addEventListener('click', async () => {
  try {
    await call('POST', '/genesys/1/service/' + serviceId + '/ixn/chat', { firstName: 'Tester', notify_by: 'comet' });
    $('start-chat').disabled = true;
  } catch (e) { fail(e); }
});

$('chat').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = e.target.elements.message;
  try {
    await call('POST', '/genesys/1/service/' + serviceId + '/ixn/chat/send', { message: input.value });
    input.value = '';
  } catch (err) { fail(err); }
});
let typing = false;
$('chat').elements.message.addEventListener('input', () => {
  if (!serviceId || typing) return;
  typing = true;
  call('POST', '/genesys/1/service/' + serviceId + '/ixn/chat/startTyping').catch(() => {});
  setTimeout(() => { typing = false; call('POST', '/genesys/1/service/' + serviceId + '/ixn/chat/stopTyping').catch(() => {}); }, 3000);
});
$('disconnect').addEventListener('click', () => call('POST', '/genesys/1/service/' + serviceId + '/ixn/chat/disconnect').then(refresh).catch(fail));
$('notifications').addEventListener('click', async () => {
  try {
    const kept = await call('POST', '/genesys/1/service/' + serviceId + '/retrieve-notifications');
    for (const n of kept) onPush('/_genesys', n);
  } catch (e) { fail(e); }
});
$('cancel').addEventListener('click', () => call('DELETE', '/genesys/1/service/' + serviceId).then(refresh).catch(fail));
$('to-agent').addEventListener('submit', (e) => {
  e.preventDefault();
  call('POST', '/genesys/1/service/' + serviceId + '/agent-notification', { _display_message: e.target.elements.message.value }).catch(fail);
});

async function start() {
  $('create').elements.gms_user.value = device;
  const services = await (await fetch('/genesys/1/services')).json();
  $('services').replaceChildren(...services.map((s) => element('option', { value: s.name, text: s.name })));
}
start().catch(fail);
