// providers/hardware/ — this machine: what it is (detect), hardware profiles (this file) and `requires:`
// checks against it (requirements).
// Hardware profiles: loading (built-in profiles/, $PMOVES_HOME/profiles/, --profiles-dir), the active
// profile pin ($PMOVES_HOME/profile.yaml, or upstream's profile.json), and scoring against the machine.
// Loading returns values (profiles + diagnostics with file:line:column), never throws for bad input.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { readFileOrNull, readRegularFile, writeFileAtomic } from '../../core/fs.js';
import type { Home } from '../../core/home.js';
import { profilesDir as builtinDir } from '../../core/paths.js';
import type { Diagnostic } from '../../core/types.js';
import { closest, levenshtein, validate } from '../../manifest/schema.js';
import { MANIFEST_MAX_BYTES, displayPath, parseYamlText, yamlData } from '../../manifest/yaml-source.js';
import type { MachineFacts } from './detect.js';
import { checkRequires, fmtGb, SLACK, type Requires } from './requirements.js';
import { upstreamCheckout } from '../../upstream/checkout.js';

export interface ProfileHardware {
  cpu?: { vendor?: string; model?: string; cores?: number; threads?: number };
  gpu?: { type?: string; models?: string[]; memory_gb?: number };
  ram_gb?: number;
  tags?: string[];
}

export interface Profile {
  id: string;
  name: string;
  description: string;
  hardware: ProfileHardware;
  compose_overrides: string[];
  model_bundles: string[];
  mcp: string[];
  messaging: Record<string, boolean | 'optional'>;
  notes: string[];
  chit_scope: { include_labels?: string[] };
  /** As written; `effectiveRequires` derives one from `hardware` when absent. */
  requires?: Requires;
  /** Where it was loaded from. */
  file: string;
  origin: 'builtin' | 'user';
  /** `file:line:column` of the id, for messages. */
  location: string;
}

export interface ProfileSet {
  /** By id; a user profile replaces a built-in one with the same id. */
  profiles: Map<string, Profile>;
  diagnostics: Diagnostic[];
  dirs: string[];
}

export interface ProfileDirs {
  env: NodeJS.ProcessEnv;
  home: Home;
}

/** Built-in (inside an upstream checkout: its pmoves/config/profiles, as upstream reads them), then
 *  $PMOVES_HOME/profiles, then $PMOVES_PROFILES_DIR (set by --profiles-dir): later wins. */
export function profileDirs(o: ProfileDirs): { dir: string; origin: 'builtin' | 'user'; required: boolean }[] {
  const checkout = upstreamCheckout();
  const checkoutDir = checkout ? path.join(checkout, 'pmoves', 'config', 'profiles') : null;
  const dirs: { dir: string; origin: 'builtin' | 'user'; required: boolean }[] = [
    { dir: checkoutDir && existsSync(checkoutDir) ? checkoutDir : builtinDir, origin: 'builtin', required: true },
    { dir: path.join(o.home.root, 'profiles'), origin: 'user', required: false },
  ];
  if (o.env.PMOVES_PROFILES_DIR) dirs.push({ dir: path.resolve(o.env.PMOVES_PROFILES_DIR), origin: 'user', required: true });
  return dirs;
}

export async function loadProfiles(o: ProfileDirs): Promise<ProfileSet> {
  const set: ProfileSet = { profiles: new Map(), diagnostics: [], dirs: [] };
  for (const { dir, origin, required } of profileDirs(o)) {
    let names: string[];
    try {
      names = (await fsp.readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && /\.ya?ml$/.test(e.name)).map((e) => e.name).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (required || code !== 'ENOENT') {
        set.diagnostics.push({ severity: 'error', summary: `profiles folder: ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : `cannot read (${code})`}`, location: displayPath(dir) });
      }
      continue;
    }
    set.dirs.push(dir);
    const seen = new Map<string, string>();
    for (const name of names) {
      const r = await loadProfileFile(path.join(dir, name), origin);
      set.diagnostics.push(...r.diagnostics);
      if (!r.profile) continue;
      const prev = seen.get(r.profile.id);
      if (prev) {
        set.diagnostics.push({ severity: 'error', summary: `id: profile "${r.profile.id}" is already defined in ${prev}`, location: r.profile.location });
        continue;
      }
      seen.set(r.profile.id, displayPath(r.profile.file));
      set.profiles.set(r.profile.id, r.profile);
    }
  }
  return set;
}

