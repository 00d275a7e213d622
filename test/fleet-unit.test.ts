// Fleet: the pure parts (globs, strategic merge, group selection, status folding, the status view) as
// tables, and the CLI's answers to bad input (file:line:column, exit 1, no stack trace).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { globMatch } from '../src/fleet/select.js';
import { selectGroup } from '../src/fleet/select.js';
import { strategicMerge } from '../src/fleet/merge.js';
import { foldEvent, newStatus } from '../src/fleet/status-message.js';
import { FleetView, renderTable } from '../src/fleet/status.js';
import { parseBroker } from '../src/fleet/broker.js';
import type { FleetGroup } from '../src/fleet/fleet-file.js';
import { cli, tempDir } from './helpers.js';

test('hostname globs', () => {
  const table: [string, string, boolean][] = [
    ['jetson-*', 'jetson-01', true],
    ['jetson-*', 'xjetson-01', false],
    ['edge-?', 'edge-1', true],
    ['edge-?', 'edge-12', false],
    ['lab-[ab]', 'lab-a', true],
    ['lab-[!ab]', 'lab-a', false],
    ['a.b', 'axb', false],
    ['*', 'anything', true],
  ];
  for (const [g, v, want] of table) assert.is(globMatch(g, v), want, `${g} ~ ${v}`);
});

test('strategic merge: maps merge, lists and scalars replace', () => {
  const base = { profile: 'auto', models: { llm: { bundle: 'big.yaml', tags: ['a', 'b'] }, emb: { bundle: 'e.yaml' } } };
  const over = { models: { llm: { bundle: 'small.yaml', tags: ['c'] } }, profile: 'laptop-8g' };
  assert.equal(strategicMerge(base, over), { profile: 'laptop-8g', models: { llm: { bundle: 'small.yaml', tags: ['c'] }, emb: { bundle: 'e.yaml' } } });
  assert.equal(base.models.llm.tags, ['a', 'b'], 'inputs are not changed');
});

test('the first matching group wins; no match says why for each group', () => {
  const groups: FleetGroup[] = [
    { name: 'jetsons', match: { hostname: 'jetson-*', arch: 'aarch64' }, manifest: 'j.yaml' },
    { name: 'small', match: { labels: { ram: '8g' }, profile: ['laptop', 'desktop'] }, manifest: 's.yaml' },
    { name: 'all', manifest: 'a.yaml' },
  ];
  const d = (hostname: string, arch: string, profile: string | null, labels: Record<string, string> = {}) => ({ hostname, arch, profile, labels, origin: 'test' });
  assert.is(selectGroup(groups, d('jetson-1', 'arm64', null)).group?.name, 'jetsons');
  assert.is(selectGroup(groups, d('jetson-1', 'x64', 'laptop', { ram: '8g' })).group?.name, 'small');
  assert.is(selectGroup(groups, d('desk', 'x64', 'laptop')).group?.name, 'all');
  const none = selectGroup(groups.slice(0, 2), d('desk', 'x64', null, { ram: '16g' }));
  assert.is(none.group, null);
  assert.equal(none.misses, [
    { group: 'jetsons', why: 'hostname desk is not jetson-*' },
    { group: 'small', why: 'profile (none) is not laptop | desktop' },
  ]);
});

test('status folding: an apply with a failure, then a generation; blocked when no group matches', () => {
  const s = newStatus('edge-1', 'edge-1', 'jetson-orin');
  const r = foldEvent(s, { event: 'apply', message: 'm', result: 'failed', added: 1, changed: 0, destroyed: 0, failed: [{ address: 'stacks.core', error: 'compose up failed: port in use\nmore detail' }], skipped: [], errors: [], excluded: [], commit: 'abc', ms: 10 });
  assert.is(r.publish, 'event');
  assert.is(r.event!.result, 'failed');
  assert.is(s.result, 'failed');
  assert.equal(s.failing, [{ address: 'stacks.core', reason: 'compose up failed: port in use' }]);
  assert.is(s.commit, 'abc');
  assert.is(foldEvent(s, { event: 'generation', message: 'g', generation: 4 }).publish, 'status');
  assert.is(s.generation, 4);
  foldEvent(s, { event: 'fleet', action: 'no-match', message: 'no group in fleet.yaml matches this device (x); doing nothing.' });
  assert.is(s.group, null);
  const b = foldEvent(s, { event: 'run-finished', message: '', result: 'blocked', error: 'no group in fleet.yaml matches this device (x): jetsons: hostname x is not jetson-*', commit: 'def' });
  assert.is(b.publish, 'status');
  assert.is(s.result, 'blocked');
  assert.is(s.commit, 'def', 'a blocked device reports the commit it read');
  assert.match(s.reason!, /jetsons: hostname x is not jetson-\*/);
  assert.is(foldEvent(s, { event: 'progress', message: 'x' }).publish, null);
  assert.is(foldEvent(s, { event: 'run-finished', message: '', result: 'ok', commit: 'def' }).publish, null, 'an applied run publishes through its apply line');
});

