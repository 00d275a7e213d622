// The catalog of known MCP servers (profiles/mcp/<id>.yaml): upstream's ids (docker, compose, host, n8n)
// mapped to real commands, plus the npm reference servers. A profile's `mcp: [docker, host]` and a
// manifest entry's `from: docker` both expand through here.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Kind, LoadContext } from '../../core/kind.js';
import { profilesDir } from '../../core/paths.js';
import type { Diagnostic, Resource } from '../../core/types.js';
import { upstreamCheckout } from '../../upstream/checkout.js';

export interface CatalogEntry {
  id: string;
  name: string;
  required_commands: string[];
  setup_instructions: string[];
  /** The spec fields (command/args or url/transport/headers, timeout, env_from_secrets…). */
  server: Record<string, unknown>;
  file: string;
}

export const catalogDir = path.join(profilesDir, 'mcp');

/** The catalog upstream's `mcp list|health|setup` read: inside an upstream checkout its own
 *  pmoves/config/mcp (entries without a `server:`), else this package's. */
export function cliCatalogDir(): string {
  const checkout = upstreamCheckout();
  const dir = checkout ? path.join(checkout, 'pmoves', 'config', 'mcp') : null;
  return dir && existsSync(dir) ? dir : catalogDir;
}

const cache = new Map<string, Promise<CatalogEntry | null>>();

/** One catalog entry, or null when there is no such id. Throws on a malformed catalog file. */
export function catalogEntry(id: string, dir = catalogDir): Promise<CatalogEntry | null> {
  const key = `${dir}\0${id}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(id)) return null;
      const file = path.join(dir, `${id}.yaml`);
      let text: string;
      try {
        text = await fsp.readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      const { parse } = await import('yaml');
      const data = parse(text) as Record<string, unknown>;
      if (!data || typeof data !== 'object' || data.id !== id || (typeof data.server !== 'object' && dir === catalogDir)) {
        throw new Error(`${file}: expected a catalog entry with id: ${id} and a server: map`);
      }
      return {
        id,
        name: String(data.name ?? id),
        required_commands: (data.required_commands as string[] | undefined) ?? [],
        setup_instructions: (data.setup_instructions as string[] | undefined) ?? [],
        server: (data.server ?? {}) as Record<string, unknown>,
        file,
      };
    })();
    cache.set(key, p);
  }
  return p;
}

export async function catalogIds(dir = catalogDir): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
  } catch {
    return [];
  }
}

/** The raw spec a catalog entry stands for, with the user's own keys (if any) on top. */
export function catalogSpec(entry: CatalogEntry, given: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: entry.name,
    required_commands: entry.required_commands,
    ...entry.server,
    ...given,
    from: entry.id,
    setup_instructions: entry.setup_instructions,
  };
}

/**
 * Catalog ids → full `mcp.<id>` resources (normalised by the mcp kind, `origin` set). Called by the
 * profile expander for a profile's `mcp:` list. Unknown ids are error diagnostics.
 */
export async function catalogResources(ids: string[], origin: string, ctx: LoadContext, kinds: Kind[]): Promise<{ resources: Resource[]; diagnostics: Diagnostic[] }> {
  const kind = kinds.find((k) => k.section === 'mcp');
  const resources: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  if (!kind) return { resources, diagnostics: [{ severity: 'error', summary: 'the mcp kind is not registered' }] };
  for (const id of ids) {
    const entry = await catalogEntry(id);
    if (!entry) {
      diagnostics.push({ severity: 'error', address: `mcp.${id}`, summary: `${origin}: no MCP server "${id}" in the catalog (known: ${(await catalogIds()).join(', ')})` });
      continue;
    }
    resources.push({ address: `mcp.${id}`, section: 'mcp', name: id, spec: kind.normalize(catalogSpec(entry), id, ctx), dependsOn: [], origin });
  }
  return { resources, diagnostics };
}
