// ESP32 flashing beside real esptool v4.8.1, on the same protocol peer (test/esp32-peer.ts, checked
// against esptool by test/esp32-esptool.test.ts) paced at the baud rate (10 bits a byte both ways, 115200
// until the stub switches to 921600), interleaved A B A B in one run:
//  - flash and verify 1 MiB on a blank board: `edge flash` (plan read + write + MD5 verify, one session)
//    against `esptool --baud 921600 write_flash` (which verifies by MD5); target ≤ 1.2×.
//  - a no-op plan of the flashed board (MD5 reads only) against `esptool verify_flash`; target ≤ 1.2×.
// The peer runs in this process, so every child is spawned asynchronously (a blocked event loop would
// stop the board).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Esp32Peer } from '../test/esp32-peer.js';
import { cliPath, median } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ESPTOOL = process.env.PMOVES_ESPTOOL ?? path.resolve(root, '..', 'shared', 'tools', 'esptool');
const APP = 0x10000;
const PAIRS = 3;

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { env, cwd, maxBuffer: 1 << 26, timeout: 120_000 }, (err, _out, stderr) => (err ? reject(new Error(`${path.basename(cmd)} ${args.join(' ')}: ${String(stderr).slice(-300)}`)) : resolve(performance.now() - start))),
  );
}

/** 1 MiB that deflate brings to about 40% (like a real app image): each 4 KiB is 1,600 random bytes and a pattern. */
function image(): Buffer {
  const out = Buffer.alloc(1 << 20);
  for (let at = 0; at < out.length; at += 4096) {
    randomBytes(1600).copy(out, at);
    out.fill(`pmoves-${at.toString(16)} `, at + 1600, Math.min(out.length, at + 4096));
  }
  return out;
}

export async function bench(): Promise<Row[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-esp32-'));
  const peer = await Esp32Peer.start(dir, { chip: 'esp32s3', paced: true });
  try {
    writeFileSync(path.join(dir, 'app1m.bin'), image());
    const manifest = path.join(dir, 'pmoves.mini.yaml');
    writeFileSync(manifest, ['apiVersion: pmoves.ai/mini/v1', 'devices:', '  perf:', '    type: esp32', `    port: ${peer.hostPath}`, '    chip: esp32s3', '    baud: 921600', '    flash_size: 4MB', '    firmware: { file: app1m.bin }', ''].join('\n'));
    const env = { ...process.env, PMOVES_HOME: path.join(dir, 'home') };
    const ours = (args: string[]) => timed(process.execPath, [cliPath, 'mini', ...args, '-m', manifest], env, dir);
    const theirs = (args: string[]) => timed(ESPTOOL, ['--port', peer.hostPath, '--baud', '921600', ...args], env, dir);
    const blank = () => {
      peer.flash.fill(0xff, APP, APP + (1 << 20));
      peer.powerCycle();
    };

    const flash = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < PAIRS; i++) {
      blank();
      flash.a.push(await ours(['edge', 'flash', '--device', 'perf', '--auto-approve']));
      blank();
      flash.b.push(await theirs(['write_flash', '0x10000', 'app1m.bin']));
    }
    const noop = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < PAIRS; i++) {
      noop.a.push(await ours(['plan', '--detailed-exitcode']));
      noop.b.push(await theirs(['verify_flash', '0x10000', 'app1m.bin']));
    }
    const row = (name: string, p: { a: number[]; b: number[] }, peerName: string): Row => {
      const ratio = median(p.a.map((a, i) => a / p.b[i]!));
      return {
        name,
        ms: median(p.a),
        target: `≤ 1.2× ${peerName}`,
        ok: ratio <= 1.2,
        note: `${ratio.toFixed(2)}× ${peerName} (${median(p.b).toFixed(0)} ms), ${PAIRS} pairs interleaved, peer paced at the baud rate`,
      };
    };
    return [
      row('ESP32-S3: flash + MD5-verify 1 MiB on a blank board at 921600 baud (edge flash)', flash, 'esptool v4.8.1 write_flash'),
      row('ESP32-S3: no-op plan of a flashed board (MD5 reads only)', noop, 'esptool v4.8.1 verify_flash'),
    ];
  } finally {
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
