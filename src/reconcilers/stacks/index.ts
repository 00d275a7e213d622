// stacks.<name>: a docker compose project. Actual state from the Docker Engine API (one refresh for all
// stacks); desired state from compose itself: under v2 its own `--dry-run up -d`, under v1 `config --hash`,
// cached in state under a keyed digest of everything compose reads, so a no-op plan spawns no compose
// process. Apply runs `compose up -d` / `compose down`.
import path from 'node:path';
import type { Kind } from '../../core/kind.js';
import type { Diagnostic } from '../../core/types.js';
import type { Expander } from '../../manifest/load.js';
import { applyStack } from './apply.js';
import { checkStack } from './check.js';
import { planStack } from './plan.js';
import { readStacks } from './read.js';
import { dataOf, seconds, type StackActual, type StackData, type StackSpec } from './types.js';

export * from './types.js';
export { configChanges, maskConfig } from './mask.js';
export { planStack } from './plan.js';

// ---- the kind ------------------------------------------------------------------------------------

export const stacksKind: Kind<StackSpec, StackActual> = {
  section: 'stacks',
  order: 20,
  schema: 'stacks.schema.json',

  normalize(spec, name, ctx) {
    const files = (spec.files as string[]).map((f) => ctx.resolvePath(f));
    return {
      project: (spec.project as string | undefined) ?? `pmoves-${name.toLowerCase()}`,
      files,
      project_directory: spec.project_directory ? ctx.resolvePath(spec.project_directory) : path.dirname(files[0]!),
      profiles: spec.profiles ?? [],
      env_files: (spec.env_files ?? []).map((f: string) => ctx.resolvePath(f)),
      services: spec.services ?? null,
      state: spec.state ?? 'up',
      wait: spec.wait ?? true,
      wait_timeout: seconds(spec.wait_timeout, 120),
      remove_orphans: spec.remove_orphans ?? true,
      remove_volumes: spec.remove_volumes ?? false,
      skip_unsatisfiable: spec.skip_unsatisfiable ?? false,
      compose_command: null,
    };
  },

  inputs: (r) => [...r.spec.files, ...r.spec.env_files],

  check: checkStack,

  read(ctx, t) {
    return readStacks(ctx, [t]).then((m) => {
      const r = m.get(t.address)!;
      if (r instanceof Error) throw r;
      return r;
    });
  },

  readAll: readStacks,

  plan: planStack,

  apply: applyStack,

  // Before compose runs: the project, its files and env files (a prior cache and applied configs kept),
  // so that a crash during `up` leaves state that still finds the project's containers to remove.
  intent: (t) => {
    const d = dataOf(t);
    const prior = t.prior?.data as StackData | undefined;
    return d ? { ...(prior ?? {}), ...d } : prior;
  },

  describe(t, actual) {
    const out = [`project ${actual.project}`];
    // Only declared services count (active under the profiles, in the subset); others still running are named.
    const unsat = Object.keys(actual.unsatisfiable ?? {}).sort();
    const declared = actual.desired ? Object.keys(actual.desired.services).filter((s) => (!t.desired?.spec.services || t.desired.spec.services.includes(s)) && !unsat.includes(s)) : null;
    const up = [...new Set(actual.containers.filter((c) => c.state === 'running').map((c) => c.service))].sort();
    const running = declared ? up.filter((s) => declared.includes(s)) : up;
    const total = declared ? declared.length : new Set(actual.containers.map((c) => c.service)).size;
    out.push(`${running.length}/${total} services running`);
    const undeclared = declared ? up.filter((s) => !declared.includes(s)) : [];
    if (undeclared.length) out.push(`not declared but running: ${undeclared.join(', ')}`);
    if (unsat.length) out.push(`cannot run here: ${unsat.join(', ')}`);
    if (actual.compose_error) out.push('compose rejected the files');
    return out;
  },
};

/**
 * Hands the manifest's top-level `compose.command` to every stack (also those other expanders add:
 * keep this expander last in the list).
 */
export const stacksExpander: Expander = async (m, ctx) => {
  const command = (m.data.compose as { command?: string[] } | undefined)?.command ?? null;
  const diagnostics: Diagnostic[] = [];
  // Two stacks with one compose project would undo each other on every apply (validate says so too).
  const byProject = new Map<string, string>();
  for (const r of m.resources) {
    if (r.section !== 'stacks') continue;
    const spec = r.spec as StackSpec;
    spec.compose_command = command;
    const first = byProject.get(spec.project);
    if (first) diagnostics.push({ severity: 'error', address: r.address, summary: `${r.address}.project: compose project "${spec.project}" is also used by ${first}: give each stack its own project`, location: ctx.locate(r.address, ['project']) ?? ctx.locate(r.address) });
    else byProject.set(spec.project, r.address);
  }
  return diagnostics;
};
