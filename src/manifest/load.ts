// src/manifest/ — the manifest: YAML with positions, ${VAR}, JSON Schema (built from the registry),
// resources, the dependency graph; expanders/ adds what profiles, bundles and catalogs bring.
// Manifest v1: read → parse (positions kept) → ${VAR} expansion → JSON Schema → resources → checks.
// Returns a value, never throws for bad input: { resources, diagnostics }. The caller decides.
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Home } from '../core/home.js';
import type { Kind, LoadContext } from '../core/kind.js';
import type { Diagnostic, Resource } from '../core/types.js';
import { findCycles } from './graph.js';
import { interpolate } from './interpolate.js';
import { validate } from './schema.js';
import { lazyYamlSource, parseYamlText, readYamlText, yamlData, type YamlSource } from './yaml-source.js';
import { readFileOrNull, writeFileAtomic } from '../core/fs.js';

export interface Manifest {
  path: string;
  dir: string;
  /** sha256 of the manifest file's bytes. */
  digest: string;
  /** The manifest after ${VAR} expansion (plain data). */
  data: Record<string, unknown>;
  source: YamlSource;
  resources: Resource[];
  /** Lines the plan prints before the changes (e.g. which profile is active and why). */
  notes: string[];
  /** Files the manifest refers to (bundles, compose files…), for watch mode. */
  inputs: string[];
}

/** Adds or changes resources after the manifest's own (profiles, model bundles). Manifest entries win. */
export type Expander = (m: Manifest, ctx: LoadContext, kinds: Kind[]) => Promise<Diagnostic[]>;

export interface LoadOptions {
  env: NodeJS.ProcessEnv;
  home: Home;
  kinds: Kind[];
  expanders?: Expander[];
  /** The manifest's text, when the caller has it already (the fuzz suite): the file is not read. */
  text?: string;
  /** Values from the command line that override the manifest (e.g. `--profile`). */
  overrides?: Record<string, unknown>;
}

export interface LoadResult {
  manifest?: Manifest;
  diagnostics: Diagnostic[];
}

export function hasErrors(ds: Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

export async function loadManifest(file: string, opts: LoadOptions): Promise<LoadResult> {
  const abs = path.resolve(file);
  const read = opts.text !== undefined ? { text: opts.text, diagnostics: [] } : await readYamlText(abs);
  if (read.text === undefined) return { diagnostics: read.diagnostics };
  const parsed = await parseManifestText(abs, read.text, opts.home);
  const diagnostics = [...parsed.diagnostics];
  const source = parsed.source;
  if (hasErrors(diagnostics)) return { diagnostics };

  const raw = parsed.raw;
  if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw)) {
    diagnostics.push({
      severity: 'error',
      summary: `expected a map with apiVersion: pmoves.ai/mini/v1, got ${raw === null || raw === undefined ? 'an empty document' : Array.isArray(raw) ? 'a list' : typeof raw}`,
      location: source.locate([]),
    });
    return { diagnostics };
  }

  const expanded = interpolate(raw, opts.env, (p) => source.locate(p));
  for (const d of expanded.diagnostics) diagnostics.push(d);
  if (hasErrors(diagnostics)) return { diagnostics };
  const data = { ...(expanded.value as Record<string, unknown>), ...(opts.overrides ?? {}) };

  diagnostics.push(...validate('manifest.schema.json', expanded.value, source, [], opts.kinds));
  if (hasErrors(diagnostics)) return { diagnostics };

  const dir = path.dirname(abs);
  const specBase = new Map<string, (string | number)[]>();
  const ctx: LoadContext = {
    manifestPath: abs,
    manifestDir: dir,
    env: opts.env,
    home: opts.home,
    resolvePath: (p: string) => resolveUserPath(p, dir, opts.env),
    locate: (address, specPath = []) => {
      const base = specBase.get(address);
      return base ? source.locate([...base, ...specPath]) : undefined;
    },
  };

  const resources: Resource[] = [];
  for (const kind of opts.kinds) {
    const section = data[kind.section] as Record<string, Record<string, unknown>> | undefined;
    if (!section) continue;
    for (const [name, spec] of Object.entries(section)) {
      const address = `${kind.section}.${name}`;
      specBase.set(address, [kind.section, name]);
      const { depends_on, requires, ...rest } = spec ?? {};
      resources.push({
        address,
        section: kind.section,
        name,
        spec: kind.normalize(rest, name, ctx),
        dependsOn: (depends_on as string[] | undefined) ?? [],
        ...(requires ? { requires: requires as Record<string, unknown> } : {}),
      });
    }
  }

  const manifest: Manifest = {
    path: abs,
    dir,
    digest: createHash('sha256').update(source.text).digest('hex'),
    data,
    source,
    resources,
    notes: [],
    inputs: [abs],
  };

  for (const expand of opts.expanders ?? []) diagnostics.push(...(await expand(manifest, ctx, opts.kinds)));
  if (hasErrors(diagnostics)) return { diagnostics };

  diagnostics.push(...checkReferences(manifest.resources, ctx));
  const kindOf = new Map(opts.kinds.map((k) => [k.section, k] as const));
  const inputs = new Set(manifest.inputs);
  for (const r of manifest.resources) for (const f of kindOf.get(r.section)?.inputs?.(r) ?? []) inputs.add(f);
  manifest.inputs = [...inputs];
  const checks = await Promise.all(manifest.resources.map((r) => kindOf.get(r.section)?.check?.(r, ctx) ?? Promise.resolve([])));
  for (const c of checks) diagnostics.push(...c);

  if (hasErrors(diagnostics)) return { diagnostics };
  return { manifest, diagnostics };
}

