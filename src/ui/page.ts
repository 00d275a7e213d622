// The page: one HTML document, one stylesheet, one script (plain DOM, no framework; every text goes
// in with textContent, never as HTML). All three are served by the tool itself (nothing from the
// internet); the strict CSP allows nothing else.
import { STATE_COLOURS } from './graph-render.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function pageHtml(title: string, csrf: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="pmoves-csrf" content="${esc(csrf)}">
<title>pmoves mini: ${esc(title)}</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
<h1>pmoves mini <span class="muted">${esc(title)}</span></h1>
<p id="summary" role="status">Loading…</p>
<nav aria-label="Views"><a href="#machine">Machine</a> <a href="#fleet">Fleet</a> <a href="#events-view">Events</a></nav>
</header>
<main>
<noscript><p>The tables of this page are drawn by its script; without JavaScript, <code>pmoves mini status</code>, <code>pmoves mini plan</code> and <code>pmoves mini fleet status</code> print the same.</p></noscript>
<section id="machine" aria-labelledby="h-machine">
<h2 id="h-machine">Machine</h2>
<section aria-labelledby="h-resources">
<h3 id="h-resources">Resources</h3>
<table id="resources"><thead><tr><th scope="col">Resource</th><th scope="col">Status</th><th scope="col">Last run</th><th scope="col">Reason</th></tr></thead><tbody></tbody></table>
</section>
<section aria-labelledby="h-plan">
<h3 id="h-plan">Plan</h3>
<div id="plan"><p>No plan yet.</p></div>
</section>
<section aria-labelledby="h-graph">
<h3 id="h-graph">Graph</h3>
<div class="graph" tabindex="0" role="group" aria-label="Graph"><img id="graph" src="/api/graph.svg" alt="Resources, their dependencies and each stack's services, coloured by status"></div>
<p class="legend" id="legend"></p>
</section>
<section aria-labelledby="h-generations">
<h3 id="h-generations">Generations</h3>
<table id="generations"><thead><tr><th scope="col">Generation</th><th scope="col">Created</th><th scope="col">Source</th><th scope="col">Resources</th><th scope="col">Action</th></tr></thead><tbody></tbody></table>
<p id="rollback-result" role="status"></p>
</section>
</section>
<section id="fleet" aria-labelledby="h-fleet">
<h2 id="h-fleet">Fleet</h2>
<p id="fleet-note"></p>
<div class="filters">
<label for="group-filter">Group</label> <select id="group-filter"><option value="">all groups</option></select>
<label for="label-filter">Label</label> <input id="label-filter" type="text" placeholder="key=value" autocomplete="off">
</div>
<table id="devices"><thead><tr><th scope="col">Device</th><th scope="col">Group</th><th scope="col">Result</th><th scope="col">Commit</th><th scope="col">Online</th><th scope="col">Labels</th><th scope="col">Last error</th></tr></thead><tbody></tbody></table>
</section>
<section id="events-view" aria-labelledby="h-events">
<h2 id="h-events">Events</h2>
<ol id="events" aria-live="polite" tabindex="0" aria-label="Watch events, newest first"></ol>
</section>
</main>
<dialog id="rollback-dialog" aria-labelledby="rb-title">
<h2 id="rb-title">Roll back?</h2>
<div id="rb-plan"></div>
<p>This applies the plan above to this machine, as <code>pmoves mini rollback</code> does after you answer yes.</p>
<div class="buttons"><button id="rb-confirm" type="button">Roll back</button> <button id="rb-cancel" type="button">Cancel</button></div>
</dialog>
</body>
</html>
`;
}

export function loginPage(message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>pmoves mini: sign in</title><link rel="stylesheet" href="/app.css"></head>
<body><main>
<h1>pmoves mini</h1>
<form method="post" action="/login">
<p>This page needs the bearer token (the value of the label given with <code>--ui-token-label</code>).</p>
<label for="token">Token</label> <input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
${message ? `<p role="alert">${esc(message)}</p>` : ''}
</form>
</main></body></html>
`;
}

