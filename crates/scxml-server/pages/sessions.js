// The sessions list (GET /sessions, the administrator's), each linked to its live view.
import { api, json, element } from '/pages/api.js';

const rows = document.getElementById('rows');
const error = document.getElementById('error');
const filter = document.getElementById('filter');

async function list() {
  const query = new URLSearchParams();
  for (const [k, v] of new FormData(filter)) if (v) query.set(k, v);
  error.textContent = '';
  try {
    const body = await json(await api('/sessions?' + query));
    const sessions = Array.isArray(body) ? body : body.sessions || [];
    rows.replaceChildren(...sessions.map((s) => element('tr', {},
      element('td', {}, element('a', { href: '/pages/session.html?id=' + encodeURIComponent(s.id), class: 'mono', text: s.id })),
      element('td', { text: s.name || '' }),
      element('td', { text: s.status || '' }),
      element('td', { class: 'mono', text: (s.active_states || s.configuration || []).join(' ') }))));
  } catch (e) {
    error.textContent = e.message;
  }
}

filter.addEventListener('submit', (e) => { e.preventDefault(); list(); });
list();