export async function loadProfileFile(file: string, origin: 'builtin' | 'user'): Promise<{ profile?: Profile; diagnostics: Diagnostic[] }> {
  let text: string;
  try {
    text = await readRegularFile(file, MANIFEST_MAX_BYTES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOTREG' || code === 'EFBIG' ? (err as Error).message.slice(file.length + 2) : `cannot read the profile (${code})`;
    return { diagnostics: [{ severity: 'error', summary: why, location: displayPath(file) }] };
  }
  const { source, diagnostics } = parseYamlText(file, text);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const js = yamlData(source);
  if (js.diagnostics.length) return { diagnostics: js.diagnostics };
  const data = js.value;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { diagnostics: [{ severity: 'error', summary: `expected a profile (a map with id, name, hardware, …), got ${data === null || data === undefined ? 'an empty document' : Array.isArray(data) ? 'a list' : typeof data}`, location: source.locate([]) }] };
  }
  const errs = validate('profile.schema.json', data, source);
  if (errs.length) return { diagnostics: [...diagnostics, ...errs] };
  const d = data as Record<string, any>;
  return {
    diagnostics,
    profile: {
      id: d.id,
      name: d.name ?? d.id,
      description: (d.description ?? '').trim(),
      hardware: d.hardware ?? {},
      compose_overrides: d.compose_overrides ?? [],
      model_bundles: d.model_bundles ?? [],
      mcp: d.mcp ?? [],
      messaging: d.messaging ?? {},
      notes: ((d.notes ?? []) as unknown[]).map(noteText),
      chit_scope: d.chit_scope ?? {},
      ...(d.requires ? { requires: d.requires as Requires } : {}),
      file,
      origin,
      location: source.locate(['id']),
    },
  };
}

/** A note is text; `- Preferred set: Mixtral` parses as a one-key map, shown as it was written. */
function noteText(n: unknown): string {
  if (typeof n === 'string') return n;
  if (n && typeof n === 'object') return Object.entries(n as Record<string, unknown>).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ');
  return String(n);
}

/** A "no such profile" message with a guess. */
export function unknownProfile(id: string, set: ProfileSet): string {
  const ids = [...set.profiles.keys()].sort();
  const guess = closest(id, ids);
  return `no profile "${id}"` + (guess ? ` (did you mean "${guess}"?)` : '') + `; known: ${ids.join(', ') || '(none)'}`;
}

// ---- the active profile pin ------------------------------------------------------------------------

export interface Pin {
  id: string | null;
  file: string | null;
  problem?: string;
}

/** `$PMOVES_HOME/profile.yaml` (`profile: ID`), else upstream's `profile.json` (`{"profile": ID}`). */
export async function readPin(home: Home): Promise<Pin> {
  const yamlFile = path.join(home.root, 'profile.yaml');
  const y = await readFileOrNull(yamlFile);
  if (y !== null) {
    try {
      const v = parseYaml(y) as { profile?: unknown } | null;
      if (v && typeof v.profile === 'string' && v.profile) return { id: v.profile, file: yamlFile };
    } catch {
      // fall through to the problem below
    }
    return { id: null, file: yamlFile, problem: `${displayPath(yamlFile)}: expected "profile: <id>"` };
  }
  const jsonFile = path.join(home.root, 'profile.json');
  const j = await readFileOrNull(jsonFile);
  if (j !== null) {
    try {
      const v = JSON.parse(j) as { profile?: unknown } | null;
      if (v && typeof v.profile === 'string' && v.profile) return { id: v.profile, file: jsonFile };
    } catch {
      // fall through
    }
    return { id: null, file: jsonFile, problem: `${displayPath(jsonFile)}: expected {"profile": "<id>"}` };
  }
  return { id: null, file: null };
}

