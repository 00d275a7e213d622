// The watch loop: a level-based controller. An event (a file saved, the interval, a Docker event, a
// new commit, SIGHUP) only says "look again". Runs never overlap: triggers that arrive during a run are
// coalesced into the next one. One run is a pipeline of small steps, each a function with typed inputs
// and outputs in its own module (tested alone); this class only strings them together, keeps what
// must outlive a run, and schedules the timers:
//
//   trigger (trigger.ts) → load (load-step.ts) → plan (plan-step.ts) → apply (apply-step.ts)
//     → record (record-step.ts) → report (report.ts: a list of reporters)
//
// Failures: a resource that fails waits in backoff (Backoff) and is left out of runs until it is due,
// so it never holds the others. An invalid manifest is reported and the last valid one stays in force.
// A local manifest that drops resources is accepted only once it has stayed the same for the removal
// settle window, so a half-saved file never tears anything down.
import os from 'node:os';
import path from 'node:path';
import { messageOf } from '../core/errors.js';
import { applyStep } from './apply-step.js';
import { Backoff } from './backoff.js';
import { debounce, type Debouncer } from './debounce.js';
import { composeProjects, watchDockerEvents, type DockerEventsHandle } from './docker-events.js';
import { watchFiles, type FileEvents } from './file-events.js';
import { GitSource } from './git-source.js';
import { commitsInHistory, latestGeneration, readHold, recordGeneration, writeHold, type Generation } from './history.js';
import { fetchSource, gateRemovals, invalidEvent, loadDesired, type Desired, type PendingRemoval } from './load-step.js';
import { newMetrics, serveMetrics, type Metrics } from './metrics.js';
import { resolveHold, selectWork, type Work } from './plan-step.js';
import { applyEvent, nextGeneration, recordOutcome, type Converging, type Outcome } from './record-step.js';
import { fanOut, journalReporter, metricsReporter, secs, type RunReport, type WatchStatus } from './report.js';
import { writeWatchFile, type ResourceRun, type WatchFile } from './state-file.js';
import { checkBeforeWatch, DEFAULT_REMOVAL_SETTLE_MS, type WatchOptions } from './options.js';
import { Timers } from './timers.js';
import { IdleCollector } from './idle-gc.js';
import { readTrigger } from './trigger.js';

export type { RunReport, WatchEvent, WatchStatus } from './report.js';
export type { WatchOptions } from './options.js';

/** The generation in force, without its resources (read from history when needed). */
type GenerationRef = Pick<Generation, 'generation' | 'resources_digest' | 'commit'>;
const ref = (g: Generation): GenerationRef => ({ generation: g.generation, resources_digest: g.resources_digest, commit: g.commit });

export class Watcher {
  private readonly ac = new AbortController();
  private stopping: string | null = null;
  private readonly queue = new Set<string>();
  private wake: (() => void) | null = null;
  private readonly debouncer: Debouncer;
  private files: FileEvents | null = null;
  private docker: DockerEventsHandle | null = null;
  private readonly git: GitSource | null;
  private readonly timers = new Timers((name) => this.trigger(name));
  private readonly idleGc = new IdleCollector();
  private server: import('node:http').Server | null = null;
  readonly metrics: Metrics = newMetrics();
  private readonly report: ReturnType<typeof fanOut>;
  private readonly startedAt = new Date().toISOString();
  private readonly removalSettleMs: number;

  // what outlives a run
  private readonly backoff: Backoff;
  private fetch = { failures: 0, nextFetchAt: 0 };
  private good: Desired | null = null;
  private manifestValid = true;
  private lastInvalid: string | null = null;
  private removal: PendingRemoval | null = null;
  private generation: GenerationRef | null = null;
  private heldGeneration: number | null = null;
  private converging: Converging | null = null;
  private warnedNoGeneration = false;
  private prevDigest: string | null = null;
  private resources: Record<string, ResourceRun> = {};
  private lockBusy = false;
  private lastRun: WatchFile['last_run'];
  private lastSuccess: number | null = null;

  constructor(private readonly o: WatchOptions) {
    this.backoff = new Backoff(o.minBackoffMs, o.maxBackoffMs);
    this.removalSettleMs = o.removalSettleMs ?? DEFAULT_REMOVAL_SETTLE_MS;
    this.report = fanOut([journalReporter(o.emit), metricsReporter(this.metrics), ...(o.reporters ?? [])]);
    this.debouncer = debounce(o.debounceMs, (reasons) => {
      for (const r of reasons) this.trigger(r);
    });
    this.git = o.git ? new GitSource({ ...o.git, home: o.home, env: o.env, signal: this.ac.signal }) : null;
  }

