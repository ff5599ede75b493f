// Calls to Photon's REST API with the logged-in user's token, and the live event stream.
import { session, refresh } from './auth.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || '';
  }
}

async function send(method, path, body, retried) {
  const s = session();
  if (!s) throw new ApiError(401, { code: 'MissingAuthToken', message: 'logged out' }); // no call without a token
  const headers = { Accept: 'application/json', Authorization: 'Bearer ' + s.access };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && !retried && s?.refresh) {
    await refresh();
    return send(method, path, body, true);
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const get = (path) => send('GET', path);
export const post = (path, body = {}) => send('POST', path, body);
export const del = (path) => send('DELETE', path);

// page reads one page of a list: {items, next}.
export async function page(path) {
  const d = await get(path);
  return { items: d?.items || [], next: d?.nextPageLink || '' };
}

// all reads every page of a list (for short lists: pickers, hosts).
export async function all(path) {
  const out = [];
  for (let link = path; link;) {
    const p = await page(link);
    out.push(...p.items);
    link = p.next;
  }
  return out;
}

// Live events: one stream per page load, read with fetch so that the token goes in the
// Authorization header; it reconnects where it left off (Last-Event-ID).
const listeners = new Set();
let lastId = '';
let controller = null;

export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function connectEvents(status) {
  if (controller) return;
  controller = new AbortController();
  const signal = controller.signal;
  (async () => {
    for (let delay = 1000; !signal.aborted;) {
      try {
        const s = session();
        if (!s) return;
        const headers = { Accept: 'text/event-stream', Authorization: 'Bearer ' + s.access };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const res = await fetch('/v1/events/stream', { headers, signal });
        if (res.status === 401) await refresh();
        if (!res.ok) throw new Error('stream ' + res.status);
        status(true);
        delay = 1000;
        await read(res.body, signal);
      } catch { /* reconnect below */ }
      status(false);
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  })();
}

export function disconnectEvents() {
  controller?.abort();
  controller = null;
}

async function read(body, signal) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let id = '', data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (!data) continue;
      lastId = id || lastId;
      const ev = JSON.parse(data);
      for (const fn of listeners) fn(ev);
    }
  }
}

// taskDone resolves with a task once it has ended, from the event stream (no polling):
// it listens first, then reads the task once in case it ended already.
export function taskDone(id) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const check = async () => {
      try {
        const t = await get('/v1/tasks/' + id);
        if (t.state === 'COMPLETED' || t.state === 'ERROR') { off(); resolve(t); }
      } catch (e) { off(); reject(e); }
    };
    off = onEvent((e) => { if (e.subject === id && e.type.startsWith('io.photon.task.')) check(); });
    check();
  });
}
