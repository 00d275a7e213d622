// Profile figures: hardware detection on this machine (in-process and through the CLI) and on the
// recorded machines (the same code reading a sysroot tree and recorded command outputs).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectMachine, probeFromEnv } from '../src/providers/hardware/detect.js';
import { median, repeat, runNode } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const machines = path.join(root, 'test', 'fixtures', 'machines');

async function timeDetect(env: NodeJS.ProcessEnv, n: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await detectMachine(await probeFromEnv(env));
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(ms);
}

export async function bench(): Promise<Row[]> {
  const rows: Row[] = [];
  const live = await timeDetect({}, 7);
  rows.push({ name: 'hardware detection, this machine (in-process)', ms: live, target: '< 1000 ms', ok: live < 1000, note: 'cpuinfo, meminfo, DMI, Jetson files, USB serial, nvidia-smi, docker info in parallel' });
  const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: path.join(root, 'dist', 'bench-profile-home') };
  const c = repeat(5, () => runNode([cli, 'mini', 'profile', 'detect'], env));
  rows.push({ name: 'profile detect, this machine (CLI)', ms: c.ms, rssMb: c.rssMb, note: 'node start, schema compile, 6 profiles, detection, ranking' });
  for (const m of ['jetson-orin-nano', 'rtx-desktop', 'laptop', 'esp32-box', 'plain-vm']) {
    const dir = path.join(machines, m);
    const ms = await timeDetect({ PMOVES_SYSROOT: path.join(dir, 'root'), PMOVES_RECORDED_COMMANDS: path.join(dir, 'commands.json') }, 5);
    rows.push({ name: `hardware detection, recorded ${m}`, ms });
  }
  return rows;
}
