// A conflict (someone else's entry in the way) in watch mode is a status of its own (issue 13): the plan
// line and the apply line name it, the run is not converged (no generation, no last success), it counts
// as a failed run and as a gauge on /metrics, watch.json and `status` say "in conflict"; it does not go
// into retry backoff (it is re-planned every run) and a resolved conflict converges.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Change } from '../src/core/types.js';
import type { ApplyReport } from '../src/engine/apply.js';
import { pmovesHome } from '../src/core/home.js';
import { Backoff } from '../src/watch/backoff.js';
import { newMetrics, renderMetrics } from '../src/watch/metrics.js';
import { planEvent } from '../src/watch/plan-step.js';
import { applyEvent, recordOutcome } from '../src/watch/record-step.js';
import { metricsReporter } from '../src/watch/report.js';
import { watchStatus, writeWatchFile } from '../src/watch/state-file.js';
import { foldEvent, newStatus } from '../src/fleet/status-message.js';
import { tempDir } from './helpers.js';

const why = 'cursor: ~/.cursor/mcp.json already has a server "mem" that pmoves did not write (apply --force overwrites it)';
const conflicted: Change = { address: 'mcp.mem', section: 'mcp', name: 'mem', action: 'no-op', reason: 'in conflict', before: null, after: null, conflicts: [why] };
const fine: Change = { address: 'secrets.env', section: 'secrets', name: 'env', action: 'create', reason: '', before: null, after: null };
const summary = { add: 1, change: 0, destroy: 0, blocked: 0, unreadable: 0, conflict: 1 };
const report: ApplyReport = { resources: [{ address: 'secrets.env', outcome: 'created' }], added: 1, changed: 0, destroyed: 0 } as unknown as ApplyReport;

test('plan and apply lines name the conflict; the run is not converged, not in backoff, and counted', () => {
  const p = planEvent({ changes: [conflicted, fine], diagnostics: [], summary }, new Set(), new Set(), false);
  assert.match(p.event.message, 'plan: 1 to add, 0 to change, 0 to destroy; in conflict: mcp.mem');
  assert.is(p.event.conflict, 1);

  const backoff = new Backoff(5000, 60_000);
  const o = recordOutcome({ plan: { changes: [conflicted, fine], diagnostics: [] }, report, exclude: new Set(), backoff, previous: {}, now: 0 });
  assert.is(o.result, 'conflict');
  assert.not.ok(o.converged, 'a conflict is not converged');
  assert.equal(o.conflicts, [{ address: 'mcp.mem', conflicts: [why] }]);
  assert.is(o.resources['mcp.mem']!.result, 'conflict');
  assert.is(o.resources['secrets.env']!.result, 'ok');
  assert.is(backoff.size, 0, 'a conflict is re-planned every run, not retried with backoff');
  const line = applyEvent(o, 1200, null);
  assert.match(line.message, `not converged (1.2s): 1 added, 0 changed, 0 destroyed\n  mcp.mem in conflict: ${why}`);
  assert.equal(line.conflicts, o.conflicts);

  // resolved: the same resource in sync converges
  const resolved = recordOutcome({ plan: { changes: [{ ...conflicted, conflicts: undefined, reason: 'registered' }], diagnostics: [] }, report: undefined, exclude: new Set(), backoff, previous: o.resources, now: 1 });
  assert.ok(resolved.converged);
  assert.is(resolved.resources['mcp.mem']!.result, 'ok');
});

test('/metrics: a gauge of resources in conflict, and the run counts as failed', () => {
  const m = newMetrics();
  const r = metricsReporter(m);
  r.runFinished!({ at: 'T', trigger: ['file'], result: 'conflict', ms: 10, drift: 0, failedRun: true, status: { manifestValid: true, generation: null, failing: 0, conflicts: 1, lastSuccess: null, waiting: [], blocked: null } });
  const text = renderMetrics(m);
  assert.match(text, '# TYPE pmoves_watch_resources_in_conflict gauge\npmoves_watch_resources_in_conflict 1\n');
  assert.match(text, 'pmoves_watch_run_failures_total 1\n');
  assert.match(text, 'pmoves_watch_last_success_timestamp_seconds 0\n');
});

test('watch.json and status: "in conflict", apart from failing resources', async () => {
  const t = tempDir('pmoves-watch-conflict-');
  try {
    const home = pmovesHome({ PMOVES_HOME: path.join(t.dir, 'pm') });
    const at = new Date(0).toISOString();
    await writeWatchFile(home, {
      pid: 999_999_999,
      host: 'h',
      started_at: at,
      updated_at: at,
      manifest: '/m/pmoves.mini.yaml',
      generation: null,
      manifest_valid: true,
      last_run: { at, trigger: ['file'], result: 'conflict', ms: 5 },
      resources: { 'mcp.mem': { result: 'conflict', error: why, at }, 'secrets.env': { result: 'ok', at } },
      next_run: null,
    });
    const s = await watchStatus(home);
    assert.match(s!.line, 'last run 1970-01-01T00:00:00.000Z conflict; in conflict: mcp.mem');
    assert.not.match(s!.line, 'failing:');
  } finally {
    t.cleanup();
  }
});

test('fleet: an apply line with a conflict publishes the device as failed, naming it', () => {
  const backoff = new Backoff();
  const o = recordOutcome({ plan: { changes: [conflicted], diagnostics: [] }, report: undefined, exclude: new Set(), backoff, previous: {}, now: 0 });
  const s = newStatus('edge-1', 'edge-1', null);
  foldEvent(s, applyEvent(o, 10, 'abc'));
  assert.is(s.result, 'failed');
  assert.equal(s.failing, [{ address: 'mcp.mem', reason: `in conflict: ${why}` }]);
});

test.run();
