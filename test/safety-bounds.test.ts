// Every read is bounded: FIFOs, devices and folders are refused before they are opened (also where
// validate defers the check to plan: a stack's env_files behind depends_on, an agent's config file),
// ${VAR} expansion has a limit, and a compose file with an alias bomb never reaches compose.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, repoRoot, tempDir } from './helpers.js';

const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;
const bundle = path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json');
const t = tempDir('pmoves-bounds-');
const home = path.join(t.dir, 'home');
mkdirSync(home, { recursive: true });
let n = 0;
function run(yaml: string, args: string[], env: Record<string, string> = {}) {
  const m = path.join(t.dir, `m${++n}.yaml`);
  writeFileSync(m, `apiVersion: pmoves.ai/mini/v1\n${yaml}`);
  // the deadline only stops a hang (the bug this file is about); it is not a timing assertion
  return cli(['mini', ...args, '-m', m], { home: path.join(t.dir, 'pm'), cwd: t.dir, env: { HOME: home, ...env }, timeout: 60_000 }).then((r) => ({ ...r, name: path.basename(m) }));
}
const compose = 'services:\n  app:\n    image: pmoves-test/busybox:latest\n    command: ["sleep", "1"]\n';

test.after(() => t.cleanup());

test("plan refuses a FIFO, a device or a folder in a stack's env_files behind depends_on, without reading it", async () => {
  execFileSync('mkfifo', [path.join(t.dir, 'fifo')]);
  mkdirSync(path.join(t.dir, 'folder'));
  writeFileSync(path.join(t.dir, 'docker-compose.yml'), compose);
  for (const [file, words] of [
    ['fifo', 'is a FIFO (named pipe), expected a regular file'],
    ['/dev/urandom', 'is a device, expected a regular file'],
    ['folder', 'is a folder, expected a regular file'],
  ]) {
    const yaml = `secrets:\n  env: { bundle: ${bundle}, env_file: out/env.shared }\nstacks:\n  demo:\n    files: [docker-compose.yml]\n    project: pmoves-bounds-${n}\n    env_files: [${file}]\n    depends_on: [secrets.env]\n`;
    const r = await run(yaml, ['plan', '--no-probe']);
    assert.is(r.timedOut, false, `${file}: plan returned`);
    assert.is(r.exitCode, 1, out(r));
    assert.match(out(r), words, out(r));
    // without the depends_on, validate says the same at the line of the value
    const v = await run(yaml.replace('    depends_on: [secrets.env]\n', ''), ['validate']);
    assert.match(String(v.stderr), new RegExp(`${v.name}:\\d+:\\d+: stacks\\.demo\\.env_files: .*${words.replace(/[()]/g, '\\$&')}`), out(v));
  }
});

test('${VAR} expansion stops at its limit with a located error (a 14 KB manifest no longer grows to 200 MB)', async () => {
  const big = 'B'.repeat(100_000);
  const refs = '${BIG}'.repeat(2000);
  for (const [yaml, line] of [
    [`stacks:\n  demo:\n    files:\n    - ${refs}\n`, 5],
    [`secrets:\n  env: { bundle: "${refs}", env_file: out/e.env }\n`, 3],
    [`mcp:\n  everything:\n    command: "${refs}"\n`, 4],
  ] as const) {
    const r = await run(yaml, ['validate'], { BIG: big });
    assert.is(r.exitCode, 1, out(r));
    assert.match(String(r.stderr), new RegExp(`${r.name}:${line}:\\d+: \\$\\{VAR\\} expansion: expands to more than 1 MiB`), out(r));
    assert.ok(out(r).length < 20_000, `output of ${out(r).length} characters`);
  }
  // many values each under the limit: the total is limited too
  // (one environment string holds at most 128 KiB on Linux: 9 references make 900 KB a value)
  const many = Array.from({ length: 6 }, (_, i) => `  s${i}: { bundle: ${bundle}, env_file: "out/${'${H}'.repeat(9)}${i}" }\n`).join('');
  const r = await run(`secrets:\n${many}`, ['validate'], { H: 'h'.repeat(100_000) });
  assert.is(r.exitCode, 1, out(r));
  assert.match(String(r.stderr), 'expand to more than 4 MiB in all');
});

test('a compose file with an alias bomb is refused at validate and plan, located, and no compose process starts', async () => {
  const levels = 'abcdefghi'.split('');
  const bomb = levels.map((l, i) => (i === 0 ? `${l}: &${l} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` : `${l}: &${l} [${Array(9).fill(`*${levels[i - 1]}`).join(',')}]`)).join('\n');
  writeFileSync(path.join(t.dir, 'bomb.yml'), `${compose}${bomb}\n`);
  // a normal file with many merges of one anchor is fine
  const common = `x-common: &common\n  image: pmoves-test/busybox:latest\nservices:\n${Array.from({ length: 150 }, (_, i) => `  s${i}:\n    <<: *common\n`).join('')}`;
  writeFileSync(path.join(t.dir, 'many.yml'), common);
  const project = `pmoves-bomb-${process.pid}`;
  for (const cmd of [['validate'], ['plan', '--no-probe']]) {
    const r = await run(`stacks:\n  demo: { files: [bomb.yml], project: ${project} }\n`, cmd);
    assert.is(r.exitCode, 1, out(r));
    assert.match(String(r.stderr), /:3:\d+: stacks\.demo\.files: .*bomb\.yml:\d+:\d+\): invalid YAML: aliases expand to too much data/, out(r));
  }
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  assert.not.match(ps, project, 'no compose process of this project');
  const ok = await run('stacks:\n  many: { files: [many.yml], project: pmoves-many }\n', ['validate']);
  assert.is(ok.exitCode, 0, out(ok));
});

test.run();
