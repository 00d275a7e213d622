// Upstream's secrets manifest (pmoves/chit/secrets_manifest.yaml, version 1), read exactly as
// pmoves.tools.secrets_sync.load_manifest does, and the env files it derives from a CHIT bundle
// (build_outputs / write_env_files / report, and onboarding_helper's status text).
//
// Upstream's paths: REPO_ROOT is the folder holding `pmoves/`; `cgp_file` is relative to REPO_ROOT;
// target files are relative to PROJECT_ROOT = REPO_ROOT/pmoves. We find REPO_ROOT as the parent of
// the nearest folder named `pmoves` above the secrets manifest (upstream keeps it in pmoves/chit/),
// unless the caller names it.
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { UserError } from '../../core/errors.js';
import { MANIFEST_MAX_BYTES, displayPath, yamlData, type YamlSource } from '../../manifest/yaml-source.js';
import { readRegularFile } from '../../core/fs.js';
import { decodeBundle, readBundle } from './bundle.js';
import { CGP_SPEC } from './codec.js';
import { compareCodePoints } from './env-file.js';

export interface ManifestTarget {
  file: string;
  key: string;
}

export interface ManifestEntry {
  id: string;
  label: string;
  required: boolean;
  targets: ManifestTarget[];
}

export interface SecretsManifestFile {
  /** Absolute path of the manifest. */
  path: string;
  /** `cgp_file` as written (relative to the repository root). */
  cgpFile: string;
  entries: ManifestEntry[];
}

