// What every page shares: the credential the user gives once (kept for the tab in
// sessionStorage, never sent anywhere but this server) and fetches that carry it.

const KEY = 'scxml-token';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function forget() {
  sessionStorage.removeItem(KEY);
}

// Shows the token form in `place` and resolves once the user gave one.
export function askToken(place, why) {
  return new Promise((resolve) => {
    place.innerHTML = '';
    const form = document.createElement('form');
    form.className = 'inline';
    form.id = 'token-form';
    const label = document.createElement('label');
    label.textContent = why + ' Token: ';
    const input = document.createElement('input');
    input.type = 'password';
    input.name = 'token';
    input.autocomplete = 'off';
    input.size = 40;
    label.append(input);
    const button = document.createElement('button');
    button.type = 'submit';
    button.textContent = 'Use';
    form.append(label, button);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY, input.value.trim());
      place.innerHTML = '';
      resolve();
    });
    place.append(form);
    input.focus();
  });
}

// fetch() with the tab's credential; on 401 or 403 asks for one (in `place`) and tries again.
export async function api(path, options = {}, place = document.getElementById('auth')) {
  for (;;) {
    const headers = new Headers(options.headers || {});
    if (token()) headers.set('Authorization', 'Bearer ' + token());
    const response = await fetch(path, { ...options, headers });
    if (response.status !== 401 && response.status !== 403) return response;
    forget();
    const body = await response.json().catch(() => ({}));
    await askToken(place, body.message ? body.message + '.' : 'This page needs credentials.');
  }
}

// The JSON of an answer, or an Error with the API's message.
export async function json(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error((body && body.message) || response.status + ' ' + response.statusText);
  }
  return body;
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}