export const PAGE_CSS = `
:root { color-scheme: light; --fg: #1b1b1b; --muted: #555; --line: #c9c9c9; --ok: #1d6b2f; --bad: #a3141c; --warn: #7a4a00; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fafafa; margin: 0; }
header, main { padding: 0.75rem 1.25rem; }
header { background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.3rem; margin: 0 0 0.25rem; }
h2 { font-size: 1.15rem; margin: 1.25rem 0 0.5rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1rem 0 0.4rem; }
.muted { color: var(--muted); font-weight: normal; }
nav a { margin-right: 1rem; color: #0b4f9c; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
th { background: #f0f0f0; }
code.part { padding-left: 1.25rem; color: var(--muted); }
code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.92em; }
.st { font-weight: 600; padding: 0 0.35rem; border-radius: 3px; }
.st-in-sync, .st-ok, .st-converged, .st-no-op, .st-online { color: var(--ok); }
.st-error, .st-failed, .st-offline, .st-delete { color: var(--bad); }
.st-drifted, .st-missing, .st-conflict, .st-orphaned, .st-blocked, .st-update, .st-replace, .st-skipped { color: var(--warn); }
.st-create { color: var(--ok); }
.graph { background: #fff; border: 1px solid var(--line); padding: 0.5rem; overflow: auto; }
.graph img { max-width: 100%; }
.legend span { display: inline-block; margin-right: 0.75rem; padding: 0 0.4rem; border: 1px solid #999; color: #1b1b1b; }
#plan ul { padding-left: 1.2rem; }
#events { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85rem; max-height: 18rem; overflow: auto; background: #fff; border: 1px solid var(--line); padding: 0.4rem 0.4rem 0.4rem 2.5rem; }
.filters { margin: 0.5rem 0; }
.filters label { margin-left: 0.5rem; }
button { font: inherit; padding: 0.25rem 0.75rem; background: #0b4f9c; color: #fff; border: 0; border-radius: 3px; cursor: pointer; }
button#rb-cancel { background: #555; }
dialog { max-width: 46rem; border: 1px solid var(--line); }
form { max-width: 28rem; }
${Object.entries(STATE_COLOURS).map(([k, c]) => `.legend span[data-state="${k}"] { background: ${c}; }`).join('\n')}
`;

