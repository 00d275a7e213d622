// The env bootstrap of upstream's `bootstrap` (pmoves/scripts/bootstrap_env.py): a registry of
// services and their variables → env files, keeping values that are set, filling the rest from
// inherit/defaults/generators (or prompts), and rewriting a file only when a value changed. No
// function here returns or prints a value: the caller sees keys and files only.
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs.js';

export interface RegistryVar {
  key: string;
  file: string;
  required?: boolean;
  sensitive?: boolean;
  default?: string | number | boolean;
  generate?: { type: string; length?: number; words?: number };
  inherit?: string | { file?: string; key?: string };
  type?: string;
  prompt?: string;
  help?: string;
}
export interface Registry {
  version: 1;
  services: { id: string; name?: string; variables?: RegistryVar[] }[];
}

export function defaultRegistryPath(root: string): string {
  return path.join(root, 'pmoves', 'bootstrap', 'registry.json');
}

/** Read and check a registry; bad input → file:line:column and what was expected. */
export function loadRegistry(file: string): Registry {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`${file}: no such file (expected a bootstrap registry JSON: {"version": 1, "services": [...]})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const pos = m ? Number(m[1]) : 0;
    const before = text.slice(0, pos).split('\n');
    throw new UserError(`${file}:${before.length}:${before[before.length - 1]!.length + 1}: expected JSON (${(err as Error).message.replace(/ in JSON at position \d+.*$/, '')})`);
  }
  const locate = (needle: string) => {
    const i = Math.max(0, text.indexOf(needle));
    const before = text.slice(0, i).split('\n');
    return `${file}:${before.length}:${before[before.length - 1]!.length + 1}`;
  };
  const r = data as Registry;
  if (!r || typeof r !== 'object' || r.version !== 1) throw new UserError(`${locate('"version"')}: expected "version": 1 (the only bootstrap registry version)`);
  if (!Array.isArray(r.services)) throw new UserError(`${locate('"services"')}: expected "services" to be a list`);
  for (const s of r.services) {
    if (!s || typeof s.id !== 'string') throw new UserError(`${locate('"services"')}: expected every service to have an "id" string`);
    for (const v of s.variables ?? []) {
      if (!v || typeof v.key !== 'string' || typeof v.file !== 'string') throw new UserError(`${locate(`"id": "${s.id}"`)}: service ${s.id}: expected every variable to have "key" and "file" strings`);
      if (path.isAbsolute(v.file) || v.file.split(/[\\/]/).includes('..')) throw new UserError(`${locate(`"${v.key}"`)}: ${v.key}: expected "file" relative to the repository root, inside it (got ${v.file})`);
    }
  }
  return r;
}

export function selectServices(reg: Registry, ids: string[]): Registry['services'] {
  if (!ids.length) return reg.services;
  const missing = ids.filter((id) => !reg.services.some((s) => s.id === id));
  if (missing.length) throw new UserError(`Unknown service id(s): ${[...new Set(missing)].sort().join(', ')} (known: ${reg.services.map((s) => s.id).join(', ')})`);
  return reg.services.filter((s) => ids.includes(s.id));
}

export function generateValue(spec: RegistryVar['generate']): string | null {
  if (!spec?.type) return null;
  if (spec.type === 'random_hex') {
    let n = Number(spec.length ?? 32);
    if (n % 2) n++;
    return randomBytes(n / 2).toString('hex');
  }
  if (spec.type === 'random_urlsafe') {
    const n = Number(spec.length ?? 32);
    return randomBytes(n).toString('base64url').slice(0, n);
  }
  if (spec.type === 'passphrase') {
    const words = Number(spec.words ?? 4);
    const a = 'abcdefghijklmnopqrstuvwxyz';
    return Array.from({ length: words }, () => Array.from({ length: 5 }, () => a[randomInt(26)]).join('')).join('-');
  }
  return null;
}

function matchesSpec(value: string, spec: RegistryVar['generate']): boolean {
  if (!value || !spec || spec.type !== 'random_hex') return true;
  return value.length === Number(spec.length ?? 32) && /^[0-9a-fA-F]+$/.test(value);
}

/** Check a typed value as upstream does; null when it is acceptable. */
export function invalidReason(value: string, v: RegistryVar): string | null {
  if (value === '' && !v.required) return null;
  const t = v.type ?? 'string';
  if (t === 'url' || (t === 'url_optional' && value)) {
    try {
      const u = new URL(value);
      return u.protocol && u.host ? null : 'Provide a full URL (e.g. http://localhost:65421/rest/v1).';
    } catch {
      return 'Provide a full URL (e.g. http://localhost:65421/rest/v1).';
    }
  }
  if (t === 'int') return /^[+-]?\d+$/.test(value.trim()) ? null : 'Enter a valid integer.';
  if (t === 'bool') return /^(true|t|yes|y|1|false|f|no|n|0)$/i.test(value) ? null : 'Enter true/false or y/n';
  return null;
}

export function normalizeValue(value: string, v: RegistryVar): string {
  if (v.type === 'bool') return /^(true|t|yes|y|1)$/i.test(value) ? 'true' : 'false';
  if (v.type === 'int') return String(parseInt(value, 10));
  return value;
}

const HEADER = '# Managed by pmoves/scripts/bootstrap_env.py';

/** One env file as upstream's EnvFile: original entries, comments, the keys this run manages. */
class EnvFile {
  original = new Map<string, string>();
  comments: string[] = [];
  managed = new Map<string, string>();
  text = '';
  constructor(
    readonly file: string,
    readonly mode = 0o600,
  ) {
    if (!existsSync(file)) return;
    this.text = readFileSync(file, 'utf8');
    for (const line of this.text.split(/\r?\n/)) {
      const t = line.trim();
      if (!t || t.startsWith(HEADER) || t.startsWith('# Generated at ') || t.startsWith('# Preserved entries (not managed by bootstrap)')) continue;
      if (t.startsWith('#') || !line.includes('=')) {
        this.comments.push(line);
        continue;
      }
      const i = line.indexOf('=');
      this.original.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
  }
  get(key: string, depth = 0): string | null {
    const raw = this.managed.get(key) ?? this.original.get(key);
    if (raw === undefined) return null;
    const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(raw.trim());
    if (!m) return raw;
    if (depth > 4 || m[1] === key) return null;
    const ref = this.get(m[1]!, depth + 1);
    return ref === '' ? null : ref;
  }
  set(key: string, value: string): void {
    this.managed.set(key, value);
  }
  render(stamp: string): string {
    const lines = [HEADER, stamp, ''];
    for (const [k, v] of this.managed) lines.push(`${k}=${v}`);
    const preserved = [...this.original].filter(([k]) => !this.managed.has(k)).map(([k, v]) => `${k}=${v}`);
    if (preserved.length || this.comments.length) lines.push('', '# Preserved entries (not managed by bootstrap):', ...preserved, ...this.comments);
    return lines.join('\n').trimEnd() + '\n';
  }
  /** Writes (0600 unless --mode) only when a value changed; the timestamp alone is never a change. */
  async write(): Promise<boolean> {
    if (!this.managed.size) return false;
    const strip = (t: string) => t.split('\n').filter((l) => !l.startsWith('# Generated at ')).join('\n');
    if (strip(this.render('# Generated at ')) === strip(this.text)) return false;
    await writeFileAtomic(this.file, this.render(`# Generated at ${new Date().toISOString()}`), { mode: this.mode });
    return true;
  }
}

