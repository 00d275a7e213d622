// The hardware detector: what this machine is (CPU, RAM, OS, arch, NVIDIA GPUs, Jetson, ESP32 boards on
// USB serial, cameras, Docker and the NVIDIA container runtime).
//
// Seam: every file is read through a root folder (`PMOVES_SYSROOT`, default `/`) and every command runs
// through a `Runner`, so tests replay recorded machines (a sysroot tree + `PMOVES_RECORDED_COMMANDS`, a
// JSON file of recorded command outputs) through the same code that reads a real machine. On Linux
// everything comes from /proc, /sys and /etc (what systeminformation itself reads there); on hosts
// without /proc (macOS, Windows) CPU, memory and OS come from systeminformation, imported lazily.
// GPUs never come from systeminformation: its graphics() blocks the event loop on nvidia-smi.
import os from 'node:os';
import path from 'node:path';
import { fileExists, NOT_RECORDED, probeFromEnv, readDir, readText, realMachinePath, stripNuls, type Probe } from './probe.js';

export { NOT_RECORDED, probeFromEnv, recordedRunner, stripNuls, type Probe } from './probe.js';

// ---- facts ---------------------------------------------------------------------------------------

export type Arch = 'x64' | 'arm64';
export type GpuType = 'nvidia' | 'nvidia-tegra' | 'none' | 'unknown';
export type FormFactor = 'laptop' | 'desktop' | 'server';

export interface GpuDevice {
  name: string;
  vramGb: number | null;
  driver: string | null;
  /** A Jetson's GPU shares the system memory. */
  integrated: boolean;
}

export interface SerialDevice {
  /** e.g. /dev/ttyACM0 */
  port: string;
  vid: string;
  pid: string;
  /** What the USB ids say, e.g. "Espressif USB JTAG/serial (ESP32-S3/C3/C6 native USB)". */
  chip: string;
  /** native: the ESP32's own USB; bridge: a USB-UART chip commonly on ESP32 boards. */
  link: 'native' | 'bridge';
  product: string | null;
  manufacturer: string | null;
}

export interface Camera {
  device: string;
  name: string | null;
  /** A CSI sensor behind the Jetson's VI (name "vi-output, imx219 …"). */
  csi: boolean;
}

export interface MachineFacts {
  root: string;
  cpu: { brand: string | null; vendor: string | null; cores: number | null; threads: number | null };
  ramGb: number | null;
  os: { name: string | null; kernel: string | null };
  arch: Arch | null;
  /** Raw `uname -m` when it is neither x64 nor arm64. */
  archRaw: string | null;
  formFactor: { kind: FormFactor | null; source: string | null };
  virtual: boolean;
  gpu: { type: GpuType; devices: GpuDevice[]; vramGb: number | null; problem?: string };
  jetson: { model: string; compatible: string[]; l4t: string | null } | null;
  serial: SerialDevice[];
  cameras: Camera[];
  docker: { installed: boolean; running: boolean; version: string | null; runtimes: string[]; problem?: string };
  nvidiaContainerRuntime: boolean;
  /** Derived tags `requires.tags` is checked against. */
  tags: string[];
}

/** USB ids of ESP32 boards: Espressif's native USB and the bridges boards carry. */
export const ESP32_USB: Record<string, { chip: string; link: 'native' | 'bridge' }> = {
  '303a:1001': { chip: 'Espressif USB JTAG/serial (ESP32-S3/C3/C6 native USB)', link: 'native' },
  '10c4:ea60': { chip: 'Silicon Labs CP210x USB-UART bridge', link: 'bridge' },
  '1a86:7523': { chip: 'WCH CH340 USB-UART bridge', link: 'bridge' },
  '1a86:55d3': { chip: 'WCH CH343 USB-UART bridge', link: 'bridge' },
  '0403:6001': { chip: 'FTDI FT232R USB-UART bridge', link: 'bridge' },
  '0403:6015': { chip: 'FTDI FT231X USB-UART bridge', link: 'bridge' },
};

const LAPTOP_CHASSIS = new Set([8, 9, 10, 14, 30, 31, 32]);
const DESKTOP_CHASSIS = new Set([3, 4, 5, 6, 7, 13, 15, 16, 24, 35, 36]);
const SERVER_CHASSIS = new Set([17, 23, 25, 28, 29]);
const VM_VENDORS = /qemu|kvm|vmware|virtualbox|innotek|xen|bochs|parallels|microsoft corporation|amazon ec2|google/i;

export const NVIDIA_SMI = ['nvidia-smi', '--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'];
export const DOCKER_INFO = ['docker', 'info', '--format', '{{.ServerVersion}}|{{json .Runtimes}}'];
export const UNAME = ['uname', '-m'];
export const NVARGUS = ['systemctl', 'is-active', 'nvargus-daemon'];