export async function writePin(home: Home, id: string): Promise<string> {
  const file = path.join(home.root, 'profile.yaml');
  const body = `# Written by \`pmoves mini profile apply\`. The active hardware profile of this machine;\n# a manifest with \`profile: auto\` uses it instead of detecting.\n${stringifyYaml({ profile: id, applied_at: new Date().toISOString() })}`;
  await writeFileAtomic(file, body);
  // Upstream's mini_cli reads profile.json: when one is there, keep it in agreement (its own format).
  const json = path.join(home.root, 'profile.json');
  if ((await readFileOrNull(json)) !== null) await writeFileAtomic(json, JSON.stringify({ profile: id }, null, 2));
  return file;
}

// ---- scoring ---------------------------------------------------------------------------------------

export interface Evidence {
  /** Points added or taken; null for a requirement the machine does not meet (disqualifying). */
  points: number | null;
  text: string;
}

export interface Ranked {
  profile: Profile;
  score: number;
  /** Every requirement is met (or could not be checked). */
  eligible: boolean;
  evidence: Evidence[];
  unmet: string[];
  unknown: string[];
}

/** The requirement of what a profile brings: its `requires`, else what its hardware block implies. */
export function effectiveRequires(p: Profile): Requires {
  if (p.requires) return p.requires;
  const r: Requires = {};
  const h = p.hardware;
  const tags = h.tags ?? [];
  if (h.gpu?.type === 'nvidia' || h.gpu?.type === 'nvidia-tegra') r.gpu = h.gpu.type;
  if (typeof h.gpu?.memory_gb === 'number' && h.gpu.memory_gb > 0) r.vram_gb = `>=${h.gpu.memory_gb}`;
  if (typeof h.ram_gb === 'number' && h.ram_gb > 0 && !tags.includes('microcontroller')) r.ram_gb = `>=${h.ram_gb}`;
  if (tags.includes('arm64')) r.arch = 'arm64';
  if (tags.includes('microcontroller')) r.tags = ['esp32'];
  return r;
}