export interface Asker {
  /** Ask for one value; `hidden` for sensitive ones. Returns '' for "keep the default". */
  ask(service: string, v: RegistryVar, hint: string | null, hidden: boolean): Promise<string>;
}

export interface BootstrapResult {
  updated: string[];
  incomplete: { service: string; key: string }[];
  regenerated: { file: string; key: string }[];
}

export async function bootstrapEnv(root: string, services: Registry['services'], acceptDefaults: boolean, asker: Asker | null, env: NodeJS.ProcessEnv = process.env, mode = 0o600): Promise<BootstrapResult> {
  const files = new Map<string, EnvFile>();
  const fileOf = (rel: string) => {
    let f = files.get(rel);
    if (!f) files.set(rel, (f = new EnvFile(path.join(root, rel), mode)));
    return f;
  };
  const res: BootstrapResult = { updated: [], incomplete: [], regenerated: [] };
  const inherit = (v: RegistryVar): string | null => {
    if (!v.inherit) return null;
    if (typeof v.inherit === 'string') return env[v.inherit] || null;
    if (v.inherit.file && v.inherit.key) return fileOf(v.inherit.file).get(v.inherit.key) || null;
    return null;
  };
  for (const s of services) {
    const name = s.name ?? s.id;
    for (const v of s.variables ?? []) {
      const f = fileOf(v.file);
      let existing = f.get(v.key);
      if (existing && v.generate && !matchesSpec(existing, v.generate)) {
        res.regenerated.push({ file: v.file, key: v.key });
        existing = null;
        f.set(v.key, '');
      }
      let dflt: string | null = existing || inherit(v) || (v.default !== undefined && v.default !== null && v.default !== '' ? String(v.default) : null);
      const generated = !existing && v.generate ? generateValue(v.generate) : null;
      const hint = existing ? 'current' : dflt ? 'default' : generated ? 'auto-generated' : null;
      if (!dflt && generated) dflt = generated;
      let value: string;
      if (acceptDefaults || !asker) {
        if (dflt) value = normalizeValue(dflt, v);
        else if (!v.required) value = '';
        else {
          res.incomplete.push({ service: name, key: v.key });
          continue;
        }
      } else {
        for (;;) {
          let raw = await asker.ask(name, v, hint, Boolean(v.sensitive));
          if (!raw) {
            if (dflt) raw = dflt;
            else if (v.required) {
              process.stdout.write('  → This value is required. Please enter a value.\n');
              continue;
            }
          }
          const why = invalidReason(raw, v);
          if (why) {
            process.stdout.write(`  → ${why}\n`);
            continue;
          }
          value = normalizeValue(raw, v);
          break;
        }
      }
      f.set(v.key, value);
    }
  }
  if (acceptDefaults && res.incomplete.length) return res;
  for (const [rel, f] of files) if (await f.write()) res.updated.push(rel);
  return res;
}