export interface DetectOptions {
  /** nvidia-smi deadline (a wedged driver can hang it). */
  gpuTimeoutMs?: number;
  dockerTimeoutMs?: number;
}

export function parseCpuinfo(text: string): MachineFacts['cpu'] & { hypervisor: boolean } {
  const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  const field = (b: string, k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'mi').exec(b)?.[1]?.trim() ?? null;
  const first = blocks[0] ?? text;
  const brand = field(first, 'model name') ?? field(text, 'Hardware') ?? null;
  const vid = field(first, 'vendor_id');
  const impl = field(first, 'CPU implementer');
  const vendor =
    vid === 'GenuineIntel' ? 'Intel' : vid === 'AuthenticAMD' ? 'AMD' : impl === '0x41' ? 'ARM' : impl === '0x4e' ? 'NVIDIA' : impl === '0x61' ? 'Apple' : vid;
  const cores = new Set<string>();
  for (const b of blocks) {
    const phys = field(b, 'physical id');
    const core = field(b, 'core id');
    if (phys !== null && core !== null) cores.add(`${phys}:${core}`);
  }
  const threads = blocks.length || null;
  return {
    brand,
    vendor,
    threads,
    cores: cores.size || threads,
    hypervisor: /^flags\s*:.*\bhypervisor\b/m.test(text),
  };
}

export function parseNvidiaSmi(stdout: string): GpuDevice[] {
  const out: GpuDevice[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length < 3) continue;
    const driver = cells.pop()!;
    const mem = cells.pop()!;
    const mib = Number(mem);
    out.push({
      name: cells.join(', '),
      vramGb: mem && Number.isFinite(mib) && !/n\/a/i.test(mem) ? mib / 1024 : null,
      driver: /n\/a/i.test(driver) ? null : driver,
      integrated: false,
    });
  }
  return out;
}

export function parseL4t(text: string): string | null {
  const m = /#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)/i.exec(text);
  return m ? `R${m[1]}.${m[2]}` : null;
}

/** `uname -m`'s word from /proc/cpuinfo (or a device tree, which only ARM boards here have); null: unknown. */
export function archFromFiles(cpuinfo: string | null, deviceTree: boolean): string | null {
  if (cpuinfo) {
    if (/^CPU architecture\s*:\s*(8|AArch64)/im.test(cpuinfo) || /ARMv8|aarch64/i.test(cpuinfo)) return 'aarch64';
    if (/^vendor_id\s*:\s*(GenuineIntel|AuthenticAMD|HygonGenuine|CentaurHauls)/m.test(cpuinfo) && /^flags\s*:.*\blm\b/m.test(cpuinfo)) return 'x86_64';
  }
  return deviceTree ? 'aarch64' : null;
}

function archOf(raw: string): Arch | null {
  const a = raw.trim().toLowerCase();
  if (a === 'x86_64' || a === 'amd64' || a === 'x64') return 'x64';
  if (a === 'aarch64' || a === 'arm64' || a === 'armv8l') return 'arm64';
  return null;
}

function firstLine(s: string): string {
  return (s.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 160);
}

export async function detectSerial(p: Probe): Promise<SerialDevice[]> {
  const out: SerialDevice[] = [];
  for (const name of await readDir(p, '/sys/class/tty')) {
    if (!/^tty(ACM|USB)\d+$/.test(name)) continue;
    let dir = await realMachinePath(p, `/sys/class/tty/${name}/device`);
    // the tty's device is a USB interface (ACM) or the bridge's port (USB): the ids sit on the USB device above
    for (let i = 0; dir && i < 4; i++, dir = path.posix.dirname(dir)) {
      const vid = (await readText(p, `${dir}/idVendor`))?.trim();
      if (!vid) continue;
      const pid = ((await readText(p, `${dir}/idProduct`)) ?? '').trim();
      const known = ESP32_USB[`${vid.toLowerCase()}:${pid.toLowerCase()}`];
      if (known) {
        out.push({
          port: `/dev/${name}`,
          vid: vid.toLowerCase(),
          pid: pid.toLowerCase(),
          chip: known.chip,
          link: known.link,
          product: (await readText(p, `${dir}/product`))?.trim() || null,
          manufacturer: (await readText(p, `${dir}/manufacturer`))?.trim() || null,
        });
      }
      break;
    }
  }
  return out;
}