/** Lower-cased, ™/® and "(TM)" dropped, punctuation to spaces. */
export function normBrand(s: string): string {
  return s
    .toLowerCase()
    .replace(/\((r|tm|c)\)|®|™/g, ' ')
    .replace(/[^a-z0-9.+-]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A profile's model name: "Core i9 (13th gen+)" → "core i9" (the parenthesis is a remark). */
export function normModel(s: string): string {
  return normBrand(s.replace(/\([^)]*\)/g, ' '));
}

function tokens(s: string): string[] {
  return s.split(/[\s-]+/).filter(Boolean);
}

/** "9950xd" ~ "9950x3d": same model number, one letter more or less (a suffix typo, not another model:
 *  "4090" and "4060" differ in the number, so they never match). */
function nearModelNumber(a: string, b: string): boolean {
  const num = (s: string) => /^\d+/.exec(s)?.[0] ?? '';
  return /\d/.test(a) && a.length >= 4 && num(a) !== '' && num(a) === num(b) && a.length !== b.length && levenshtein(a, b) <= 1;
}

/** exact: the model's words appear in order; near: every word appears, model numbers up to a suffix typo. */
export function nameMatch(model: string, brand: string): 'exact' | 'near' | null {
  const m = normModel(model);
  const b = normBrand(brand);
  if (!m) return null;
  const esc = m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (new RegExp(`(^|\\s)${esc}(?=$|[\\s-])`).test(b)) return 'exact';
  const bt = tokens(b);
  const ok = tokens(m).every((t) => bt.includes(t) || bt.some((x) => nearModelNumber(t, x)));
  return ok ? 'near' : null;
}

function vendorOf(machine: MachineFacts): string[] {
  const v: string[] = [];
  if (machine.cpu.vendor) v.push(machine.cpu.vendor.toLowerCase());
  if (machine.cpu.brand) v.push(normBrand(machine.cpu.brand));
  return v;
}

const q = (s: string) => JSON.stringify(s);

export function scoreProfile(p: Profile, m: MachineFacts): Ranked {
  const ev: Evidence[] = [];
  const add = (points: number, text: string) => ev.push({ points, text });
  const h = p.hardware;
  const tags = h.tags ?? [];
  const device = tags.includes('microcontroller');

  if (tags.includes('fallback')) add(1, 'fallback: runs on any machine');

  // An attached device (ESP32): only its presence counts; the host's CPU and RAM say nothing about it.
  if (device) {
    if (m.serial.length) {
      const d = m.serial[0]!;
      add(10, `ESP32 on ${d.port}: ${d.chip} (${d.vid}:${d.pid})${m.serial.length > 1 ? ` and ${m.serial.length - 1} more` : ''}`);
    }
  } else {
    if (h.cpu?.model && m.cpu.brand) {
      const hit = nameMatch(h.cpu.model, m.cpu.brand);
      if (hit === 'exact') add(5, `cpu ${q(h.cpu.model)} matches ${q(m.cpu.brand)}`);
      else if (hit === 'near') add(3, `cpu ${q(h.cpu.model)} nearly matches ${q(m.cpu.brand)}`);
    }
    if (h.cpu?.vendor) {
      const v = h.cpu.vendor.toLowerCase();
      if (vendorOf(m).some((x) => x === v || ` ${x} `.includes(` ${v} `) || x.includes(v))) add(2, `cpu vendor ${h.cpu.vendor}`);
    }
    const models = h.gpu?.models ?? [];
    let gpuHit = false;
    for (const model of models) {
      for (const g of m.gpu.devices) {
        const hit = nameMatch(model, g.name);
        if (hit && !gpuHit) {
          gpuHit = true;
          add(hit === 'exact' ? 5 : 3, `gpu ${q(model)} ${hit === 'exact' ? 'matches' : 'nearly matches'} ${q(g.name)}`);
        }
      }
    }
    if (!gpuHit && h.gpu?.type && h.gpu.type === m.gpu.type && m.gpu.devices.length) add(1, `gpu type ${h.gpu.type}: ${q(m.gpu.devices[0]!.name)}`);
    if (typeof h.gpu?.memory_gb === 'number' && m.gpu.vramGb !== null && (m.gpu.type === 'nvidia' || m.gpu.type === 'nvidia-tegra')) {
      if (m.gpu.vramGb * (1 + SLACK) >= h.gpu.memory_gb) add(1, `${fmtGb(m.gpu.vramGb)} GB VRAM (profile's GPU: ${fmtGb(h.gpu.memory_gb)} GB)`);
      else add(-1, `profile's GPU has ${fmtGb(h.gpu.memory_gb)} GB VRAM, found ${fmtGb(m.gpu.vramGb)} GB`);
    }
    if (typeof h.ram_gb === 'number' && m.ramGb !== null) {
      // less RAM than the profile's machine counts against it; more says little (servers have plenty)
      if (m.ramGb * (1 + SLACK) < h.ram_gb) add(-1, `profile's machine has ${fmtGb(h.ram_gb)} GB RAM, found ${fmtGb(m.ramGb)} GB`);
    }
    if (tags.includes('jetson') && m.jetson) add(10, `Jetson: ${m.jetson.model}${m.jetson.l4t ? ` (L4T ${m.jetson.l4t})` : ''}`);
    const ff = m.formFactor.kind;
    const wants = (['laptop', 'desktop', 'server'] as const).filter((t) => tags.includes(t));
    if (ff && wants.length) {
      if (wants.includes(ff)) add(2, `${ff} (${m.formFactor.source})`);
      else add(-5, `a ${wants.join('/')} profile; this machine is a ${ff} (${m.formFactor.source})`);
    }
  }

  const req = checkRequires(effectiveRequires(p), m);
  for (const u of req.unmet) ev.push({ points: null, text: u });
  const score = ev.reduce((s, e) => s + (e.points ?? 0), 0);
  return { profile: p, score, eligible: req.unmet.length === 0, evidence: ev, unmet: req.unmet, unknown: req.unknown };
}

/** Every profile, best first: those the machine can run, by score (the fallback last among equals), then the rest. */
export function rankProfiles(profiles: Iterable<Profile>, m: MachineFacts): Ranked[] {
  const all = [...profiles].map((p) => scoreProfile(p, m));
  const fallback = (r: Ranked) => ((r.profile.hardware.tags ?? []).includes('fallback') ? 1 : 0);
  return all.sort((a, b) => Number(b.eligible) - Number(a.eligible) || b.score - a.score || fallback(a) - fallback(b) || (a.profile.id < b.profile.id ? -1 : 1));
}

/** The best profile this machine can run (score > 0), if any. */
export function bestProfile(ranked: Ranked[]): Ranked | undefined {
  return ranked.find((r) => r.eligible && r.score > 0);
}

export function evidenceLine(e: Evidence): string {
  if (e.points === null) return `-  ${e.text}`;
  return `${e.points >= 0 ? '+' : ''}${e.points} ${e.text}`;
}

/** The facts `requires:` is checked against, on one line (for the plan's notes). */
export function machineLine(m: MachineFacts): string {
  const gpu =
    m.gpu.type === 'nvidia'
      ? m.gpu.devices.map((g) => `${g.name}${g.vramGb !== null ? ` (${fmtGb(g.vramGb)} GB)` : ''}`).join(', ')
      : m.gpu.type === 'nvidia-tegra'
        ? `Jetson (shared memory)`
        : m.gpu.type === 'unknown'
          ? `unknown (${m.gpu.problem})`
          : 'none';
  return `${m.cpu.brand ?? 'unknown CPU'}, ${m.ramGb !== null ? `${fmtGb(m.ramGb)} GB RAM` : 'RAM unknown'}, ${m.arch ?? 'arch unknown'}; GPU: ${gpu}; tags: ${m.tags.join(', ') || '(none)'}`;
}

/** One line about the machine: what detection saw. */
export function machineSummary(m: MachineFacts): string[] {
  const cpu = m.cpu.brand ? `${m.cpu.brand}${m.cpu.cores ? ` (${m.cpu.cores} cores, ${m.cpu.threads ?? '?'} threads)` : ''}` : 'unknown CPU';
  const parts = [cpu, m.ramGb !== null ? `${fmtGb(m.ramGb)} GB RAM` : 'RAM unknown', m.arch ?? m.archRaw ?? 'arch unknown'];
  if (m.formFactor.kind) parts.push(m.formFactor.kind);
  if (m.virtual) parts.push('virtual machine');
  if (m.os.name) parts.push(m.os.name);
  const lines = [`Machine: ${parts.join(', ')}`];
  if (m.jetson) lines.push(`Jetson: ${m.jetson.model}${m.jetson.l4t ? `, L4T ${m.jetson.l4t}` : ''}; GPU shares ${m.ramGb !== null ? fmtGb(m.ramGb) + ' GB' : 'the'} RAM`);
  else if (m.gpu.type === 'nvidia') lines.push(`GPU: ${m.gpu.devices.map((g) => `${g.name}${g.vramGb !== null ? ` (${fmtGb(g.vramGb)} GB` : ' ('}${g.driver ? `, driver ${g.driver}` : ''})`).join('; ')}`);
  else lines.push(`GPU: ${m.gpu.type === 'unknown' ? `unknown (${m.gpu.problem})` : `none${m.gpu.problem ? ` (${m.gpu.problem})` : ''}`}`);
  for (const d of m.serial) lines.push(`Serial: ${d.port} ${d.chip} (${d.vid}:${d.pid})`);
  if (m.cameras.length) lines.push(`Cameras: ${m.cameras.map((c) => `${c.device}${c.name ? ` (${c.name})` : ''}`).join(', ')}`);
  lines.push(`Docker: ${m.docker.running ? `${m.docker.version ?? 'running'}${m.docker.runtimes.length ? ` (runtimes: ${m.docker.runtimes.join(', ')})` : ''}` : m.docker.installed ? `installed, not reachable${m.docker.problem ? ` (${m.docker.problem})` : ''}` : 'not installed'}${m.nvidiaContainerRuntime ? '; NVIDIA container runtime present' : ''}`);
  lines.push(`Tags: ${m.tags.join(', ') || '(none)'}`);
  return lines;
}
