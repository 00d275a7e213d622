// One device + fleet.yaml → its group, the manifest file, and the overrides to load it with. The
// overrides are the group's, strategically merged over the manifest's own sections (maps merge, lists
// replace) and handed to loadManifest as whole top-level sections, so the manifest loader, kinds and
// expanders see one merged desired state. Reads files only; no machine access.
import path from 'node:path';
import type { Diagnostic } from '../core/types.js';
import { interpolate } from '../manifest/interpolate.js';
import { validate } from '../manifest/schema.js';
import { readYamlFile } from '../manifest/yaml-source.js';
import type { DeviceDescriptor } from './device.js';
import type { Fleet, FleetGroup } from './fleet-file.js';
import { isMap, strategicMerge } from './merge.js';
import { selectGroup, type Selection } from './select.js';

export interface Resolved {
  selection: Selection;
  group: FleetGroup | null;
  /** Absolute path of the group's manifest (null: no group matched). */
  manifestPath: string | null;
  /** Top-level sections to pass as loadManifest's overrides (already merged). */
  overrides: Record<string, unknown>;
  diagnostics: Diagnostic[];
}

export async function resolveDevice(fleet: Fleet, d: DeviceDescriptor, env: NodeJS.ProcessEnv): Promise<Resolved> {
  const selection = selectGroup(fleet.groups, d);
  const g = selection.group;
  if (!g) return { selection, group: null, manifestPath: null, overrides: {}, diagnostics: [] };
  const manifestPath = path.resolve(fleet.root, g.manifest);
  if (!g.overrides || !Object.keys(g.overrides).length) return { selection, group: g, manifestPath, overrides: {}, diagnostics: [] };
  const at = ['groups', selection.index, 'overrides'];
  const read = await readYamlFile(manifestPath);
  if (!read.source || read.diagnostics.some((x) => x.severity === 'error')) {
    return { selection, group: g, manifestPath, overrides: {}, diagnostics: read.diagnostics.length ? read.diagnostics : [{ severity: 'error', summary: `groups[${selection.index}].manifest: cannot read ${g.manifest}`, location: fleet.source.locate(['groups', selection.index, 'manifest']) }] };
  }
  const src = read.source;
  const raw = src.doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (!isMap(raw)) return { selection, group: g, manifestPath, overrides: {}, diagnostics: [] }; // loadManifest says what is wrong
  const base = interpolate(raw, env, (p) => src.locate(p));
  const over = interpolate(g.overrides, env, (p) => fleet.source.locate([...at, ...p]));
  const diagnostics = [...base.diagnostics, ...over.diagnostics];
  if (diagnostics.some((x) => x.severity === 'error')) return { selection, group: g, manifestPath, overrides: {}, diagnostics };
  const merged = strategicMerge(base.value, over.value) as Record<string, unknown>;
  // The merged document must still be a valid manifest; errors point into the group's overrides.
  diagnostics.push(...validate('manifest.schema.json', merged, fleet.source, at));
  const overrides: Record<string, unknown> = {};
  for (const k of Object.keys(g.overrides)) overrides[k] = merged[k];
  return { selection, group: g, manifestPath, overrides, diagnostics };
}
