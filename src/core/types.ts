// src/core/ — the vocabulary and contracts every other folder uses (types, kind, ownership, errors) and
// the few helpers beneath them (fs, home, paths). Imports nothing outside core/.
// The engine's vocabulary. Every resource kind speaks it; nothing here does I/O.

/** What apply will do to one resource. Values read as the plan's own words. */
export type Action = 'no-op' | 'create' | 'update' | 'replace' | 'delete';

export const ACTION_SYMBOL: Record<Action, string> = {
  'no-op': ' ',
  create: '+',
  update: '~',
  replace: '-/+',
  delete: '-',
};

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  /** Resource address (`secrets.env`), absent for manifest-wide problems. */
  address?: string;
  summary: string;
  detail?: string;
  /** `file:line:column` when the problem points into a file. */
  location?: string;
}

/** A declared resource after the manifest has been loaded, expanded and normalised. */
export interface Resource<S = unknown> {
  address: string;
  section: string;
  name: string;
  spec: S;
  /** Explicit `depends_on` plus nothing implicit; implicit ordering lives in the graph. */
  dependsOn: string[];
  /** Where the resource came from, e.g. `profile laptop-4090`; absent for the manifest itself. */
  origin?: string;
  /** Hardware requirement (profile issue); opaque to the engine. */
  requires?: Record<string, unknown>;
  /**
   * Set by the profile expander when this machine cannot run the resource ("needs 24 GB VRAM, found
   * 8 GB"): it is not read, planned or applied; the plan shows it as an error (a warning with
   * `--skip-unsatisfiable`).
   */
  unsatisfied?: string;
}

/** What the tool remembers about a resource it manages (state.json). */
export interface StateEntry {
  section: string;
  /** This tool created the thing and may delete it. */
  owned: boolean;
  /** Written before a change is applied; cleared after. Survives a crash so ownership is never lost. */
  pending?: Action;
  /** Keyed digest of what was last applied (never a value). */
  digest?: string;
  applied_at?: string;
  /** Kind-specific memory (e.g. last applied service configs). Must never hold a secret value. */
  data?: unknown;
}

/**
 * One planned change. `before`/`after` are display values: secrets are replaced by
 * `{ $sensitive: fingerprint }` markers (fingerprints are keyed per run) and never carry a value.
 * Apply never reads `before`, `after`, `reason` or `parts`: it re-reads and re-plans.
 *   create:  before is null, after is the desired display value.
 *   update:  both set.
 *   replace: both set; the thing is removed and made again.
 *   delete:  after is null.
 *   no-op:   both set and equal.
 */
export interface Change {
  address: string;
  section: string;
  name: string;
  action: Action;
  reason: string;
  before: unknown;
  after: unknown;
  /** Sub-resources shown under this one (e.g. `stacks.core.db`). Display and JSON only. */
  parts?: Change[];
  /** Extra lines shown with the change (e.g. "volumes will be removed"). */
  warnings?: string[];
  origin?: string;
  /** Display only: the past participle in "will be …" when the action's own word is not precise (e.g. "recreated"). */
  verb?: string;
  /**
   * Why, as a stable machine word (`missing`, `config-changed`, `unhealthy`, `dependency`, `orphan`, …):
   * the one field of a part that apply may read, and what scripts and agents match on in `plan --json`.
   */
  cause?: string;
  /**
   * Set by the planner when an error stops this change (`cannot be written: …`): it is shown, but not
   * counted as a change and never applied until the error is fixed.
   */
  blocked?: boolean;
  /**
   * Someone else's thing stands where this resource goes (e.g. a hand-written MCP entry of the same
   * name): apply leaves it alone, and the resource is not in sync until the conflict is resolved.
   */
  conflicts?: string[];
}

/** A kind's answer to "what would you do", computed without I/O. */
export interface PlanResult {
  action: Action;
  reason: string;
  before: unknown;
  after: unknown;
  parts?: Change[];
  warnings?: string[];
  diagnostics?: Diagnostic[];
  verb?: string;
  /** What stands in the way and is not ours to change (one line each); see Change.conflicts. */
  conflicts?: string[];
}

/** What apply reports for one resource: the word completes "secrets.env has been …". */
export type Outcome = 'created' | 'updated' | 'replaced' | 'deleted' | 'unchanged';

export interface ApplyResult {
  outcome: Outcome;
  /** The state entry to record; null removes the entry. */
  state: StateEntry | null;
  /** Lines to print under the address (already safe to show). */
  messages?: string[];
}
