// The generation step of the watch loop: what a run's outcome does to the generation history.
// A converged run records a new generation (or keeps the held one); a new desired state that has not
// converged within --converge-timeout is rolled back (a hold on the last good generation, written to
// history/hold.json, then a `rollback` run). The decision is nextGeneration's (record-step.ts, pure);
// this step carries it out.
import type { Home } from '../core/home.js';
import type { GitSource } from './git-source.js';
import { commitsInHistory, recordGeneration, writeHold, type Generation } from './history.js';
import type { Desired } from './load-step.js';
import type { Work } from './plan-step.js';
import { nextGeneration, type Converging, type Outcome } from './record-step.js';
import { secs, type WatchEvent } from './report.js';

/** The generation in force, without its resources (read from history when needed). */
export type GenerationRef = Pick<Generation, 'generation' | 'resources_digest' | 'commit'>;
export const ref = (g: Generation): GenerationRef => ({ generation: g.generation, resources_digest: g.resources_digest, commit: g.commit });

/** What the generation step keeps between runs. */
export interface GenerationState {
  generation: GenerationRef | null;
  converging: Converging | null;
  warnedNoGeneration: boolean;
}

export interface GenerationInput {
  home: Home;
  desired: Desired;
  work: Work;
  outcome: Outcome;
  now: number;
  rollbackOnFailure: boolean;
  convergeTimeoutMs: number;
  git: Pick<GitSource, 'prune'> | null;
  gitUrl: string | null;
  emit(e: WatchEvent): void;
}

/** The state after the step, and the addresses to release from backoff when it rolled back (then run again). */
export async function generationStep(s: GenerationState, i: GenerationInput): Promise<GenerationState & { rolledBack: string[] | null }> {
  const n = nextGeneration({
    converged: i.outcome.converged,
    held: Boolean(i.work.held),
    generation: s.generation,
    digest: i.work.digest,
    commit: i.work.commit,
    converging: s.converging,
    now: i.now,
    rollbackOnFailure: i.rollbackOnFailure,
    convergeTimeoutMs: i.convergeTimeoutMs,
    warnedNoGeneration: s.warnedNoGeneration,
  });
  const next: GenerationState & { rolledBack: string[] | null } = { ...s, converging: n.converging, rolledBack: null };
  switch (n.step.kind) {
    case 'keep-held':
      next.generation = ref(i.work.held!);
      break;
    case 'record': {
      const g = await recordGeneration(i.home, {
        manifest_path: i.desired.manifestPath,
        manifest_digest: i.desired.manifestDigest,
        ...(i.work.commit ? { commit: i.work.commit, source: i.gitUrl! } : {}),
        resources: i.work.resources,
      });
      next.generation = ref(g);
      i.emit({ event: 'generation', message: `generation ${g.generation} recorded${i.work.commit ? ` (commit ${i.work.commit.slice(0, 12)})` : ''}`, generation: g.generation, manifest_digest: i.desired.manifestDigest, commit: i.work.commit });
      if (i.git) await i.git.prune(await commitsInHistory(i.home)).catch(() => {});
      break;
    }
    case 'rollback': {
      const failing = [...i.outcome.failed.map((f) => f.address), ...i.outcome.skipped.map((x) => x.address), ...i.outcome.excluded];
      const to = s.generation!;
      const reason = `the new desired state did not converge within ${secs(i.convergeTimeoutMs)} (failing: ${failing.join(', ') || 'plan errors'})`;
      await writeHold(i.home, { generation: to.generation, avoid: { manifest_digest: i.desired.manifestDigest, commit: i.desired.commit }, since: new Date().toISOString(), reason });
      i.emit({ event: 'rollback', message: `${reason}; rolling back to generation ${to.generation}`, to: to.generation, failing, manifest_digest: i.desired.manifestDigest, commit: i.desired.commit });
      next.converging = null;
      next.rolledBack = failing;
      break;
    }
    case 'warn-no-generation':
      next.warnedNoGeneration = true;
      i.emit({ event: 'warning', message: `not converged within ${secs(i.convergeTimeoutMs)}, and there is no earlier generation to roll back to; retrying` });
      break;
    case 'unchanged':
    case 'wait':
      break;
    default: {
      const never: never = n.step;
      throw new Error(`unexpected generation step ${JSON.stringify(never)}`);
    }
  }
  return next;
}
