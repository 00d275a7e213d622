// The watch loop: a level-based controller. An event (a file saved, the interval, a Docker event, a
// new commit, SIGHUP) only says "look again"; every run loads the manifest, then refresh → plan → apply
// through applyOnce (the same code and lock as `apply`). Runs never overlap: triggers that arrive
// during a run are coalesced into the next one.
//
// Failures: a resource that fails waits in backoff (Backoff) and is left out of runs until it is due,
// so it never holds the others. An invalid manifest is reported and the last valid one stays in force.
// A manifest edit that would drop resources is only accepted once the file has stayed the same for a
// debounce period, so a half-saved file never tears anything down.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatDiagnostic, messageOf, OperationError } from '../core/errors.js';
import type { Home } from '../core/home.js';
import type { Resource } from '../core/types.js';
import type { ApplyFlowResult } from '../engine/run.js';
import { Backoff, backoffDelay } from './backoff.js';
import { debounce, type Debouncer } from './debounce.js';
import { composeProjects, watchDockerEvents, type DockerEventsHandle } from './docker-events.js';
import { GitSource } from './git-source.js';
import { clearHold, holdMatches, latestGeneration, listGenerations, readGeneration, readHold, recordGeneration, resourcesDigest, writeHold, type Generation } from './history.js';
import { newMetrics, serveMetrics, type Metrics } from './metrics.js';
import { readWatchFile, writeWatchFile, type ResourceRun, type WatchFile } from './state-file.js';
import { processAlive } from '../engine/lock.js';

export interface WatchOptions {
  /** Local manifest (unused with a git source). */
  manifestPath: string;
  home: Home;
  env: NodeJS.ProcessEnv;
  debounceMs: number;
  intervalMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  git?: { url: string; branch?: string; path: string; verifySignatures: boolean; allowedSigners?: string };
  rollbackOnFailure: boolean;
  convergeTimeoutMs: number;
  listen?: { host: string; port: number };
  parallelism: number;
  readTimeoutMs: number;
  flags: Record<string, unknown>;
  overrides?: Record<string, unknown>;
  /** [fleet] --fleet: the manifest (and overrides) of this device's group in a commit's tree; null: nothing to apply (src/fleet/watch-hook.ts). */
  fleet?: (tree: string) => Promise<{ manifestPath: string; overrides: Record<string, unknown> } | null>;
  /** One event per call; `message` is the human line. */
  emit(e: WatchEvent): void;
}

export interface WatchEvent {
  event: string;
  message: string;
  [k: string]: unknown;
}

interface Desired {
  manifestPath: string;
  manifestDigest: string;
  resources: Resource[];
  inputs: string[];
  commit: string | null;
}

