// One machine at a time (issue 13): under PMOVES_SYSROOT every fact comes from the sysroot or a
// recording, never from the host running the test; arch from cpuinfo / the device tree when no
// `uname -m` is recorded; what cannot be known stays unknown.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { archFromFiles, detectMachine, NOT_RECORDED, probeFromEnv } from '../src/providers/hardware/detect.js';
import { cli, repoRoot, tempDir } from './helpers.js';

const t = suite('safety-detect');
const machines = path.join(repoRoot, 'test', 'fixtures', 'machines');

t('a recorded Jetson without recorded commands: arm64 from its cpuinfo, tegra GPU, nothing from the host', async () => {
  const p = await probeFromEnv({ PMOVES_SYSROOT: path.join(machines, 'jetson-orin-nano', 'root') });
  assert.is(p.commands, NOT_RECORDED);
  assert.equal(await p.run(['uname', '-m'], 1000), { status: 'missing' }, 'no command runs on the host');
  const m = await detectMachine(p);
  assert.is(m.arch, 'arm64');
  assert.is(m.gpu.type, 'nvidia-tegra');
  assert.is(m.docker.version, null, 'not the host\'s docker');
});

t('a recorded x86 laptop without recorded commands: x64 from cpuinfo; its GPU is unknown, not the host\'s', async () => {
  const m = await detectMachine(await probeFromEnv({ PMOVES_SYSROOT: path.join(machines, 'laptop', 'root') }));
  assert.is(m.arch, 'x64');
  assert.is(m.gpu.type, 'unknown');
  assert.match(m.gpu.problem ?? '', /nvidia-smi is not recorded/);
});

t('arch from the machine\'s files: ARMv8 and aarch64 cpuinfo, x86 flags, a device tree; else unknown', () => {
  assert.is(archFromFiles('processor\t: 0\nmodel name\t: ARMv8 Processor rev 1 (v8l)\nCPU architecture: 8\n', false), 'aarch64');
  assert.is(archFromFiles('vendor_id\t: GenuineIntel\nflags\t\t: fpu vme lm sse\n', false), 'x86_64');
  assert.is(archFromFiles(null, true), 'aarch64');
  assert.is(archFromFiles('processor : 0\n', false), null);
});

t('profile detect on the recorded Jetson (sysroot only) does not rule out jetson-nano for "x64"', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = await cli(['mini', 'profile', 'detect', '--json'], { home: dir, env: { PMOVES_SYSROOT: path.join(machines, 'jetson-orin-nano', 'root'), PMOVES_RECORDED_COMMANDS: undefined } });
    const out = String(r.stdout);
    assert.not.match(out, /needs arm64, found x64/);
    assert.not.match(out, /"x64"/);
    assert.match(out, /jetson-nano/);
  } finally {
    cleanup();
  }
});

t.run();
