// Everything one command needs: the loaded manifest, the state, the kinds, and the contexts handed to
// them. Commands open a session, then refresh → plan → (apply).
import { createHmac, randomBytes } from 'node:crypto';
import { printable, UserError } from '../core/errors.js';
import { pmovesHome, type Home } from '../core/home.js';
import type { Kind, PlanContext, RunContext, Target } from '../core/kind.js';
import type { Diagnostic, Resource } from '../core/types.js';
import { withDependencies } from '../manifest/graph.js';
import { hasErrors, loadManifest, type Manifest } from '../manifest/load.js';
import { expanders as defaultExpanders, kinds as defaultKinds } from '../reconcilers/index.js';
import { keyedDigest, loadState, stateKey, type State } from './state.js';

export interface SessionOptions {
  manifestPath: string;
  env?: NodeJS.ProcessEnv;
  home?: Home;
  /** `--target` addresses; empty = everything. */
  targets?: string[];
  flags?: Record<string, unknown>;
  overrides?: Record<string, unknown>;
  log?: (address: string, line: string) => void;
  tty?: boolean;
  signal?: AbortSignal;
  kinds?: Kind[];
  /** Change the desired resources after loading (e.g. bring-up forces a stack's state). */
  transform?: (resources: Resource[]) => Resource[];
  /** Use these resources instead of loading the manifest's (a saved plan). */
  resources?: Resource[];
  manifestDigest?: string;
}

export interface Session {
  manifest?: Manifest;
  manifestDigest: string;
  home: Home;
  state: State;
  kinds: Kind[];
  kindOf: Map<string, Kind>;
  resources: Resource[];
  targets: Target<unknown>[];
  run: RunContext;
  planCtx: PlanContext;
  /** Warnings from loading (errors throw). */
  diagnostics: Diagnostic[];
  notes: string[];
}

export async function openSession(opts: SessionOptions): Promise<Session> {
  const env = opts.env ?? process.env;
  const home = opts.home ?? pmovesHome(env);
  const kinds = [...(opts.kinds ?? defaultKinds)].sort((a, b) => a.order - b.order);
  const kindOf = new Map(kinds.map((k) => [k.section, k] as const));
  const diagnostics: Diagnostic[] = [];

  let manifest: Manifest | undefined;
  let resources: Resource[];
  let manifestDigest: string;
  if (opts.resources) {
    resources = opts.resources;
    manifestDigest = opts.manifestDigest ?? '';
  } else {
    const loaded = await loadManifest(opts.manifestPath, { env, home, kinds, expanders: defaultExpanders, overrides: opts.overrides });
    diagnostics.push(...loaded.diagnostics);
    if (!loaded.manifest || hasErrors(loaded.diagnostics)) {
      throw new UserError('the manifest is not valid', loaded.diagnostics);
    }
    manifest = loaded.manifest;
    resources = manifest.resources;
    manifestDigest = manifest.digest;
  }

  if (opts.transform) resources = opts.transform(resources);
  const state = await loadState(home);
  const key = await stateKey(home);
  const runKey = randomBytes(32);
  // Memoised: the same value is fingerprinted once per run, however many resources show it (1,000
  // env files rendered from one bundle fingerprint the same few hundred values).
  const prints = new Map<string, string>();
  const fingerprint = (v: string) => {
    let f = prints.get(v);
    if (f === undefined) prints.set(v, (f = createHmac('sha256', runKey).update(v).digest('hex').slice(0, 12)));
    return f;
  };
  const flags: Record<string, unknown> = { ...(opts.flags ?? {}) };
  // Every secret value the manifest's resources hold (CHIT bundles, env files), for kinds that relay
  // another tool's text (compose's messages are scrubbed of them before they are printed or stored).
  // Only read when some other kind is declared: a manifest of secrets alone relays nothing.
  const holders = resources.filter((r) => kindOf.get(r.section)?.secretValues);
  if (holders.length && holders.length < resources.length && flags.secretValues === undefined) {
    flags.secretValues = [...new Set((await Promise.all(holders.map((r) => kindOf.get(r.section)!.secretValues!(r).catch(() => [] as string[])))).flat())];
  }

  // Targets: declared resources, plus what state says this tool owns but the manifest no longer declares.
  let selected = new Set(resources.map((r) => r.address));
  if (opts.targets?.length) {
    const known = new Set([...selected, ...Object.keys(state.resources)]);
    for (const t of opts.targets) {
      if (!known.has(t)) throw new UserError(`--target ${t}: no such resource in the manifest or the state (expected <section>.<name>, e.g. secrets.env)`);
    }
    selected = withDependencies(resources, opts.targets);
  }
  const targets: Target<unknown>[] = resources
    .filter((r) => selected.has(r.address))
    .map((r) => ({ address: r.address, name: r.name, desired: r, prior: state.resources[r.address] }));
  const declared = new Set(resources.map((r) => r.address));
  for (const [address, entry] of Object.entries(state.resources)) {
    if (declared.has(address) || !kindOf.has(entry.section)) continue;
    if (opts.targets?.length && !opts.targets.includes(address)) continue;
    targets.push({ address, name: address.slice(entry.section.length + 1), desired: null, prior: entry });
  }

  const write = opts.log ?? ((address: string, line: string) => process.stdout.write(`${address}: ${line}\n`));
  // every line a kind logs (a URL, a path, compose's words) reaches the terminal escaped and cut
  const log = (address: string, line: string) => write(address, printable(line));
  const run: RunContext = {
    home,
    env,
    signal: opts.signal ?? new AbortController().signal,
    log,
    fingerprint,
    digest: (v) => keyedDigest(key, v),
    flags,
    tty: opts.tty ?? Boolean(process.stdout.isTTY),
  };
  return {
    manifest,
    manifestDigest,
    home,
    state,
    kinds,
    kindOf,
    resources,
    targets,
    run,
    planCtx: { fingerprint, flags },
    diagnostics,
    notes: manifest?.notes ?? [],
  };
}

export function sectionOf(address: string): string {
  return address.split('.')[0]!;
}
