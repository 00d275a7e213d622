// The watch loop's steps, each alone and in process: trigger → load → plan → apply → record → report.
// Plain values in, plain values out; real files in temp folders where a step reads them; a twin of
// applyOnce where the apply step would need an engine.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LockBusyError, OperationError } from '../src/core/errors.js';
import { pmovesHome } from '../src/core/home.js';
import type { Change, Resource } from '../src/core/types.js';
import type { ApplyFlowOptions, ApplyFlowResult } from '../src/engine/run.js';
import type { ApplyReport } from '../src/engine/apply.js';
import { applyStep } from '../src/watch/apply-step.js';
import { Backoff } from '../src/watch/backoff.js';
import { recordGeneration, readHold, resourcesDigest, writeHold } from '../src/watch/history.js';
import { fetchSource, gateRemovals, invalidEvent, loadDesired, type Desired } from '../src/watch/load-step.js';
import { newMetrics, renderMetrics } from '../src/watch/metrics.js';
import { planEvent, resolveHold, selectWork, type Work } from '../src/watch/plan-step.js';
import { applyEvent, nextGeneration, recordOutcome } from '../src/watch/record-step.js';
import { fanOut, journalReporter, metricsReporter, type WatchEvent } from '../src/watch/report.js';
import { readTrigger } from '../src/watch/trigger.js';
import { tempDir } from './helpers.js';
import { writeBundle } from './watch-helpers.js';

const res = (name: string, v = '1'): Resource => ({ address: `secrets.${name}`, section: 'secrets', name, spec: { v }, dependsOn: [] });
const desired = (names: string[], digest = names.join(',')): Desired => ({ manifestPath: '/m/pmoves.mini.yaml', manifestDigest: digest, resources: names.map((n) => res(n)), inputs: ['/m/pmoves.mini.yaml'], commit: null });
const change = (address: string, action: Change['action']): Change => ({ address, section: 'secrets', name: address.split('.')[1]!, action, reason: '', before: null, after: null, patch: [] } as unknown as Change);

// ---- trigger ------------------------------------------------------------------------------------

test('trigger: words once each; edits, commits, SIGHUP and settle release the backoff; git fetches when due', () => {
  const t = readTrigger(['file pmoves.mini.yaml', 'file env.cgp.json', 'interval'], { git: false, now: 0, nextFetchAt: 0 });
  assert.equal([...t.words], ['file', 'interval']);
  assert.ok(t.release);
  assert.not.ok(t.fetch, 'no git source');
  assert.not.ok(readTrigger(['interval', 'docker p/c die', 'retry'], { git: false, now: 0, nextFetchAt: 0 }).release);
  assert.ok(readTrigger(['settle'], { git: false, now: 0, nextFetchAt: 0 }).release);
  assert.ok(readTrigger(['interval'], { git: true, now: 10, nextFetchAt: 5 }).fetch);
  assert.not.ok(readTrigger(['interval'], { git: true, now: 1, nextFetchAt: 5 }).fetch, 'fetch backoff not over');
  assert.ok(readTrigger(['sighup'], { git: true, now: 1, nextFetchAt: 5 }).fetch);
  assert.not.ok(readTrigger(['docker p/c die'], { git: true, now: 10, nextFetchAt: 0 }).fetch);
});

// ---- load ---------------------------------------------------------------------------------------

test('load: fetchSource backs off when offline and releases on a new commit', async () => {
  const failing = { branch: 'main', sync: async () => ({ kind: 'fetch-failed' as const, error: 'offline', current: 'c'.repeat(40) }) };
  const f1 = await fetchSource(failing, { failures: 0, now: 1000, minBackoffMs: 100, maxBackoffMs: 1000 });
  assert.equal([f1.failures, f1.nextFetchAt, f1.release], [1, 1100, false]);
  const f2 = await fetchSource(failing, { failures: f1.failures, now: 2000, minBackoffMs: 100, maxBackoffMs: 1000 });
  assert.is(f2.nextFetchAt, 2200);
  assert.match(f2.events[0]!.message, /^fetch failed \(offline\); retrying in 200ms; converging to c{12} meanwhile$/);
  const fresh = { branch: 'main', sync: async () => ({ kind: 'new-commit' as const, commit: 'a'.repeat(40), previous: null }) };
  const n = await fetchSource(fresh, { failures: 3, now: 0, minBackoffMs: 100, maxBackoffMs: 1000 });
  assert.equal([n.failures, n.nextFetchAt, n.release, n.events[0]!.action], [0, 0, true, 'new-commit']);
  const refusedAgain = { branch: 'main', sync: async () => ({ kind: 'refused' as const, commit: 'b'.repeat(40), reason: 'it is not signed', repeated: true, current: null }) };
  assert.equal((await fetchSource(refusedAgain, { failures: 0, now: 0, minBackoffMs: 1, maxBackoffMs: 1 })).events, [], 'a refusal is reported once');
});

