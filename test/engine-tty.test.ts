// On a terminal (a real pty via util-linux `script`): apply asks for "yes", and the plan is coloured
// unless NO_COLOR or --no-color.
import { execa } from 'execa';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cliPath, fixtures, tempDir } from './helpers.js';

const t = suite('engine-tty');
let dir: string;
let cleanup: () => void;

t.before.each(() => {
  ({ dir, cleanup } = tempDir());
  copyFileSync(path.join(fixtures, 'chit', 'env.cleartext.cgp.json'), path.join(dir, 'env.cgp.json'));
  writeFileSync(path.join(dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env\n    include_labels: [SUPABASE_*]\n');
});
t.after.each(() => cleanup());

/** Run the CLI on a pty, typing `input`. */
function onTty(args: string[], input: string, env: Record<string, string | undefined> = {}) {
  const cmd = [process.execPath, cliPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return execa('script', ['-qec', cmd, '/dev/null'], {
    cwd: dir,
    input,
    reject: false,
    env: { PMOVES_HOME: path.join(dir, 'home'), NO_COLOR: undefined, CI: undefined, TERM: 'xterm', ...env },
    extendEnv: true,
    timeout: 60_000,
  });
}

t('apply asks; anything but "yes" cancels and changes nothing', async () => {
  const no = await onTty(['mini', 'apply'], 'no\n');
  assert.match(String(no.stdout), /Do you want to perform these actions\?/);
  assert.match(String(no.stdout), /Apply cancelled\./);
  assert.is(no.exitCode, 1);
  assert.not.ok(existsSync(path.join(dir, 'out', 'env')));
  const yes = await onTty(['mini', 'apply'], 'yes\n');
  assert.is(yes.exitCode, 0, String(yes.stdout));
  assert.match(String(yes.stdout), /Apply complete! Resources: 1 added/);
  assert.ok(existsSync(path.join(dir, 'out', 'env')));
});

t('--non-interactive never asks, and so refuses without --auto-approve; --auto-approve does not ask', async () => {
  const r = await onTty(['mini', 'apply', '--non-interactive'], '');
  assert.is(r.exitCode, 1, String(r.stdout));
  assert.not.match(String(r.stdout), /Do you want/);
  assert.match(String(r.stdout), /needs confirmation, but with --non-interactive it never asks: pass --auto-approve/);
  assert.not.ok(existsSync(path.join(dir, 'out', 'env')));
  const ok = await onTty(['mini', 'apply', '--non-interactive', '--auto-approve'], '');
  assert.is(ok.exitCode, 0, String(ok.stdout));
  assert.not.match(String(ok.stdout), /Do you want/);
  assert.ok(existsSync(path.join(dir, 'out', 'env')));
});

t('colour on a terminal; none with NO_COLOR or --no-color', async () => {
  const coloured = await onTty(['mini', 'plan'], '', { NO_COLOR: undefined });
  assert.match(String(coloured.stdout), /\x1b\[32m\+\x1b\[0m/);
  const noColorEnv = await onTty(['mini', 'plan'], '', { NO_COLOR: '1' });
  assert.not.match(String(noColorEnv.stdout), /\x1b\[3\dm/);
  const flag = await onTty(['mini', 'plan', '--no-color'], '');
  assert.not.match(String(flag.stdout), /\x1b\[3\dm/);
});

t.run();
