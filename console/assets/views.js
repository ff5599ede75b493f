// The console's pages. Each takes the route's match and the <main> to fill, and returns a
// function that undoes what it set up (its event listeners) when the user leaves it.
import { get, post, del, page, all, onEvent, taskDone } from './api.js';
import { h, $, bar, fmt, when, errorBox, table } from './dom.js';

const PAGE = 100; // rows per page of a long list: the first renders before the rest is read

function quotaBars(q) {
  const items = Object.entries(q?.quotaItems || {}).sort(([a], [b]) => a.localeCompare(b));
  if (!items.length) return h('p', { class: 'muted' }, 'No quota.');
  return h('div', { class: 'quotas' }, items.map(([k, v]) => bar(k, v.usage || 0, v.limit || 0, v.unit)));
}

// act runs an API call from a button or form, showing its error beside it.
async function act(where, fn) {
  where.querySelector(':scope > .error')?.remove();
  try {
    return await fn();
  } catch (e) {
    where.append(errorBox(e));
    return null;
  }
}

const recentKey = 'photon.recentProjects';
const recent = () => JSON.parse(localStorage.getItem(recentKey) || '[]');
function remember(p) {
  const r = [{ id: p.id, name: p.name }, ...recent().filter((x) => x.id !== p.id)].slice(0, 8);
  localStorage.setItem(recentKey, JSON.stringify(r));
}

// tenants: every tenant the caller may see, with its projects and their quota bars.
export async function tenants(_, main) {
  const admin = document.body.classList.contains('admin');
  const list = h('div', { class: 'cards' });
  main.append(h('h1', {}, 'Tenants and projects'));
  if (admin) {
    const form = h('form', { class: 'inline', id: 'new-tenant' },
      h('label', {}, 'New tenant ', h('input', { name: 'name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]*' })),
      h('button', { type: 'submit' }, 'Create tenant'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const t = await act(form, () => post('/v1/tenants', { name: form.name.value }));
      if (t) { await taskDone(t.id); form.reset(); load(); }
    });
    main.append(form);
  }
  main.append(list);
  // Cards are updated in place, so that a form being filled in is never replaced.
  const cards = new Map(); // tenant id → {card, refresh}
  async function load() {
    const ts = await all('/v1/tenants');
    for (const [id, c] of cards) if (!ts.some((t) => t.id === id)) { c.card.remove(); cards.delete(id); }
    for (const t of ts) {
      if (!cards.has(t.id)) { cards.set(t.id, tenantCard(t)); list.append(cards.get(t.id).card); }
      cards.get(t.id).refresh(t);
    }
    list.querySelector(':scope > .own')?.remove();
    if (!ts.length) {
      const r = recent();
      list.append(h('section', { class: 'card own' }, h('h2', {}, 'Your projects'),
        h('p', { class: 'muted' }, 'You have no role on a whole tenant. Open a project you were given by its link or id.'),
        r.length ? h('ul', {}, r.map((p) => h('li', {}, h('a', { href: `#/projects/${p.id}` }, p.name)))) : null,
        openProjectForm()));
    }
  }
  function tenantCard(t) {
    const quota = h('div');
    const projects = h('div', { class: 'projects' }, h('p', { class: 'muted' }, 'Loading projects…'));
    const card = h('section', { class: 'card', 'data-tenant': t.name }, h('h2', {}, t.name), quota, h('h3', {}, 'Projects'), projects);
    const refresh = (t) => {
      quota.replaceChildren(quotaBars(t.quota));
      return all(`/v1/tenants/${t.id}/projects`).then((ps) => {
        projects.replaceChildren(...ps.map((p) => h('div', { class: 'project' },
          h('a', { href: `#/projects/${p.id}`, class: 'pname' }, p.name), quotaBars(p.quota))));
        if (!ps.length) projects.replaceChildren(h('p', { class: 'muted' }, 'No projects.'));
      }).catch((e) => projects.replaceChildren(errorBox(e)));
    };
    const form = h('form', { class: 'inline new-project' },
      h('label', {}, 'New project ', h('input', { name: 'name', required: true })),
      h('label', {}, 'VMs ', h('input', { name: 'vms', type: 'number', min: 1, value: 50, class: 'num' })),
      h('label', {}, 'Memory GB ', h('input', { name: 'mem', type: 'number', min: 1, value: 256, class: 'num' })),
      h('button', { type: 'submit' }, 'Create project'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const tk = await act(form, () => post(`/v1/tenants/${t.id}/projects`, { name: form.name.value, resourceTicket: {
        name: form.name.value, limits: [{ key: 'vm.count', value: +form.vms.value, unit: 'COUNT' },
          { key: 'vm.memory', value: +form.mem.value, unit: 'GB' }] } }));
      if (tk) { await taskDone(tk.id); form.reset(); load(); }
    });
    card.append(form);
    return { card, refresh };
  }
  await load();
  return onEvent((e) => { if (/\.(tenant|project|quota)\./.test(e.type)) load(); });
}

