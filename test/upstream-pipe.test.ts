// A closed pipe (`pmoves mini … | head -1`) ends every command quietly with status 0: no EPIPE stack
// trace, no MaxListenersExceededWarning. The reader closes its end before the CLI writes, so every
// write the CLI makes meets a real EPIPE.
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliPath, tempDir } from './helpers.js';

function runClosed(args: string[], home: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, NO_COLOR: '1', PMOVES_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const listings = [
  ['mini', '--help'],
  ['mini', 'profile', 'list'],
  ['mini', 'profile', 'show', 'desktop-9950xd'],
  ['mini', 'mcp', 'list', '--catalog'],
  ['mini', 'crush', 'preview'],
  ['mini', 'deps', 'check'],
  ['mini', 'automations', 'list'],
  ['mini', 'mcp', 'health'],
  ['mini', 'status'],
];

for (const args of listings) {
  test(`${args.join(' ')} | (closed): exit 0, no stack trace`, async () => {
    const t = tempDir();
    try {
      const r = await runClosed(args, t.dir);
      assert.not.match(r.stderr, /EPIPE|at .*\.js:\d+|Unhandled 'error'/, r.stderr);
      assert.not.match(r.stderr, /MaxListenersExceededWarning/);
      assert.is(r.code, 0, r.stderr);
    } finally {
      t.cleanup();
    }
  });
}

test('a real shell pipe into head -1 prints one line and no trace', async () => {
  const { execa } = await import('execa');
  const t = tempDir();
  try {
    const r = await execa('bash', ['-c', `"${process.execPath}" "${cliPath}" mini profile list | head -1; echo "rc=\${PIPESTATUS[0]}"`], { env: { NO_COLOR: '1', PMOVES_HOME: t.dir }, reject: false });
    const lines = r.stdout.split('\n');
    assert.is(lines.length, 2, r.stdout);
    assert.is(lines[1], 'rc=0');
    assert.is(r.stderr, '');
  } finally {
    t.cleanup();
  }
});

test.run();