test('status folding: a resource waiting in backoff keeps its last error and next try; an invalid group says where', () => {
  const s = newStatus('edge-1', 'edge-1', null);
  const next = '2026-12-07T03:00:00.000Z';
  foldEvent(s, { event: 'apply', message: 'm', result: 'failed', added: 0, changed: 0, destroyed: 0, failed: [], skipped: [], errors: [], excluded: ['secrets.env'], waiting: [{ address: 'secrets.env', error: "ENOTDIR: not a directory, mkdir '/dev/null/sub'", failures: 3, next_try: next }], commit: 'abc', ms: 5 });
  assert.equal(s.failing, [{ address: 'secrets.env', reason: "ENOTDIR: not a directory, mkdir '/dev/null/sub'", next_try: next }]);
  // the run that tried it again and failed: its error and the next try from that run (now + its backoff)
  foldEvent(s, { event: 'apply', message: 'm', result: 'failed', added: 0, changed: 0, destroyed: 0, failed: [{ address: 'secrets.env', error: 'ENOTDIR again', retry_in_ms: 8000 }], skipped: [], errors: [], excluded: [], waiting: [], commit: 'abc', ms: 5 }, new Date('2026-12-07T03:00:00.000Z'));
  assert.equal(s.failing, [{ address: 'secrets.env', reason: 'ENOTDIR again', next_try: '2026-12-07T03:00:08.000Z' }]);
  foldEvent(s, { event: 'fleet', action: 'invalid', group: 'edge', message: 'group edge: its overrides do not make a valid manifest; nothing new is applied:\n  fleet.yaml:7:42: x' });
  foldEvent(s, { event: 'run-finished', message: '', result: 'invalid-manifest', error: 'group edge: its overrides do not make a valid manifest: fleet.yaml:7:42: secrets.env.include_labels: expected array', commit: 'b2' });
  assert.is(s.result, 'blocked');
  assert.is(s.commit, 'b2');
  assert.match(s.reason!, /fleet\.yaml:7:42: secrets\.env\.include_labels/);
});

test('the status view: one row per device, behind, stale, online/offline, cleared messages', () => {
  const v = new FleetView('p');
  const now = Date.parse('2026-01-01T00:10:00Z');
  const st = (device: string, commit: string, time: string, result = 'converged') => JSON.stringify({ ...newStatus(device, device, null), commit, time, result, group: 'g' });
  v.add('p/a/status', st('a', 'c2', '2026-01-01T00:09:50Z'));
  v.add('p/a/online', 'online');
  v.add('p/b/status', st('b', 'c1', '2026-01-01T00:00:00Z', 'failed'));
  v.add('p/b/online', 'offline');
  v.add('p/c/status', 'not json');
  v.add('other/x/status', st('x', 'c2', '2026-01-01T00:09:50Z'));
  const rows = v.rows({ now, head: 'c2', staleMs: 300_000 });
  assert.equal(rows.map((r) => [r.device, r.commit, r.result, r.age_s, r.online, r.behind, r.stale]), [
    ['a', 'c2', 'converged', 10, 'online', false, false],
    ['b', 'c1', 'failed', 600, 'offline', true, true],
  ]);
  assert.is(v.invalid, 1);
  const text = renderTable(rows, 'c2');
  assert.match(text, /^DEVICE\s+GROUP\s+COMMIT\s+RESULT\s+AGE\s+ONLINE\s+FLAGS$/m);
  assert.match(text, /^b\s+g\s+c1\s+failed\s+10m\s+offline\s+behind,stale$/m);
  v.add('p/b/status', '');
  assert.equal(v.rows({ now, staleMs: 1 }).map((r) => [r.device, r.result]), [['a', 'converged'], ['b', 'unknown']]);
});

