// The contract between the engine and one resource kind. A kind is a provider (src/providers/<world>/,
// talks to the world) plus a reconciler (src/reconcilers/<kind>.ts or <kind>/index.ts, implements this
// interface on top of the provider) plus a schema (schemas/<kind>.schema.json). Registering a kind is
// one entry in src/reconcilers/index.ts; the manifest's JSON Schema is built from the registry.
//
// Rules every kind follows, one way each:
// - Volatile read data. Live readings that are health, not state (an MCP handshake, free disk) go in
//   one top-level field of the actual state named `volatile`. The saved-plan digest (digestOf in
//   src/planner/plan.ts) leaves it out, so such a reading never makes `apply PLANFILE` stale.
// - Secrets. `read` may hold secret values (they never leave the process); `plan` masks them in
//   before/after as `{ $sensitive: ctx.fingerprint(value) }`. Nothing masked or unmasked is stored:
//   state keeps only `ctx.digest(...)` and non-secret facts.
// - Ownership. Whether this tool created a thing and may delete it is `StateEntry.owned`, read with
//   `isOwned(prior)` and recorded with `ownedAfter(prior, created)` (src/core/ownership.ts). The engine
//   writes the same rule ahead of an apply (pending), so a crash never loses ownership.
// - Apply decides from structured plan data: the action, `parts` (their `action` and `cause`) or a
//   re-plan from a fresh read; never from `reason`, `verb` or other display text.
import type { Home } from './home.js';
import type { ApplyResult, Diagnostic, PlanResult, Resource, StateEntry } from './types.js';

/** Given while loading the manifest: resolve paths, point at source positions. */
export interface LoadContext {
  manifestPath: string;
  manifestDir: string;
  env: NodeJS.ProcessEnv;
  home: Home;
  /** Resolve a path from the manifest against the manifest's folder (`~` expands to HOME). */
  resolvePath(p: string): string;
  /** `file:line:column` of a value inside this resource's spec (path relative to the spec), if known. */
  locate(address: string, specPath?: (string | number)[]): string | undefined;
}

/** Given to read and apply. */
export interface RunContext {
  home: Home;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** One line of progress under an address; the engine prefixes and routes it. */
  log(address: string, line: string): void;
  /** Keyed fingerprint of a secret value, stable within this run only. */
  fingerprint(value: string): string;
  /** Keyed digest under this machine's state key ($PMOVES_HOME/state.key): safe to store in state. */
  digest(value: string): string;
  /** Per-command switches (`--force`, `--no-probe`, …) a kind may honour. */
  flags: Record<string, unknown>;
  /** True when stdout is a TTY (progress bars vs. progress lines). */
  tty: boolean;
}

/** Given to the pure plan function. */
export interface PlanContext {
  fingerprint(value: string): string;
  flags: Record<string, unknown>;
}

/** What refresh hands the planner for one address. `desired` is null when only state remembers it. */
export interface Target<S> {
  address: string;
  name: string;
  desired: Resource<S> | null;
  prior: StateEntry | undefined;
}

export interface Kind<S = any, A = any> {
  /** Manifest section, also the address prefix (`secrets`). */
  section: string;
  /** Implicit order between kinds: lower applies first (secrets 10, stacks 20, models 30, mcp 40). */
  order: number;
  /**
   * File name under schemas/ holding the JSON Schema of one spec (`$id` = the file name). The manifest's
   * schema gets a section `<section>: {name: <this schema>}` from it, and the keys under the schema's
   * `$defs.manifest` (the section's description, other top-level keys the kind owns, e.g. `compose`).
   */
  schema: string;
  /** Spec after schema validation → normal form (defaults, absolute paths). No I/O. */
  normalize(spec: any, name: string, ctx: LoadContext): S;
  /** Files this resource reads (bundles, compose files…): watch mode reacts to their changes. */
  inputs?(resource: Resource<S>): string[];
  /**
   * Optional: the secret values this resource holds (a CHIT bundle's, the env file it writes). The
   * engine hands all of them to every kind as `flags.secretValues`, so that text relayed from other
   * tools (compose's messages) is scrubbed of them. Unreadable sources are skipped, never an error.
   */
  secretValues?(resource: Resource<S>): Promise<string[]>;
  /** Checks beyond the schema that need the file system (a bundle exists, …). */
  check?(resource: Resource<S>, ctx: LoadContext): Promise<Diagnostic[]>;
  /**
   * Read actual state. Must not change anything. A throw becomes an error diagnostic on the address and
   * the rest of the plan is still computed. The result must be JSON-serialisable (it is digested for
   * saved plans); it may hold secret values, which never leave the process except as keyed digests.
   * Live readings that are not state go under a top-level `volatile` field (left out of that digest).
   */
  read(ctx: RunContext, target: Target<S>): Promise<A>;
  /** Optional batch read: one call for every target of the kind (e.g. one Docker API call). */
  readAll?(ctx: RunContext, targets: Target<S>[]): Promise<Map<string, A | Error>>;
  /**
   * Pure: what should happen. Never throws for a normal input; problems become diagnostics. Secrets in
   * before/after are `{ $sensitive: ctx.fingerprint(value) }`; deleting needs `isOwned(target.prior)`
   * (or an explicit --force the kind honours).
   */
  plan(target: Target<S>, actual: A, ctx: PlanContext): PlanResult;
  /**
   * Make it so. Contract: on a failed create nothing was created (or the state says pending, so it is
   * owned and retried); after a failed delete the thing is assumed to still exist. Throws on failure.
   * Decides from `planned.action`, `planned.parts` (action, cause) and `actual`, never from text.
   * The state it returns records `owned: ownedAfter(target.prior, created)`.
   */
  apply(ctx: RunContext, target: Target<S>, actual: A, planned: PlanResult): Promise<ApplyResult>;
  /**
   * Optional, pure: the state data to record with the write-ahead (pending) entry, before apply touches
   * anything: enough to find and remove what apply may have made if the process dies half-way (e.g. a
   * stack's compose project and files; the agent config files an MCP server is about to be written
   * into). `actual` is the fresh read apply plans from. Default: the prior entry's data.
   */
  intent?(target: Target<S>, actual: A): unknown;
  /**
   * Optional, pure: look at all of this kind's planned changes together (e.g. the download budget).
   * `summary` words join the plan's summary line; error diagnostics stop apply before it starts.
   */
  finalize?(planned: { target: Target<S>; actual: A; result: PlanResult }[], ctx: PlanContext): { summary?: string[]; diagnostics?: Diagnostic[] };
  /** Extra words for `status` beyond in-sync/drifted/missing (e.g. service health). */
  describe?(target: Target<S>, actual: A): string[];
}
