// `requires:` — what a resource (or a profile) needs from the machine, checked against detected facts.
// Pure: no I/O. Messages complete "cannot be applied here: …" and never guess when a fact is unknown.
import type { MachineFacts } from './detect.js';

export interface Requires {
  gpu?: 'nvidia' | 'nvidia-tegra' | 'none';
  vram_gb?: number | string;
  ram_gb?: number | string;
  arch?: 'arm64' | 'x64';
  tags?: string[];
  /** L4T (JetPack) release of a Jetson, e.g. ">=36" or ">=36.3". */
  l4t?: string;
}

export type Op = '>=' | '>' | '<=' | '<' | '=';

export interface SizeRule {
  op: Op;
  gb: number;
}

/** Sizes are compared with this much slack: the kernel and the driver keep part of the memory
 *  (a 32 GB machine reports ~31.1 GiB, a 24 GB card 23.99 GiB). */
export const SLACK = 0.05;

export function parseSize(v: number | string): SizeRule | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? { op: '>=', gb: v } : null;
  const m = /^\s*(>=|<=|>|<|==?)?\s*([0-9]+(?:\.[0-9]+)?)\s*$/.exec(v);
  if (!m) return null;
  const op = (m[1] === '==' ? '=' : (m[1] ?? '>=')) as Op;
  return { op, gb: Number(m[2]) };
}

export function sizeOk(rule: SizeRule, found: number): boolean {
  switch (rule.op) {
    case '>=':
      return found * (1 + SLACK) >= rule.gb;
    case '>':
      return found > rule.gb;
    case '<=':
      return found <= rule.gb * (1 + SLACK);
    case '<':
      return found < rule.gb;
    case '=':
      return Math.abs(found - rule.gb) <= rule.gb * SLACK;
    default: {
      const never: never = rule.op;
      throw new Error(`unknown comparison ${String(never)}`);
    }
  }
}

/** 7.996 → "8", 15.3 → "15.3", 125.4 → "125". */
export function fmtGb(x: number): string {
  if (x >= 20 || Math.abs(x - Math.round(x)) < 0.06) return String(Math.round(x));
  return x.toFixed(1);
}

function needWords(rule: SizeRule, what: string): string {
  const n = `${fmtGb(rule.gb)} GB ${what}`;
  switch (rule.op) {
    case '>=':
      return `needs ${n}`;
    case '>':
      return `needs more than ${n}`;
    case '<=':
      return `needs at most ${n}`;
    case '<':
      return `needs less than ${n}`;
    case '=':
      return `needs exactly ${n}`;
    default: {
      const never: never = rule.op;
      throw new Error(`unknown comparison ${String(never)}`);
    }
  }
}

export interface RequireResult {
  /** Requirements the machine does not meet, as "needs 24 GB VRAM, found 8 GB". */
  unmet: string[];
  /** Requirements that could not be checked (a probe failed), as "needs 24 GB VRAM, cannot tell: …". */
  unknown: string[];
  /** Requirements met, for evidence: "has an NVIDIA GPU", "24 GB VRAM". */
  met: string[];
}

const GPU_WORDS: Record<string, string> = {
  nvidia: 'an NVIDIA GPU',
  'nvidia-tegra': 'a Jetson (nvidia-tegra) GPU',
  none: 'no GPU',
};

export function describeGpu(m: MachineFacts): string {
  if (m.gpu.type === 'unknown') return `cannot tell (${m.gpu.problem ?? 'GPU probe failed'})`;
  if (m.gpu.type === 'none') return m.gpu.problem ? `none (${m.gpu.problem})` : 'none';
  if (m.gpu.type === 'nvidia-tegra') return `a Jetson GPU (${m.jetson?.model ?? 'tegra'})`;
  const g = m.gpu.devices[0];
  return g ? `"${g.name}"` : 'an NVIDIA GPU';
}