/** Python truthiness of a YAML value (bool(item.get("required", True))). */
function truthy(v: unknown): boolean {
  if (v === undefined) return true;
  if (v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export async function loadSecretsManifest(file: string): Promise<SecretsManifestFile> {
  const abs = path.resolve(file);
  const shown = displayPath(abs);
  let text: string;
  try {
    text = await readRegularFile(abs, MANIFEST_MAX_BYTES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file (expected an upstream secrets manifest, e.g. pmoves/chit/secrets_manifest.yaml)'
        : code === 'ENOTREG' || code === 'EFBIG' || code === 'EISDIR'
          ? (err as Error).message.slice(abs.length + 2)
          : `cannot read (${code})`;
    throw new UserError(`${shown}: ${why}`);
  }
  return parseSecretsManifest(abs, text);
}

export function parseSecretsManifest(abs: string, text: string): SecretsManifestFile {
  const shown = displayPath(abs);
  const lines = new LineCounter();
  // PyYAML's safe_load: YAML 1.1 (yes/no are booleans), a repeated key keeps the last value.
  const doc = parseDocument(text, { lineCounter: lines, version: '1.1', uniqueKeys: false, prettyErrors: false });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${shown}:${line}:${col}`;
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new UserError(`${at(e.pos[0])}: invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const locate = (p: (string | number)[]): string => {
    let node: unknown = doc.contents;
    let best = (node as Node | null)?.range?.[0] ?? 0;
    for (const seg of p) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        node = pair.value;
        best = (pair.value as Node | null)?.range?.[0] ?? (pair.key as Node).range?.[0] ?? best;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        best = (node as Node | null)?.range?.[0] ?? best;
      } else break;
    }
    return at(best);
  };
  const bad = (p: (string | number)[], msg: string): never => {
    throw new UserError(`${locate(p)}: ${msg}`);
  };

  const js = yamlData({ doc, lines, display: shown } as unknown as YamlSource);
  if (js.diagnostics.length) throw new UserError(`${js.diagnostics[0]!.location}: ${js.diagnostics[0]!.summary}`);
  const data = js.value;
  if (!isMapping(data)) bad([], 'Manifest must be a mapping');
  const m = data as Record<string, unknown>;
  if (m.version !== 1) bad(['version'], `Unsupported manifest version (expected version: 1)`);

  let defaults: ManifestTarget[] = [];
  if (isMapping(m.defaults) && Array.isArray(m.defaults.targets)) {
    defaults = m.defaults.targets.map((t, i) => parseTarget(t, ['defaults', 'targets', i], bad));
  }
  if (typeof m.cgp_file !== 'string') bad(['cgp_file'], "Manifest missing 'cgp_file' (the CHIT bundle, relative to the repository root)");
  if (!Array.isArray(m.entries)) bad(['entries'], "Manifest 'entries' must be a list");

  const entries: ManifestEntry[] = [];
  (m.entries as unknown[]).forEach((item, i) => {
    if (!isMapping(item)) return; // upstream skips them
    const id = item.id;
    const source = item.source ?? {};
    if (typeof id !== 'string') bad(['entries', i, 'id'], 'Entry missing id');
    if (!isMapping(source)) bad(['entries', i, 'source'], `Entry ${id as string} missing source mapping`);
    const src = source as Record<string, unknown>;
    if (src.type !== 'cgp') bad(['entries', i, 'source', 'type'], `Entry ${id as string} uses unsupported source (expected type: cgp)`);
    if (typeof src.label !== 'string') bad(['entries', i, 'source', 'label'], `Entry ${id as string} missing source label`);
    let targets: ManifestTarget[];
    if (Array.isArray(item.targets) && item.targets.length) targets = item.targets.map((t, j) => parseTarget(t, ['entries', i, 'targets', j], bad));
    else targets = [...defaults];
    if (!targets.length) bad(['entries', i], `Entry ${id as string} has no targets`);
    entries.push({ id: id as string, label: src.label as string, required: truthy(item.required), targets });
  });
  return { path: abs, cgpFile: m.cgp_file as string, entries };
}

function parseTarget(t: unknown, where: (string | number)[], bad: (p: (string | number)[], msg: string) => never): ManifestTarget {
  if (!isMapping(t)) bad(where, 'Target must be a mapping');
  const o = t as Record<string, unknown>;
  if (typeof o.file !== 'string' || !o.file) bad([...where, 'file'], 'Target missing file');
  const key = o.key ?? '';
  if (typeof key !== 'string' || !key) bad([...where, 'key'], 'Target missing key');
  return { file: o.file as string, key: key as string };
}

/** Parent of the nearest folder named `pmoves` above the manifest, or null. */
export function detectRepoRoot(manifestPath: string): string | null {
  let dir = path.dirname(path.resolve(manifestPath));
  for (;;) {
    if (path.basename(dir) === 'pmoves') return path.dirname(dir);
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

export interface BuiltOutputs {
  /** file → (key → value), files in first-written order as upstream's defaultdict. */
  outputs: Map<string, Map<string, string>>;
  /** Required labels the bundle lacks, in entry order. */
  missing: string[];
}

/** build_outputs(strict=False): later entries overwrite earlier ones for the same file and key. */
export function buildOutputs(secrets: Map<string, string>, entries: ManifestEntry[]): BuiltOutputs {
  const outputs = new Map<string, Map<string, string>>();
  const missing: string[] = [];
  for (const e of entries) {
    if (!secrets.has(e.label)) {
      if (e.required) missing.push(e.label);
      continue;
    }
    const value = secrets.get(e.label)!;
    for (const t of e.targets) {
      if (!outputs.has(t.file)) outputs.set(t.file, new Map());
      outputs.get(t.file)!.set(t.key, value);
    }
  }
  return { outputs, missing };
}

/** secrets_sync.report: "<file>: <n> entries", files sorted. */
export function reportOutputs(outputs: Map<string, Map<string, string>>): string {
  return [...outputs.keys()]
    .sort(compareCodePoints)
    .map((f) => `${f}: ${outputs.get(f)!.size} entries`)
    .join('\n');
}

/** decode_secret_map(load_cgp(path)) with upstream's checks on `spec` and `super_nodes`. */
export async function readBundleStrict(file: string): Promise<Map<string, string>> {
  const b = await readBundle(file);
  const where = displayPath(file);
  if (b && typeof b === 'object' && !Array.isArray(b) && b.spec !== CGP_SPEC) {
    throw new UserError(`${where}: unsupported CGP spec ${JSON.stringify(b.spec ?? null)} (expected "${CGP_SPEC}")`);
  }
  if (b && typeof b === 'object' && (!Array.isArray(b.super_nodes) || !b.super_nodes.length)) throw new UserError(`${where}: CGP missing super_nodes`);
  return decodeBundle(b, file);
}

/** Path relative to root when inside it (upstream prints Path.relative_to(REPO_ROOT)), else absolute. */
export function relativeTo(root: string, p: string): string {
  const rel = path.relative(root, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

export interface StatusInput {
  manifestPath: string;
  cgpPath: string;
  repoRoot: string;
  entries: ManifestEntry[];
  secrets: Map<string, string>;
}

/** onboarding_helper status, line for line. */
export function statusText(s: StatusInput): string {
  const { outputs, missing } = buildOutputs(s.secrets, s.entries);
  const out = [
    `Manifest: ${relativeTo(s.repoRoot, s.manifestPath)}`,
    `CGP file: ${relativeTo(s.repoRoot, s.cgpPath)}`,
    `Entries defined: ${s.entries.length}`,
    `Secrets decoded: ${s.secrets.size}`,
    'Planned outputs:',
  ];
  for (const f of [...outputs.keys()].sort(compareCodePoints)) out.push(`  - ${f}: ${outputs.get(f)!.size} variables`);
  const sorted = [...missing].sort(compareCodePoints);
  out.push('Missing required labels:' + (sorted.length ? '\n  - ' + sorted.join('\n  - ') : 'None'));
  if (sorted.length) {
    out.push('\nAdd the missing labels to the CHIT bundle defined in pmoves/chit/secrets_manifest.yaml or relax `required: true` for optional keys.');
  }
  return out.join('\n') + '\n';
}

/** onboarding_helper generate's refusal text when required labels are missing. */
export function missingText(missing: string[]): string {
  return ['Cannot generate env files; required secrets missing:', ...[...missing].sort(compareCodePoints).map((l) => `  - ${l}`), 'Update the CHIT payload before rerunning.'].join('\n') + '\n';
}
