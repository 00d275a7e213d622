// Crash-safe ownership for stacks: an apply killed (SIGKILL) once compose has started creating the
// project's containers has already recorded the stack (project, files) in state; removed from the
// manifest, the next apply tears the project down. A stack entry state cannot plan a removal for (no
// project recorded) is an error on its own address; the other removals still go ahead.
import { execa } from 'execa';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { composeArgv } from './deployment-harness.js';
import { cli, cliSpawn, composeDown, tempDir, waitFor } from './helpers.js';

const tmp = tempDir('pmoves-stacks-crash-');
const home = path.join(tmp.dir, 'home');
const project = `pmc-${process.pid}-${Date.now().toString(36)}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const file = path.join(tmp.dir, 'docker-compose.yml');
const wrapper = path.join(tmp.dir, 'compose.sh');
const started = path.join(tmp.dir, 'up-started');
const done = path.join(tmp.dir, 'up-done');
const IMAGE = 'pmoves-test/busybox:latest';

test.after(async () => {
  await composeDown(project, [file], tmp.dir);
  tmp.cleanup();
});

async function containers(): Promise<string[]> {
  const r = await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Names}}']);
  return r.stdout.split('\n').filter(Boolean);
}

function writeManifest(withStack: boolean): void {
  const lines = ['apiVersion: pmoves.ai/mini/v1', 'compose:', `  command: [${JSON.stringify(wrapper)}]`];
  if (withStack) lines.push('stacks:', '  victim:', `    project: ${project}`, '    files: [docker-compose.yml]', '    wait_timeout: 60s');
  writeFileSync(manifest, lines.join('\n') + '\n');
}

test('killed while compose creates the containers: the next apply, without the stack, removes them', async () => {
  const argv = await composeArgv();
  // compose through a wrapper that says when `up` starts and ends (it is not killed with the CLI).
  writeFileSync(
    wrapper,
    `#!/bin/sh\ncase " $* " in *" up "*) touch ${JSON.stringify(started)};; esac\n${argv.map((a) => JSON.stringify(a)).join(' ')} "$@"\nrc=$?\ncase " $* " in *" up "*) touch ${JSON.stringify(done)};; esac\nexit $rc\n`,
  );
  chmodSync(wrapper, 0o755);
  const svc = (n: number) => `  s${n}:\n    image: ${IMAGE}\n    init: true\n    command: ["sleep", "2147483647"]\n`;
  writeFileSync(file, `services:\n${[1, 2, 3, 4].map(svc).join('')}`);
  writeManifest(true);

  const child = cliSpawn(['mini', 'apply', '--auto-approve', '-m', manifest], { home, cwd: tmp.dir });
  await waitFor(async () => existsSync(started) && (await containers()).length > 0, 'compose up to create a container', 120_000);
  child.kill('SIGKILL');
  await child;
  await waitFor(() => existsSync(done), 'compose up to finish', 120_000);
  assert.ok((await containers()).length > 0, 'compose made containers before the kill');

  writeManifest(false);
  const plan = await cli(['mini', 'plan', '-m', manifest], { home, cwd: tmp.dir, timeout: 120_000 });
  assert.is(plan.exitCode, 0, String(plan.stdout) + String(plan.stderr));
  assert.match(String(plan.stdout), /stacks\.victim will be torn down/);

  // A stack entry with no project recorded (as an older version's crash left it) cannot be planned.
  const state = JSON.parse(readFileSync(path.join(home, 'state.json'), 'utf8')) as { resources: Record<string, unknown> };
  state.resources['stacks.ghost'] = { section: 'stacks', owned: true, pending: 'create' };
  writeFileSync(path.join(home, 'state.json'), JSON.stringify(state));

  const a = await cli(['mini', 'apply', '--auto-approve', '-m', manifest], { home, cwd: tmp.dir, timeout: 120_000 });
  const out = String(a.stdout) + String(a.stderr);
  assert.is(a.exitCode, 1, out);
  assert.match(out, /stacks\.ghost.*(could not read|no project name)/);
  assert.equal(await containers(), [], 'the killed apply\'s containers are removed');
  assert.match(out, /stacks\.victim/);
});

test.run();
