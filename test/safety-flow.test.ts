// Changes flow within one apply: a secret rotated in the bundle reaches the stack that reads its env file
// in the same apply (the stack is re-read after secrets.env rewrote the file), so the next plan says
// No changes. Real compose, real containers (pmoves-test/busybox:latest), removed afterwards.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, composeDown, tempDir } from './helpers.js';

const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;

test('a rotated secret reaches its stack in one apply', async () => {
  const t = tempDir('pmoves-flow-');
  const project = `pmoves-flow-${process.pid}`;
  const run = (args: string[]) => cli(['mini', ...args], { home: path.join(t.dir, 'pm'), cwd: t.dir, env: { HOME: t.dir }, timeout: 180_000 });
  try {
    writeFileSync(path.join(t.dir, 'docker-compose.yml'), 'services:\n  app:\n    image: pmoves-test/busybox:latest\n    init: true\n    command: ["sh", "-c", "exec sleep 2147483647"]\n    environment: { DB_NAME: "${DB_NAME}" }\n');
    writeFileSync(
      path.join(t.dir, 'pmoves.mini.yaml'),
      `apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env: { bundle: bundle.json, env_file: out/env.shared }\nstacks:\n  s: { files: [docker-compose.yml], project: ${project}, env_files: [out/env.shared], depends_on: [secrets.env] }\n`,
    );
    const encode = async (v: string) => {
      writeFileSync(path.join(t.dir, 'in.env'), `DB_NAME=${v}\nAPI_TOKEN=tok-1\n`);
      const e = await run(['secrets', 'encode', '-e', 'in.env', '-o', 'bundle.json']);
      assert.is(e.exitCode, 0, out(e));
    };
    await encode('cnry42');
    const first = await run(['apply', '--auto-approve']);
    assert.is(first.exitCode, 0, out(first));
    await encode('cnry43');
    const second = await run(['apply', '--auto-approve']);
    assert.is(second.exitCode, 0, out(second));
    assert.match(String(second.stdout), /stacks\.s/, 'the stack was re-planned in the same apply');
    const plan = await run(['plan', '--detailed-exitcode']);
    assert.is(plan.exitCode, 0, out(plan));
    const env = await execa('docker', ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.ID}}'], { reject: false });
    const id = String(env.stdout).trim().split('\n')[0]!;
    const inspect = await execa('docker', ['inspect', '--format', '{{json .Config.Env}}', id], { reject: false });
    assert.match(String(inspect.stdout), 'DB_NAME=cnry43', 'the container runs with the rotated value');
  } finally {
    await composeDown(project, ['docker-compose.yml'], t.dir);
    t.cleanup();
  }
});

test.run();
