// --listen: /healthz and /metrics (Prometheus text format 0.0.4) on a loopback port.
import { createServer, type Server } from 'node:http';
import { UserError } from '../core/errors.js';
import type { WaitingResource, WatchStatus } from './report.js';

export interface Metrics {
  runs: Map<string, number>;
  failures: number;
  lastSuccess: number | null;
  lastRunMs: number;
  driftFound: number;
  generation: number | null;
  failing: number;
  /** Resources in conflict after the last run. */
  conflicts: number;
  manifestValid: boolean;
  /** Resources in retry backoff, with their last error and next try. */
  waiting: WaitingResource[];
  /** Why the last run could apply nothing (null: it could). */
  blocked: string | null;
  startedAt: number;
  /** [fleet] extra lines (the MQTT reporter's counters). */
  extra?: () => string;
}

export function newMetrics(): Metrics {
  return { runs: new Map(), failures: 0, lastSuccess: null, lastRunMs: 0, driftFound: 0, generation: null, failing: 0, conflicts: 0, manifestValid: true, waiting: [], blocked: null, startedAt: Date.now() };
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderMetrics(m: Metrics): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, lines: string[]) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  metric('pmoves_watch_runs_total', 'counter', 'Reconcile runs, by what triggered them.', m.runs.size ? [...m.runs].map(([t, n]) => `pmoves_watch_runs_total{trigger="${esc(t)}"} ${n}`) : ['pmoves_watch_runs_total{trigger="start"} 0']);
  metric('pmoves_watch_run_failures_total', 'counter', 'Runs in which at least one resource failed, could not be planned or was left alone in conflict.', [`pmoves_watch_run_failures_total ${m.failures}`]);
  metric('pmoves_watch_last_success_timestamp_seconds', 'gauge', 'Unix time of the last run that left every resource converged (0: never).', [`pmoves_watch_last_success_timestamp_seconds ${m.lastSuccess === null ? 0 : (m.lastSuccess / 1000).toFixed(3)}`]);
  metric('pmoves_watch_drift_found_total', 'counter', 'Resources found out of sync while the desired state had not changed (drift repaired).', [`pmoves_watch_drift_found_total ${m.driftFound}`]);
  metric('pmoves_watch_last_run_duration_seconds', 'gauge', 'Duration of the last run.', [`pmoves_watch_last_run_duration_seconds ${(m.lastRunMs / 1000).toFixed(3)}`]);
  metric('pmoves_watch_resources_failing', 'gauge', 'Resources currently failing (in retry backoff).', [`pmoves_watch_resources_failing ${m.failing}`]);
  metric('pmoves_watch_resource_next_retry_timestamp_seconds', 'gauge', 'Per resource in retry backoff: Unix time of its next try; `error` is its last error (one line).', m.waiting.map((w) => `pmoves_watch_resource_next_retry_timestamp_seconds{address="${esc(w.address)}",error="${esc(w.error.split('\n')[0]!.slice(0, 200))}"} ${(w.nextTry / 1000).toFixed(3)}`));
  metric('pmoves_watch_resource_failures', 'gauge', 'Per resource in retry backoff: failures in a row.', m.waiting.map((w) => `pmoves_watch_resource_failures{address="${esc(w.address)}"} ${w.failures}`));
  metric('pmoves_watch_blocked', 'gauge', '1 while the last run could apply nothing (invalid manifest or fleet group, no group, no accepted commit yet).', [`pmoves_watch_blocked ${m.blocked ? 1 : 0}`]);
  metric('pmoves_watch_resources_in_conflict', 'gauge', "Resources left alone because someone else's entry is in the way (not converged until resolved).", [`pmoves_watch_resources_in_conflict ${m.conflicts}`]);
  metric('pmoves_watch_generation', 'gauge', 'Generation in force (0: none yet).', [`pmoves_watch_generation ${m.generation ?? 0}`]);
  metric('pmoves_watch_manifest_valid', 'gauge', '1 when the manifest (with its fleet group and overrides) is valid, 0 while it is not (the last valid one stays in force, or nothing is applied).', [`pmoves_watch_manifest_valid ${m.manifestValid ? 1 : 0}`]);
  metric('pmoves_watch_start_time_seconds', 'gauge', 'Unix time the watcher started.', [`pmoves_watch_start_time_seconds ${(m.startedAt / 1000).toFixed(3)}`]);
  return out.join('\n') + '\n' + (m.extra?.() ?? ''); // [fleet] + m.extra
}

/** /healthz: the watcher's status, each resource in backoff with its last error and next try. */
export function healthOf(s: WatchStatus, lastRun: unknown, ok: boolean): { ok: boolean; detail: Record<string, unknown> } {
  return {
    ok,
    detail: {
      pid: process.pid,
      generation: s.generation,
      manifest_valid: s.manifestValid,
      blocked: s.blocked,
      failing: s.failing,
      waiting: s.waiting.map((w) => ({ address: w.address, failures: w.failures, error: w.error, next_try: new Date(w.nextTry).toISOString() })),
      conflicts: s.conflicts,
      last_run: lastRun,
      last_success: s.lastSuccess === null ? null : new Date(s.lastSuccess).toISOString(),
    },
  };
}

export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--listen: expected HOST:PORT or PORT (e.g. 127.0.0.1:9464), got "${v}"`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

export async function serveMetrics(listen: { host: string; port: number }, m: Metrics, health: () => { ok: boolean; detail: Record<string, unknown> }): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (url === '/healthz') {
      const h = health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: h.ok ? 'ok' : 'unhealthy', ...h.detail }) + '\n');
    } else if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderMetrics(m));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UserError(`--listen ${listen.host}:${listen.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const a = server.address();
  const address = typeof a === 'object' && a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : String(a);
  return { server, address };
}
