// The apply step of the watch loop: refresh → plan → apply through applyOnce, the same code and lock as
// `pmoves mini apply`, leaving resources in backoff alone. A lock held by another pmoves mini (a
// LockBusyError) is an outcome of its own, not a failure: the loop retries every second.
import { LockBusyError } from '../core/errors.js';
import type { Home } from '../core/home.js';
import type { ApplyFlowOptions, ApplyFlowResult } from '../engine/run.js';
import { planEvent, type Work } from './plan-step.js';
import type { WatchEvent } from './report.js';

export type ApplyOutcome = { kind: 'busy'; message: string } | { kind: 'applied'; result: ApplyFlowResult; drift: number };

export interface ApplyInput {
  work: Work;
  manifestPath: string;
  home: Home;
  env: NodeJS.ProcessEnv;
  flags: Record<string, unknown>;
  parallelism: number;
  readTimeoutMs: number;
  signal: AbortSignal;
  /** The git source, recorded in state.json and the audit log. */
  git?: { url: string; branch: string | null; path: string };
  /** Resources in sync after the last run, and whether changes in them count as drift. */
  wasOk: Set<string>;
  driftEligible: boolean;
  /** Live events: the plan line, then the apply's progress. */
  emit(e: WatchEvent): void;
  /** The engine's applyOnce (tests pass a twin). */
  applyOnce?: (o: ApplyFlowOptions) => Promise<ApplyFlowResult>;
}

export async function applyStep(i: ApplyInput): Promise<ApplyOutcome> {
  const applyOnce = i.applyOnce ?? (await import('../engine/run.js')).applyOnce;
  const { work } = i;
  const progress = (line: string) => i.emit({ event: 'progress', message: line });
  let drift = 0;
  try {
    const result = await applyOnce({
      // the plan line comes before the apply's progress
      onPlan: ({ plan }) => {
        const p = planEvent(plan, work.exclude, i.wasOk, i.driftEligible);
        drift = p.drift;
        i.emit(p.event);
      },
      manifestPath: i.manifestPath,
      home: i.home,
      env: i.env,
      resources: work.resources,
      manifestDigest: work.manifestDigest,
      flags: i.flags,
      parallelism: i.parallelism,
      readTimeoutMs: i.readTimeoutMs,
      tty: false,
      signal: i.signal,
      command: 'watch',
      lockTimeoutMs: 0,
      partial: true,
      exclude: work.exclude,
      log: (address, line) => progress(`${address}: ${line}`),
      progress,
      auditExtra: {
        watch: true,
        ...(work.commit ? { commit: work.commit, source: i.git?.url } : {}),
        ...(work.held ? { generation: work.held.generation } : {}),
      },
      stateSource: i.git ? { kind: 'git', url: i.git.url, branch: i.git.branch, path: i.git.path, commit: work.commit } : undefined,
    });
    return { kind: 'applied', result, drift };
  } catch (err) {
    if (err instanceof LockBusyError) return { kind: 'busy', message: err.message.split('. ')[0]! };
    throw err;
  }
}