function openProjectForm() {
  const f = h('form', { class: 'inline' }, h('label', {}, 'Project id ', h('input', { name: 'id', required: true })),
    h('button', { type: 'submit' }, 'Open'));
  f.addEventListener('submit', (e) => { e.preventDefault(); location.hash = `#/projects/${f.id.value.trim()}`; });
  return f;
}

// project: a project's quota and its VMs, networks or services.
export async function project(id, tab, main) {
  const p = await get(`/v1/projects/${id}`);
  remember(p);
  const tabs = [['vms', 'VMs'], ['networks', 'Routers and subnets'], ['services', 'Services']];
  main.append(h('p', { class: 'crumbs' }, h('a', { href: '#/tenants' }, 'Tenants'), ' › ', p.name),
    h('h1', {}, `Project ${p.name}`),
    h('details', { class: 'quota-box' }, h('summary', {}, 'Quota'), quotaBars(p.quota)),
    h('nav', { class: 'tabs', 'aria-label': 'Project' }, tabs.map(([k, l]) =>
      h('a', { href: `#/projects/${id}/${k}`, 'aria-current': k === tab ? 'page' : false }, l))));
  if (tab === 'networks') return networks(p, main);
  if (tab === 'services') return services(p, main);
  return vms(p, main);
}

const vmCols = [
  ['name', 'Name'], ['state', 'State'], ['flavor', 'Flavor'], ['host', 'Host'], ['datastore', 'Datastore'],
];