/** Check `req` against the machine. */
export function checkRequires(req: Requires, m: MachineFacts): RequireResult {
  const out: RequireResult = { unmet: [], unknown: [], met: [] };
  if (req.gpu && req.gpu !== 'none') {
    const want = GPU_WORDS[req.gpu]!;
    if (m.gpu.type === 'unknown') out.unknown.push(`needs ${want}, cannot tell: ${m.gpu.problem ?? 'the GPU probe failed'}`);
    else if (m.gpu.type !== req.gpu) out.unmet.push(`needs ${want}, found ${describeGpu(m)}`);
    else out.met.push(`has ${want}: ${describeGpu(m)}`);
  }
  if (req.vram_gb !== undefined) {
    const rule = parseSize(req.vram_gb);
    if (rule) {
      const need = needWords(rule, 'VRAM');
      if (m.gpu.type === 'unknown') out.unknown.push(`${need}, cannot tell: ${m.gpu.problem ?? 'the GPU probe failed'}`);
      else if (m.gpu.type === 'none') {
        if (!sizeOk(rule, 0)) out.unmet.push(`${need}, found no GPU`);
      } else if (m.gpu.vramGb === null) out.unknown.push(`${need}, cannot tell: the GPU does not report its memory`);
      else if (!sizeOk(rule, m.gpu.vramGb)) out.unmet.push(`${need}, found ${fmtGb(m.gpu.vramGb)} GB`);
      else out.met.push(`${fmtGb(m.gpu.vramGb)} GB VRAM`);
    }
  }
  if (req.ram_gb !== undefined) {
    const rule = parseSize(req.ram_gb);
    if (rule) {
      const need = needWords(rule, 'RAM');
      if (m.ramGb === null) out.unknown.push(`${need}, cannot tell: memory size not found`);
      else if (!sizeOk(rule, m.ramGb)) out.unmet.push(`${need}, found ${fmtGb(m.ramGb)} GB`);
      else out.met.push(`${fmtGb(m.ramGb)} GB RAM`);
    }
  }
  if (req.arch) {
    if (m.arch === null) out.unknown.push(`needs ${req.arch}, cannot tell: architecture not found`);
    else if (m.arch !== req.arch) out.unmet.push(`needs ${req.arch}, found ${m.arch}`);
    else out.met.push(req.arch);
  }
  if (req.l4t !== undefined) {
    const rule = /^\s*(>=|<=|>|<|==?)?\s*(\d+(?:\.\d+){0,2})\s*$/.exec(req.l4t);
    if (rule) {
      const want = `needs L4T ${rule[1] ?? '>='}${rule[2]}`;
      if (!m.jetson) out.unmet.push(`${want}, found no Jetson`);
      else if (!m.jetson.l4t) out.unknown.push(`${want}, cannot tell: /etc/nv_tegra_release not found`);
      else if (!versionOk((rule[1] ?? '>=') as Op, m.jetson.l4t.replace(/^R/, ''), rule[2]!)) out.unmet.push(`${want}, found ${m.jetson.l4t}`);
      else out.met.push(`L4T ${m.jetson.l4t}`);
    }
  }
  if (req.tags?.length) {
    const missing = req.tags.filter((t) => !m.tags.includes(t));
    if (missing.length) {
      const has = m.tags.length ? m.tags.join(', ') : 'none';
      out.unmet.push(`needs tag${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (this machine: ${has})`);
    } else out.met.push(`tags ${req.tags.join(', ')}`);
  }
  return out;
}

/** Dotted versions compared part by part (missing parts are 0): "36.4.0" >= "36". */
function versionOk(op: Op, found: string, want: string): boolean {
  const a = found.split('.').map(Number);
  const b = want.split('.').map(Number);
  let c = 0;
  for (let i = 0; i < Math.max(a.length, b.length) && c === 0; i++) c = Math.sign((a[i] ?? 0) - (b[i] ?? 0));
  return op === '>=' ? c >= 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : op === '<' ? c < 0 : c === 0;
}
