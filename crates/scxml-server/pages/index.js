// The landing page: the node's health, read from the public /healthz.
const place = document.getElementById('health');
fetch('/healthz')
  .then(async (response) => {
    const body = await response.json().catch(() => ({}));
    const status = body.status || (response.ok ? 'ok' : 'unhealthy');
    place.textContent = '';
    const badge = document.createElement('span');
    badge.className = response.ok ? 'ok' : 'bad';
    badge.id = 'health-status';
    badge.textContent = status;
    const details = document.createElement('span');
    details.className = 'muted';
    const rest = Object.entries(body).filter(([k]) => k !== 'status');
    details.textContent = rest.length ? ' — ' + rest.map(([k, v]) => k + ': ' + JSON.stringify(v)).join(', ') : '';
    place.append(badge, details);
  })
  .catch((e) => { place.textContent = 'cannot reach the server: ' + e.message; place.className = 'bad'; });