// vms is the live table of a project's VMs: the first page renders at once, the next
// pages as the user scrolls to them; VM events change rows in place.
function vms(p, main) {
  const rows = new Map(); // id → {vm, tr}
  let sortKey = 'name', asc = true, next = `/v1/projects/${p.id}/vms?pageSize=${PAGE}`, loading = false;
  const filter = h('input', { type: 'search', id: 'vm-filter', placeholder: 'Filter by name, state, host…', 'aria-label': 'Filter VMs' });
  const count = h('span', { class: 'muted', id: 'vm-count', 'aria-live': 'polite' });
  const tbody = h('tbody', { id: 'vm-rows' });
  const head = h('tr', {}, vmCols.map(([k, l]) => h('th', { scope: 'col', 'aria-sort': k === sortKey ? 'ascending' : 'none' },
    h('button', { type: 'button', class: 'sort', 'data-key': k, onclick: () => sortBy(k) }, l))));
  const more = h('button', { type: 'button', id: 'vm-more', onclick: () => loadMore() }, 'Load more');
  main.append(createForm(p), h('div', { class: 'toolbar' }, filter, count),
    h('div', { class: 'scroll' }, h('table', { id: 'vm-table' }, h('thead', {}, head), tbody)), more);

  function rowFor(v) {
    const state = h('span', { class: `state s-${v.state}` }, v.state);
    const tr = h('tr', { 'data-id': v.id, 'data-state': v.state },
      h('td', { 'data-label': 'Name' }, h('a', { href: `#/vms/${v.id}` }, v.name)), h('td', { 'data-label': 'State' }, state),
      h('td', { 'data-label': 'Flavor' }, v.flavor), h('td', { 'data-label': 'Host' }, v.host || ''),
      h('td', { 'data-label': 'Datastore' }, v.datastore || ''));
    return tr;
  }
  function put(v) {
    const old = rows.get(v.id);
    const tr = rowFor(v);
    if (old) old.tr.replaceWith(tr);
    else tbody.append(tr);
    rows.set(v.id, { vm: v, tr });
  }
  function setState(id, state) {
    const r = rows.get(id);
    if (!r) return false;
    r.vm.state = state;
    r.tr.dataset.state = state;
    const s = r.tr.querySelector('.state');
    s.textContent = state;
    s.className = `state s-${state}`;
    return true;
  }
  function apply() {
    const q = filter.value.trim().toLowerCase();
    const list = [...rows.values()].sort((a, b) => {
      const x = String(a.vm[sortKey] ?? ''), y = String(b.vm[sortKey] ?? '');
      return (asc ? 1 : -1) * x.localeCompare(y, 'en', { numeric: true });
    });
    let shown = 0;
    for (const r of list) {
      const hit = !q || [r.vm.name, r.vm.state, r.vm.host, r.vm.flavor].some((s) => (s || '').toLowerCase().includes(q));
      r.tr.hidden = !hit;
      shown += hit;
      tbody.append(r.tr);
    }
    count.textContent = `${shown} of ${rows.size}${next ? '+' : ''} VMs`;
  }
  function sortBy(k) {
    asc = k === sortKey ? !asc : true;
    sortKey = k;
    for (const th of head.children) th.setAttribute('aria-sort', th.firstChild.dataset.key === k ? (asc ? 'ascending' : 'descending') : 'none');
    apply();
  }
  async function loadMore() {
    if (!next || loading) return;
    loading = true;
    const pg = await act(main, () => page(next));
    loading = false;
    if (!pg) return;
    next = pg.next;
    for (const v of pg.items) put(v);
    more.hidden = !next;
    apply();
  }
  filter.addEventListener('input', apply);
  const seen = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) loadMore(); });
  seen.observe(more);
  loadMore();
  const off = onEvent(async (e) => {
    if (!e.type.startsWith('io.photon.vm.') || e.projectid !== p.id) return;
    if (e.type === 'io.photon.vm.deleted') {
      rows.get(e.subject)?.tr.remove();
      rows.delete(e.subject);
    } else if (!setState(e.subject, e.data.state)) {
      try { put(await get(`/v1/vms/${e.subject}`)); } catch { return; }
    } else if (e.type === 'io.photon.vm.started' && !rows.get(e.subject).vm.host) {
      try { put(await get(`/v1/vms/${e.subject}`)); } catch { return; }
    }
    apply();
  });
  return () => { off(); seen.disconnect(); };
}

