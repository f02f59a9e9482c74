// The standard CometD JavaScript client (npm `cometd`, in Node.js through
// `cometd-nodejs-client`) as a GMS customer application: it completes the chat-delay callback
// with its default configuration (WebSocket first, falling back to long-polling with the
// message type appended to the URL), or with WebSocket switched off. Run by tests/pages.rs:
// node cometd.mjs BASE_URL TOKEN [no-websocket]. The agent's side goes through the agent API.
import { adapt } from 'cometd-nodejs-client';
import { CometD } from 'cometd';

adapt();
const [base, token, mode] = process.argv.slice(2);
const device = 'cometd-client-' + process.pid;
const admin = { Authorization: 'Bearer ' + token };

async function call(method, path, headers, form) {
  const response = await fetch(base + path, {
    method,
    headers: { ...headers, ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  if (!response.ok) throw new Error(method + ' ' + path + ': ' + response.status + ' ' + text);
  return body;
}
const asDevice = (method, path, form) => call(method, '/genesys/1/' + path, { gms_user: device }, form);
const asAgent = (method, path, form) => call(method, '/genesys/1/' + path, admin, form);

function deadline(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error('timed out: ' + what)), ms));
}

const cometd = new CometD();
if (mode === 'no-websocket') cometd.unregisterTransport('websocket');
cometd.configure({
  url: base + '/genesys/cometd',
  requestHeaders: { gms_user: device },
  logLevel: 'warn',
});

// Everything on /_genesys: pushes, then the chat's entries.
const received = [];
let notify = () => {};
function waitFor(what, test, ms = 8000) {
  const found = () => received.find(test);
  if (found()) return Promise.resolve(found());
  return Promise.race([
    new Promise((resolve) => { notify = () => { const m = found(); if (m) resolve(m); }; }),
    deadline(ms, what),
  ]);
}

try {
  // As CometD applications do, the handshake is followed on /meta/handshake: with the default
  // configuration the client tries WebSocket first, which this server does not offer, hears
  // that attempt fail, and handshakes again over long-polling.
  const attempts = [];
  await Promise.race([
    new Promise((resolve) => {
      cometd.addListener('/meta/handshake', (reply) => {
        attempts.push(reply.successful ? 'ok' : (reply.failure && reply.failure.connectionType) || 'failed');
        if (reply.successful) resolve();
      });
      cometd.handshake();
    }),
    deadline(8000, 'a successful handshake'),
  ]);
  const transport = cometd.getTransport().type;
  await Promise.race([
    new Promise((resolve, reject) => cometd.subscribe('/_genesys', (message) => {
      received.push(message.data);
      notify();
    }, (reply) => (reply.successful ? resolve() : reject(new Error('subscribe failed'))))),
    deadline(8000, 'the subscription'),
  ]);

  const created = await asDevice('POST', 'service/callback/chat-delay',
    { _customer_number: '5551234', _device_os: 'comet', _device_notification_id: device });
  const id = created._id;
  await asAgent('POST', 'agents/agent1/login');
  await asAgent('POST', 'agents/agent1/ready');
  const pushed = await waitFor('the agent-available push', (d) => d && d.tag === 'service.agentavailable.' + id);
  // Continue the dialog as GMS clients do: POST the pushed action.
  const dialog = await asDevice('POST', 'service/' + id + '/' + pushed.message._action);
  if (dialog._action !== 'StartChat') throw new Error('no StartChat: ' + JSON.stringify(dialog));
  await asDevice('POST', 'service/' + id + '/ixn/chat', { firstName: 'Ann', notify_by: 'comet' });

  const offers = await (async () => {
    for (let i = 0; i < 80; i++) {
      const list = await asAgent('GET', 'agents/agent1/interactions');
      if (list.length) return list;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the chat never reached the agent');
  })();
  const ixn = offers[0].interaction;
  await asAgent('POST', 'agents/agent1/interactions/' + ixn + '/accept');
  await fetch(base + '/genesys/1/agents/agent1/interactions/' + ixn + '/messages', {
    method: 'POST', headers: { ...admin, 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'Hello from the agent' }),
  });
  await waitFor('the agent\'s message over CometD', (d) => JSON.stringify(d || {}).includes('Hello from the agent'));
  await asAgent('POST', 'agents/agent1/interactions/' + ixn + '/end');
  for (let i = 0; ; i++) {
    const record = await asDevice('GET', 'service/' + id);
    if (record._callback_state === 'COMPLETED') {
      if (record._callback_reason !== 'AGENT_CONNECTED') throw new Error('ended ' + record._callback_reason);
      break;
    }
    if (i > 50) throw new Error('the callback never completed: ' + JSON.stringify(record));
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log('ok ' + transport + ' (handshakes: ' + attempts.join(', ') + ')');
  cometd.disconnect();
  process.exit(0);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