/** Triggers that mean "the desired state may have changed": resources in backoff are tried at once. */
const RELEASING = new Set(['start', 'file', 'sighup', 'git', 'rollback', 'settle']);
const word = (reason: string) => reason.split(' ')[0]!;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const secs = (ms: number) =>
  ms >= 3_600_000 && ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000}m` : ms >= 1000 ? `${Math.round(ms / 100) / 10}s` : `${ms}ms`;

export class Watcher {
  private readonly ac = new AbortController();
  private stopping: string | null = null;
  private readonly queue = new Set<string>();
  private wake: (() => void) | null = null;
  private readonly debouncer: Debouncer;
  private fsWatcher: { add(p: string | string[]): unknown; unwatch(p: string | string[]): unknown; close(): Promise<void> } | null = null;
  private watched = new Set<string>();
  private docker: DockerEventsHandle | null = null;
  private readonly backoff: Backoff;
  private readonly git: GitSource | null;
  private gitFailures = 0;
  private nextFetchAt = 0;
  private good: Desired | null = null;
  private manifestValid = true;
  private lastInvalid: string | null = null;
  private warnedNoGeneration = false;
  private generation: Generation | null = null;
  private heldGeneration: number | null = null;
  private pending: { digest: string; since: number } | null = null;
  private prevDigest: string | null = null;
  private resources: Record<string, ResourceRun> = {};
  private lockBusy = false;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly due = new Map<string, number>();
  private lastRun: WatchFile['last_run'];
  private lastSuccess: string | undefined;
  readonly metrics: Metrics = newMetrics();
  private readonly startedAt = new Date().toISOString();
  private server: import('node:http').Server | null = null;

  constructor(private readonly o: WatchOptions) {
    this.backoff = new Backoff(o.minBackoffMs, o.maxBackoffMs);
    this.debouncer = debounce(o.debounceMs, (reasons) => {
      for (const r of reasons) this.trigger(r);
    });
    this.git = o.git ? new GitSource({ ...o.git, home: o.home, env: o.env, signal: this.ac.signal }) : null;
  }

  /** "Look again" now (no debounce). */
  trigger(reason: string): void {
    this.queue.add(reason);
    this.wake?.();
  }

  /** Finish or cancel the run in flight, then return from run(). */
  stop(signal: string): void {
    if (this.stopping) return;
    this.stopping = signal;
    this.ac.abort();
    this.debouncer.cancel();
    this.wake?.();
  }

  reload(): void {
    this.backoff.release(Date.now());
    this.trigger('sighup');
  }

  private emit(event: string, message: string, fields: Record<string, unknown> = {}): void {
    this.o.emit({ event, message, ...fields });
  }

  async run(): Promise<void> {
    const other = await readWatchFile(this.o.home);
    if (other && !other.stopped_at && other.pid !== process.pid && other.host === os.hostname() && processAlive(other.pid)) {
      throw new OperationError(`another pmoves mini watch runs on ${this.o.home.root} (pid ${other.pid}, since ${other.started_at}); stop it first (one watcher per PMOVES_HOME)`);
    }
    await this.writeState(); // claim this PMOVES_HOME before the first run
    if (this.o.listen) {
      const { server, address } = await serveMetrics(this.o.listen, this.metrics, () => this.health());
      this.server = server;
      this.emit('listen', `serving /healthz and /metrics on http://${address}`, { address });
    }
    if (this.git) {
      const restored = await this.git.restore();
      if (restored) this.emit('git', `converging to the last accepted commit ${restored.slice(0, 12)} until the next fetch`, { action: 'restored', commit: restored });
    }
    this.generation = await latestGeneration(this.o.home).catch(() => null);
    this.metrics.generation = this.generation?.generation ?? null;
    const what = this.git ? `${this.o.git!.path} from ${this.o.git!.url}${this.o.git!.branch ? ` (${this.o.git!.branch})` : ''}` : this.o.manifestPath;
    this.emit('start', `watching ${what}: interval ${secs(this.o.intervalMs)}, debounce ${secs(this.o.debounceMs)}, pid ${process.pid}`, {
      pid: process.pid,
      manifest: this.git ? null : this.o.manifestPath,
      git: this.o.git?.url ?? null,
      interval_ms: this.o.intervalMs,
      debounce_ms: this.o.debounceMs,
    });
    this.trigger('start');
    try {
      for (;;) {
        if (!this.queue.size && !this.stopping) await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        if (this.stopping) break;
        const reasons = [...this.queue];
        this.queue.clear();
        this.clearTimers();
        const t0 = Date.now();
        try {
          await this.cycle(reasons);
        } catch (err) {
          this.lastRun = { at: new Date().toISOString(), trigger: reasons, result: 'error', ms: Date.now() - t0, error: messageOf(err) };
          this.emit('error', `run failed: ${messageOf(err)}`, { error: messageOf(err) });
          const delay = this.backoff.fail('(run)', Date.now(), messageOf(err));
          this.emit('retry', `retrying in ${secs(delay)}`, { retry_in_ms: delay });
        }
        this.metrics.lastRunMs = Date.now() - t0;
        if (this.stopping) break;
        this.schedule();
        await this.writeState().catch((err) => this.emit('error', `cannot write watch.json: ${messageOf(err)}`));
      }
    } finally {
      this.clearTimers();
      this.debouncer.cancel();
      this.docker?.close();
      await this.fsWatcher?.close().catch(() => {});
      const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
      this.server?.closeAllConnections?.(); // keep-alive scrapers would otherwise hold close() open
      await closed;
      await this.writeState(true).catch(() => {});
      this.emit('stop', `stopped${this.stopping ? ` (${this.stopping})` : ''}`, { signal: this.stopping });
    }
  }

  private health(): { ok: boolean; detail: Record<string, unknown> } {
    return {
      ok: !this.stopping,
      detail: {
        pid: process.pid,
        generation: this.generation?.generation ?? null,
        manifest_valid: this.manifestValid,
        failing: this.backoff.size,
        last_run: this.lastRun ?? null,
        last_success: this.lastSuccess ?? null,
      },
    };
  }

  // ---- one run ----------------------------------------------------------------------------------

  private async cycle(reasons: string[]): Promise<void> {
    const t0 = Date.now();
    const words = new Set(reasons.map(word));
    let release = [...words].some((w) => RELEASING.has(w));
    for (const w of words) this.metrics.runs.set(w, (this.metrics.runs.get(w) ?? 0) + 1);
    this.emit('trigger', `run: ${reasons.join(', ')}`, { reasons });

    // 1. git source: fetch when due (start, interval, SIGHUP, fetch retry)
    if (this.git && (words.has('start') || words.has('sighup') || words.has('fetch-retry') || (words.has('interval') && Date.now() >= this.nextFetchAt))) {
      const s = await this.git.sync();
      if (s.kind === 'fetch-failed') {
        this.gitFailures++;
        const delay = backoffDelay(this.gitFailures, this.o.minBackoffMs, this.o.maxBackoffMs);
        this.nextFetchAt = Date.now() + delay;
        const keep = s.current ? `; converging to ${s.current.slice(0, 12)} meanwhile` : '; nothing to converge to yet';
        this.emit('git', `fetch failed (${s.error}); retrying in ${secs(delay)}${keep}`, { action: 'fetch-failed', error: s.error, retry_in_ms: delay, commit: s.current });
      } else {
        this.gitFailures = 0;
        this.nextFetchAt = 0;
        if (s.kind === 'new-commit') {
          release = true;
          this.emit('git', `new commit ${s.commit.slice(0, 12)} on ${this.git.branch}${s.previous ? ` (was ${s.previous.slice(0, 12)})` : ''}`, { action: 'new-commit', commit: s.commit, previous: s.previous });
        } else if (s.kind === 'refused' && !s.repeated) {
          this.emit('git', `refusing commit ${s.commit.slice(0, 12)} on ${this.git.branch}: ${s.reason}. --verify-signatures accepts only commits git verifies with a key you trust${s.current ? `; staying at ${s.current.slice(0, 12)}` : ''}`, {
            action: 'refused',
            commit: s.commit,
            reason: s.reason,
            current: s.current,
          });
        }
      }
    }
    if (this.stopping) return;

    // 2. the manifest: a valid one becomes the desired state; an invalid one leaves the last valid in force
    let manifestPath = this.git ? this.git.manifestPath() : this.o.manifestPath;
    let overrides = this.o.overrides; // [fleet]
    if (this.o.fleet && this.git?.commit) { // [fleet] the group's manifest in this commit; no group: do nothing
      const pick = await this.o.fleet(this.git.treeOf(this.git.commit)); // [fleet]
      if (!pick) return void (this.lastRun = { at: new Date().toISOString(), trigger: reasons, result: 'error', ms: Date.now() - t0, error: 'fleet: no group to apply' }); // [fleet]
      manifestPath = pick.manifestPath; // [fleet]
      overrides = { ...overrides, ...pick.overrides }; // [fleet]
    } // [fleet]
    if (!manifestPath) {
      this.lastRun = { at: new Date().toISOString(), trigger: reasons, result: 'error', ms: Date.now() - t0, error: 'no accepted commit yet' };
      this.emit('waiting', 'no accepted commit yet: nothing to apply');
      return;
    }
    if (!this.fsWatcher) await this.setWatched([manifestPath]);
    const { loadManifest, hasErrors } = await import('../manifest/load.js');
    const { kinds, expanders } = await import('../reconcilers/index.js');
    const loaded = await loadManifest(manifestPath, { env: this.o.env, home: this.o.home, kinds, expanders, overrides }); // [fleet] was overrides: this.o.overrides
    const commit = this.git?.commit ?? null;
    if (!loaded.manifest || hasErrors(loaded.diagnostics)) {
      this.manifestValid = false;
      this.metrics.manifestValid = false;
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      const keep = this.good ? 'the last valid manifest stays in force' : 'nothing is applied until it is valid';
      const text = `the manifest is not valid; ${keep}:\n  ${errors.join('\n  ')}`;
      if (text !== this.lastInvalid) this.emit('invalid-manifest', text, { diagnostics: errors });
      this.lastInvalid = text;
      await this.setWatched([manifestPath, ...(this.good?.inputs ?? [])]);
      if (!this.good) {
        this.lastRun = { at: new Date().toISOString(), trigger: reasons, result: 'invalid-manifest', ms: Date.now() - t0 };
        return;
      }
    } else {
      const m = loaded.manifest;
      const dropped = this.good ? this.good.resources.filter((r) => !m.resources.some((x) => x.address === r.address)).map((r) => r.address) : [];
      if (dropped.length && words.has('file') && !this.git) {
        // Removing resources tears things down: accept it only once the file has settled.
        await this.sleep(this.o.debounceMs);
        const again = await fsp.readFile(manifestPath, 'utf8').catch(() => null);
        if (again === null || sha256(again) !== m.digest) {
          this.emit('settle', 'the manifest changed again while being read; waiting for it to settle', {});
          this.debouncer.push('settle');
          return;
        }
      }
      this.manifestValid = true;
      this.metrics.manifestValid = true;
      this.lastInvalid = null;
      this.good = { manifestPath, manifestDigest: m.digest, resources: m.resources, inputs: m.inputs, commit };
      for (const d of loaded.diagnostics) this.emit('warning', formatDiagnostic(d), { diagnostic: formatDiagnostic(d) });
      await this.setWatched(this.good.inputs);
    }
    const good = this.good!;
    this.docker ??= composeProjects(good.resources).length ? this.startDocker() : null;
    this.docker?.setProjects(composeProjects(good.resources));

    // 3. a rollback in force holds an earlier generation while the manifest is still the one rolled back from
    let held: Generation | null = null;
    const hold = await readHold(this.o.home);
    if (hold && holdMatches(hold, good.manifestDigest, good.commit)) {
      held = await readGeneration(this.o.home, hold.generation).catch(() => null);
      if (!held) {
        this.emit('warning', `hold.json names generation ${hold.generation}, which is not in the history any more; releasing it`);
        await clearHold(this.o.home);
      } else if (this.heldGeneration !== held.generation) {
        this.emit('hold', `holding generation ${held.generation} (rolled back: ${hold.reason}); edit the manifest or push a new commit to move on`, { generation: held.generation });
      }
    } else if (hold) {
      await clearHold(this.o.home);
      this.emit('hold-released', `the manifest changed: generation ${hold.generation} is no longer held`, { generation: hold.generation });
      release = true;
    }
    this.heldGeneration = held?.generation ?? null;
    const resources = held ? held.resources : good.resources;
    const applyCommit = held ? (held.commit ?? null) : good.commit;
    const digest = resourcesDigest(resources);
    if (digest !== this.pending?.digest && digest !== this.generation?.resources_digest) release = true;

    // 4. apply (same code and lock as `apply`), leaving resources in backoff alone
    const now = Date.now();
    if (release) this.backoff.release(now);
    const exclude = this.backoff.blocked(now);
    exclude.delete('(run)');
    if (this.stopping) return;
    const { applyOnce } = await import('../engine/run.js');
    let result: ApplyFlowResult;
    const progress = (line: string) => this.emit('progress', line, {});
    // The plan line comes before the apply's progress. Drift: changes found in resources that were in
    // sync the run before, while the desired state stayed the same and no file or commit changed.
    const wasOk = new Set(Object.entries(this.resources).filter(([, r]) => r.result === 'ok').map(([a]) => a));
    let drift = 0;
    const onPlan = ({ plan }: { plan: ApplyFlowResult['plan'] }) => {
      const errors = new Map<string, string[]>();
      for (const d of plan.diagnostics) if (d.severity === 'error' && d.address) errors.set(d.address, [...(errors.get(d.address) ?? []), d.summary]);
      const changing = plan.changes.filter((c) => c.action !== 'no-op' && !exclude.has(c.address) && !errors.has(c.address));
      drift = this.prevDigest === digest && !words.has('file') && !words.has('git') ? changing.filter((c) => wasOk.has(c.address)).length : 0;
      const s = plan.summary;
      const inBackoff = [...exclude];
      this.emit(
        'plan',
        `plan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy${drift ? ` (drift: ${drift})` : ''}${errors.size ? `; errors in ${[...errors.keys()].join(', ')}` : ''}${inBackoff.length ? `; in backoff: ${inBackoff.join(', ')}` : ''}`,
        { add: s.add, change: s.change, destroy: s.destroy, drift, errors: [...errors].map(([address, e]) => ({ address, error: e.join('; ') })), excluded: inBackoff },
      );
    };
    try {
      result = await applyOnce({
        onPlan,
        manifestPath,
        home: this.o.home,
        env: this.o.env,
        resources,
        manifestDigest: held ? held.manifest_digest : good.manifestDigest,
        flags: this.o.flags,
        parallelism: this.o.parallelism,
        readTimeoutMs: this.o.readTimeoutMs,
        tty: false,
        signal: this.ac.signal,
        command: 'watch',
        lockTimeoutMs: 0,
        partial: true,
        exclude,
        log: (address, line) => progress(`${address}: ${line}`),
        progress,
        auditExtra: {
          watch: true,
          ...(applyCommit ? { commit: applyCommit, source: this.o.git?.url } : {}),
          ...(held ? { generation: held.generation } : {}),
        },
        stateSource: this.git ? { kind: 'git', url: this.o.git!.url, branch: this.git.branch ?? null, path: this.o.git!.path, commit: applyCommit } : undefined,
      });
    } catch (err) {
      if (err instanceof OperationError && /another pmoves mini is running/.test(err.message)) {
        if (!this.lockBusy) this.emit('busy', `${err.message.split('. ')[0]}; retrying every second`, {});
        this.lockBusy = true;
        this.lastRun = { at: new Date().toISOString(), trigger: reasons, result: 'error', ms: Date.now() - t0, error: 'lock held by another process' };
        return;
      }
      throw err;
    }
    this.lockBusy = false;
    this.backoff.succeed('(run)');

    // 5. per-resource outcome → backoff
    const at = new Date().toISOString();
    const done = Date.now();
    const plan = result.plan;
    const planErrors = new Map<string, string[]>();
    const globalErrors: string[] = [];
    for (const d of plan.diagnostics) {
      if (d.severity !== 'error') continue;
      if (d.address) planErrors.set(d.address, [...(planErrors.get(d.address) ?? []), d.summary]);
      else globalErrors.push(formatDiagnostic(d));
    }
    const reports = new Map((result.report?.resources ?? []).map((r) => [r.address, r] as const));
    const failed: { address: string; error: string; retry_in_ms: number }[] = [];
    const skipped: { address: string; error: string }[] = [];
    const addresses = new Set([...plan.changes.map((c) => c.address), ...planErrors.keys()]);
    for (const a of addresses) {
      const rep = reports.get(a);
      const prev = this.backoff.get(a);
      if (planErrors.has(a) && !exclude.has(a)) {
        const error = planErrors.get(a)!.join('; ');
        const delay = this.backoff.fail(a, done, error);
        failed.push({ address: a, error, retry_in_ms: delay });
        this.resources[a] = { result: 'error', error, at, failures: this.backoff.get(a)!.failures, next_retry: new Date(done + delay).toISOString() };
      } else if (exclude.has(a)) {
        if (prev) this.resources[a] = { result: 'failed', error: prev.error, at: this.resources[a]?.at ?? at, failures: prev.failures, next_retry: new Date(prev.until).toISOString() };
      } else if (rep?.outcome === 'failed') {
        const error = rep.error ?? 'failed';
        const delay = this.backoff.fail(a, done, error);
        failed.push({ address: a, error, retry_in_ms: delay });
        this.resources[a] = { result: 'failed', error, at, failures: this.backoff.get(a)!.failures, next_retry: new Date(done + delay).toISOString() };
      } else if (rep?.outcome === 'skipped') {
        if (rep.error === 'cancelled') continue;
        skipped.push({ address: a, error: rep.error ?? 'skipped' });
        this.resources[a] = { result: 'skipped', error: rep.error, at };
      } else {
        this.backoff.succeed(a);
        if (rep?.outcome === 'deleted') delete this.resources[a];
        else this.resources[a] = { result: 'ok', at };
      }
    }
    this.backoff.retain(new Set([...addresses, '(run)']));
    for (const a of Object.keys(this.resources)) if (!addresses.has(a)) delete this.resources[a];
    this.metrics.failing = this.backoff.size;

    this.metrics.driftFound += drift;
    this.prevDigest = digest;
    const excluded = [...exclude];
    const r = result.report;
    const converged = !failed.length && !skipped.length && !globalErrors.length && this.backoff.size === 0;
    const ms = Date.now() - t0;
    const counts = { added: r?.added ?? 0, changed: r?.changed ?? 0, destroyed: r?.destroyed ?? 0 };
    const applyResult = failed.length || skipped.length || globalErrors.length || excluded.length ? 'failed' : r?.resources.length ? 'ok' : 'no-changes';
    const failText = [
      ...failed.map((f) => `${f.address} (retry in ${secs(f.retry_in_ms)}): ${f.error}`),
      ...skipped.map((x) => `${x.address} skipped: ${x.error}`),
      ...globalErrors,
    ];
    this.emit(
      'apply',
      applyResult === 'ok'
        ? `converged in ${secs(ms)}: ${counts.added} added, ${counts.changed} changed, ${counts.destroyed} destroyed`
        : applyResult === 'no-changes'
          ? `in sync (${secs(ms)})`
          : `not converged (${secs(ms)}): ${counts.added} added, ${counts.changed} changed, ${counts.destroyed} destroyed${failText.length ? `\n  ${failText.join('\n  ')}` : ''}${excluded.length ? `\n  still in backoff: ${excluded.join(', ')}` : ''}`,
      { result: applyResult, ...counts, failed, skipped, errors: globalErrors, excluded, ms, commit: applyCommit },
    );
    this.lastRun = { at, trigger: reasons, result: applyResult === 'no-changes' ? 'no-changes' : applyResult, ms };
    if (failed.length || globalErrors.length) this.metrics.failures++;

    // 6. generations and rollback
    if (this.stopping) return;
    if (converged) {
      this.lastSuccess = at;
      this.metrics.lastSuccess = done;
      this.pending = null;
      if (held) this.generation = held;
      else if (!this.generation || this.generation.resources_digest !== digest || (this.generation.commit ?? null) !== applyCommit) {
        this.generation = await recordGeneration(this.o.home, {
          manifest_path: good.manifestPath,
          manifest_digest: good.manifestDigest,
          ...(applyCommit ? { commit: applyCommit, source: this.o.git!.url } : {}),
          resources,
        });
        this.emit('generation', `generation ${this.generation.generation} recorded${applyCommit ? ` (commit ${applyCommit.slice(0, 12)})` : ''}`, {
          generation: this.generation.generation,
          manifest_digest: good.manifestDigest,
          commit: applyCommit,
        });
        if (this.git) await this.pruneTrees();
      }
      this.metrics.generation = this.generation.generation;
    } else {
      if (this.pending?.digest !== digest) this.pending = { digest, since: done };
      const overdue = done - this.pending.since >= this.o.convergeTimeoutMs;
      if (this.o.rollbackOnFailure && !held && this.generation && this.generation.resources_digest !== digest && overdue) {
        await this.rollback(good, [...failed.map((f) => f.address), ...skipped.map((x) => x.address), ...excluded]);
      } else if (this.o.rollbackOnFailure && !held && !this.generation && overdue && !this.warnedNoGeneration) {
        this.warnedNoGeneration = true;
        this.emit('warning', `not converged within ${secs(this.o.convergeTimeoutMs)}, and there is no earlier generation to roll back to; retrying`);
      }
    }
  }

  private async rollback(good: Desired, failing: string[]): Promise<void> {
    const to = this.generation!;
    const reason = `the new desired state did not converge within ${secs(this.o.convergeTimeoutMs)} (failing: ${failing.join(', ') || 'plan errors'})`;
    await writeHold(this.o.home, { generation: to.generation, avoid: { manifest_digest: good.manifestDigest, commit: good.commit }, since: new Date().toISOString(), reason });
    this.emit('rollback', `${reason}; rolling back to generation ${to.generation}`, { to: to.generation, failing, manifest_digest: good.manifestDigest, commit: good.commit });
    for (const a of failing) this.backoff.succeed(a);
    this.pending = null;
    this.trigger('rollback');
  }

  private async pruneTrees(): Promise<void> {
    const keep = new Set<string>();
    for (const n of await listGenerations(this.o.home)) {
      const g = await readGeneration(this.o.home, n).catch(() => null);
      if (g?.commit) keep.add(g.commit);
    }
    await this.git!.prune(keep).catch(() => {});
  }

  // ---- triggers ---------------------------------------------------------------------------------

  private async setWatched(files: string[]): Promise<void> {
    const next = new Set(files.map((f) => path.resolve(f)));
    if (!this.fsWatcher) {
      const { watch } = await import('chokidar');
      const w = watch([...next], { ignoreInitial: true, persistent: true, atomic: true });
      w.on('all', (ev: string, p: string) => {
        if (this.stopping) return;
        if (ev === 'change' || ev === 'add' || ev === 'unlink') this.debouncer.push(`file ${path.relative(process.cwd(), p) || p}`);
      });
      w.on('error', (err: unknown) => this.emit('warning', `file watcher: ${messageOf(err)}`));
      this.fsWatcher = w as unknown as NonNullable<Watcher['fsWatcher']>;
      this.watched = next;
      return;
    }
    const add = [...next].filter((f) => !this.watched.has(f));
    const remove = [...this.watched].filter((f) => !next.has(f));
    if (add.length) this.fsWatcher.add(add);
    if (remove.length) this.fsWatcher.unwatch(remove);
    this.watched = next;
  }

  private startDocker(): DockerEventsHandle {
    return watchDockerEvents(
      (e) => this.debouncer.push(`docker ${e.project}/${e.container} ${e.action}`),
      (line) => this.emit('docker', line),
      { baseMs: this.o.minBackoffMs, maxMs: this.o.maxBackoffMs, env: this.o.env },
    );
  }

  private schedule(): void {
    const now = Date.now();
    const at = (name: string, when: number) => {
      const delay = Math.max(0, when - now);
      this.due.set(name, now + delay);
      this.timers.set(name, setTimeout(() => this.trigger(name), delay));
    };
    // ±10 % jitter so a fleet of devices does not fetch and read in lockstep
    at('interval', now + Math.round(this.o.intervalMs * (0.9 + Math.random() * 0.2)));
    const retry = this.backoff.next();
    if (retry !== undefined) at('retry', retry);
    if (this.git && this.gitFailures) at('fetch-retry', this.nextFetchAt);
    if (this.o.rollbackOnFailure && this.pending) at('converge-timeout', this.pending.since + this.o.convergeTimeoutMs);
    if (this.lockBusy) at('lock-busy', now + 1000);
  }

  private clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.due.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.ac.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }

  private async writeState(stopped = false): Promise<void> {
    const next = this.due.size ? Math.min(...this.due.values()) : null;
    const w: WatchFile = {
      pid: process.pid,
      host: os.hostname(),
      started_at: this.startedAt,
      updated_at: new Date().toISOString(),
      ...(stopped ? { stopped_at: new Date().toISOString() } : {}),
      manifest: this.git ? (this.git.manifestPath() ?? this.o.git!.path) : path.resolve(this.o.manifestPath),
      ...(this.git ? { source: { url: this.o.git!.url, branch: this.git.branch ?? '', path: this.o.git!.path, commit: this.git.commit } } : {}),
      ...(this.good ? { desired: { manifest_digest: this.good.manifestDigest, commit: this.good.commit } } : {}),
      generation: this.generation?.generation ?? null,
      ...(this.heldGeneration !== null ? { hold: { generation: this.heldGeneration, since: (await readHold(this.o.home))?.since ?? '' } } : {}),
      manifest_valid: this.manifestValid,
      ...(this.lastRun ? { last_run: this.lastRun } : {}),
      ...(this.lastSuccess ? { last_success: this.lastSuccess } : {}),
      resources: this.resources,
      next_run: stopped || next === null ? null : new Date(next).toISOString(),
    };
    await writeWatchFile(this.o.home, w);
  }
}