// createForm makes one VM or, with a count above 1, many: a bulk create whose bar fills
// as its sub-tasks end.
function createForm(p) {
  const sel = (name, label) => h('label', {}, label, h('select', { name, required: true }));
  const form = h('form', { class: 'create', id: 'create-vm' },
    h('h2', {}, 'Create VMs'),
    h('div', { class: 'grid' },
      h('label', {}, 'Name', h('input', { name: 'name', required: true, value: 'vm-{n}' })),
      sel('flavor', 'Flavor'), sel('image', 'Image'), sel('disk', 'Boot disk flavor'),
      h('label', {}, 'Count', h('input', { name: 'count', type: 'number', min: 1, max: 1000, value: 1, class: 'num' })),
      h('label', { 'data-admin': true }, 'Affinity (host)', h('select', { name: 'host' }, h('option', { value: '' }, 'Any'))),
      h('fieldset', { class: 'subnets' }, h('legend', {}, 'Subnets')),
      h('label', { class: 'check' }, h('input', { name: 'power', type: 'checkbox', checked: true }), 'Power on')),
    h('button', { type: 'submit', class: 'primary' }, 'Create'),
    h('div', { class: 'progress', hidden: true },
      h('progress', { id: 'bulk-bar', max: 1, value: 0 }), h('span', { id: 'bulk-text', 'aria-live': 'polite' })));
  const opts = (name, items, label = (x) => x.name, value = (x) => x.name) =>
    form.elements[name].append(...items.map((x) => h('option', { value: value(x) }, label(x))));
  Promise.all([all('/v1/flavors?kind=vm'), all('/v1/flavors?kind=ephemeral-disk'), all(`/v1/projects/${p.id}/images`),
    all(`/v1/projects/${p.id}/subnets`).catch(() => []),
    // Hosts are the system administrators' to see (and to pin a VM to).
    document.body.classList.contains('admin') ? all('/v1/infrastructure/hosts') : []])
    .then(([fl, dfl, ims, subs, hosts]) => {
      opts('flavor', fl);
      opts('disk', dfl);
      opts('image', ims.filter((i) => i.state === 'READY'), (i) => i.name, (i) => i.id);
      opts('host', hosts, (x) => x.address, (x) => x.id);
      $('.subnets', form).append(...(subs.length ? subs.map((s) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', name: 'subnet', value: s.id }), `${s.name} ${s.privateIpCidr || ''}`))
        : [h('span', { class: 'muted' }, 'the default')]));
    }).catch((e) => form.append(errorBox(e)));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    const n = +f.count.value || 1;
    const spec = { name: f.name.value, flavor: f.flavor.value, sourceImageId: f.image.value, powerOn: f.power.checked,
      count: n, attachedDisks: [{ name: 'boot', kind: 'ephemeral-disk', flavor: f.disk.value, bootDisk: true }],
      subnets: [...form.querySelectorAll('input[name=subnet]:checked')].map((x) => x.value),
      affinities: f.host.value ? [{ kind: 'host', id: f.host.value }] : [] };
    const tk = await act(form, () => post(`/v1/projects/${p.id}/vms`, spec));
    if (!tk || !tk.progress) return;
    const box = $('.progress', form), barEl = $('#bulk-bar', form), text = $('#bulk-text', form);
    box.hidden = false;
    const show = (t) => {
      const pr = t.progress || {}, ended = (pr.completed || 0) + (pr.failed || 0);
      barEl.max = pr.total || n;
      barEl.value = ended;
      text.textContent = `${ended} / ${pr.total || n} ended${pr.failed ? `, ${pr.failed} failed` : ''}`;
      box.dataset.ended = ended;
    };
    show(tk);
    // Each sub-task's end is an event: read the parent's counts again then, at most a few
    // times a second.
    let pending = false;
    const off = onEvent((ev) => {
      if (!/^io\.photon\.(task|vm)\./.test(ev.type) || ev.projectid !== p.id || pending) return;
      pending = true;
      setTimeout(async () => {
        pending = false;
        try { show(await get(`/v1/tasks/${tk.id}`)); } catch { /* the next event reads it */ }
      }, 250);
    });
    const done = await taskDone(tk.id).catch(() => null);
    off();
    if (done) show(done);
  });
  return form;
}

