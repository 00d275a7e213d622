// What the page shows, for one machine: a snapshot made from the same refresh → plan as `status`
// (the daemon's watch.json beside it, the generations as addresses only, the graph), recomputed when
// the daemon finishes a run or the manifest changes; and the rollback, previewed then applied with
// the same consent rule as `pmoves mini rollback` (you see the plan, then say yes to exactly it).
// Nothing here holds a secret value: plans are masked (render-json's mask and patchOf), generations
// list addresses only, watch events carry addresses and engine messages.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { formatDiagnostic, messageOf, UserError } from '../core/errors.js';
import type { Home } from '../core/home.js';
import type { Change } from '../core/types.js';
import type { Plan } from '../planner/plan.js';
import type { DeviceRow } from '../fleet/status.js';
import type { GraphModel } from './graph-model.js';
import type { UiSource } from './server.js';
import { IdleCollector } from '../watch/idle-gc.js';

export interface MachineSourceOptions {
  home: Home;
  manifestPath: string;
  env: NodeJS.ProcessEnv;
  overrides?: Record<string, unknown>;
  mode: 'daemon' | 'one-off';
  parallelism?: number;
  readTimeoutMs?: number;
  /** The fleet's rows (from the broker), when the page follows one. */
  devices?: () => { broker: string; devices: DeviceRow[] } | null;
  /** A watch event (rollback progress goes to the daemon's log and the page). */
  emit?: (e: { event: string; message: string; [k: string]: unknown }) => void;
  /** After a rollback applied: the daemon looks again (it keeps the rolled-back generation). */
  afterRollback?: () => void;
}

interface PageChange {
  address: string;
  action: string;
  reason: string;
  cause?: string;
  patch: unknown[];
  parts: { address: string; action: string; reason: string; cause?: string }[];
  warnings?: string[];
}

async function pagePlan(plan: Plan): Promise<Record<string, unknown>> {
  const { patchOf } = await import('../planner/render-json.js');
  const change = (c: Change): PageChange => ({
    address: c.address,
    action: c.action,
    reason: c.reason,
    ...(c.cause ? { cause: c.cause } : {}),
    patch: c.action === 'no-op' ? [] : patchOf(c.before, c.after),
    parts: (c.parts ?? []).map((p) => ({ address: p.address, action: p.action, reason: p.reason, ...(p.cause ? { cause: p.cause } : {}) })),
    ...(c.warnings?.length ? { warnings: c.warnings } : {}),
  });
  return {
    summary: plan.summary,
    changes: plan.changes.map(change),
    diagnostics: plan.diagnostics.map((d) => ({ severity: d.severity, address: d.address, summary: d.summary, ...(d.location ? { location: d.location } : {}) })),
  };
}

/** What a person consents to: every change's address and action, and its parts'. */
export function planDigest(plan: Plan): string {
  const shape = plan.changes.map((c) => [c.address, c.action, (c.parts ?? []).map((p) => [p.address, p.action])]);
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 32);
}

export class MachineSource implements UiSource {
  private cached: Promise<Record<string, unknown>> | null = null;
  private graph: GraphModel = { nodes: [], edges: [] };
  private svg: { serial: number; text: Promise<string> } | null = null;
  private rolling = false;
  private cachedAt = 0;
  private readonly idle = new IdleCollector();
  serial = 0;

  constructor(private readonly o: MachineSourceOptions) {
    this.manifestPath = o.manifestPath;
  }

  /** The next snapshot is made afresh (a run finished, the manifest changed). */
  invalidate(): void {
    this.cached = null;
    this.serial++;
  }

  snapshot(): Promise<Record<string, unknown>> {
    // without a daemon nothing says the machine changed: a page load more than 2 s after the last
    // snapshot reads the machine again (a daemon's snapshot is renewed after each run)
    if (this.cached && this.o.mode === 'one-off' && Date.now() - this.cachedAt > 2000) this.invalidate();
    if (!this.cached) {
      this.cachedAt = Date.now();
      const p = this.compute();
      void p.finally(() => this.idle.arm()).catch(() => {}); // the plan's garbage goes once the daemon is quiet (as after a run)
      this.cached = p;
      p.catch(() => {
        if (this.cached === p) this.cached = null;
      });
    }
    return this.cached;
  }

  async graphSvg(): Promise<string> {
    await this.snapshot();
    if (this.svg?.serial !== this.serial) this.svg = { serial: this.serial, text: (await import('./graph-render.js')).toSvgInWorker(this.graph) };
    return this.svg.text;
  }

  /** The manifest the page plans: a git-sourced watcher's is the one of the commit it loaded last (watch.json). */
  private manifestPath: string;

  private flow() {
    return { manifestPath: this.manifestPath, home: this.o.home, env: this.o.env, overrides: this.o.overrides, flags: { probe: false }, parallelism: this.o.parallelism ?? 8, readTimeoutMs: this.o.readTimeoutMs ?? 60_000, log: () => {} };
  }

