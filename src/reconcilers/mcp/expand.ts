// The mcp expander: catalog ids (`from:`) and the manifest's mcp_clients, resolved after the manifest's
// own resources and a profile's.
import path from 'node:path';
import type { LoadContext } from '../../core/kind.js';
import type { Diagnostic, Resource } from '../../core/types.js';
import type { Expander } from '../../manifest/load.js';
import { catalogEntry, catalogIds, catalogSpec } from '../../providers/mcp/catalog.js';
import type { ClientId } from '../../providers/mcp/clients.js';
import { normalizeSpec, type McpSpec } from './spec.js';

/**
 * After the manifest's own resources (and a profile's): resolve `from:` (or a bare name that is a catalog
 * id) against the catalog, and fill `clients` from the manifest's top-level `mcp_clients`.
 */
export const mcpExpander: Expander = async (m, ctx) => {
  const diagnostics: Diagnostic[] = [];
  const defaults = (m.data.mcp_clients as ClientId[] | undefined) ?? null;
  const section = (m.data.mcp ?? {}) as Record<string, Record<string, unknown>>;
  for (const r of m.resources) {
    if (r.section !== 'mcp') continue;
    const spec = r.spec as McpSpec;
    const given = r.origin ? null : section[r.name];
    if (given && !spec.given) {
      const { depends_on: _d, requires: _r, ...rest } = given;
      const wantsCatalog = spec.from !== null || (spec.command === null && spec.url === null);
      if (wantsCatalog) {
        const id = spec.from ?? r.name;
        const entry = await catalogEntry(id);
        if (!entry) {
          if (spec.from !== null) {
            diagnostics.push({ severity: 'error', address: r.address, summary: `${r.address}.from: no MCP server "${id}" in the catalog (known: ${(await catalogIds()).join(', ')})`, location: ctx.locate(r.address, ['from']) });
          }
        } else {
          r.spec = { ...normalizeSpec(catalogSpec(entry, rest), r.name, ctx), given: rest };
        }
      }
    }
    const s = r.spec as McpSpec;
    if (s.clients === null && defaults) s.clients = [...defaults];
  }
  diagnostics.push(...(await labelsInBundles(m.resources, ctx)));
  return diagnostics;
};

/**
 * env_from_secrets / headers_from_secrets name CHIT labels: when the manifest renders CHIT bundles
 * (secrets.<name>.bundle), a label that none of them holds is probably a typo. Only labels are read here;
 * values never leave the bundle reader.
 */
async function labelsInBundles(resources: Resource[], ctx: LoadContext): Promise<Diagnostic[]> {
  const bundles = [...new Set(resources.filter((r) => r.section === 'secrets').map((r) => (r.spec as { bundle?: string }).bundle).filter((b): b is string => typeof b === 'string'))];
  const servers = resources.filter((r) => r.section === 'mcp' && ((r.spec as McpSpec).env_from_secrets.length || Object.keys((r.spec as McpSpec).headers_from_secrets).length));
  if (!bundles.length || !servers.length) return [];
  const known = new Set<string>();
  const { readBundle, decodeBundle } = await import('../../providers/chit/bundle.js');
  for (const b of bundles) {
    try {
      for (const label of decodeBundle(await readBundle(b), b).keys()) known.add(label);
    } catch {
      return []; // the secrets kind reports a bad bundle itself
    }
  }
  const out: Diagnostic[] = [];
  for (const r of servers) {
    const s = r.spec as McpSpec;
    const check = (label: string, at: (string | number)[]) => {
      if (!known.has(label)) {
        out.push({ severity: 'warning', address: r.address, summary: `${r.address}: CHIT label ${label} is in none of this manifest's bundles (${bundles.map((b) => path.basename(b)).join(', ')})`, location: r.origin ? undefined : ctx.locate(r.address, at) });
      }
    };
    s.env_from_secrets.forEach((l, i) => check(l, ['env_from_secrets', i]));
    for (const [h, l] of Object.entries(s.headers_from_secrets)) check(l, ['headers_from_secrets', h]);
  }
  return out;
}