// vm: one VM with its power verbs, disks, networks, and tasks with their steps.
export async function vm([, id], main) {
  const box = h('div');
  main.append(box);
  async function load() {
    const v = await get(`/v1/vms/${id}`);
    const [tasks, nets] = await Promise.all([page(`/v1/vms/${id}/tasks?pageSize=20`),
      get(`/v1/vms/${id}/subnets`).catch(() => null)]);
    const verbs = [['start', 'Start'], ['stop', 'Stop'], ['restart', 'Restart'], ['suspend', 'Suspend'], ['resume', 'Resume']];
    const actions = h('div', { class: 'actions' }, verbs.map(([verb, label]) =>
      h('button', { type: 'button', 'data-verb': verb, onclick: () => act(actions, () => post(`/v1/vms/${id}/${verb}`)) }, label)),
    h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (confirm(`Delete VM ${v.name}?`) && await act(actions, () => del(`/v1/vms/${id}`))) location.hash = `#/projects/${v.projectId}`;
    } }, 'Delete'));
    const conns = nets?.resourceProperties?.networkConnections || [];
    box.replaceChildren(
      h('p', { class: 'crumbs' }, h('a', { href: `#/projects/${v.projectId}` }, 'Project'), ' › ', v.name),
      h('h1', {}, v.name, ' ', h('span', { class: `state s-${v.state}`, id: 'vm-state' }, v.state)),
      v.stateReason ? h('p', { class: 'error' }, v.stateReason) : null,
      actions,
      h('dl', { class: 'props' }, [['Flavor', v.flavor], ['Host', v.host], ['Datastore', v.datastore], ['Image', v.sourceImageId],
        ['Floating IP', v.floatingIp], ['Id', v.id]].filter(([, x]) => x).map(([k, x]) => [h('dt', {}, k), h('dd', {}, x)])),
      h('h2', {}, 'Disks'),
      table([{ key: 'name', label: 'Name' }, { key: 'kind', label: 'Kind' }, { key: 'flavor', label: 'Flavor' },
        { label: 'GB', render: (d) => d.capacityGb || '' }, { label: 'Boot', render: (d) => (d.bootDisk ? 'yes' : '') }], v.attachedDisks || []),
      h('h2', {}, 'Networks'),
      conns.length ? table([{ key: 'network', label: 'Network' }, { key: 'ipAddress', label: 'IP' }, { key: 'macAddress', label: 'MAC' },
        { label: 'Connected', render: (c) => (c.isConnected ? 'yes' : 'no') }], conns) : h('p', { class: 'muted' }, 'No network connections reported.'),
      h('h2', {}, 'Tasks'),
      h('ol', { class: 'tasks' }, tasks.items.map((t) => h('li', {},
        h('details', {}, h('summary', {}, h('span', { class: `state s-${t.state}` }, t.state), ` ${t.operation} `, h('time', {}, when(t.queuedTime))),
          h('ol', { class: 'timeline' }, (t.steps || []).map((s) => h('li', { class: `step s-${s.state}` },
            h('strong', {}, s.operation), ` ${s.state}`, (s.errors || []).map((e) => h('div', { class: 'error' }, `${e.code}: ${e.message}`))))))))));
  }
  await load();
  return onEvent((e) => { if (e.subject === id || e.data?.entity?.id === id) load().catch(() => {}); });
}