  private async compute(): Promise<Record<string, unknown>> {
    const serial = this.serial;
    const { planOnce } = await import('../engine/run.js');
    const { statusLines } = await import('../engine/status.js');
    const { watchStatus } = await import('../watch/state-file.js');
    const { graphOf } = await import('./graph-data.js');
    const { STATE_COLOURS } = await import('./graph-render.js');
    const { rollbackContext } = await import('../watch/rollback.js');
    const { readGeneration } = await import('../watch/history.js');
    const watch = (await watchStatus(this.o.home))?.json ?? null;
    if (this.o.mode === 'daemon' && watch?.source && watch.manifest && path.isAbsolute(watch.manifest)) this.manifestPath = watch.manifest;
    let plan: Record<string, unknown> | null = null;
    let planError: string | null = null;
    let resources: Record<string, unknown>[] = [];
    try {
      const p = await planOnce(this.flow());
      plan = await pagePlan(p.plan);
      resources = statusLines(p).map((l) => ({ ...l, ...(watch?.resources[l.address] ? { last: watch.resources[l.address] } : {}) }));
      const changed = { ...p.plan, changes: p.plan.changes.filter((c) => c.action !== 'no-op') } as Plan;
      this.graph = await graphOf(p.session.resources, { plan: changed, watch, applied: Object.keys(p.session.state.resources) });
    } catch (err) {
      planError = err instanceof UserError && err.diagnostics.length ? `${err.message}: ${err.diagnostics.map(formatDiagnostic).join('; ')}` : messageOf(err);
      this.graph = { nodes: [], edges: [] };
    }
    const ctx = await rollbackContext(this.o.home, this.manifestPath);
    const generations = [];
    for (const n of ctx.gens) {
      const g = await readGeneration(this.o.home, n).catch(() => null);
      if (g) generations.push({ generation: g.generation, created_at: g.created_at, commit: g.commit ?? null, manifest_digest: g.manifest_digest.slice(0, 12), resources: g.resources.map((r) => r.address), in_force: g.generation === ctx.inForce });
    }
    const watchView = watch
      ? { running: watch.running, generation: watch.generation, hold: watch.hold ?? null, last_run: watch.last_run ?? null, next_run: watch.next_run, manifest_valid: watch.manifest_valid, commit: watch.source?.commit ?? null }
      : null;
    return {
      serial,
      mode: this.o.mode,
      manifest: this.manifestPath,
      time: new Date().toISOString(),
      watch: watchView,
      resources,
      plan,
      plan_error: planError,
      generations,
      in_force: ctx.inForce,
      graph: this.graph,
      colours: STATE_COLOURS,
      devices: this.o.devices?.() ?? null,
    };
  }

  private async generation(n: number) {
    const { readGeneration, listGenerations } = await import('../watch/history.js');
    const gens = await listGenerations(this.o.home);
    if (!gens.includes(n)) throw new UserError(`rollback ${n}: no such generation (have ${gens.join(', ') || 'none'})`);
    return (await readGeneration(this.o.home, n))!;
  }

  async rollbackPreview(n: number): Promise<{ generation: number; plan: unknown; digest: string }> {
    const gen = await this.generation(n);
    const { planOnce } = await import('../engine/run.js');
    const p = await planOnce({ ...this.flow(), manifestPath: gen.manifest_path, resources: gen.resources, manifestDigest: gen.manifest_digest });
    return { generation: n, plan: await pagePlan(p.plan), digest: planDigest(p.plan) };
  }

  async rollback(n: number, digest: string): Promise<{ status: number; body: Record<string, unknown> }> {
    if (this.rolling) return { status: 409, body: { error: 'a rollback is already running' } };
    this.rolling = true;
    try {
      const gen = await this.generation(n);
      const { rollbackContext } = await import('../watch/rollback.js');
      const { writeHold } = await import('../watch/history.js');
      const { applyOnce } = await import('../engine/run.js');
      const { avoid } = await rollbackContext(this.o.home, this.manifestPath);
      const emit = this.o.emit ?? (() => {});
      let changed = false;
      const result = await applyOnce({
        ...this.flow(),
        manifestPath: gen.manifest_path,
        resources: gen.resources,
        manifestDigest: gen.manifest_digest,
        command: 'rollback',
        lockTimeoutMs: 30_000,
        tty: false,
        log: (addr, line) => emit({ event: 'progress', message: `${addr}: ${line}`, address: addr }),
        progress: (line) => emit({ event: 'progress', message: line }),
        auditExtra: { rollback_to: gen.generation, via: 'ui', ...(gen.commit ? { commit: gen.commit, source: gen.source } : {}) },
        // the consent: the plan made under the lock must be the one the person was shown
        confirm: async (p) => {
          if (planDigest(p.plan) !== digest) {
            changed = true;
            return false;
          }
          // under the lock, before anything changes: a watcher cannot undo it in between (as the CLI)
          if (avoid) await writeHold(this.o.home, { generation: gen.generation, avoid, since: new Date().toISOString(), reason: `pmoves mini rollback ${gen.generation} (page)` });
          return true;
        },
      });
      this.invalidate();
      this.o.afterRollback?.();
      if (changed) return { status: 409, body: { error: 'the plan changed since it was shown; nothing was changed. Look at the new plan and confirm again.' } };
      if (result.cancelled) return { status: 409, body: { error: 'rollback cancelled: the plan has errors; nothing was changed' } };
      const r = result.report!;
      const failed = r.failed.length + r.skipped.length;
      const message = failed
        ? `Rollback failed: ${r.failed.length} failed, ${r.skipped.length} skipped. ${r.failed.map((f) => `${f.address}: ${f.error}`).join('; ')}`
        : `Rolled back to generation ${gen.generation}. Resources: ${r.added} added, ${r.changed} changed, ${r.destroyed} destroyed.`;
      emit({ event: failed ? 'error' : 'rollback', message, generation: gen.generation });
      return { status: failed ? 500 : 200, body: { ok: !failed, generation: gen.generation, message } };
    } finally {
      this.rolling = false;
    }
  }
}
