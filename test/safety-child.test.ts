// Every child process is bounded (src/core/child.ts), with real processes: a child and the grandchildren
// it starts are killed as a group on the deadline, past the output limit, on cancel, and when the process
// that started them is interrupted (SIGINT, SIGTERM) or exits.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runChild } from '../src/core/child.js';
import { cliSpawn, repoRoot, tempDir, waitFor } from './helpers.js';

/** A process group is gone (ESRCH) — nothing of it is left. */
function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

// a shell that starts a grandchild (its own sleep) and prints the group id it runs in
const family = ['-c', 'sleep 300 & echo "$$"; wait'];

test('the deadline kills the child and its grandchildren', async () => {
  let pgid = 0;
  const r = await runChild('sh', family, { timeoutMs: 300, onLine: (l) => (pgid = Number(l)) });
  assert.is(r.killed, 'timeout');
  assert.ok(pgid > 0);
  await waitFor(() => groupGone(pgid), 'the group to be gone', 10_000);
});

test('output past the limit kills the group; cancel kills it; a missing program is a spawn error', async () => {
  const big = await runChild('sh', ['-c', 'yes pmoves'], { maxOutput: 1 << 20 });
  assert.is(big.killed, 'output');
  assert.ok(big.stdout.length <= 1 << 20);
  const ac = new AbortController();
  let pgid = 0;
  const p = runChild('sh', family, { signal: ac.signal, onLine: (l) => ((pgid = Number(l)), ac.abort()) });
  const r = await p;
  assert.is(r.killed, 'cancelled');
  await waitFor(() => groupGone(pgid), 'the group to be gone', 10_000);
  const missing = await runChild('pmoves-no-such-program-here', []);
  assert.is(missing.spawnError?.code, 'ENOENT');
});

test('a grandchild that outlives its parent while holding the output open is ended, and the call returns', async () => {
  let pgid = 0;
  const r = await runChild('sh', ['-c', 'echo "$$"; sleep 300 & exit 0'], { onLine: (l) => (pgid = Number(l)) });
  assert.is(r.exitCode, 0);
  await waitFor(() => groupGone(pgid), 'the group to be gone', 15_000);
});

for (const how of ['SIGTERM', 'SIGINT', 'exit'] as const) {
  test(`the parent ${how === 'exit' ? 'exiting' : `getting ${how}`} kills the running child groups`, async () => {
    const child = path.join(repoRoot, 'dist', 'src', 'core', 'child.js');
    const script = `
      const { runChild } = await import(${JSON.stringify(child)});
      void runChild('sh', ${JSON.stringify(family)}, { onLine: (l) => { console.log(l); ${how === 'exit' ? 'setTimeout(() => process.exit(0), 50);' : ''} } });
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pgid = 0;
    parent.stdout.on('data', (c: Buffer) => (pgid ||= Number(String(c).trim())));
    await waitFor(() => pgid > 0, 'the child to start', 20_000);
    assert.not.ok(groupGone(pgid), 'the child runs');
    if (how !== 'exit') parent.kill(how);
    const code = await new Promise<number | null>((r) => parent.on('exit', (c, s) => r(c ?? (s ? -1 : null))));
    assert.ok(how === 'exit' ? code === 0 : code === -1, `the parent ended as the signal says (${code})`);
    await waitFor(() => groupGone(pgid), 'the group to be gone', 10_000);
  });
}

test('the built CLI: plan interrupted mid-handshake leaves no MCP server running (a child the MCP SDK starts)', async () => {
  const t = tempDir('pmoves-child-mcp-');
  let server = 0;
  try {
    const pids = path.join(t.dir, 'pids');
    const fake = path.join(t.dir, 'silent-server');
    writeFileSync(fake, `#!/bin/sh\necho $$ >> ${JSON.stringify(pids)}\nexec sleep 600\n`); // never answers initialize
    chmodSync(fake, 0o755);
    writeFileSync(path.join(t.dir, 'pmoves.mini.yaml'), `apiVersion: pmoves.ai/mini/v1\nmcp:\n  silent: { command: ${JSON.stringify(fake)}, clients: [cursor], timeout: 120 }\n`);
    const child = cliSpawn(['mini', 'plan'], { cwd: t.dir, home: path.join(t.dir, 'pm'), env: { HOME: t.dir } });
    await waitFor(() => existsSync(pids) && readFileSync(pids, 'utf8').trim().length > 0, 'the server to start', 30_000);
    server = Number(readFileSync(pids, 'utf8').trim().split('\n')[0]);
    child.kill('SIGTERM');
    await child;
    await waitFor(() => {
      try {
        process.kill(server, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the MCP server to be gone', 10_000);
    server = 0;
  } finally {
    if (server) process.kill(server, 'SIGKILL'); // only on failure: what this test started
    t.cleanup();
  }
});

test('the built CLI: plan interrupted while compose answers leaves no compose (or its children) running', async () => {
  const t = tempDir('pmoves-child-cli-');
  let leftovers = (): number[] => [];
  try {
    // a compose that answers its version and then takes forever over `config`, with a child of its own
    const pids = path.join(t.dir, 'pids');
    const fake = path.join(t.dir, 'slow-compose');
    const nap = `${300 + (process.pid % 997)}.5`; // a sleep no other process runs, to find it with ps
    writeFileSync(fake, `#!/bin/sh\ncase "$*" in *version*) echo 2.26.1; exit 0;; esac\necho $$ >> ${JSON.stringify(pids)}\nsleep ${nap} &\nwait\n`);
    const running = () => execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(fake) || l.includes(`sleep ${nap}`));
    leftovers = () => running().map((l) => Number(l.trim().split(/\s+/)[0]));
    chmodSync(fake, 0o755);
    writeFileSync(path.join(t.dir, 'docker-compose.yml'), 'services:\n  app:\n    image: pmoves-test/busybox:latest\n');
    writeFileSync(path.join(t.dir, 'pmoves.mini.yaml'), `apiVersion: pmoves.ai/mini/v1\nstacks:\n  s: { files: [docker-compose.yml], project: pmoves-child-${process.pid} }\n`);
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      writeFileSync(pids, '');
      const child = cliSpawn(['mini', 'plan', '--no-probe'], { cwd: t.dir, home: path.join(t.dir, 'pm'), env: { PMOVES_COMPOSE: fake, HOME: t.dir } });
      await waitFor(() => existsSync(pids) && readFileSync(pids, 'utf8').trim().length > 0, 'compose to start', 30_000);
      const started = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
      child.kill(sig);
      await child;
      for (const pgid of started) await waitFor(() => groupGone(pgid), `compose's group ${pgid} to be gone after ${sig}`, 10_000);
      await waitFor(() => running().length === 0, `no compose or its sleep left after ${sig}`, 10_000);
    }
  } finally {
    for (const pid of leftovers()) process.kill(pid, 'SIGKILL'); // only on failure: what this test started
    t.cleanup();
  }
});

test.run();
