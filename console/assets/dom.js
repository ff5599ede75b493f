// A few DOM helpers: elements are built from data, never from HTML strings, so nothing an
// API answer holds is ever parsed as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

// bar is a labelled meter of used against limit.
export function bar(label, used, limit, unit = '') {
  const pct = limit > 0 ? Math.min(100, (used / limit) * 100) : 0;
  const level = pct >= 90 ? 'hot' : pct >= 70 ? 'warm' : 'ok';
  return h('div', { class: 'quota' },
    h('span', { class: 'qlabel' }, label),
    h('meter', { min: 0, max: limit || 1, value: used, class: level, 'aria-label': `${label}: ${used} of ${limit} ${unit}` }),
    h('span', { class: 'qval' }, `${fmt(used)} / ${limit > 0 ? fmt(limit) : '∞'} ${unit === 'COUNT' ? '' : unit}`));
}

export const fmt = (n) => (Math.round(n * 100) / 100).toLocaleString('en');

export function when(ms) {
  return ms ? new Date(ms).toLocaleString('en-GB', { hour12: false }) : '';
}

// errorBox shows an API error where the user acted.
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err.code ? `${err.code}: ${err.message}` : err.message);
}

// table builds a table from columns [{key, label, render?}] and rows.
export function table(cols, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, cols.map((c) => h('td', { 'data-label': c.label }, c.render ? c.render(r) : r[c.key] ?? ''))))));
}
