// Ctrl-C on `agents exec` stops the agent and its children (its own process group), the exit code is
// the agent's, and the run is still audited. The agent here is a stand-in script given with --bin that
// prints one Codex event and starts a child; the real CLIs run in agents-real.test.ts.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { processAlive } from '../src/core/fs.js';
import { cliSpawn, repoRoot, tempDir, waitFor } from './helpers.js';

const t = suite('agents-stop');

const alive = processAlive;

t('SIGINT stops the agent and its children; the exit code is the agent\'s; the run is audited', async () => {
  const { dir, cleanup } = tempDir('pmoves-agents-stop-');
  let childPid = 0;
  try {
    writeFileSync(path.join(dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\n');
    mkdirSync(path.join(dir, 'tasks'));
    copyFileSync(path.join(repoRoot, 'tasks', 'status_report.yaml'), path.join(dir, 'tasks', 'status_report.yaml'));
    const agent = path.join(dir, 'fake-agent.sh');
    const pidFile = path.join(dir, 'child.pid');
    writeFileSync(agent, `#!/bin/sh\n[ "$1" = sandbox ] && exit 0  # agents exec's sandbox probe\ncat > /dev/null\nsleep 300 &\necho $! > '${pidFile}'\necho '{"type":"thread.started","thread_id":"fake"}'\nwait\n`);
    chmodSync(agent, 0o755);
    const p = cliSpawn(['mini', 'agents', 'exec', '--tool', 'codex', '--task', 'status_report', '--bin', agent, '-m', path.join(dir, 'pmoves.mini.yaml')], { cwd: dir, home: `${dir}-home` });
    let out = '';
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('[codex] session fake') && existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim(), 'the agent to start');
    childPid = Number(readFileSync(pidFile, 'utf8').trim());
    assert.ok(alive(childPid));
    p.kill('SIGINT');
    const r = await p;
    assert.is(r.exitCode, 143, 'the agent was stopped by SIGTERM: 128 + 15');
    await waitFor(() => !alive(childPid), "the agent's child to be gone");
    const audit = readFileSync(path.join(`${dir}-home`, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const rec = audit.find((a) => a.action === 'agents-exec');
    assert.is(rec.exit_code, 143);
    assert.is(rec.outcome, 'failed');
    assert.is(rec.task, 'status_report');
  } finally {
    if (childPid && alive(childPid)) process.kill(childPid, 'SIGKILL');
    cleanup();
    rmSync(`${dir}-home`, { recursive: true, force: true });
  }
});

t.run();