export async function detectCameras(p: Probe): Promise<Camera[]> {
  const out: Camera[] = [];
  for (const name of await readDir(p, '/dev')) {
    if (!/^video\d+$/.test(name)) continue;
    const label = (await readText(p, `/sys/class/video4linux/${name}/name`))?.trim() || null;
    out.push({ device: `/dev/${name}`, name: label, csi: Boolean(label && /vi-output|tegra|csi/i.test(label)) });
  }
  return out.sort((a, b) => Number(a.device.slice(10)) - Number(b.device.slice(10)));
}

export async function detectJetson(p: Probe): Promise<MachineFacts['jetson']> {
  const [model, compat, release] = await Promise.all([
    readText(p, '/proc/device-tree/model'),
    readText(p, '/proc/device-tree/compatible'),
    readText(p, '/etc/nv_tegra_release'),
  ]);
  const m = model ? stripNuls(model).join(' ') : '';
  const compatible = compat ? stripNuls(compat) : [];
  const tegra = /jetson/i.test(m) || compatible.some((c) => /^nvidia,tegra/i.test(c)) || release !== null;
  if (!tegra) return null;
  return { model: m || compatible[0] || 'NVIDIA Jetson', compatible, l4t: release ? parseL4t(release) : null };
}

async function detectDocker(p: Probe, timeoutMs: number): Promise<MachineFacts['docker']> {
  const r = await p.run(DOCKER_INFO, timeoutMs);
  if (r.status === 'missing') return { installed: false, running: false, version: null, runtimes: [] };
  if (r.status === 'timeout') return { installed: true, running: false, version: null, runtimes: [], problem: 'docker info timed out' };
  if (r.status === 'failed') return { installed: true, running: false, version: null, runtimes: [], problem: firstLine(r.stderr || r.stdout) || `docker info exited ${r.code}` };
  const [version, json] = r.stdout.trim().split('|', 2);
  let runtimes: string[] = [];
  try {
    runtimes = Object.keys(JSON.parse(json ?? '{}') as object).sort();
  } catch {
    runtimes = [];
  }
  return { installed: true, running: true, version: version?.trim() || null, runtimes };
}

