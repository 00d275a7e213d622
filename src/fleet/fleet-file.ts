// fleet.yaml: read with positions, checked against schemas/fleet.schema.json, and a few cross-checks
// (unique group names). Returns a value, never throws for bad input.
import path from 'node:path';
import type { Diagnostic } from '../core/types.js';
import { validate } from '../manifest/schema.js';
import { readYamlFile, type YamlSource } from '../manifest/yaml-source.js';

export const FLEET_FILE = 'fleet.yaml';

export type Strings = string | string[];

export interface FleetGroup {
  name: string;
  match?: { hostname?: Strings; profile?: Strings; arch?: Strings; labels?: Record<string, string> };
  manifest: string;
  overrides?: Record<string, unknown>;
}

export interface Fleet {
  file: string;
  /** Folder the manifest paths are relative to (the repository root). */
  root: string;
  groups: FleetGroup[];
  source: YamlSource;
}

export async function loadFleet(file: string): Promise<{ fleet?: Fleet; diagnostics: Diagnostic[] }> {
  const abs = path.resolve(file);
  const read = await readYamlFile(abs);
  const diagnostics = [...read.diagnostics];
  const source = read.source;
  if (!source || diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const data = source.doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    diagnostics.push({ severity: 'error', summary: 'expected a map with apiVersion: pmoves.ai/fleet/v1 and groups', location: source.locate([]) });
    return { diagnostics };
  }
  diagnostics.push(...validate('fleet.schema.json', data, source));
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const groups = (data as { groups: FleetGroup[] }).groups;
  const seen = new Map<string, number>();
  groups.forEach((g, i) => {
    const first = seen.get(g.name);
    if (first !== undefined) diagnostics.push({ severity: 'error', summary: `groups[${i}].name: "${g.name}" is already the name of groups[${first}]; expected unique group names`, location: source.locate(['groups', i, 'name']) });
    else seen.set(g.name, i);
  });
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return { fleet: { file: abs, root: path.dirname(abs), groups, source }, diagnostics };
}