/**
 * The manifest's data. Parsing YAML with positions is the largest cost of loading a big manifest (about
 * a third of a no-op plan of 10,000 resources), so the data of a manifest that parsed cleanly is kept
 * in $PMOVES_HOME/cache/ as JSON, keyed by the file's path and checked against its bytes: an unchanged
 * manifest is read with JSON.parse, and its YAML is parsed only if a position is needed (an error).
 * The cache holds the file's own values before ${VAR} expansion, nothing from the environment.
 * PMOVES_MANIFEST_CACHE=0 turns it off.
 */
async function parseManifestText(abs: string, text: string, home: Home): Promise<{ source: YamlSource; raw: unknown; diagnostics: Diagnostic[] }> {
  const useCache = process.env.PMOVES_MANIFEST_CACHE !== '0' && text.length >= CACHE_FROM_BYTES;
  const digest = createHash('sha256').update(text).digest('hex');
  const file = path.join(home.root, 'cache', `manifest-${createHash('sha256').update(abs).digest('hex').slice(0, 16)}.json`);
  if (useCache) {
    try {
      const hit = JSON.parse((await readFileOrNull(file)) ?? 'null') as { digest?: string; data?: unknown } | null;
      if (hit?.digest === digest) return { source: lazyYamlSource(abs, text), raw: hit.data, diagnostics: [] };
    } catch {
      /* an unreadable cache entry is rewritten below */
    }
  }
  const { source, diagnostics } = parseYamlText(abs, text);
  if (hasErrors(diagnostics)) return { source, raw: undefined, diagnostics };
  const js = yamlData(source);
  if (js.diagnostics.length) return { source, raw: undefined, diagnostics: [...diagnostics, ...js.diagnostics] };
  const raw = js.value;
  if (useCache && !diagnostics.length && jsonSafe(raw)) {
    await writeFileAtomic(file, JSON.stringify({ digest, data: raw }), { mode: 0o600 }).catch(() => {});
  }
  return { source, raw, diagnostics };
}

/** Below this size YAML parses in a few ms: no cache file. */
const CACHE_FROM_BYTES = 16 * 1024;

/** True when JSON round-trips `v` exactly (no .inf/.nan, dates, undefined…). */
function jsonSafe(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every(jsonSafe);
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.entries(v as object).every(([k, x]) => k !== '__proto__' && jsonSafe(x));
  return false;
}

function checkReferences(resources: Resource[], ctx: LoadContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const known = new Set(resources.map((r) => r.address));
  for (const r of resources) {
    r.dependsOn.forEach((d, i) => {
      if (d === r.address) {
        out.push({ severity: 'error', address: r.address, summary: `${r.address}.depends_on: a resource cannot depend on itself`, location: ctx.locate(r.address, ['depends_on', i]) });
      } else if (!known.has(d)) {
        out.push({ severity: 'error', address: r.address, summary: `${r.address}.depends_on: no resource "${d}" in the manifest`, location: ctx.locate(r.address, ['depends_on', i]) });
      }
    });
  }
  for (const cycle of findCycles(resources)) {
    const first = resources.find((r) => r.address === cycle[0])!;
    const idx = first.dependsOn.indexOf(cycle[1]!);
    out.push({
      severity: 'error',
      address: first.address,
      summary: `dependency cycle: ${cycle.join(' -> ')}`,
      location: ctx.locate(first.address, idx >= 0 ? ['depends_on', idx] : ['depends_on']),
    });
  }
  return out;
}

export function resolveUserPath(p: string, base: string, env: NodeJS.ProcessEnv = process.env): string {
  if (p === '~' || p.startsWith('~/')) return path.join(env.HOME || os.homedir(), p.slice(1));
  return path.resolve(base, p);
}
