// The page's server through the built CLI (`pmoves mini ui`), over real HTTP on loopback: who may
// read and who may change (token, cookie, CSRF value, origin, Host), the CSP on every response, and
// that a secret's value (a canary) never reaches the page, the snapshot, the graph or the event stream.
import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, cliSpawn, freePort, tempDir, waitFor } from './helpers.js';
import { startWatch, writeBundle } from './watch-helpers.js';

const CANARY = 'canary-7f3a9c1e5b2d4f60';
const TOKEN = 'ui-token-0123456789abcdef';
const tmp = tempDir('pmoves-ui-server-');
const home = path.join(tmp.dir, 'home');
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
writeBundle(path.join(tmp.dir, 'env.cgp.json'), { SUPABASE_SERVICE_ROLE_KEY: CANARY });
writeFileSync(manifest, ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', '    env_file: out/env.shared', ''].join('\n'));

type Res = { status: number; headers: http.IncomingHttpHeaders; body: string };
function req(port: number, method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path: p, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

async function startUi(args: string[], env: Record<string, string> = {}) {
  const port = await freePort();
  const proc = cliSpawn(['mini', 'ui', '-m', manifest, '--listen', `127.0.0.1:${port}`, ...args], { home, env });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor(() => out.includes(`http://127.0.0.1:${port}/`) || (proc.exitCode !== null && Promise.reject(new Error(out))), 'the page to listen');
  return { port, out: () => out, stop: async () => { proc.kill('SIGTERM'); await proc; } };
}

test('bad addresses: beyond loopback without a token, or not an address: exit 1, a clear message', async () => {
  let r = await cli(['mini', 'ui', '-m', manifest, '--listen', '0.0.0.0:9'], { home });
  assert.is(r.exitCode, 1);
  assert.match(String(r.stderr), /beyond loopback only with a bearer token \(--ui-token-label LABEL\)/);
  assert.not.match(String(r.stderr), /\n\s+at /);
  r = await cli(['mini', 'ui', '-m', manifest, '--listen', 'nope:port'], { home });
  assert.is(r.exitCode, 1);
  assert.match(String(r.stderr), /--listen: expected HOST:PORT or PORT/);
  r = await cli(['mini', 'ui', '-m', manifest, '--ui-token-label', 'UNSET_LABEL'], { home, env: { UNSET_LABEL: '' } });
  assert.is(r.exitCode, 1);
  assert.match(String(r.stderr), /--ui-token-label UNSET_LABEL: the variable is not set/);
  r = await cli(['mini', 'ui', '-m', manifest, '--listen', '0.0.0.0:9'], { home });
  assert.is(r.exitCode, 1);
  assert.match(String(r.stderr), /Error: --listen 0\.0\.0\.0: the page serves beyond loopback only with a bearer token/, 'the message names the option the user gave');
});

test('watch --ui: the same refusal beyond loopback; the systemd unit carries the flags, never the token', async () => {
  const r = await cli(['mini', 'watch', '-m', manifest, '--ui', '0.0.0.0:9'], { home });
  assert.is(r.exitCode, 1);
  assert.match(String(r.stderr), /--ui 0\.0\.0\.0: the page serves beyond loopback only with a bearer token/);
  const unit = await cli(['mini', 'watch', '-m', manifest, '--ui', '0.0.0.0:9470', '--ui-token-label', 'UI_TOKEN', '--print-systemd-unit'], { home, env: { UI_TOKEN: TOKEN } });
  assert.is(unit.exitCode, 0, String(unit.stderr));
  assert.match(String(unit.stdout), /ExecStart=.* --ui 0\.0\.0\.0:9470 --ui-token-label UI_TOKEN/);
  assert.not.ok(String(unit.stdout).includes(TOKEN));
});

test('loopback without a token: strict CSP, loopback Host only, POST needs the page CSRF value and the same origin', async () => {
  const ui = await startUi([]);
  try {
    const page = await req(ui.port, 'GET', '/');
    assert.is(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    assert.not.match(page.body, /<script>|style=|https?:\/\/(?!127)/); // no inline script or style, nothing from outside
    const csrf = /name="pmoves-csrf" content="([0-9a-f]+)"/.exec(page.body)![1]!;
    for (const p of ['/app.js', '/app.css', '/api/snapshot', '/api/graph.svg']) {
      const r = await req(ui.port, 'GET', p);
      assert.is(r.status, 200, p);
      assert.ok(r.headers['content-security-policy'], p);
      assert.not.ok(r.body.includes(CANARY), `${p} holds the canary`);
    }
    assert.is((await req(ui.port, 'GET', '/', { host: `attacker.example:${ui.port}` })).status, 421); // DNS rebinding
    const json = { 'content-type': 'application/json' };
    const body = JSON.stringify({ generation: 1 });
    assert.is((await req(ui.port, 'POST', '/api/rollback/preview', json, body)).status, 403); // no CSRF value
    assert.is((await req(ui.port, 'POST', '/api/rollback/preview', { ...json, 'x-pmoves-csrf': 'f'.repeat(64) }, body)).status, 403);
    assert.is((await req(ui.port, 'POST', '/api/rollback/preview', { ...json, 'x-pmoves-csrf': csrf, origin: 'http://attacker.example' }, body)).status, 403);
    assert.is((await req(ui.port, 'POST', '/api/rollback/preview', { 'content-type': 'text/plain', 'x-pmoves-csrf': csrf }, body)).status, 403);
    const ok = await req(ui.port, 'POST', '/api/rollback/preview', { ...json, 'x-pmoves-csrf': csrf, origin: `http://127.0.0.1:${ui.port}` }, body);
    assert.is(ok.status, 400); // allowed through, and there is no generation 1
    assert.match(JSON.parse(ok.body).error, /no such generation/);
    const snap = JSON.parse((await req(ui.port, 'GET', '/api/snapshot')).body);
    assert.is(snap.resources[0].address, 'secrets.env');
    assert.is(snap.resources[0].status, 'missing');
    // no daemon: an edit of the manifest tells the open pages to fetch again, and the new plan shows it
    let stream = '';
    const sse = http.get({ host: '127.0.0.1', port: ui.port, path: '/events' }, (res) => res.on('data', (c: Buffer) => (stream += c.toString())));
    sse.on('error', () => {});
    try {
      await waitFor(() => stream.includes('retry:'), 'the event stream');
      writeFileSync(manifest, ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', '    env_file: out/env.shared', '  other:', '    bundle: env.cgp.json', '    env_file: out/other.env', ''].join('\n'));
      await waitFor(() => stream.includes('event: snapshot'), 'a snapshot event after the edit');
      const again = JSON.parse((await req(ui.port, 'GET', '/api/snapshot')).body);
      assert.equal(again.resources.map((r: { address: string }) => r.address).sort(), ['secrets.env', 'secrets.other']);
      assert.not.ok(stream.includes(CANARY));
    } finally {
      sse.destroy();
    }
  } finally {
    await ui.stop();
  }
});

test('with --ui-token-label: everything needs the token (bearer or the cookie from /login); the token is never echoed', async () => {
  const ui = await startUi(['--ui-token-label', 'UI_TOKEN'], { UI_TOKEN: TOKEN });
  try {
    assert.not.ok(ui.out().includes(TOKEN));
    const anon = await req(ui.port, 'GET', '/');
    assert.is(anon.status, 401);
    assert.match(anon.body, /<form method="post" action="\/login">/);
    assert.is((await req(ui.port, 'GET', '/api/snapshot')).status, 401);
    assert.is((await req(ui.port, 'GET', '/events')).status, 401);
    assert.is((await req(ui.port, 'GET', '/api/snapshot', { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
    const withBearer = await req(ui.port, 'GET', '/api/snapshot', { authorization: `Bearer ${TOKEN}` });
    assert.is(withBearer.status, 200);
    assert.not.ok(withBearer.body.includes(CANARY));
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    assert.is((await req(ui.port, 'POST', '/login', form, 'token=nope')).status, 401);
    assert.is((await req(ui.port, 'POST', '/login', { ...form, origin: 'http://attacker.example' }, `token=${TOKEN}`)).status, 403);
    const login = await req(ui.port, 'POST', '/login', form, `token=${TOKEN}`);
    assert.is(login.status, 303);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    assert.match(String(login.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    assert.not.ok(cookie.includes(TOKEN));
    const page = await req(ui.port, 'GET', '/', { cookie });
    assert.is(page.status, 200);
    assert.not.ok(page.body.includes(TOKEN));
    const csrf = /name="pmoves-csrf" content="([0-9a-f]+)"/.exec(page.body)![1]!;
    const json = { 'content-type': 'application/json', cookie };
    const body = JSON.stringify({ generation: 1 });
    assert.is((await req(ui.port, 'POST', '/api/rollback/preview', json, body)).status, 403); // cookie alone is not enough
    assert.is((await req(ui.port, 'POST', '/api/rollback/preview', { ...json, 'x-pmoves-csrf': csrf }, body)).status, 400);
    assert.is((await req(ui.port, 'POST', '/api/rollback/preview', { 'content-type': 'application/json', 'x-pmoves-csrf': csrf }, body)).status, 401); // CSRF value alone is not enough
    assert.is((await req(ui.port, 'POST', '/api/rollback/preview', { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body)).status, 400); // a script with the token
  } finally {
    await ui.stop();
  }
});

test('watch --git --ui: the page plans the manifest of the commit the watcher loaded (not ./pmoves.mini.yaml)', async () => {
  const dir = path.join(tmp.dir, 'gitops');
  const env = { GIT_CONFIG_GLOBAL: path.join(dir, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1', HOME: dir };
  mkdirSync(path.join(dir, 'work'), { recursive: true });
  writeFileSync(env.GIT_CONFIG_GLOBAL, '[user]\n\tname = UI Test\n\temail = ui@example.invalid\n[init]\n\tdefaultBranch = main\n');
  const remote = path.join(dir, 'remote.git');
  await execa('git', ['init', '-q', '--bare', '-b', 'main', remote], { env });
  const work = path.join(dir, 'work');
  await execa('git', ['init', '-q', '-b', 'main', work], { env });
  mkdirSync(path.join(work, 'edge'));
  writeBundle(path.join(work, 'edge', 'env.cgp.json'), { SUPABASE_SERVICE_ROLE_KEY: CANARY });
  writeFileSync(path.join(work, 'edge', 'pmoves.mini.yaml'), ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  edge:', '    bundle: env.cgp.json', `    env_file: ${path.join(dir, 'out', 'env.shared')}`, ''].join('\n'));
  for (const args of [['add', '-A'], ['commit', '-q', '-m', 'edge'], ['push', '-q', remote, 'main']]) await execa('git', args, { cwd: work, env });
  const port = await freePort();
  const w = startWatch(['--git', remote, '--path', 'edge/pmoves.mini.yaml', '--interval', '1h', '--ui', `127.0.0.1:${port}`], { home: path.join(dir, 'home'), cwd: dir, env });
  try {
    await w.next((e) => e.event === 'generation', 'generation 1', 0, 60_000);
    const snap = await waitFor(async () => {
      const s = JSON.parse((await req(port, 'GET', '/api/snapshot')).body);
      return s.resources.some((r: { address: string; status: string }) => r.address === 'secrets.edge' && r.status === 'in-sync') ? s : null;
    }, 'the page to show the commit\'s resource in sync');
    assert.match(snap.manifest, /edge[\\/]pmoves\.mini\.yaml$/);
    assert.ok(snap.manifest.startsWith(path.join(dir, 'home')), snap.manifest);
    assert.not.ok(JSON.stringify(snap).includes(CANARY));
  } finally {
    await w.term().catch(() => {});
    await w.stop();
  }
});

test.after(() => tmp.cleanup());
test.run();
