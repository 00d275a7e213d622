// `crush setup`: write pmoves' entries into Crush's config, one entry at a time, through the MCP kind's
// JSON editor (the same file and the same editor as `mcp:` resources with client crush). An entry is
// pmoves' when it is absent, equal to what pmoves would write, or unchanged since pmoves last wrote
// it (a digest in $PMOVES_HOME/crush-owned.json); anything else is the user's and stays as it is
// unless --force. Entries pmoves wrote and no longer wants (a key removed) are removed.
import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { readFileOrNull, readJsonOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';
import { ConfigSyntaxError, editJsonEntry, readJsonEntry, sameJson } from '../providers/mcp/json-edit.js';
import { buildCrushConfig, crushEntries, crushJsonText, ENV_FILES, parseEnvLoose, type CrushConfig } from './crush-config.js';

type Owned = Record<string, Record<string, string>>;

const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(canonical(v))).digest('hex');

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

/** Where upstream reads keys from after the environment: `pmoves/` under the folder given, or it. */
export function envDirFor(dir: string): string {
  const sub = path.join(dir, 'pmoves');
  return existsSync(sub) && statSync(sub).isDirectory() ? sub : dir;
}

export async function crushFromEnv(env: NodeJS.ProcessEnv, envDir: string): Promise<CrushConfig> {
  const { whichSync } = await import('../providers/mcp/probe.js');
  const files: Map<string, string>[] = [];
  for (const f of ENV_FILES) {
    const text = await readFileOrNull(path.join(envDir, f));
    if (text !== null) files.push(parseEnvLoose(text));
  }
  return buildCrushConfig({
    lookup: (name) => env[name] || files.map((m) => m.get(name)).find((v) => v) || undefined,
    which: (cmd) => whichSync(cmd, env) !== null,
  });
}

export function crushConfigPath(env: NodeJS.ProcessEnv, given?: string): string {
  if (given) return path.resolve(given);
  const xdg = env.XDG_CONFIG_HOME || path.join(env.HOME || process.env.HOME || '', '.config');
  return path.join(env.CRUSH_GLOBAL_CONFIG || path.join(xdg, 'crush'), 'crush.json');
}

export interface CrushSetupResult {
  path: string;
  changed: boolean;
  written: string[];
  removed: string[];
  kept: string[];
  providers: string[];
}

export async function crushSetup(home: Home, file: string, built: CrushConfig, force: boolean): Promise<CrushSetupResult> {
  const ownedFile = path.join(home.root, 'crush-owned.json');
  const owned: Owned = (await readJsonOrNull<Owned>(ownedFile)) ?? {};
  const mine = owned[file] ?? {};
  const before = await readFileOrNull(file);
  const res: CrushSetupResult = { path: file, changed: false, written: [], removed: [], kept: [], providers: built.providers };
  const entries = crushEntries(built.config);
  let text: string;
  const next: Record<string, string> = {};
  if (before === null) {
    text = crushJsonText(built.config);
    for (const e of entries) (next[`${e.key}.${e.name}`] = digest(e.value)), res.written.push(`${e.key}.${e.name}`);
  } else {
    text = before;
    try {
      for (const e of entries) {
        const id = `${e.key}.${e.name}`;
        const cur = readJsonEntry(text, e.key, e.name).entry;
        if (cur !== undefined && sameJson(cur, e.value)) {
          next[id] = digest(e.value);
          continue;
        }
        if (cur !== undefined && mine[id] !== digest(cur) && !force) {
          res.kept.push(id);
          continue;
        }
        text = editJsonEntry(text, e.key, e.name, e.value);
        next[id] = digest(e.value);
        res.written.push(id);
      }
      for (const [id, d] of Object.entries(mine)) {
        if (id in next) continue;
        const dot = id.indexOf('.');
        const [key, name] = [id.slice(0, dot), id.slice(dot + 1)];
        const cur = readJsonEntry(text, key, name).entry;
        if (cur !== undefined && digest(cur) === d) {
          text = editJsonEntry(text, key, name, undefined);
          res.removed.push(id);
        }
      }
    } catch (err) {
      if (err instanceof ConfigSyntaxError) throw new UserError(`${file}:${err.line}:${err.column}: ${err.message} (expected Crush's JSON config; nothing was changed)`);
      throw err;
    }
  }
  if (text !== before) {
    await writeFileAtomic(file, text);
    res.changed = true;
  }
  if (JSON.stringify(canonical(next)) !== JSON.stringify(canonical(mine))) {
    owned[file] = next;
    await writeFileAtomic(ownedFile, JSON.stringify(owned, null, 2) + '\n', { mode: 0o600 });
  }
  return res;
}

/** Upstream's `config_status`: path, whether the file exists, its provider ids. */
export async function crushStatus(file: string): Promise<{ path: string; exists: boolean; providers: string[] }> {
  // a folder (or an unreadable file) exists with no providers, as upstream reports it
  let text: string | null;
  try {
    text = await readFileOrNull(file);
  } catch {
    return { path: file, exists: true, providers: [] };
  }
  if (text === null) return { path: file, exists: false, providers: [] };
  let providers: string[] = [];
  try {
    // JSONC, as `setup` keeps it (comments, trailing commas)
    const errors: ParseError[] = [];
    const data = parseJsonc(text, errors, { allowTrailingComma: true }) as { providers?: Record<string, unknown> };
    if (errors.length) throw new Error('not JSON');
    providers = data && typeof data.providers === 'object' && data.providers ? Object.keys(data.providers) : [];
  } catch {
    providers = [];
  }
  return { path: file, exists: true, providers };
}