test('load: a valid manifest becomes the desired state (no parsed document kept); an invalid one is located', async () => {
  const t = tempDir('pmoves-watch-steps-load-');
  try {
    const file = path.join(t.dir, 'pmoves.mini.yaml');
    writeBundle(path.join(t.dir, 'env.cgp.json'), { A: 'x' });
    writeFileSync(file, 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env\n');
    const home = pmovesHome({ PMOVES_HOME: path.join(t.dir, 'home') });
    const ok = await loadDesired({ manifestPath: file, commit: null, env: {}, home });
    assert.is(ok.kind, 'valid');
    if (ok.kind !== 'valid') return;
    assert.equal(Object.keys(ok.desired).sort(), ['commit', 'inputs', 'manifestDigest', 'manifestPath', 'resources']);
    assert.equal(ok.desired.resources.map((r) => r.address), ['secrets.env']);
    assert.ok(ok.desired.inputs.includes(path.join(t.dir, 'env.cgp.json')), 'the bundle is an input');
    writeFileSync(file, 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_fille: out/env\n');
    const bad = await loadDesired({ manifestPath: file, commit: null, env: {}, home });
    assert.is(bad.kind, 'invalid');
    if (bad.kind !== 'invalid') return;
    assert.match(bad.errors.join('\n'), /pmoves\.mini\.yaml:\d+:\d+: .*env_fille/);
    const first = invalidEvent(bad.errors, true, null);
    assert.match(first.event!.message, /last valid manifest stays in force/);
    assert.is(invalidEvent(bad.errors, true, first.text).event, null, 'the same errors are reported once');
    assert.match(invalidEvent(bad.errors, false, null).event!.message, /nothing is applied until it is valid/);
  } finally {
    t.cleanup();
  }
});

test('load: a local manifest that drops resources is held back until it has stayed the same for the settle window', () => {
  const prev = desired(['a', 'b'], 'd-ab');
  const half = desired(['a'], 'd-a');
  const base = { previous: prev, local: true, settleMs: 10_000, manifestName: 'pmoves.mini.yaml' };
  const g1 = gateRemovals({ ...base, next: half, pending: null, now: 1_000 });
  assert.is(g1.accept, false);
  if (g1.accept) return;
  assert.equal(g1.pending, { digest: 'd-a', since: 1_000, dropped: ['secrets.b'] });
  assert.is(g1.settleAt, 11_000);
  assert.equal(g1.event!.deferred, ['secrets.b']);
  assert.match(g1.event!.message, /^removal deferred: secrets\.b left pmoves\.mini\.yaml; removed once the file has stayed the same for 10s/);
  const g2 = gateRemovals({ ...base, next: half, pending: g1.pending, now: 5_000 });
  assert.ok(!g2.accept && g2.event === null, 'still waiting, said once');
  // the file changed meanwhile (another half): the window starts again
  const other = desired(['c'], 'd-c');
  const g3 = gateRemovals({ ...base, next: other, pending: g1.pending, now: 10_500 });
  assert.ok(!g3.accept && g3.pending.since === 10_500);
  assert.ok(gateRemovals({ ...base, next: half, pending: g1.pending, now: 11_000 }).accept, 'settled');
  assert.ok(gateRemovals({ ...base, next: desired(['a', 'b', 'c']), pending: null, now: 0 }).accept, 'nothing dropped');
  assert.ok(gateRemovals({ ...base, local: false, next: half, pending: null, now: 0 }).accept, 'a git commit is taken as it is');
  assert.ok(gateRemovals({ ...base, previous: null, next: half, pending: null, now: 0 }).accept, 'first load');
});

// ---- plan ---------------------------------------------------------------------------------------

test('plan: a hold keeps its generation while the manifest is the one rolled back from; a new one releases it', async () => {
  const t = tempDir('pmoves-watch-steps-hold-');
  try {
    const home = pmovesHome({ PMOVES_HOME: t.dir });
    assert.equal(await resolveHold(home, { manifestDigest: 'x', commit: null }, null), { held: null, released: false, events: [] });
    const g = await recordGeneration(home, { manifest_path: '/m.yaml', manifest_digest: 'old', resources: [res('a')] });
    await writeHold(home, { generation: g.generation, avoid: { manifest_digest: 'bad', commit: null }, since: 'now', reason: 'test' });
    const h = await resolveHold(home, { manifestDigest: 'bad', commit: null }, null);
    assert.is(h.held!.generation, g.generation);
    assert.is(h.events[0]!.event, 'hold');
    assert.equal((await resolveHold(home, { manifestDigest: 'bad', commit: null }, g.generation)).events, [], 'said once');
    const r = await resolveHold(home, { manifestDigest: 'new', commit: null }, g.generation);
    assert.equal([r.held, r.released, r.events[0]!.event], [null, true, 'hold-released']);
    assert.is(await readHold(home), null);
  } finally {
    t.cleanup();
  }
});

test('plan: selectWork leaves resources in backoff out, and a new desired state releases them', () => {
  const b = new Backoff(1000, 8000);
  b.fail('secrets.a', 0, 'boom');
  const d = desired(['a', 'b']);
  const digest = resourcesDigest(d.resources);
  const w = selectWork({ desired: d, held: null, release: false, converging: digest, generationDigest: null, backoff: b, now: 10 });
  assert.equal([...w.exclude], ['secrets.a']);
  assert.is(w.digest, digest);
  assert.equal([w.commit, w.manifestDigest, w.held], [null, d.manifestDigest, null]);
  const fresh = selectWork({ desired: desired(['a', 'c']), held: null, release: false, converging: digest, generationDigest: null, backoff: b, now: 10 });
  assert.equal([...fresh.exclude], [], 'a desired state not seen before tries everything');
  assert.is(b.get('secrets.a')!.failures, 1, 'the failure count is kept');
});

test('plan: the plan line counts, drift only when eligible, errors and backoff', () => {
  const plan = {
    changes: [change('secrets.a', 'update'), change('secrets.b', 'create'), change('secrets.c', 'update'), change('secrets.d', 'no-op')],
    diagnostics: [{ severity: 'error' as const, address: 'secrets.c', summary: 'label missing' }],
    summary: { add: 1, change: 2, destroy: 0, blocked: 0, unreadable: 0, conflict: 0 },
  };
  const p = planEvent(plan, new Set(['secrets.b']), new Set(['secrets.a', 'secrets.b', 'secrets.c']), true);
  assert.is(p.drift, 1, 'only secrets.a: b is in backoff, c has an error');
  assert.is(p.event.message, 'plan: 1 to add, 2 to change, 0 to destroy (drift: 1); errors in secrets.c; in backoff: secrets.b');
  assert.equal(p.event.errors, [{ address: 'secrets.c', error: 'label missing' }]);
  assert.is(planEvent(plan, new Set(), new Set(['secrets.a']), false).drift, 0, 'a file or commit changed: not drift');
});

// ---- apply --------------------------------------------------------------------------------------

const work = (): Work => ({ resources: [res('a')], manifestDigest: 'm', commit: 'c'.repeat(40), digest: 'd', held: null, exclude: new Set(['secrets.z']) });
const report = (over: Partial<ApplyReport> = {}): ApplyReport => ({ resources: [], added: 0, changed: 0, destroyed: 0, failed: [], skipped: [], ...over });

test('apply: a busy lock is a LockBusyError, an outcome of its own; other errors go up', async () => {
  const holder = { pid: 4242, host: 'h', command: 'apply', since: 's' };
  const base = { work: work(), manifestPath: '/m.yaml', home: pmovesHome({ PMOVES_HOME: '/nonexistent' }), env: {}, flags: {}, parallelism: 1, readTimeoutMs: 1000, signal: new AbortController().signal, wasOk: new Set<string>(), driftEligible: false, emit: () => {} };
  const busy = await applyStep({ ...base, applyOnce: async () => { throw new LockBusyError('another pmoves mini is running: pid 4242 on h (apply, since s) holds /l. Wait for it.', holder); } });
  assert.equal(busy, { kind: 'busy', message: 'another pmoves mini is running: pid 4242 on h (apply, since s) holds /l' });
  // the same words in another error are not a busy lock
  try {
    await applyStep({ ...base, applyOnce: async () => { throw new OperationError('another pmoves mini is running (not really)'); } });
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, OperationError);
    assert.not.instance(err, LockBusyError);
  }
});

test('apply: the plan line comes first, then progress; watch options reach applyOnce', async () => {
  const events: WatchEvent[] = [];
  let seen: ApplyFlowOptions | undefined;
  const twin = async (o: ApplyFlowOptions): Promise<ApplyFlowResult> => {
    seen = o;
    const plan = { changes: [change('secrets.a', 'update')], diagnostics: [], summary: { add: 0, change: 1, destroy: 0 } };
    o.onPlan!({ plan } as never);
    o.progress('secrets.a: Modifying...');
    return { plan, report: report({ changed: 1 }) } as unknown as ApplyFlowResult;
  };
  const out = await applyStep({ work: work(), manifestPath: '/m.yaml', home: pmovesHome({ PMOVES_HOME: '/nonexistent' }), env: {}, flags: { probe: false }, parallelism: 2, readTimeoutMs: 1000, signal: new AbortController().signal, git: { url: 'u', branch: 'main', path: 'p' }, wasOk: new Set(['secrets.a']), driftEligible: true, emit: (e) => events.push(e), applyOnce: twin });
  assert.is(out.kind, 'applied');
  assert.is(out.kind === 'applied' && out.drift, 1);
  assert.equal(events.map((e) => e.event), ['plan', 'progress']);
  assert.equal([seen!.command, seen!.lockTimeoutMs, seen!.partial, seen!.tty], ['watch', 0, true, false]);
  assert.equal([...seen!.exclude!], ['secrets.z']);
  assert.equal(seen!.auditExtra, { watch: true, commit: 'c'.repeat(40), source: 'u' });
  assert.equal(seen!.stateSource, { kind: 'git', url: 'u', branch: 'main', path: 'p', commit: 'c'.repeat(40) });
});

// ---- record -------------------------------------------------------------------------------------

test('record: failures back off (doubling), successes leave backoff, deleted resources leave watch.json', () => {
  const b = new Backoff(1000, 8000);
  const plan = { changes: [change('secrets.a', 'update'), change('secrets.b', 'create'), change('secrets.c', 'no-op'), change('secrets.gone', 'delete')], diagnostics: [{ severity: 'error' as const, address: 'secrets.e', summary: 'label missing' }] };
  const rep = report({ resources: [{ address: 'secrets.a', action: 'update', outcome: 'failed', error: 'boom', ms: 1 }, { address: 'secrets.b', action: 'create', outcome: 'created', ms: 1 } as never, { address: 'secrets.gone', action: 'delete', outcome: 'deleted', ms: 1 } as never], added: 1, destroyed: 1 });
  const o = recordOutcome({ plan, report: rep, exclude: new Set(), backoff: b, previous: { 'secrets.gone': { result: 'ok', at: 'T' }, 'secrets.old': { result: 'ok', at: 'T' } }, now: 0 });
  assert.equal([...o.failed].sort((x, y) => x.address.localeCompare(y.address)), [{ address: 'secrets.a', error: 'boom', retry_in_ms: 1000 }, { address: 'secrets.e', error: 'label missing', retry_in_ms: 1000 }]);
  assert.equal(Object.keys(o.resources).sort(), ['secrets.a', 'secrets.b', 'secrets.c', 'secrets.e']);
  assert.is(o.resources['secrets.e']!.result, 'error');
  assert.is(o.resources['secrets.a']!.result, 'failed');
  assert.equal([o.result, o.converged], ['failed', false]);
  assert.equal(o.counts, { added: 1, changed: 0, destroyed: 1 });
  const again = recordOutcome({ plan, report: rep, exclude: new Set(), backoff: b, previous: o.resources, now: 2000 });
  assert.is(again.failed.find((f) => f.address === 'secrets.a')!.retry_in_ms, 2000, 'doubled');
  const e = applyEvent(again, 1500, null);
  assert.match(e.message, /^not converged \(1\.5s\): 1 added, 0 changed, 1 destroyed\n  secrets\.\w+ \(retry in 2s\): /);
  const fine = recordOutcome({ plan: { changes: [change('secrets.c', 'no-op')], diagnostics: [] }, report: report(), exclude: new Set(), backoff: new Backoff(), previous: {}, now: 0 });
  assert.equal([fine.result, fine.converged], ['no-changes', true]);
  assert.is(applyEvent(fine, 42, null).message, 'in sync (42ms)');
});

test('record: a converged new state records a generation; one that does not converge in time rolls back', () => {
  const base = { held: false, digest: 'new', commit: null, now: 0, rollbackOnFailure: true, convergeTimeoutMs: 1000, warnedNoGeneration: false, converging: null };
  assert.equal(nextGeneration({ ...base, converged: true, generation: null }).step, { kind: 'record' });
  assert.equal(nextGeneration({ ...base, converged: true, generation: { resources_digest: 'new' } }).step, { kind: 'unchanged' });
  assert.equal(nextGeneration({ ...base, converged: true, held: true, generation: { resources_digest: 'x' } }).step, { kind: 'keep-held' });
  const w = nextGeneration({ ...base, converged: false, generation: { resources_digest: 'old' } });
  assert.equal(w, { step: { kind: 'wait' }, converging: { digest: 'new', since: 0 } });
  assert.equal(nextGeneration({ ...base, converged: false, generation: { resources_digest: 'old' }, converging: w.converging, now: 1000 }).step, { kind: 'rollback' });
  assert.equal(nextGeneration({ ...base, converged: false, generation: null, converging: w.converging, now: 1000 }).step, { kind: 'warn-no-generation' });
  assert.equal(nextGeneration({ ...base, converged: false, rollbackOnFailure: false, generation: { resources_digest: 'old' }, converging: w.converging, now: 9999 }).step, { kind: 'wait' });
});

// ---- report -------------------------------------------------------------------------------------

test('report: events go to the journal, figures to the metrics; a failing reporter is reported once and never stops the others', async () => {
  const lines: WatchEvent[] = [];
  const m = newMetrics();
  let closed = false;
  const broken = { event: () => { throw new Error('mqtt down'); }, close: async () => { closed = true; } };
  const r = fanOut([journalReporter((e) => lines.push(e)), metricsReporter(m), broken]);
  r.started({ manifestValid: true, generation: 3, failing: 0, conflicts: 0, lastSuccess: null, waiting: [], blocked: null });
  assert.is(m.generation, 3);
  r.runStarted(['file', 'interval']);
  r.event({ event: 'trigger', message: 'run: file x' });
  r.event({ event: 'plan', message: 'plan' });
  r.runFinished({ at: 'T', trigger: ['file x'], result: 'failed', ms: 1200, drift: 2, failedRun: true, status: { manifestValid: false, generation: 4, failing: 1, conflicts: 2, lastSuccess: 5, waiting: [{ address: "secrets.env", failures: 2, error: "ENOTDIR: boom", nextTry: 7000 }], blocked: null } });
  assert.is(m.conflicts, 2);
  assert.equal(lines.map((e) => e.event), ['trigger', 'warning', 'plan']);
  assert.match(lines[1]!.message, /a reporter failed: mqtt down/);
  assert.equal([m.runs.get('file'), m.runs.get('interval'), m.failures, m.driftFound, m.lastRunMs, m.generation, m.failing, m.manifestValid, m.lastSuccess], [1, 1, 1, 2, 1200, 4, 1, false, 5]);
  const text = renderMetrics(m);
  assert.match(text, 'pmoves_watch_resource_next_retry_timestamp_seconds{address="secrets.env",error="ENOTDIR: boom"} 7.000', 'a resource in backoff keeps its last error and next try in /metrics');
  assert.match(text, 'pmoves_watch_resource_failures{address="secrets.env"} 2');
  assert.match(text, 'pmoves_watch_blocked 0');
  await r.close();
  assert.ok(closed);
});

test.run();
