// Inside an upstream checkout (found by its layout) upstream's own files are read; outside one, this
// package's copies. The `pmoves-mini` command upstream's MCP host entry runs. deps install in a container.
import { execa } from 'execa';
import { cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, repoRoot, tempDir, type CliOptions } from './helpers.js';
import { fixtureDir } from './upstream-runner.js';

const pmovesMini = path.join(repoRoot, 'bin', 'pmoves-mini.js');
const mini = async (args: string[], o: CliOptions): Promise<{ exitCode: number; stdout: string; stderr: string }> => (await cli(['mini', ...args], o)) as never;

test('outside a checkout: the packaged profiles and catalog; pmoves-mini on PATH makes `host` ready', async () => {
  const t = tempDir();
  try {
    const bin = path.join(t.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(pmovesMini, path.join(bin, 'pmoves-mini'));
    const env = { PATH: `${bin}:${process.env.PATH}`, HOME: t.dir };
    const list = await mini(['mcp', 'list'], { cwd: t.dir, home: path.join(t.dir, '.pmoves'), env });
    assert.is(list.exitCode, 0, list.stderr);
    assert.ok(list.stdout.split('\n').includes('host: Host Operations MCP – ready'), list.stdout);
    assert.match(list.stdout, /^memory: /m, 'the packaged catalog (npm reference servers too)');
    // the same command through pmoves-mini, as upstream's MCP host entry spells it
    const viaBin = await execa(pmovesMini, ['mcp', 'list'], { cwd: t.dir, env: { ...env, PMOVES_HOME: path.join(t.dir, '.pmoves'), NO_COLOR: '1' }, reject: false });
    assert.is(viaBin.exitCode, 0, viaBin.stderr);
    assert.is(viaBin.stdout, list.stdout);
    const profiles = await mini(['profile', 'list'], { cwd: t.dir, home: path.join(t.dir, '.pmoves'), env });
    assert.match(profiles.stdout, /^ {2}generic-cpu – /m);
  } finally {
    t.cleanup();
  }
});

test("inside a checkout (no .git needed), from a sub-folder: the checkout's profiles and catalog", async () => {
  const t = tempDir();
  try {
    const root = path.join(t.dir, 'checkout');
    cpSync(path.join(fixtureDir, 'checkout'), root, { recursive: true });
    const sub = path.join(root, 'pmoves', 'config');
    const env = { HOME: t.dir };
    const profiles = await mini(['profile', 'list'], { cwd: sub, home: path.join(t.dir, '.pmoves'), env });
    assert.is(profiles.exitCode, 0, profiles.stderr);
    assert.not.match(profiles.stdout, /generic-cpu/);
    assert.match(profiles.stdout, /^ {2}laptop-4090 – Laptop/m);
    const list = await mini(['mcp', 'list'], { cwd: sub, home: path.join(t.dir, '.pmoves'), env });
    assert.equal(list.stdout.trim().split('\n').map((l: string) => l.split(':')[0]), ['compose', 'docker', 'host', 'n8n']);
  } finally {
    t.cleanup();
  }
});

test('deps install --use-container: no question (the host is not changed), the repository mounted at /workspace', async () => {
  const t = tempDir();
  try {
    const root = path.join(t.dir, 'checkout');
    cpSync(path.join(fixtureDir, 'checkout'), root, { recursive: true });
    // only a stand-in docker on PATH: git and node are then missing
    const bin = path.join(t.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(path.join(fixtureDir, 'standins', 'standin.sh'), path.join(bin, 'docker'));
    const log = path.join(t.dir, 'log');
    const r = await mini(['deps', 'install', '--use-container', '--container-image', 'python:3.11-slim'], {
      cwd: root,
      home: path.join(t.dir, '.pmoves'),
      env: { PATH: bin, HOME: t.dir, STANDIN_LOG: log },
    });
    assert.is(r.exitCode, 0, r.stderr);
    const calls: string[] = readFileSync(log, 'utf8').trim().split('\n');
    const run = calls.find((c) => c.startsWith('docker run'))!;
    assert.ok(run, calls.join('\n'));
    assert.ok(run.startsWith(`docker run --rm -v ${root}:/workspace -w /workspace python:3.11-slim sh -c `), run);
    assert.match(run, /apt-get install -y .*git/);
  } finally {
    t.cleanup();
  }
});

test.run();