test('broker URLs', () => {
  assert.equal(parseBroker('mqtt://127.0.0.1:1884/fleet/site-a', '--report'), { url: 'mqtt://127.0.0.1:1884', prefix: 'fleet/site-a', tls: false, flags: {} });
  assert.is(parseBroker('mqtts://broker.example', '--report').url, 'mqtts://broker.example:8883');
  assert.is(parseBroker('mqtt://h', '--report').prefix, 'pmoves');
  assert.throws(() => parseBroker('http://h/x', '--report'), /expected an mqtt:\/\/ or mqtts:\/\/ URL/);
  assert.throws(() => parseBroker('mqtt://u:hunter2@h/x', '--report'), (e: Error) => /no user or password in the URL; use --report-auth BUNDLE/.test(e.message) && !e.message.includes('hunter2'));
  assert.throws(() => parseBroker('mqtt://u:p@h/x', '--broker'), /use --auth BUNDLE/);
  assert.throws(() => parseBroker('mqtt://h/a/#', '--report'), /may not contain/);
  assert.throws(() => parseBroker('mqtt://h/a/+/b', '--report'), /may not contain/);
  assert.throws(() => parseBroker('mqtt://h/a', '--report', { ca: 'ca.crt' }), /need an mqtts:\/\/ URL/);
});

test('CLI: bad fleet.yaml, overrides and device input → file:line:column, exit 1, no stack trace', async () => {
  const t = tempDir('pmoves-fleet-unit-');
  try {
    const f = path.join(t.dir, 'fleet.yaml');
    mkdirSync(path.join(t.dir, 'edge'));
    writeFileSync(path.join(t.dir, 'edge', 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\nprofile: auto\n');
    writeFileSync(f, 'apiVersion: pmoves.ai/fleet/v1\ngroups:\n  - name: a\n    match: { hostnam: "x-*" }\n    manifest: ../outside.yaml\n  - name: a\n    manifest: edge/pmoves.mini.yaml\n');
    let r = await cli(['mini', 'fleet', 'plan', '-f', f], { cwd: t.dir, home: path.join(t.dir, 'home') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /fleet\.yaml:4:14: groups\[0\]\.match\.hostnam: unknown key "hostnam" \(did you mean "hostname"\?\)/);
    assert.match(String(r.stderr), /fleet\.yaml:5:15: groups\[0\]\.manifest: .*relative, no \.\./);
    assert.not.match(String(r.stderr), /\n\s+at /);

    writeFileSync(f, 'apiVersion: pmoves.ai/fleet/v1\ngroups:\n  - name: a\n    manifest: edge/pmoves.mini.yaml\n  - name: a\n    manifest: edge/pmoves.mini.yaml\n');
    r = await cli(['mini', 'fleet', 'plan', '-f', f], { cwd: t.dir, home: path.join(t.dir, 'home') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /fleet\.yaml:5:11: groups\[1\]\.name: "a" is already the name of groups\[0\]/);

    writeFileSync(f, 'apiVersion: pmoves.ai/fleet/v1\ngroups:\n  - name: a\n    manifest: edge/pmoves.mini.yaml\n    overrides:\n      profile: 7\n');
    r = await cli(['mini', 'fleet', 'plan', '-f', f], { cwd: t.dir, home: path.join(t.dir, 'home') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stdout), /Error: fleet\.yaml:6:16: groups\[0\]\.overrides\.profile: expected string, got number 7/);

    const dev = path.join(t.dir, 'dev.yaml');
    writeFileSync(dev, 'hostname: a/b\nlabel: {x: y}\n');
    writeFileSync(f, 'apiVersion: pmoves.ai/fleet/v1\ngroups:\n  - name: a\n    manifest: edge/pmoves.mini.yaml\n');
    r = await cli(['mini', 'fleet', 'plan', '-f', f, '--device-file', dev], { cwd: t.dir, home: path.join(t.dir, 'home') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /dev\.yaml:1:11: hostname: "a\/b" is not valid/);
    assert.match(String(r.stderr), /dev\.yaml:2:1: label: unknown key "label" \(did you mean "labels"\?\)/);

    r = await cli(['mini', 'device', 'label', 'bad key=1'], { home: path.join(t.dir, 'home') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /expected KEY=VALUE to set or KEY- to remove/);
    r = await cli(['mini', 'device', 'label', 'ram=8g', 'site=lab'], { home: path.join(t.dir, 'home') });
    r = await cli(['mini', 'device', 'label', 'site-'], { home: path.join(t.dir, 'home') });
    assert.is(String(r.stdout), 'labels: ram=8g');

    r = await cli(['mini', 'watch', '--fleet'], { cwd: t.dir, home: path.join(t.dir, 'home') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /--fleet needs --git URL/);
    r = await cli(['mini', 'watch', '--report', 'mqtt://u:hunter2@127.0.0.1/x'], { cwd: t.dir, home: path.join(t.dir, 'home') });
    assert.is(r.exitCode, 1);
    assert.not.match(String(r.stderr), /hunter2/);
    r = await cli(['mini', 'watch', '--report-ca', 'ca.crt'], { cwd: t.dir, home: path.join(t.dir, 'home') });
    assert.match(String(r.stderr), /--report-ca needs --report URL/);
  } finally {
    t.cleanup();
  }
});

test.run();