  /** "Look again" now. */
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
    this.report.event({ event, message, ...fields });
  }

  private status(): WatchStatus {
    return { manifestValid: this.manifestValid, generation: this.generation?.generation ?? null, failing: this.backoff.size, lastSuccess: this.lastSuccess };
  }

  async run(): Promise<void> {
    await checkBeforeWatch(this.o);
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
    const latest = await latestGeneration(this.o.home).catch(() => null);
    this.generation = latest && ref(latest);
    this.report.started(this.status());
    const what = this.git ? `${this.o.git!.path} from ${this.o.git!.url}${this.o.git!.branch ? ` (${this.o.git!.branch})` : ''}` : this.o.manifestPath;
    this.emit('start', `watching ${what}: interval ${secs(this.o.intervalMs)}, debounce ${secs(this.o.debounceMs)}, removal settle ${secs(this.removalSettleMs)}, pid ${process.pid}`, {
      pid: process.pid,
      manifest: this.git ? null : this.o.manifestPath,
      git: this.o.git?.url ?? null,
      interval_ms: this.o.intervalMs,
      debounce_ms: this.o.debounceMs,
      removal_settle_ms: this.removalSettleMs,
    });
    this.trigger('start');
    try {
      for (;;) {
        if (!this.queue.size && !this.stopping) {
          this.idleGc.arm();
          await new Promise<void>((r) => (this.wake = r));
          this.idleGc.cancel();
        }
        this.wake = null;
        if (this.stopping) break;
        const reasons = [...this.queue];
        this.queue.clear();
        this.timers.clear();
        const t0 = Date.now();
        let summary: Omit<RunReport, 'status' | 'ms'> | null;
        try {
          summary = await this.cycle(reasons, t0);
        } catch (err) {
          summary = { at: new Date().toISOString(), trigger: reasons, result: 'error', error: messageOf(err), drift: 0, failedRun: false };
          this.emit('error', `run failed: ${messageOf(err)}`, { error: messageOf(err) });
          const delay = this.backoff.fail('(run)', Date.now(), messageOf(err));
          this.emit('retry', `retrying in ${secs(delay)}`, { retry_in_ms: delay });
        }
        if (summary) {
          const { drift, failedRun, ...last } = { ...summary, ms: Date.now() - t0 };
          this.lastRun = last;
          this.report.runFinished({ ...last, drift, failedRun, status: this.status() });
        }
        if (this.stopping) break;
        this.schedule();
        await this.writeState().catch((err) => this.emit('error', `cannot write watch.json: ${messageOf(err)}`));
      }
    } finally {
      this.timers.clear();
      this.idleGc.cancel();
      this.debouncer.cancel();
      this.docker?.close();
      this.files?.close();
      const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
      this.server?.closeAllConnections?.(); // keep-alive scrapers would otherwise hold close() open
      await closed;
      await this.writeState(true).catch(() => {});
      this.emit('stop', `stopped${this.stopping ? ` (${this.stopping})` : ''}`, { signal: this.stopping });
      await this.report.close();
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
        last_success: this.lastSuccess === null ? null : new Date(this.lastSuccess).toISOString(),
      },
    };
  }

  // ---- one run: the pipeline --------------------------------------------------------------------

  /** One run; null when it was interrupted by stop() before it applied anything. */
  private async cycle(reasons: string[], t0: number): Promise<Omit<RunReport, 'status' | 'ms'> | null> {
    const run = (result: RunReport['result'], extra: Partial<RunReport> = {}) => ({ at: new Date().toISOString(), trigger: reasons, result, drift: 0, failedRun: false, ...extra });
    // trigger
    const trigger = readTrigger(reasons, { git: Boolean(this.git), now: t0, nextFetchAt: this.fetch.nextFetchAt });
    this.report.runStarted([...trigger.words]);
    this.emit('trigger', `run: ${reasons.join(', ')}`, { reasons });
    let release = trigger.release;

    // load: the source, then the manifest
    if (this.git && trigger.fetch) {
      const s = await fetchSource(this.git, { failures: this.fetch.failures, now: Date.now(), minBackoffMs: this.o.minBackoffMs, maxBackoffMs: this.o.maxBackoffMs });
      this.fetch = { failures: s.failures, nextFetchAt: s.nextFetchAt };
      for (const e of s.events) this.report.event(e);
      release ||= s.release;
    }
    if (this.stopping) return null;
    const desired = await this.loadStep();
    if (desired === 'waiting') return run('error', { error: 'no accepted commit yet' });
    if (desired === 'no-group') return run('error', { error: 'fleet: no group to apply' });
    if (!desired) return run('invalid-manifest');

    // plan: what this run converges to, and what it leaves alone
    const hold = await resolveHold(this.o.home, desired, this.heldGeneration);
    for (const e of hold.events) this.report.event(e);
    this.heldGeneration = hold.held?.generation ?? null;
    const work = selectWork({ desired, held: hold.held, release: release || hold.released, converging: this.converging?.digest ?? null, generationDigest: this.generation?.resources_digest ?? null, backoff: this.backoff, now: Date.now() });
    if (this.stopping) return null;

    // apply
    const applied = await applyStep({
      work,
      manifestPath: desired.manifestPath,
      home: this.o.home,
      env: this.o.env,
      flags: this.o.flags,
      parallelism: this.o.parallelism,
      readTimeoutMs: this.o.readTimeoutMs,
      signal: this.ac.signal,
      git: this.git ? { url: this.o.git!.url, branch: this.git.branch ?? null, path: this.o.git!.path } : undefined,
      wasOk: new Set(Object.entries(this.resources).filter(([, r]) => r.result === 'ok').map(([a]) => a)),
      driftEligible: this.prevDigest === work.digest && !trigger.words.has('file') && !trigger.words.has('git'),
      emit: (e) => this.report.event(e),
    });
    if (applied.kind === 'busy') {
      if (!this.lockBusy) this.emit('busy', `${applied.message}; retrying every second`, {});
      this.lockBusy = true;
      return run('error', { error: 'lock held by another process' });
    }
    this.lockBusy = false;
    this.backoff.succeed('(run)');

    // record: per-resource outcome → backoff, watch.json, the apply line; then generations
    const done = Date.now();
    const outcome = recordOutcome({ plan: applied.result.plan, report: applied.result.report, exclude: work.exclude, backoff: this.backoff, previous: this.resources, now: done });
    this.resources = outcome.resources;
    this.prevDigest = work.digest;
    this.report.event(applyEvent(outcome, Date.now() - t0, work.commit));
    const summary = run(outcome.result, { at: new Date(done).toISOString(), drift: applied.drift, failedRun: Boolean(outcome.failed.length || outcome.globalErrors.length) });
    if (this.stopping) return summary;
    if (outcome.converged) this.lastSuccess = done;
    await this.generationStep(desired, work, outcome, done);
    return summary;
  }

  /** The load step's outcome applied to the watcher: the desired state in force, or why there is none. */
  private async loadStep(): Promise<Desired | null | 'waiting' | 'no-group'> {
    let manifestPath = this.git ? this.git.manifestPath() : this.o.manifestPath;
    if (!manifestPath) {
      this.emit('waiting', 'no accepted commit yet: nothing to apply');
      return 'waiting';
    }
    let overrides = this.o.overrides;
    if (this.o.fleet && this.git?.commit) {
      // --fleet: this device's group in the commit's fleet.yaml (src/fleet/watch-hook.ts says why when none).
      const pick = await this.o.fleet(this.git.treeOf(this.git.commit));
      if (!pick) return 'no-group';
      manifestPath = pick.manifestPath;
      overrides = { ...overrides, ...pick.overrides };
    }
    if (!this.files) await this.watchFiles([manifestPath]);
    const loaded = await loadDesired({ manifestPath, commit: this.git?.commit ?? null, env: this.o.env, home: this.o.home, overrides });
    if (loaded.kind === 'invalid') {
      this.manifestValid = false;
      const inv = invalidEvent(loaded.errors, Boolean(this.good), this.lastInvalid);
      if (inv.event) this.report.event(inv.event);
      this.lastInvalid = inv.text;
      await this.watchFiles([manifestPath, ...(this.good?.inputs ?? [])]);
    } else {
      this.manifestValid = true;
      this.lastInvalid = null;
      const gate = gateRemovals({ previous: this.good, next: loaded.desired, local: !this.git, pending: this.removal, now: Date.now(), settleMs: this.removalSettleMs, manifestName: path.basename(manifestPath) });
      if (gate.accept) {
        this.removal = null;
        this.good = loaded.desired;
        for (const d of loaded.warnings) this.emit('warning', d, { diagnostic: d });
      } else {
        this.removal = gate.pending; // the settle timer brings the next look (schedule)
        if (gate.event) this.report.event(gate.event);
      }
      await this.watchFiles(gate.accept ? loaded.desired.inputs : [...new Set([...this.good!.inputs, ...loaded.desired.inputs])]);
    }
    if (!this.good) return null;
    this.docker ??= composeProjects(this.good.resources).length ? this.startDocker() : null;
    this.docker?.setProjects(composeProjects(this.good.resources));
    return this.good;
  }

  /** Generations and rollback, from the record step's decision. */
  private async generationStep(desired: Desired, work: Work, outcome: Outcome, now: number): Promise<void> {
    const n = nextGeneration({
      converged: outcome.converged,
      held: Boolean(work.held),
      generation: this.generation,
      digest: work.digest,
      commit: work.commit,
      converging: this.converging,
      now,
      rollbackOnFailure: this.o.rollbackOnFailure,
      convergeTimeoutMs: this.o.convergeTimeoutMs,
      warnedNoGeneration: this.warnedNoGeneration,
    });
    this.converging = n.converging;
    switch (n.step.kind) {
      case 'keep-held':
        this.generation = ref(work.held!);
        break;
      case 'record': {
        const g = await recordGeneration(this.o.home, {
          manifest_path: desired.manifestPath,
          manifest_digest: desired.manifestDigest,
          ...(work.commit ? { commit: work.commit, source: this.o.git!.url } : {}),
          resources: work.resources,
        });
        this.generation = ref(g);
        this.emit('generation', `generation ${g.generation} recorded${work.commit ? ` (commit ${work.commit.slice(0, 12)})` : ''}`, { generation: g.generation, manifest_digest: desired.manifestDigest, commit: work.commit });
        if (this.git) await this.git.prune(await commitsInHistory(this.o.home)).catch(() => {});
        break;
      }
      case 'rollback':
        await this.rollback(desired, [...outcome.failed.map((f) => f.address), ...outcome.skipped.map((x) => x.address), ...outcome.excluded]);
        break;
      case 'warn-no-generation':
        this.warnedNoGeneration = true;
        this.emit('warning', `not converged within ${secs(this.o.convergeTimeoutMs)}, and there is no earlier generation to roll back to; retrying`);
        break;
      case 'unchanged':
      case 'wait':
        break;
      default: {
        const never: never = n.step;
        throw new Error(`unexpected generation step ${JSON.stringify(never)}`);
      }
    }
  }

  private async rollback(good: Desired, failing: string[]): Promise<void> {
    const to = this.generation!;
    const reason = `the new desired state did not converge within ${secs(this.o.convergeTimeoutMs)} (failing: ${failing.join(', ') || 'plan errors'})`;
    await writeHold(this.o.home, { generation: to.generation, avoid: { manifest_digest: good.manifestDigest, commit: good.commit }, since: new Date().toISOString(), reason });
    this.emit('rollback', `${reason}; rolling back to generation ${to.generation}`, { to: to.generation, failing, manifest_digest: good.manifestDigest, commit: good.commit });
    for (const a of failing) this.backoff.succeed(a);
    this.converging = null;
    this.trigger('rollback');
  }

  // ---- trigger sources and timers ---------------------------------------------------------------

  private async watchFiles(files: string[]): Promise<void> {
    this.files ??= await watchFiles({
      settleMs: this.o.debounceMs,
      onChange: (changed) => {
        if (this.stopping) return;
        for (const p of changed) this.trigger(`file ${path.relative(process.cwd(), p) || p}`);
      },
      onWarning: (m) => this.emit('warning', m),
    });
    this.files.set(files);
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
    const at = (name: string, when: number) => this.timers.at(name, when, now);
    // ±10 % jitter so a fleet of devices does not fetch and read in lockstep
    at('interval', now + Math.round(this.o.intervalMs * (0.9 + Math.random() * 0.2)));
    const retry = this.backoff.next();
    if (retry !== undefined) at('retry', retry);
    if (this.git && this.fetch.failures) at('fetch-retry', this.fetch.nextFetchAt);
    if (this.o.rollbackOnFailure && this.converging) at('converge-timeout', this.converging.since + this.o.convergeTimeoutMs);
    if (this.removal) at('settle', this.removal.since + this.removalSettleMs);
    if (this.lockBusy) at('lock-busy', now + 1000);
  }

  private async writeState(stopped = false): Promise<void> {
    const next = this.timers.next();
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
      ...(this.lastSuccess !== null ? { last_success: new Date(this.lastSuccess).toISOString() } : {}),
      resources: this.resources,
      next_run: stopped || next === null ? null : new Date(next).toISOString(),
    };
    await writeWatchFile(this.o.home, w);
  }
}