// hosts: the fleet map, one tile per host coloured by the share of it reserved, grouped
// by availability zone, with the maintenance verbs.
export async function hosts(_, main) {
  const map = h('div', { id: 'fleet' });
  const detail = h('section', { id: 'host-detail', class: 'card', hidden: true, 'aria-live': 'polite' });
  main.append(h('h1', {}, 'Hosts'), h('p', { class: 'legend' }, 'Colour: share of CPU or memory reserved — ',
    h('span', { class: 'sw r0' }, '0%'), h('span', { class: 'sw r1' }, '25%'), h('span', { class: 'sw r2' }, '50%'),
    h('span', { class: 'sw r3' }, '75%+')), map, detail);
  let list = [];
  let selected = '';
  const share = (x) => Math.max(x.cpuCores ? (x.reserved?.cpus || 0) / x.cpuCores : 0, x.memoryMb ? (x.reserved?.memoryMb || 0) / x.memoryMb : 0);
  function render() {
    const zones = Map.groupBy(list, (x) => x.availabilityZone || x.zone || 'no zone');
    map.replaceChildren(...[...zones].sort(([a], [b]) => a.localeCompare(b)).map(([z, hs]) => h('section', { class: 'zone' },
      h('h2', {}, z), h('div', { class: 'tiles' }, hs.map((x) => {
        const s = share(x);
        return h('button', { type: 'button', class: `tile r${Math.min(3, Math.floor(s * 4))} st-${x.state}`, 'data-host': x.id,
          'data-state': x.state, 'aria-pressed': x.id === selected ? 'true' : 'false', title: `${x.address}: ${Math.round(s * 100)}% reserved, ${x.state}`,
          onclick: () => { selected = x.id; render(); } }, h('span', { class: 'addr' }, x.address), h('span', { class: 'hs' }, x.id.slice(0, 8)), h('span', {}, `${Math.round(s * 100)}%`),
        h('span', { class: 'hs' }, x.state));
      })))));
    const x = list.find((y) => y.id === selected);
    detail.hidden = !x;
    if (!x) return;
    const actions = h('div', { class: 'actions' });
    const verb = (v, label) => h('button', { type: 'button', 'data-verb': v, onclick: async () => {
      const tk = await act(actions, () => post(`/v1/infrastructure/hosts/${x.id}/${v}`));
      if (tk) await taskDone(tk.id).then((t) => t.state === 'ERROR' && actions.append(errorBox(t.steps?.find((s) => s.errors?.length)?.errors[0] || new Error('failed'))));
    } }, label);
    if (x.state === 'READY') actions.append(verb('enter_maintenance', 'Enter maintenance'), verb('suspend', 'Suspend'));
    if (x.state === 'MAINTENANCE') actions.append(verb('exit_maintenance', 'Exit maintenance'));
    if (x.state === 'SUSPENDED') actions.append(verb('resume', 'Resume'), verb('enter_maintenance', 'Enter maintenance'));
    detail.replaceChildren(h('h2', {}, x.address, ' ', h('span', { class: `state s-${x.state}` }, x.state)),
      h('dl', { class: 'props' }, [['Zone', x.availabilityZone], ['CPU cores', `${x.reserved?.cpus || 0} of ${x.cpuCores} reserved`],
        ['Memory', `${fmt((x.reserved?.memoryMb || 0) / 1024)} of ${fmt(x.memoryMb / 1024)} GB reserved`], ['VMs', x.reserved?.vms || 0],
        ['ESX', x.esxVersion], ['Why', x.stateReason]].filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      actions);
  }
  async function load() {
    list = await all('/v1/infrastructure/hosts');
    render();
  }
  await load();
  let pending = false;
  return onEvent((e) => {
    if (!/^io\.photon\.(host|vm)\./.test(e.type) || pending) return;
    pending = true; // many VM events at once: one read
    setTimeout(() => { pending = false; load().catch(() => {}); }, 300);
  });
}

export async function datastores(_, main) {
  const ds = await all('/v1/infrastructure/datastores');
  main.append(h('h1', {}, 'Datastores'), table([{ key: 'name', label: 'Name' }, { key: 'type', label: 'Type' },
    { label: 'Hosts', render: (d) => (d.hosts || []).length }, { label: 'Tags', render: (d) => (d.tags || []).join(', ') }], ds));
}

// images: the images the caller may see, and an upload with its progress.
export async function images(_, main) {
  const list = h('div');
  const form = h('form', { class: 'inline', id: 'upload' },
    h('label', {}, 'Upload an image (.vmdk, .ova) ', h('input', { type: 'file', name: 'file', required: true, accept: '.vmdk,.ova' })),
    h('button', { type: 'submit' }, 'Upload'), h('progress', { max: 1, value: 0, hidden: true }), h('span', { 'aria-live': 'polite' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const prog = $('progress', form), text = $('span', form);
    const fd = new FormData();
    fd.append('ImageReplication', 'EAGER');
    fd.append('file', form.file.files[0]);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/images');
    xhr.setRequestHeader('Authorization', 'Bearer ' + JSON.parse(sessionStorage.getItem('photon.session')).access);
    prog.hidden = false;
    xhr.upload.onprogress = (ev) => { prog.max = ev.total; prog.value = ev.loaded; text.textContent = `${Math.round((100 * ev.loaded) / ev.total)}%`; };
    xhr.onload = () => {
      const body = JSON.parse(xhr.responseText || '{}');
      text.textContent = xhr.status < 300 ? 'Uploaded.' : `${body.code}: ${body.message}`;
      load();
    };
    xhr.onerror = () => { text.textContent = 'The upload failed.'; };
    xhr.send(fd);
  });
  main.append(h('h1', {}, 'Images'), document.body.classList.contains('admin') ? form : null, list);
  async function load() {
    const ims = await all('/v1/images');
    list.replaceChildren(table([{ key: 'name', label: 'Name' }, { label: 'State', render: (i) => h('span', { class: `state s-${i.state}` }, i.state) },
      { label: 'Size', render: (i) => (i.size ? `${fmt(i.size / 1048576)} MB` : '') }, { key: 'replicationType', label: 'Replication' },
      { key: 'scope', label: 'Scope', render: (i) => i.scope?.kind || (i.projectId ? 'project' : 'public') }], ims));
  }
  await load();
  return onEvent((e) => { if (e.type.startsWith('io.photon.image.')) load().catch(() => {}); });
}

async function networks(p, main) {
  const [routers, subnets] = await Promise.all([all(`/v1/projects/${p.id}/routers`).catch(() => []), all(`/v1/projects/${p.id}/subnets`)]);
  main.append(h('h2', {}, 'Routers'), routers.length ? table([{ key: 'name', label: 'Name' }, { key: 'privateIpCidr', label: 'CIDR' },
    { key: 'state', label: 'State' }], routers) : h('p', { class: 'muted' }, 'No routers.'),
  h('h2', {}, 'Subnets'), subnets.length ? table([{ key: 'name', label: 'Name' }, { key: 'privateIpCidr', label: 'CIDR' },
    { key: 'state', label: 'State' }, { label: 'Default', render: (s) => (s.isDefault ? 'yes' : '') }], subnets) : h('p', { class: 'muted' }, 'No subnets.'));
}

async function services(p, main) {
  const svcs = await all(`/v1/projects/${p.id}/services`);
  main.append(h('h2', {}, 'Kubernetes and Harbor services'), svcs.length ? table([{ key: 'name', label: 'Name' }, { key: 'type', label: 'Type' },
    { key: 'state', label: 'State' }, { key: 'workerCount', label: 'Workers' }], svcs) : h('p', { class: 'muted' }, 'No services in this project.'));
}

// events: the events the caller may see, live, since the page opened.
export async function events(_, main) {
  const ol = h('ol', { id: 'event-log', class: 'log', reversed: true });
  main.append(h('h1', {}, 'Events'), h('p', { class: 'muted' }, 'Live, as they happen, for what you may see.'), ol);
  return onEvent((e) => {
    ol.prepend(h('li', {}, h('time', {}, when(Date.parse(e.time))), ' ', h('code', {}, e.type.replace('io.photon.', '')),
      ' ', e.data?.name || e.subject, e.data?.state ? ` → ${e.data.state}` : ''));
    while (ol.children.length > 300) ol.lastChild.remove();
  });
}

// audit: the audit log, for system administrators.
export async function audit(_, main) {
  const pg = await page('/v1/system/audit?pageSize=100');
  main.append(h('h1', {}, 'Audit log'), h('div', { class: 'scroll' }, table([{ label: 'Time', render: (a) => when(a.time) },
    { key: 'subject', label: 'Who' }, { key: 'method', label: 'Call' }, { key: 'outcome', label: 'Outcome' },
    { key: 'status', label: 'Status' }, { key: 'message', label: 'Message' }], pg.items)));
}
