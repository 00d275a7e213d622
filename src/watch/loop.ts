// The watch loop: a level-based controller. An event (a file saved, the interval, a Docker event, a
// new commit, SIGHUP) only says "look again". Runs never overlap: triggers that arrive during a run are
// coalesced into the next one. One run is a string of small steps, each a function with typed inputs
// and outputs in its own module (tested alone); this class only strings them together, keeps what
// must outlive a run, and hands its wishes for the next run to the scheduler:
//
//   trigger (trigger.ts) → load (load-step.ts) → plan (plan-step.ts) → apply (apply-step.ts)
//     → record (record-step.ts) → generation (generation-step.ts) → report (report.ts: reporters)
//   scheduler.ts: when the next timer-driven run happens (the interval, retries, backoff when stuck)
//
// Failures: a resource that fails waits in backoff (Backoff) and is left out of runs until it is due,
// so it never holds the others. An invalid manifest is reported and the last valid one stays in force.
// A run that can apply nothing is "stuck": the scheduler backs it off, and the interval (with it the
// git fetch) goes on. A local manifest that drops resources is accepted only once it has stayed the
// same for the removal settle window, so a half-saved file never tears anything down.
import path from 'node:path';
import { messageOf } from '../core/errors.js';
import { applyStep } from './apply-step.js';
import { Backoff } from './backoff.js';
import { GitSource } from './git-source.js';
import { generationStep, ref, type GenerationState } from './generation-step.js';
import { latestGeneration, readHold } from './history.js';
import { fetchSource, loadInForce, type Desired, type InForce } from './load-step.js';
import { healthOf, newMetrics, serveMetrics, type Metrics } from './metrics.js';
import { resolveHold, selectWork } from './plan-step.js';
import { applyEvent, recordOutcome } from './record-step.js';
import { fanOut, journalReporter, metricsReporter, secs, startEvent, type RunReport, type WatchStatus } from './report.js';
import { Scheduler, type RunKind } from './scheduler.js';
import { TriggerSources } from './sources.js';
import { watchFileOf, writeWatchFile, type ResourceRun, type WatchFile } from './state-file.js';
import { checkBeforeWatch, DEFAULT_REMOVAL_SETTLE_MS, type WatchOptions } from './options.js';
import { IdleCollector } from './idle-gc.js';
import { readTrigger } from './trigger.js';

export type { WatchEvent, WatchStatus } from './report.js';
export type { WatchOptions } from './options.js';

type Summary = Omit<RunReport, 'status' | 'ms'>;
/** Why the load step gives nothing to apply: the run is stuck. */
type Stuck = { stuck: RunReport['result']; why: string; invalid: boolean };

export class Watcher {
  private readonly ac = new AbortController();
  private stopping: string | null = null;
  private readonly queue = new Set<string>();
  private wake: (() => void) | null = null;
  private readonly sources: TriggerSources;
  private readonly git: GitSource | null;
  private readonly scheduler: Scheduler;
  private readonly idleGc = new IdleCollector();
  private server: import('node:http').Server | null = null;
  readonly metrics: Metrics = newMetrics();
  private readonly report: ReturnType<typeof fanOut>;
  private readonly startedAt = new Date().toISOString();
  private readonly removalSettleMs: number;

  // what outlives a run
  private readonly backoff: Backoff;
  private fetch = { failures: 0, nextFetchAt: 0 };
  private inForce: InForce = { good: null, removal: null, lastInvalid: null, manifestValid: true };
  private blocked: string | null = null;
  private gen: GenerationState = { generation: null, converging: null, warnedNoGeneration: false };
  private heldGeneration: number | null = null;
  private prevDigest: string | null = null;
  private resources: Record<string, ResourceRun> = {};
  private lockBusy = false;
  private lastRun: WatchFile['last_run'];
  private lastSuccess: number | null = null;

  constructor(private readonly o: WatchOptions) {
    this.backoff = new Backoff(o.minBackoffMs, o.maxBackoffMs);
    this.removalSettleMs = o.removalSettleMs ?? DEFAULT_REMOVAL_SETTLE_MS;
    this.report = fanOut([journalReporter(o.emit), metricsReporter(this.metrics), ...(o.reporters ?? [])]);
    this.scheduler = new Scheduler({ intervalMs: o.intervalMs, minBackoffMs: o.minBackoffMs, maxBackoffMs: o.maxBackoffMs }, (name) => this.trigger(name));
    this.sources = new TriggerSources({ ...o, trigger: (r) => this.trigger(r), log: (event, message) => this.emit(event, message), stopped: () => Boolean(this.stopping) });
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
    this.sources.close();
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
    const waiting = [...this.backoff.all()].map(([address, e]) => ({ address, failures: e.failures, error: e.error, nextTry: e.until }));
    const conflicts = Object.values(this.resources).filter((r) => r.result === 'conflict').length;
    return { manifestValid: this.inForce.manifestValid, generation: this.gen.generation?.generation ?? null, failing: waiting.length, conflicts, lastSuccess: this.lastSuccess, waiting, blocked: this.blocked };
  }