// The script: fetch the snapshot, render, follow /events. No backquotes or template holes inside.
export const PAGE_SCRIPT = String.raw`'use strict';
(function () {
  var csrf = document.querySelector('meta[name="pmoves-csrf"]').getAttribute('content');
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, text, cls) { var e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
  var state = { snap: null, devices: null, pending: null };
  var SYMBOL = { create: '+', update: '~', replace: '-/+', delete: '-', 'no-op': ' ' };

  function status(word) { return el('span', word, 'st st-' + word); }
  function row(cells) { var tr = document.createElement('tr'); cells.forEach(function (c) { var td = document.createElement('td'); if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined || c === null ? '' : String(c); tr.appendChild(td); }); return tr; }
  function fill(tbody, rows) { while (tbody.firstChild) tbody.removeChild(tbody.firstChild); rows.forEach(function (r) { tbody.appendChild(r); }); }

  function renderResources(s) {
    var rows = [];
    (s.resources || []).forEach(function (r) {
      var tr = row([el('code', r.address), status(r.status), r.last ? status(r.last.result) : '-', [r.reason].concat(r.details || []).concat(r.last && r.last.error ? ['last error: ' + r.last.error] : []).filter(Boolean).join('; ')]);
      tr.dataset.address = r.address; tr.dataset.status = r.status;
      rows.push(tr);
      (r.parts || []).forEach(function (p) {
        var sub = row([el('code', p.address, 'part'), status(p.status), '', p.reason]);
        sub.dataset.part = p.address; sub.dataset.status = p.status;
        rows.push(sub);
      });
    });
    if (!rows.length) rows.push(row(['No resources declared.', '', '', '']));
    fill(document.querySelector('#resources tbody'), rows);
  }

  function renderPlan(s) {
    var box = $('plan'); while (box.firstChild) box.removeChild(box.firstChild);
    if (s.plan_error) { box.appendChild(el('p', s.plan_error, 'st st-error')); return; }
    var p = s.plan; if (!p) { box.appendChild(el('p', 'No plan.')); return; }
    box.appendChild(planList(p));
  }

  function planList(p) {
    var wrap = document.createElement('div');
    var sum = p.summary || {};
    wrap.appendChild(el('p', 'Plan: ' + (sum.add || 0) + ' to add, ' + (sum.change || 0) + ' to change, ' + (sum.destroy || 0) + ' to destroy.', 'plan-summary'));
    var ul = document.createElement('ul');
    (p.changes || []).filter(function (c) { return c.action !== 'no-op' || (c.parts || []).some(function (x) { return x.action !== 'no-op'; }); }).forEach(function (c) {
      var li = document.createElement('li'); li.dataset.address = c.address; li.dataset.action = c.action;
      li.appendChild(el('code', (SYMBOL[c.action] || '') + ' ' + c.address));
      li.appendChild(document.createTextNode(' '));
      li.appendChild(status(c.action));
      li.appendChild(el('span', ' ' + c.reason + (c.cause ? ' (' + c.cause + ')' : '')));
      var sub = document.createElement('ul');
      (c.parts || []).filter(function (x) { return x.action !== 'no-op'; }).forEach(function (x) { sub.appendChild(el('li', (SYMBOL[x.action] || '') + ' ' + x.address + ': ' + x.reason + (x.cause ? ' (' + x.cause + ')' : ''))); });
      (c.patch || []).slice(0, 20).forEach(function (op) { sub.appendChild(el('li', op.op + ' ' + op.path + ('value' in op ? ' = ' + JSON.stringify(op.value) : ''), 'mono')); });
      if (sub.firstChild) li.appendChild(sub);
      ul.appendChild(li);
    });
    if (ul.firstChild) wrap.appendChild(ul); else wrap.appendChild(el('p', 'No changes. The machine matches the manifest.'));
    (p.diagnostics || []).forEach(function (d) { wrap.appendChild(el('p', d.severity + ': ' + (d.address ? d.address + ': ' : '') + d.summary, d.severity === 'error' ? 'st st-error' : 'st st-drifted')); });
    return wrap;
  }

  function renderGenerations(s) {
    var rows = (s.generations || []).slice().reverse().map(function (g) {
      var action;
      if (g.in_force) action = el('span', 'in force');
      else { action = el('button', 'Roll back to ' + g.generation); action.type = 'button'; action.dataset.generation = g.generation; action.addEventListener('click', function () { preview(g.generation); }); }
      var tr = row([String(g.generation), g.created_at, g.commit ? 'commit ' + g.commit.slice(0, 12) : 'manifest ' + g.manifest_digest, String(g.resources.length) + ' resource(s)', action]);
      tr.dataset.generation = g.generation;
      return tr;
    });
    if (!rows.length) rows.push(row(['No generations yet: a watcher records one each time a new desired state converges.', '', '', '', '']));
    fill(document.querySelector('#generations tbody'), rows);
  }

  function renderSummary(s) {
    var w = s.watch;
    var parts = [s.mode === 'daemon' ? 'watch daemon' : 'one-off view', s.manifest || ''];
    if (w) { parts.push(w.running ? 'running' : 'not running'); if (w.generation !== null && w.generation !== undefined) parts.push('generation ' + w.generation + (w.hold ? ' (rolled back)' : '')); if (w.last_run) parts.push('last run ' + w.last_run.result); }
    var counts = {}; (s.resources || []).forEach(function (r) { counts[r.status] = (counts[r.status] || 0) + 1; });
    parts.push(Object.keys(counts).map(function (k) { return counts[k] + ' ' + k; }).join(', ') || 'no resources');
    $('summary').textContent = parts.filter(Boolean).join(' · ');
  }

  function renderLegend(s) {
    var box = $('legend'); while (box.firstChild) box.removeChild(box.firstChild);
    Object.keys(s.colours || {}).forEach(function (k) { var sp = el('span', k); sp.dataset.state = k; box.appendChild(sp); });
  }

  function labelMatch(d, want) {
    if (!want) return true;
    var kv = want.split('='); var labels = d.labels || {};
    if (kv.length < 2) return Object.keys(labels).some(function (k) { return k === want; });
    return labels[kv[0].trim()] === kv.slice(1).join('=').trim();
  }

  function renderDevices() {
    var devs = state.devices; var note = $('fleet-note');
    if (!devs) { note.textContent = 'No broker: start with --ui-broker mqtt://HOST:PORT/PREFIX to list a fleet.'; fill(document.querySelector('#devices tbody'), []); return; }
    note.textContent = devs.devices.length + ' device(s) on ' + devs.broker;
    var sel = $('group-filter'); var groups = {};
    devs.devices.forEach(function (d) { if (d.group) groups[d.group] = true; });
    var have = Array.prototype.map.call(sel.options, function (o) { return o.value; });
    Object.keys(groups).sort().forEach(function (g) { if (have.indexOf(g) < 0) { var o = el('option', g); o.value = g; sel.appendChild(o); } });
    var g = sel.value; var lf = $('label-filter').value.trim();
    var rows = devs.devices.filter(function (d) { return (!g || d.group === g) && labelMatch(d, lf); }).map(function (d) {
      var err = d.reason || (d.failing && d.failing.length ? d.failing.map(function (f) { return f.address + ': ' + f.reason; }).join('; ') : '');
      var tr = row([el('code', d.device), d.group || '-', status(d.result), d.commit ? d.commit.slice(0, 12) : '-', status(d.online), Object.keys(d.labels || {}).sort().map(function (k) { return k + '=' + d.labels[k]; }).join(' '), err]);
      tr.dataset.device = d.device; tr.dataset.result = d.result; tr.dataset.online = d.online;
      return tr;
    });
    if (!rows.length) rows.push(row(['No device matches.', '', '', '', '', '', '']));
    fill(document.querySelector('#devices tbody'), rows);
  }

  function render(s) {
    state.snap = s;
    renderSummary(s); renderResources(s); renderPlan(s); renderGenerations(s); renderLegend(s);
    if (s.devices) state.devices = s.devices;
    renderDevices();
    document.body.dataset.loaded = String(s.serial);
  }

  var loading = null;
  function load() {
    if (loading) { loading.again = true; return; }
    loading = { again: false };
    fetch('/api/snapshot', { headers: { accept: 'application/json' } }).then(function (r) { return r.json(); }).then(function (s) {
      render(s);
      $('graph').src = '/api/graph.svg?serial=' + s.serial;
    }).catch(function (e) { $('summary').textContent = 'Cannot load: ' + e; }).then(function () {
      var again = loading.again; loading = null; if (again) load();
    });
  }

  function post(url, body) {
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-pmoves-csrf': csrf }, body: JSON.stringify(body) }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); });
  }

  function preview(gen) {
    $('rollback-result').textContent = 'Planning the rollback to generation ' + gen + '…';
    post('/api/rollback/preview', { generation: gen }).then(function (r) {
      if (!r.ok) { $('rollback-result').textContent = 'Cannot roll back: ' + r.body.error; return; }
      state.pending = r.body;
      var box = $('rb-plan'); while (box.firstChild) box.removeChild(box.firstChild);
      box.appendChild(planList(r.body.plan));
      $('rb-title').textContent = 'Roll back to generation ' + gen + '?';
      $('rollback-result').textContent = '';
      $('rollback-dialog').showModal();
    });
  }

  $('rb-cancel').addEventListener('click', function () { state.pending = null; $('rollback-dialog').close(); $('rollback-result').textContent = 'Rollback cancelled. Nothing was changed.'; });
  $('rb-confirm').addEventListener('click', function () {
    var p = state.pending; if (!p) return;
    $('rollback-dialog').close();
    $('rollback-result').textContent = 'Rolling back to generation ' + p.generation + '…';
    post('/api/rollback', { generation: p.generation, digest: p.digest }).then(function (r) {
      $('rollback-result').textContent = r.body.message || r.body.error || (r.ok ? 'Done.' : 'Failed.');
      load();
    });
  });
  $('group-filter').addEventListener('change', renderDevices);
  $('label-filter').addEventListener('input', renderDevices);

  function addEvent(e) {
    var list = $('events');
    var li = el('li', (e.time ? e.time.slice(11, 19) + ' ' : '') + e.message);
    li.dataset.event = e.event;
    list.insertBefore(li, list.firstChild);
    while (list.childNodes.length > 200) list.removeChild(list.lastChild);
  }

  var es = new EventSource('/events');
  es.addEventListener('log', function (m) { addEvent(JSON.parse(m.data)); });
  es.addEventListener('snapshot', function () { load(); });
  es.addEventListener('devices', function (m) { state.devices = JSON.parse(m.data); renderDevices(); });
  load();
})();
`;
