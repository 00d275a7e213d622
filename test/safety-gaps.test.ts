// Issue 13 cases that had no test of their own: blocked resources are counted apart from changes,
// `models pull` asks for consent as apply does, and an agent's config that is a symlink (a dotfile
// manager's) is written through and stays a symlink.
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, repoRoot, tempDir } from './helpers.js';

const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;
const bundle = path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json');

function box() {
  const t = tempDir('pmoves-gaps-');
  const home = path.join(t.dir, 'home');
  mkdirSync(home, { recursive: true });
  const manifest = path.join(t.dir, 'pmoves.mini.yaml');
  const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), CODEX_HOME: path.join(home, '.codex') };
  return {
    ...t,
    home,
    write: (yaml: string) => writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\n${yaml}`),
    run: (args: string[], extra: Record<string, string> = {}) => cli(['mini', ...args, '-m', manifest], { home: path.join(t.dir, 'pm'), cwd: t.dir, env: { ...env, ...extra } }),
  };
}

test('a blocked resource is counted on its own line, not as a change', async () => {
  const b = box();
  try {
    b.write(`secrets:\n  env:\n    bundle: ${bundle}\n    env_file: out/env\n    required: [NO_SUCH_LABEL]\n  ok:\n    bundle: ${bundle}\n    env_file: out/ok\n`);
    const plan = await b.run(['plan']);
    const text = String(plan.stdout);
    assert.match(text, 'Plan: 1 to add, 0 to change, 0 to destroy.\nNot planned: 1 blocked.');
    assert.not.match(text, /because blocked/);
    assert.match(text, '# secrets.env is blocked: it would be created, but an error below stops it');
    assert.not.match(text, /# secrets\.env will be/);
    assert.match(out(plan), 'secrets.env cannot be written: required label missing from the bundle: NO_SUCH_LABEL');
  } finally {
    b.cleanup();
  }
});

test('models pull without a terminal refuses unless --auto-approve (CI=true is not consent); nothing is downloaded', async () => {
  const b = box();
  try {
    b.write(`models:\n  f:\n    provider: file\n    url: http://127.0.0.1:9/f.bin\n    sha256: "${'0'.repeat(64)}"\n    size: 10 MB\n    path: out/f.bin\n`);
    for (const env of [{}, { CI: 'true' }] as Record<string, string>[]) {
      const r = await b.run(['models', 'pull', 'f'], env);
      assert.is(r.exitCode, 1, out(r));
      assert.match(String(r.stderr), /needs confirmation, but there is no terminal to ask on: pass --auto-approve/);
      assert.not.match(String(r.stderr), /\n\s+at /);
    }
    assert.not.ok(existsSync(path.join(b.dir, 'out')), 'nothing downloaded, not even a partial file');
  } finally {
    b.cleanup();
  }
});

test("Codex's config.toml as a dotfile symlink: the entry goes into its target, the link stays; removal gives the target back", async () => {
  const b = box();
  try {
    const dotfiles = path.join(b.dir, 'dotfiles');
    mkdirSync(dotfiles);
    const target = path.join(dotfiles, 'codex.toml');
    const original = 'model = "o3"\n';
    writeFileSync(target, original);
    mkdirSync(path.join(b.home, '.codex'));
    const link = path.join(b.home, '.codex', 'config.toml');
    symlinkSync(target, link);
    const server = `mcp_clients: [codex]\nmcp:\n  mem:\n    command: ${process.execPath}\n    args: [server.js]\n`;
    b.write(server);
    const a = await b.run(['apply', '--auto-approve', '--no-probe']);
    assert.is(a.exitCode, 0, out(a));
    assert.ok(lstatSync(link).isSymbolicLink(), 'still a symlink');
    assert.is(readlinkSync(link), target);
    assert.match(readFileSync(target, 'utf8'), /^model = "o3"\n\n\[mcp_servers\.mem\]\n/);
    b.write('mcp_clients: [codex]\n');
    const gone = await b.run(['apply', '--auto-approve', '--no-probe']);
    assert.is(gone.exitCode, 0, out(gone));
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.is(readFileSync(target, 'utf8'), original);
  } finally {
    b.cleanup();
  }
});

test.run();