  async run(): Promise<void> {
    await checkBeforeWatch(this.o);
    await this.writeState(); // claim this PMOVES_HOME before the first run
    if (this.o.listen) {
      const { server, address } = await serveMetrics(this.o.listen, this.metrics, () => healthOf(this.status(), this.lastRun ?? null, !this.stopping));
      this.server = server;
      this.emit('listen', `serving /healthz and /metrics on http://${address}`, { address });
    }
    if (this.git) {
      const restored = await this.git.restore();
      if (restored) this.emit('git', `converging to the last accepted commit ${restored.slice(0, 12)} until the next fetch`, { action: 'restored', commit: restored });
    }
    const latest = await latestGeneration(this.o.home).catch(() => null);
    this.gen.generation = latest && ref(latest);
    this.report.started(this.status());
    this.report.event(startEvent(this.o, this.removalSettleMs));
    this.scheduler.start();
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
        this.scheduler.beginRun();
        const t0 = Date.now();
        let summary: Summary | null;
        let thrown = false;
        try {
          summary = await this.cycle(reasons, t0);
        } catch (err) {
          thrown = true;
          summary = { at: new Date().toISOString(), trigger: reasons, result: 'error', error: messageOf(err), drift: 0, failedRun: false };
          this.emit('error', `run failed: ${messageOf(err)}`, { error: messageOf(err) });
        }
        const kind: RunKind = thrown || this.lockBusy || summary?.result === 'blocked' || summary?.result === 'invalid-manifest' ? 'stuck' : 'applied';
        if (summary) {
          const { drift, failedRun, ...last } = { ...summary, ms: Date.now() - t0 };
          this.lastRun = last;
          this.report.runFinished({ ...last, drift, failedRun, status: this.status() });
        }
        if (this.stopping) break;
        this.scheduler.afterRun(kind, this.wishes());
        if (thrown) this.emit('retry', `retrying in ${secs(Math.max(0, (this.scheduler.due().retry ?? Date.now()) - Date.now()))}`, {});
        await this.writeState().catch((err) => this.emit('error', `cannot write watch.json: ${messageOf(err)}`));
      }
    } finally {
      this.scheduler.stop();
      this.idleGc.cancel();
      this.sources.close();
      const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
      this.server?.closeAllConnections?.(); // keep-alive scrapers would otherwise hold close() open
      await closed;
      await this.writeState(true).catch(() => {});
      this.emit('stop', `stopped${this.stopping ? ` (${this.stopping})` : ''}`, { signal: this.stopping });
      await this.report.close();
    }
  }

  // ---- one run: the steps -----------------------------------------------------------------------

  /** One run; null when it was interrupted by stop() before it applied anything. */
  private async cycle(reasons: string[], t0: number): Promise<Summary | null> {
    const run = (result: RunReport['result'], extra: Partial<RunReport> = {}): Summary => ({ at: new Date().toISOString(), trigger: reasons, result, drift: 0, failedRun: false, commit: this.git?.commit ?? null, ...extra });
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
    this.blocked = 'stuck' in desired ? desired.why : null;
    if ('stuck' in desired) {
      if (desired.invalid) this.inForce.manifestValid = false;
      return run(desired.stuck, { error: desired.why });
    }

    // plan: what this run converges to, and what it leaves alone
    const hold = await resolveHold(this.o.home, desired, this.heldGeneration);
    for (const e of hold.events) this.report.event(e);
    this.heldGeneration = hold.held?.generation ?? null;
    const work = selectWork({ desired, held: hold.held, release: release || hold.released, converging: this.gen.converging?.digest ?? null, generationDigest: this.gen.generation?.resources_digest ?? null, backoff: this.backoff, now: Date.now() });
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

    // record: per-resource outcome → backoff, watch.json, the apply line
    const done = Date.now();
    const outcome = recordOutcome({ plan: applied.result.plan, report: applied.result.report, exclude: work.exclude, backoff: this.backoff, previous: this.resources, now: done });
    this.resources = outcome.resources;
    this.prevDigest = work.digest;
    this.report.event(applyEvent(outcome, Date.now() - t0, work.commit, this.backoff));
    const summary = run(outcome.result, { at: new Date(done).toISOString(), drift: applied.drift, failedRun: Boolean(outcome.failed.length || outcome.globalErrors.length || outcome.conflicts.length) });
    if (this.stopping) return summary;
    if (outcome.converged) this.lastSuccess = done;

    // generation: record, keep the held one, or roll back
    const g = await generationStep(this.gen, { home: this.o.home, desired, work, outcome, now: done, rollbackOnFailure: this.o.rollbackOnFailure, convergeTimeoutMs: this.o.convergeTimeoutMs, git: this.git, gitUrl: this.o.git?.url ?? null, emit: (e) => this.report.event(e) });
    const { rolledBack, ...state } = g;
    this.gen = state;
    if (rolledBack) {
      for (const a of rolledBack) this.backoff.succeed(a);
      this.trigger('rollback');
    }
    return summary;
  }

  /** The load step's outcome applied to the watcher: the desired state in force, or why there is none. */
  private async loadStep(): Promise<Desired | Stuck> {
    let manifestPath = this.git ? this.git.manifestPath() : this.o.manifestPath;
    if (!manifestPath) {
      this.emit('waiting', 'no accepted commit yet: nothing to apply');
      return { stuck: 'blocked', why: 'no accepted commit yet', invalid: false };
    }
    let overrides = this.o.overrides;
    if (this.o.fleet && this.git?.commit) {
      // --fleet: this device's group in the commit's fleet.yaml (src/fleet/watch-hook.ts says why when none).
      const pick = await this.o.fleet(this.git.treeOf(this.git.commit), this.git.commit);
      if ('blocked' in pick) return { stuck: pick.invalid ? 'invalid-manifest' : 'blocked', why: pick.blocked, invalid: pick.invalid };
      manifestPath = pick.manifestPath;
      overrides = { ...overrides, ...pick.overrides };
    }
    if (!this.sources.watchingFiles) await this.sources.watchFiles([manifestPath]);
    const l = await loadInForce(this.inForce, { manifestPath, commit: this.git?.commit ?? null, env: this.o.env, home: this.o.home, overrides, local: !this.git, settleMs: this.removalSettleMs, now: Date.now(), emit: (e) => this.report.event(e) });
    this.inForce = l.state;
    await this.sources.watchFiles(l.watch);
    // the first error, located in the repository's terms (not the commit's worktree under $PMOVES_HOME)
    const where = this.git?.commit ? `${this.git.treeOf(this.git.commit)}${path.sep}` : '';
    if (!this.inForce.good) return { stuck: 'invalid-manifest', why: `the manifest is not valid: ${l.firstError.replace(/^Error: /, '').split(where || '\0').join('')}`, invalid: true };
    this.sources.followDocker(this.inForce.good.resources);
    return this.inForce.good;
  }

  // ---- the next run -----------------------------------------------------------------------------

  /** What this watcher wants a later run for (the scheduler decides when). */
  private wishes(): Record<string, number | undefined> {
    return {
      retry: this.backoff.next(),
      'fetch-retry': this.git && this.fetch.failures ? this.fetch.nextFetchAt : undefined,
      'converge-timeout': this.o.rollbackOnFailure && this.gen.converging ? this.gen.converging.since + this.o.convergeTimeoutMs : undefined,
      settle: this.inForce.removal ? this.inForce.removal.since + this.removalSettleMs : undefined,
      'lock-busy': this.lockBusy ? Date.now() + 1000 : undefined,
    };
  }

  private async writeState(stopped = false): Promise<void> {
    const hold = this.heldGeneration !== null ? { generation: this.heldGeneration, since: (await readHold(this.o.home))?.since ?? '' } : null;
    const manifest = this.git ? (this.git.manifestPath() ?? this.o.git!.path) : path.resolve(this.o.manifestPath);
    const source = this.git ? { url: this.o.git!.url, branch: this.git.branch ?? '', path: this.o.git!.path, commit: this.git.commit } : null;
    const { good, manifestValid } = this.inForce;
    const w = { startedAt: this.startedAt, stopped, manifest, source, good, generation: this.gen.generation?.generation ?? null, hold, manifestValid, blocked: this.blocked };
    await writeWatchFile(this.o.home, watchFileOf({ ...w, lastRun: this.lastRun, lastSuccess: this.lastSuccess, resources: this.resources, next: this.scheduler.next() }));
  }
}
