// The console's shell: login, the navigation and the hash router (#/vms, #/hosts, ...),
// so that every page has a link that can be bookmarked and reloaded.
import * as auth from './auth.js';
import { connectEvents, disconnectEvents } from './api.js';
import { h, $, errorBox } from './dom.js';
import * as views from './views.js';

const routes = [
  [/^#\/?$/, views.tenants],
  [/^#\/tenants$/, views.tenants],
  [/^#\/projects\/([\w-]+)$/, (m, main) => views.project(m[1], 'vms', main)],
  [/^#\/projects\/([\w-]+)\/(vms|networks|services)$/, (m, main) => views.project(m[1], m[2], main)],
  [/^#\/vms\/([\w-]+)$/, views.vm],
  [/^#\/hosts$/, views.hosts],
  [/^#\/datastores$/, views.datastores],
  [/^#\/images$/, views.images],
  [/^#\/events$/, views.events],
  [/^#\/audit$/, views.audit],
];

let leave = null; // the current page's cleanup (its event listeners)

async function route() {
  const main = $('#main');
  leave?.();
  leave = null;
  const hash = location.hash || '#/';
  for (const [re, view] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    main.replaceChildren();
    try {
      leave = await view(m, main);
    } catch (e) {
      main.replaceChildren(errorBox(e));
    }
    for (const a of document.querySelectorAll('#nav a')) {
      a.toggleAttribute('aria-current', hash.startsWith(a.getAttribute('href')));
    }
    return;
  }
  main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the tenants')));
}

function loginPage(c, message) {
  const main = $('#main');
  const err = h('div', { 'aria-live': 'assertive' });
  if (message) err.append(errorBox(new Error(message)));
  if (c.codeFlow) {
    main.replaceChildren(h('section', { class: 'login' }, h('h1', {}, 'Photon'), err,
      h('button', { id: 'login', type: 'button', class: 'primary', onclick: () => auth.beginLogin() }, 'Log in')));
    $('#login').focus();
    return;
  }
  const form = h('form', { class: 'login', id: 'login-form' },
    h('h1', {}, 'Log in to Photon'), err,
    h('label', {}, 'User', h('input', { name: 'username', autocomplete: 'username', required: true })),
    h('label', {}, 'Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await auth.passwordLogin(form.username.value, form.password.value);
      start();
    } catch (ex) {
      err.replaceChildren(errorBox(ex));
    }
  });
  main.replaceChildren(form);
  form.username.focus();
}

function start() {
  const s = auth.session();
  const admin = s.groups.some((g) => /(^|\\)administrators$/i.test(g) || g === 'photon.local\\Administrators');
  document.body.classList.toggle('admin', admin);
  $('#nav').hidden = false;
  $('#logout').hidden = false;
  $('#who').textContent = s.user;
  auth.schedule();
  connectEvents((up) => {
    $('#live').textContent = up ? '● live' : '○ reconnecting';
    $('#live').className = up ? 'live up' : 'live';
  });
  window.addEventListener('hashchange', route);
  route();
}

async function boot() {
  $('#logout').addEventListener('click', () => { disconnectEvents(); auth.logout(); });
  const c = await auth.discover();
  let message = '';
  try {
    await auth.finishLogin();
  } catch (e) {
    message = e.message;
  }
  if (auth.session() && auth.session().expires > Date.now()) {
    start();
    return;
  }
  if (auth.session()?.refresh) {
    try {
      await auth.refresh();
      start();
      return;
    } catch { /* log in again */ }
  }
  loginPage(c, message);
}

boot();
