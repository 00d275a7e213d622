// CHIT bundle values never pass through compose: a value that is only in a bundle of the manifest (not
// in any file compose reads as env) but written literally in a compose file, where compose quotes it
// back (v1 rejects the network_mode at config; v2 at up: "No such container: …"), is scrubbed from
// plan, plan --json, apply output, state files and audit.jsonl. The engine hands every bundle's and env
// file's values to the stacks kind (flags.secretValues). Under compose v2 and v1.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, composeDown, tempDir } from './helpers.js';
import { writeBundle } from './watch-helpers.js';

const tmp = tempDir('pmoves-stacks-scrub-');
const home = path.join(tmp.dir, 'home');
const project = `pms-${process.pid}-${Date.now().toString(36)}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const file = path.join(tmp.dir, 'docker-compose.yml');
const net = `canary-net-${process.pid}-x7q`;
const mode = `canary-mode-${process.pid}-k2v`;
const outputs: string[] = [];

test.after(async () => {
  await composeDown(project, [file], tmp.dir);
  tmp.cleanup();
});

const run = async (args: string[]) => {
  const r = await cli(['mini', ...args, '-m', manifest], { home, cwd: tmp.dir, timeout: 180_000 });
  outputs.push(String(r.stdout), String(r.stderr));
  return r;
};

test('bundle values quoted back by compose are scrubbed everywhere', async () => {
  // A label the stack never reads as env: its value appears only literally in the compose file.
  writeBundle(path.join(tmp.dir, 'env.cgp.json'), { NET_NAME: net, MODE_VALUE: mode });
  writeFileSync(file, `services:\n  a:\n    image: pmoves-test/busybox:latest\n    command: ["sleep", "2147483647"]\n    network_mode: "container:${net}"\n    environment:\n      MODE: ${mode}\n`);
  writeFileSync(
    manifest,
    `apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env.shared\nstacks:\n  app:\n    project: ${project}\n    files: [docker-compose.yml]\n    wait_timeout: 30s\n`,
  );
  const plan = await run(['plan']);
  const json = await run(['plan', '--json']);
  const apply = await run(['apply', '--auto-approve']);
  // compose does quote it (v1 at config, v2 at up): the apply fails on it, the plan (or apply) says why.
  assert.is(apply.exitCode, 1, String(apply.stdout) + String(apply.stderr));
  assert.match(String(plan.stdout) + String(apply.stdout) + String(apply.stderr), /network stack of container|No such container/);
  assert.match(String(plan.stdout) + String(json.stdout) + String(apply.stdout) + String(apply.stderr), '(sensitive value)');

  // state.json, its segments (state.d/) and audit.jsonl.
  const segs = path.join(home, 'state.d');
  const files = [path.join(home, 'state.json'), path.join(home, 'audit.jsonl'), ...(existsSync(segs) ? readdirSync(segs).map((f) => path.join(segs, f)) : [])];
  const written = files.filter(existsSync).map((f) => readFileSync(f, 'utf8'));
  // v2 fails at up (the secrets resource applied before: state and audit written); v1 at plan (nothing applied).
  if (/No such container/.test(String(apply.stdout) + String(apply.stderr))) assert.ok(written.length >= 2, 'state and audit written');
  for (const c of [net, mode]) for (const o of [...outputs, ...written]) assert.not.ok(o.includes(c), `canary ${c} leaked: ${o}`);
});

test('plan --verbose: every environment key on its line (env-file values sensitive, literals shown); the default view collapses them', async () => {
  const dir = path.join(tmp.dir, 'verbose');
  mkdirSync(dir, { recursive: true });
  const secret = `canary-verbose-${process.pid}-9zz`;
  writeFileSync(path.join(dir, 'vars.env'), `FIRST_VALUE=${secret}\nSECOND_VALUE=${secret}-2\n`);
  writeFileSync(path.join(dir, 'dc.yml'), `services:\n  b:\n    image: pmoves-test/busybox:latest\n    env_file: [vars.env]\n    environment:\n      LITERAL: shown-literal\n`);
  const m = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(m, `apiVersion: pmoves.ai/mini/v1\nstacks:\n  v:\n    project: ${project}-v\n    files: [dc.yml]\n`);
  const plain = await cli(['mini', 'plan', '-m', m], { home, cwd: dir, timeout: 120_000 });
  assert.is(plain.exitCode, 0, String(plain.stdout) + String(plain.stderr));
  assert.match(String(plain.stdout), '(2 values from vars.env; sensitive)');
  assert.not.match(String(plain.stdout), 'FIRST_VALUE');
  const verbose = await cli(['mini', 'plan', '--verbose', '-m', m], { home, cwd: dir, timeout: 120_000 });
  const o = String(verbose.stdout);
  assert.is(verbose.exitCode, 0, o);
  assert.match(o, /FIRST_VALUE\s+= \(sensitive value\)/);
  assert.match(o, /SECOND_VALUE\s+= \(sensitive value\)/);
  assert.match(o, /LITERAL\s+= "shown-literal"/);
  assert.not.match(o, 'values from vars.env');
  for (const x of [plain, verbose]) assert.not.ok((String(x.stdout) + String(x.stderr)).includes(secret));
});

test.run();
