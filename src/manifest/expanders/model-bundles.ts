// Model bundles: profiles/bundles/<id>.yaml, named sets of models.<name> specs. A manifest's
// `bundles: [id]` and a profile's `model_bundles` expand into model resources through bundleResources.
import path from 'node:path';
import type { Kind, LoadContext } from '../../core/kind.js';
import { profilesDir } from '../../core/paths.js';
import type { Diagnostic, Resource } from '../../core/types.js';
import type { Expander } from '../load.js';
import { closest, validate } from '../schema.js';
import { readYamlFile, yamlData } from '../yaml-source.js';

export const bundlesDir = path.join(profilesDir, 'bundles');

export interface Bundle {
  id: string;
  description?: string;
  source?: string;
  requires?: Record<string, unknown>;
  notes?: string[];
  models: Record<string, Record<string, unknown>>;
  /** The YAML file it was read from. */
  file: string;
}

/** Bundle ids shipped with the tool (file names under profiles/bundles/). */
export async function bundleIds(dir = bundlesDir): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
  } catch {
    return [];
  }
}

const cache = new Map<string, Promise<{ bundle?: Bundle; diagnostics: Diagnostic[] }>>();

/** Read and validate one bundle (cached per process). */
export function loadBundle(id: string, dir = bundlesDir): Promise<{ bundle?: Bundle; diagnostics: Diagnostic[] }> {
  const file = path.join(dir, `${id}.yaml`);
  let p = cache.get(file);
  if (!p) {
    p = (async () => {
      const read = await readYamlFile(file);
      if (!read.source || read.diagnostics.some((d) => d.severity === 'error')) return { diagnostics: read.diagnostics };
      const js = yamlData(read.source);
      if (js.diagnostics.length) return { diagnostics: js.diagnostics };
      const data = js.value;
      const diagnostics = [...read.diagnostics, ...validate('bundle.schema.json', data, read.source)];
      if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
      const b = data as Omit<Bundle, 'file'>;
      if (b.id !== id) {
        diagnostics.push({ severity: 'error', summary: `bundle id "${b.id}" does not match its file name (expected id: ${id})`, location: read.source.locate(['id']) });
        return { diagnostics };
      }
      return { bundle: { ...b, file }, diagnostics };
    })();
    cache.set(file, p);
  }
  return p;
}

/**
 * The model resources of bundles `ids`. `origin` says who asked (e.g. `profile laptop-4090`; empty for
 * the manifest's own `bundles:`); each resource's origin names its bundle too. Two bundles defining one
 * model name differently is an error; callers drop resources whose address the manifest declares itself.
 * `locate(i)` points at the i-th id in the caller's file for "no such bundle".
 */
export async function bundleResources(
  ids: string[],
  origin: string,
  ctx: LoadContext,
  kinds: Kind[],
  locate?: (index: number) => string | undefined,
): Promise<{ resources: Resource[]; diagnostics: Diagnostic[] }> {
  const kind = kinds.find((k) => k.section === 'models');
  const diagnostics: Diagnostic[] = [];
  const resources: Resource[] = [];
  if (!kind) return { resources, diagnostics };
  const seen = new Map<string, { bundle: string; spec: string }>();
  const known = await bundleIds();
  for (const [i, id] of ids.entries()) {
    if (!known.includes(id)) {
      const guess = closest(id, known);
      diagnostics.push({
        severity: 'error',
        summary: `no model bundle "${id}"${origin ? ` (named by ${origin})` : ''}${guess ? `; did you mean "${guess}"?` : ''}`,
        detail: `bundles shipped with pmoves mini: ${known.join(', ')}`,
        location: locate?.(i),
      });
      continue;
    }
    const { bundle, diagnostics: ds } = await loadBundle(id);
    diagnostics.push(...ds);
    if (!bundle) continue;
    for (const [name, raw] of Object.entries(bundle.models)) {
      const address = `models.${name}`;
      const { depends_on: _d, requires, ...rest } = raw;
      const text = JSON.stringify(rest);
      const prev = seen.get(address);
      if (prev) {
        if (prev.spec !== text) {
          diagnostics.push({
            severity: 'error',
            address,
            summary: `bundles ${prev.bundle} and ${id} both define ${address} differently; list only one of them, or declare ${address} in the manifest (manifest entries win)`,
          });
        }
        continue;
      }
      seen.set(address, { bundle: id, spec: text });
      const spec = kind.normalize(rest, name, ctx) as Record<string, unknown>;
      const req = { ...(bundle.requires ?? {}), ...((requires as Record<string, unknown> | undefined) ?? {}) };
      resources.push({
        address,
        section: 'models',
        name,
        spec: { ...spec, bundle_file: bundle.file },
        dependsOn: [],
        origin: origin ? `${origin}, bundle ${id}` : `bundle ${id}`,
        ...(Object.keys(req).length ? { requires: req } : {}),
      });
    }
  }
  return { resources, diagnostics };
}

/** The manifest's top-level `bundles: [id]`. Explicit `models.<name>` entries win over bundle ones. */
export const manifestBundlesExpander: Expander = async (m, ctx, kinds) => {
  const ids = (m.data.bundles as string[] | undefined) ?? [];
  if (!ids.length) return [];
  const { resources, diagnostics } = await bundleResources(ids, '', ctx, kinds, (i) => m.source.locate(['bundles', i]));
  const declared = new Set(m.resources.map((r) => r.address));
  for (const r of resources) {
    if (declared.has(r.address)) continue;
    m.resources.push(r);
  }
  for (const r of resources) {
    const f = (r.spec as { bundle_file?: string }).bundle_file;
    if (f && !m.inputs.includes(f)) m.inputs.push(f);
  }
  return diagnostics.filter((d) => !d.address || !declared.has(d.address));
};
