// Consent as Terraform asks for it (issue 13), for the commands besides apply that change the machine:
// `tear-down` (a real stack on the real engine) and `rollback` (generations made by a real watcher).
// Without a terminal they refuse unless --auto-approve is given; CI=true and --non-interactive are not
// consent; a refusal changes nothing.
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, composeDown, tempDir } from './helpers.js';
import { startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const REFUSED = /would change the machine and needs confirmation, but (there is no terminal to ask on|with --non-interactive it never asks): pass --auto-approve/;

async function running(project: string): Promise<string[]> {
  const r = await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`], { reject: false, stdin: 'ignore' });
  return String(r.stdout).split('\n').filter(Boolean);
}

test('tear-down without a terminal refuses unless --auto-approve (CI=true, --non-interactive are not consent); the stack keeps running', async () => {
  const t = tempDir('pmoves-consent-');
  const project = `pmconsent${process.pid}`;
  const compose = path.join(t.dir, 'docker-compose.yml');
  writeFileSync(compose, ['services:', '  app:', '    image: pmoves-test/busybox:latest', '    init: true', '    command: ["sleep", "2147483647"]', ''].join('\n'));
  writeFileSync(path.join(t.dir, 'pmoves.mini.yaml'), `apiVersion: pmoves.ai/mini/v1\nstacks:\n  app:\n    files: [docker-compose.yml]\n    project: ${project}\n`);
  const run = (args: string[], env: Record<string, string | undefined> = {}) => cli(['mini', ...args], { cwd: t.dir, home: path.join(t.dir, 'home'), env: { CI: undefined, ...env }, timeout: 180_000 });
  try {
    const up = await run(['apply', '--auto-approve']);
    assert.is(up.exitCode, 0, String(up.stdout) + String(up.stderr));
    assert.is((await running(project)).length, 1);

    for (const [args, env] of [
      [['tear-down', 'app'], {}],
      [['tear-down', 'app'], { CI: 'true' }],
      [['--non-interactive', 'tear-down', 'app'], {}],
    ] as const) {
      const r = await run([...args], env);
      assert.is(r.exitCode, 1, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stdout}${r.stderr}`);
      assert.match(String(r.stderr), REFUSED);
      assert.is((await running(project)).length, 1, 'the stack still runs');
    }

    const down = await run(['tear-down', 'app', '--auto-approve']);
    assert.is(down.exitCode, 0, String(down.stdout) + String(down.stderr));
    assert.is((await running(project)).length, 0);
  } finally {
    await composeDown(project, [compose], t.dir);
    t.cleanup();
  }
});

test('rollback without a terminal refuses unless --auto-approve; nothing is rolled back until then', async () => {
  const t = tempDir('pmoves-consent-');
  const home = path.join(t.dir, 'home');
  const file = path.join(t.dir, 'pmoves.mini.yaml');
  writeBundle(path.join(t.dir, 'env.cgp.json'), { SUPABASE_URL: 'http://127.0.0.1:54321', MEILI_MASTER_KEY: 'consent-meili' });
  const manifest = (labels: string) => `apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env\n    include_labels: [${labels}]\n`;
  const keys = () => readFileSync(path.join(t.dir, 'out', 'env'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]);
  writeFileSync(file, manifest('SUPABASE_URL'));
  let w: WatchProc | undefined;
  try {
    w = startWatch(['-m', file, '--interval', '1h'], { home, cwd: t.dir });
    await w.next((e) => e.event === 'generation' && e.generation === 1, 'generation 1');
    const m = w.mark();
    writeFileSync(file, manifest('SUPABASE_URL, MEILI_MASTER_KEY'));
    await w.next((e) => e.event === 'generation' && e.generation === 2, 'generation 2', m);
    await w.stop();
    w = undefined;
    assert.equal(keys(), ['MEILI_MASTER_KEY', 'SUPABASE_URL']);

    const run = (args: string[], env: Record<string, string | undefined> = {}) => cli(['mini', ...args, '-m', file], { cwd: t.dir, home, env: { CI: undefined, ...env } });
    for (const [args, env] of [
      [['rollback'], {}],
      [['rollback'], { CI: 'true' }],
      [['--non-interactive', 'rollback'], {}],
    ] as const) {
      const r = await run([...args], env);
      assert.is(r.exitCode, 1, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stdout}${r.stderr}`);
      assert.match(String(r.stderr), REFUSED);
      assert.equal(keys(), ['MEILI_MASTER_KEY', 'SUPABASE_URL'], 'nothing rolled back');
    }
    const ok = await run(['rollback', '--auto-approve']);
    assert.is(ok.exitCode, 0, String(ok.stdout) + String(ok.stderr));
    assert.match(String(ok.stdout), /Rolled back to generation 1/);
    assert.equal(keys(), ['SUPABASE_URL']);
  } finally {
    await w?.stop();
    t.cleanup();
  }
});

test.run();