/** Read the machine. Never throws: a failed probe leaves its facts unknown (null) or notes a problem. */
export async function detectMachine(p: Probe, opts: DetectOptions = {}): Promise<MachineFacts> {
  const [cpuinfo, meminfo, osRelease, kernel, chassis, sysVendor, uname, smi, jetson, serial, cameras, docker, nctk] = await Promise.all([
    readText(p, '/proc/cpuinfo'),
    readText(p, '/proc/meminfo'),
    readText(p, '/etc/os-release'),
    readText(p, '/proc/sys/kernel/osrelease'),
    readText(p, '/sys/class/dmi/id/chassis_type'),
    readText(p, '/sys/class/dmi/id/sys_vendor'),
    p.run(UNAME, 2000),
    p.run(NVIDIA_SMI, opts.gpuTimeoutMs ?? 3000),
    detectJetson(p),
    detectSerial(p),
    detectCameras(p),
    detectDocker(p, opts.dockerTimeoutMs ?? 3000),
    Promise.all(['/usr/bin/nvidia-container-runtime', '/usr/local/bin/nvidia-container-runtime', '/usr/bin/nvidia-container-toolkit'].map((f) => fileExists(p, f))),
  ]);

  let cpu: MachineFacts['cpu'] = { brand: null, vendor: null, cores: null, threads: null };
  let hypervisor = false;
  let ramGb: number | null = null;
  let osName: string | null = null;
  if (cpuinfo !== null) {
    const c = parseCpuinfo(cpuinfo);
    hypervisor = c.hypervisor;
    cpu = { brand: c.brand, vendor: c.vendor, cores: c.cores, threads: c.threads };
  }
  const memKb = meminfo ? /^MemTotal:\s*(\d+)\s*kB/m.exec(meminfo)?.[1] : undefined;
  if (memKb) ramGb = Number(memKb) / 1024 / 1024;
  if (osRelease) osName = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? null;
  if (cpuinfo === null && p.root === path.parse(p.root).root) {
    // No /proc (macOS, Windows): the one place systeminformation reads for us.
    const si = (await import('systeminformation')).default;
    const [c, m, o] = await Promise.all([si.cpu(), si.mem(), si.osInfo()]);
    cpu = { brand: [c.manufacturer, c.brand].filter(Boolean).join(' ') || null, vendor: c.manufacturer || null, cores: c.physicalCores || null, threads: c.cores || null };
    ramGb = m.total / 1024 ** 3;
    osName = [o.distro, o.release].filter(Boolean).join(' ') || null;
  }

  let archRaw: string | null = uname.status === 'ok' ? uname.stdout.trim() : null;
  if (archRaw === null && p.root === path.parse(p.root).root && p.commands === 'live') archRaw = os.arch();
  // no uname (a sysroot without a recording): what the machine's own files say, else unknown
  if (archRaw === null) archRaw = archFromFiles(cpuinfo, Boolean(jetson) || (await fileExists(p, '/proc/device-tree/compatible')));
  const arch = archRaw ? archOf(archRaw) : null;

  if (jetson && !cpu.brand) cpu = { ...cpu, brand: jetson.model };

  // GPUs
  let gpu: MachineFacts['gpu'];
  const devices = smi.status === 'ok' ? parseNvidiaSmi(smi.stdout) : [];
  if (jetson) {
    const integrated = devices.length ? devices.map((d) => ({ ...d, integrated: true, vramGb: ramGb })) : [{ name: jetson.model, vramGb: ramGb, driver: null, integrated: true }];
    gpu = { type: 'nvidia-tegra', devices: integrated, vramGb: ramGb };
  } else if (smi.status === 'ok' && devices.length) {
    const known = devices.map((d) => d.vramGb).filter((v): v is number => v !== null);
    gpu = { type: 'nvidia', devices, vramGb: known.length ? Math.max(...known) : null };
  } else if (smi.status === 'timeout') {
    gpu = { type: 'unknown', devices: [], vramGb: null, problem: 'nvidia-smi timed out' };
  } else if (smi.status === 'missing' && p.commands === NOT_RECORDED) {
    gpu = { type: 'unknown', devices: [], vramGb: null, problem: `nvidia-smi is not recorded for ${p.root} (set PMOVES_RECORDED_COMMANDS)` };
  } else if (smi.status === 'failed') {
    gpu = { type: 'none', devices: [], vramGb: null, problem: `nvidia-smi failed: ${firstLine(smi.stderr || smi.stdout) || `exit ${smi.code}`}` };
  } else {
    gpu = { type: 'none', devices: [], vramGb: null };
  }

  // Form factor: SMBIOS chassis type; else a discrete NVIDIA name says "Laptop GPU" or not.
  let formFactor: MachineFacts['formFactor'] = { kind: null, source: null };
  const ct = chassis ? Number(chassis.trim()) : NaN;
  if (LAPTOP_CHASSIS.has(ct)) formFactor = { kind: 'laptop', source: `chassis type ${ct}` };
  else if (DESKTOP_CHASSIS.has(ct)) formFactor = { kind: 'desktop', source: `chassis type ${ct}` };
  else if (SERVER_CHASSIS.has(ct)) formFactor = { kind: 'server', source: `chassis type ${ct}` };
  else if (gpu.type === 'nvidia') formFactor = formFactorFromGpuNames(gpu.devices.map((d) => d.name));

  const virtual = hypervisor || Boolean(sysVendor && VM_VENDORS.test(sysVendor));
  const nvidiaContainerRuntime = docker.runtimes.includes('nvidia') || nctk.some(Boolean);
  const facts: MachineFacts = {
    root: p.root,
    cpu,
    ramGb,
    os: { name: osName, kernel: kernel?.trim() || null },
    arch,
    archRaw: arch ? null : archRaw,
    formFactor,
    virtual,
    gpu,
    jetson,
    serial,
    cameras,
    docker,
    nvidiaContainerRuntime,
    tags: [],
  };
  facts.tags = machineTags(facts);
  return facts;
}

export function formFactorFromGpuNames(names: string[]): MachineFacts['formFactor'] {
  if (!names.length) return { kind: null, source: null };
  const laptop = names.some((n) => /laptop|mobile|max-q/i.test(n));
  return { kind: laptop ? 'laptop' : 'desktop', source: `GPU name "${names[0]}"` };
}

export function machineTags(m: MachineFacts): string[] {
  const t: string[] = [];
  if (m.arch) t.push(m.arch);
  if (m.formFactor.kind) t.push(m.formFactor.kind);
  if (m.virtual) t.push('vm');
  if (m.gpu.type === 'nvidia') t.push('cuda');
  if (m.jetson) t.push('jetson');
  if (m.serial.length) t.push('esp32');
  if (m.cameras.length) t.push('camera');
  if (m.docker.running) t.push('docker');
  if (m.nvidiaContainerRuntime) t.push('nvidia-container-runtime');
  return t;
}

// One detection per root for a few seconds: plan, validate and status in one command all ask, while a
// long-running watch still sees a board plugged in later.
const CACHE_MS = 10_000;
const cache = new Map<string, { at: number; facts: Promise<MachineFacts> }>();

export async function detectFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<MachineFacts> {
  const key = `${env.PMOVES_SYSROOT ?? ''}\0${env.PMOVES_RECORDED_COMMANDS ?? ''}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.facts;
  const facts = probeFromEnv(env).then((p) => detectMachine(p));
  cache.set(key, { at: Date.now(), facts });
  return facts;
}
