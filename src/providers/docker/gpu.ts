// GPUs for compose services: does a service need one (`gpus:`, `deploy.resources.reservations.devices`
// with driver nvidia or capability gpu, `runtime: nvidia`), and can this machine give it one (an NVIDIA
// GPU and the NVIDIA container runtime, from hardware detection). Compose itself finds out only at `up`
// ("could not select device driver "nvidia""), half-way through a project: callers ask here first.
// Pure functions over a service's config (as a compose file or `compose config` writes it) and the
// machine's facts; `machineGpus` is the one that reads the machine.
import type { MachineFacts } from '../hardware/detect.js';

export interface GpuNeed {
  /** GPUs asked for: a number, or 'all' (compose's `count: all`, written as -1 by `config`). */
  count: number | 'all';
  /** What in the service asks, for messages: "deploy.resources.reservations.devices (driver nvidia)". */
  why: string;
  /** `runtime: nvidia`: the docker daemon must have that runtime registered. */
  runtime: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function countOf(v: unknown): number | 'all' {
  if (v === undefined || v === null || v === 'all' || v === -1 || v === '-1') return 'all';
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : 'all';
}

/** A device request that asks for an NVIDIA GPU: driver nvidia, or capabilities naming gpu. */
function asksGpu(d: unknown): boolean {
  if (!isObj(d)) return false;
  const caps = Array.isArray(d.capabilities) ? d.capabilities.flat().map(String) : [];
  return d.driver === 'nvidia' || caps.includes('gpu');
}

/** What GPUs a compose service asks for, or null when none. */
export function gpuNeed(service: unknown): GpuNeed | null {
  if (!isObj(service)) return null;
  const whys: string[] = [];
  let count: number | 'all' = 0;
  const add = (c: number | 'all') => (count = count === 'all' || c === 'all' ? 'all' : Math.max(count, c));
  const gpus = service.gpus;
  if (gpus !== undefined && gpus !== null && gpus !== false) {
    whys.push(`gpus: ${typeof gpus === 'string' ? gpus : 'set'}`);
    if (Array.isArray(gpus)) for (const g of gpus) add(isObj(g) ? (g.device_ids ? (g.device_ids as unknown[]).length : countOf(g.count)) : 'all');
    else add('all');
  }
  const devices = (((service.deploy as Obj | undefined)?.resources as Obj | undefined)?.reservations as Obj | undefined)?.devices;
  if (Array.isArray(devices)) {
    const asks = devices.filter(asksGpu) as Obj[];
    if (asks.length) {
      whys.push(`deploy.resources.reservations.devices (${asks.map((d) => (d.driver === 'nvidia' ? 'driver nvidia' : 'capabilities gpu')).join(', ')})`);
      for (const d of asks) add(Array.isArray(d.device_ids) ? d.device_ids.length : countOf(d.count));
    }
  }
  const runtime = service.runtime === 'nvidia';
  if (runtime) whys.push('runtime: nvidia');
  if (!whys.length) return null;
  return { count: count === 0 ? 1 : count, why: whys.join(', '), runtime };
}

/** What this machine can give containers. */
export interface GpuSupply {
  /** NVIDIA GPUs seen (nvidia-smi, or a Jetson's integrated one). */
  devices: string[];
  /** The NVIDIA container runtime / toolkit is installed (docker can hand GPUs to containers). */
  runtime: boolean;
  /** Why the answer is unknown or empty, when the detector said (e.g. "nvidia-smi timed out"). */
  problem: string | null;
}

export function gpuSupply(m: MachineFacts): GpuSupply {
  const gpu = m.gpu.type === 'nvidia' || m.gpu.type === 'nvidia-tegra';
  return { devices: gpu ? m.gpu.devices.map((d) => d.name) : [], runtime: m.nvidiaContainerRuntime, problem: m.gpu.problem ?? null };
}

/** Why `supply` cannot satisfy `need` (one clause, e.g. "this machine has no NVIDIA GPU"), or null when it can. */
export function gpuShortfall(need: GpuNeed, supply: GpuSupply): string | null {
  if (!supply.devices.length) return `this machine has no NVIDIA GPU${supply.problem ? ` (${supply.problem})` : ''}`;
  if (need.count !== 'all' && need.count > supply.devices.length) return `it asks for ${need.count} GPUs and this machine has ${supply.devices.length}`;
  if (!supply.runtime) return 'the NVIDIA container runtime is not installed (docker cannot hand a GPU to a container)';
  return null;
}

/** One clause: "it reserves NVIDIA GPUs (deploy.resources.reservations.devices (driver nvidia)) and this machine has no NVIDIA GPU". */
export function gpuReason(need: GpuNeed, shortfall: string): string {
  const n = need.count === 'all' ? 'NVIDIA GPUs' : need.count === 1 ? 'an NVIDIA GPU' : `${need.count} NVIDIA GPUs`;
  return `it reserves ${n} (${need.why}) and ${shortfall}`;
}

/** Services whose `depends_on` (short or long syntax) names one of `blocked`, transitively: service → the blocked one it needs. */
export function dependentsOf(services: Record<string, unknown>, blocked: Iterable<string>): Map<string, string> {
  const deps = (s: unknown): string[] => {
    const d = isObj(s) ? s.depends_on : undefined;
    if (Array.isArray(d)) return d.map(String);
    if (isObj(d)) return Object.entries(d).filter(([, v]) => !(isObj(v) && v.required === false)).map(([k]) => k);
    return [];
  };
  const root = new Map<string, string>([...blocked].map((b) => [b, b]));
  const out = new Map<string, string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, svc] of Object.entries(services)) {
      if (root.has(name)) continue;
      const hit = deps(svc).find((d) => root.has(d));
      if (hit) {
        root.set(name, root.get(hit)!);
        out.set(name, root.get(hit)!);
        grew = true;
      }
    }
  }
  return out;
}

/**
 * Which of `names` cannot run on this machine, and why (service → reason): those that reserve a GPU the
 * machine cannot give, and those that depend on one of them (compose would start it with them).
 * `supply` is asked only when one of them needs a GPU (detection spawns nvidia-smi).
 */
export async function unsatisfiableServices(
  services: Record<string, unknown>,
  names: string[],
  supply: () => Promise<GpuSupply>,
  needOf: (name: string) => GpuNeed | null = (n) => gpuNeed(services[n]),
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const needy = names.map((n) => [n, needOf(n)] as const).filter((x): x is readonly [string, GpuNeed] => x[1] !== null);
  if (!needy.length) return out;
  const s = await supply();
  for (const [name, need] of needy) {
    const short = gpuShortfall(need, s);
    if (short) out.set(name, gpuReason(need, short));
  }
  if (!out.size) return out;
  for (const [dep, on] of dependentsOf(services, out.keys())) if (names.includes(dep)) out.set(dep, `it depends on ${on}, which cannot run here`);
  return out;
}

/** The machine's GPUs as hardware detection sees them (PMOVES_SYSROOT / PMOVES_RECORDED_COMMANDS honoured). */
export async function machineGpus(env: NodeJS.ProcessEnv): Promise<GpuSupply> {
  const { detectFromEnv } = await import('../hardware/detect.js');
  return gpuSupply(await detectFromEnv(env));
}
