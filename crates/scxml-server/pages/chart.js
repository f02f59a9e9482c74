// Draws a chart (GET /sessions/{id}/chart) as nested boxes: compound states hold their
// children, a parallel state's regions sit side by side (dashed), finals have a double
// border, history states are round. Each box lists its transitions and its initial target.
import { element } from '/pages/api.js';

const KIND_NAMES = {
  atomic: '', compound: '', parallel: 'parallel', final: 'final',
  history_shallow: 'history', history_deep: 'deep history',
};

export function drawChart(chart, place, onPick) {
  const byId = new Map(chart.states.map((s) => [s.id, s]));
  const transitionsOf = new Map();
  for (const t of chart.transitions) {
    if (!transitionsOf.has(t.source)) transitionsOf.set(t.source, []);
    transitionsOf.get(t.source).push(t);
  }
  const boxes = new Map();
  const draw = (state) => {
    const name = element('div', { class: 'name' }, state.id);
    if (KIND_NAMES[state.kind]) name.append(element('span', { class: 'kind', text: KIND_NAMES[state.kind] }));
    const box = element('div', { class: 'state ' + state.kind, 'data-id': state.id, title: 'line ' + state.line }, name);
    const own = transitionsOf.get(state.id) || [];
    if (own.length) {
      box.append(element('ul', { class: 'transitions' }, ...own.map((t) => element('li', {
        'data-transition': String(t.index),
        text: label(t),
      }))));
    }
    if (state.initial.length && state.kind === 'compound') {
      box.append(element('div', { class: 'initial', text: '● initial → ' + state.initial.join(', ') }));
    }
    if (state.children.length) {
      const children = element('div', { class: 'children' });
      for (const child of state.children) children.append(draw(byId.get(child)));
      box.append(children);
    }
    box.addEventListener('click', (e) => { e.stopPropagation(); onPick(state); });
    boxes.set(state.id, box);
    return box;
  };
  const top = chart.states.filter((s) => s.parent === null);
  place.replaceChildren(
    element('div', { class: 'initial', text: '● starts in ' + chart.initial.join(', ') }),
    ...top.map(draw));
  return boxes;
}

function label(t) {
  const events = t.events.length ? t.events.join(' ') : '(eventless)';
  const cond = t.cond ? ' [' + t.cond + ']' : '';
  const targets = t.targets.length ? ' → ' + t.targets.join(', ') : ' (targetless)';
  return events + cond + targets + (t.internal ? ' (internal)' : '');
}

// Lights the active states; those that were not active before flash as entered.
export function showConfiguration(boxes, configuration, previous) {
  const active = new Set(configuration);
  for (const [id, box] of boxes) {
    const on = active.has(id);
    box.classList.toggle('active', on);
    if (on && previous && !previous.has(id)) {
      box.classList.remove('entered');
      void box.offsetWidth; // restart the animation
      box.classList.add('entered');
    }
  }
  return active;
}
