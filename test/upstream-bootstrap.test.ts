// `bootstrap` (env bootstrap from a registry + provisioning bundle) and the lines upstream's `status`
// prints about it, in a fresh git repository as a new user would have.
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir, type CliOptions } from './helpers.js';

async function run(args: string[], opts: CliOptions) {
  const r = await cli(['mini', ...args], opts);
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const REGISTRY = {
  version: 1,
  services: [
    {
      id: 'supabase',
      name: 'Supabase',
      variables: [
        { key: 'SUPABASE_URL', file: 'pmoves/env.shared', type: 'url', default: 'http://localhost:65421', required: true },
        { key: 'VAULT_ENC_KEY', file: 'pmoves/env.shared', sensitive: true, required: true, generate: { type: 'random_hex', length: 32 } },
      ],
    },
    { id: 'n8n', name: 'n8n', variables: [{ key: 'N8N_PASSWORD', file: 'pmoves/.env.local', sensitive: true, generate: { type: 'passphrase', words: 3 } }] },
    { id: 'discord', name: 'Discord', variables: [{ key: 'DISCORD_WEBHOOK_URL', file: 'pmoves/env.shared', sensitive: true, required: true }] },
  ],
};

function repo(): { dir: string; cleanup(): void; opts: CliOptions } {
  const t = tempDir();
  mkdirSync(path.join(t.dir, '.git'));
  mkdirSync(path.join(t.dir, 'pmoves', 'bootstrap'), { recursive: true });
  writeFileSync(path.join(t.dir, 'pmoves', 'bootstrap', 'registry.json'), JSON.stringify(REGISTRY, null, 2));
  return { ...t, opts: { cwd: t.dir, home: path.join(t.dir, 'home') } };
}

test('bootstrap --accept-defaults: env files, the bundle; a second run changes nothing and says so; status then says ready', async () => {
  const r = repo();
  try {
    const dest = path.join(r.dir, 'CATACLYSM_STUDIOS_INC', 'PMOVES-PROVISIONS');
    const wizard = path.join(dest, 'scripts', 'install', 'wizard.sh');
    const before = await run(['status'], r.opts);
    assert.ok(before.stdout.split('\n').includes(`Provisioning bundle: missing (expected ${wizard})`), before.stdout);

    const a = await run(['bootstrap', '--accept-defaults', '-s', 'supabase', '-s', 'n8n'], r.opts);
    assert.is(a.exitCode, 0, a.stderr);
    assert.equal(a.stdout.split('\n'), ['[info] Updated configuration files:', '[info]   - pmoves/env.shared', '[info]   - pmoves/.env.local', `Provisioning bundle staged to ${dest}`]);
    const shared = readFileSync(path.join(r.dir, 'pmoves', 'env.shared'), 'utf8');
    assert.match(shared, /^# Managed by pmoves\/scripts\/bootstrap_env\.py\n# Generated at .*\n\nSUPABASE_URL=http:\/\/localhost:65421\nVAULT_ENC_KEY=[0-9a-f]{32}\n$/);
    assert.is(statSync(path.join(r.dir, 'pmoves', 'env.shared')).mode & 0o777, 0o600);
    const key = /VAULT_ENC_KEY=(\w+)/.exec(shared)![1]!;
    const pass = /N8N_PASSWORD=(.+)/.exec(readFileSync(path.join(r.dir, 'pmoves', '.env.local'), 'utf8'))![1]!;
    assert.match(pass, /^[a-z]{5}-[a-z]{5}-[a-z]{5}$/);
    assert.ok(existsSync(wizard));
    const manifest = JSON.parse(readFileSync(path.join(dest, 'provisioning-manifest.json'), 'utf8'));
    assert.equal(Object.keys(manifest), ['generated_at', 'source', 'addons']);
    assert.equal(manifest.addons, {});

    const b = await run(['bootstrap', '--accept-defaults', '-s', 'supabase', '-s', 'n8n'], r.opts);
    assert.is(b.exitCode, 0, b.stderr);
    assert.equal(b.stdout.split('\n'), ['[info] No changes were necessary.', `Provisioning bundle staged to ${dest}`, 'The bundle was already up to date: nothing changed.']);
    assert.is(readFileSync(path.join(r.dir, 'pmoves', 'env.shared'), 'utf8'), shared);
    for (const out of [a, b]) assert.not.ok((out.stdout + out.stderr).includes(key) || (out.stdout + out.stderr).includes(pass), 'a value was printed');

    const st = await run(['status'], r.opts);
    assert.is(st.exitCode, 0, st.stderr);
    assert.equal(st.stdout.split('\n').slice(0, 3), ['Active profile: (none)', `Provisioning bundle: ready (${wizard})`, 'Glancer: not requested']);
    const j = JSON.parse((await run(['status', '--json'], r.opts)).stdout);
    assert.equal(j.upstream.provisioning, { ready: true, wizard });
    assert.is(j.upstream.glancer, 'not requested');
  } finally {
    r.cleanup();
  }
});

test('bootstrap --accept-defaults with a required value nobody can supply: exit 2, nothing written, keys named', async () => {
  const r = repo();
  try {
    const a = await run(['bootstrap', '--accept-defaults'], r.opts);
    assert.is(a.exitCode, 2);
    assert.match(a.stderr, /\[error\]   - \[Discord\] DISCORD_WEBHOOK_URL/);
    assert.not.ok(existsSync(path.join(r.dir, 'pmoves', 'env.shared')));
  } finally {
    r.cleanup();
  }
});

test('bootstrap: unknown service, a bad registry (file:line:column), no terminal without --accept-defaults', async () => {
  const r = repo();
  try {
    const u = await run(['bootstrap', '--accept-defaults', '--service', 'nope'], r.opts);
    assert.is(u.exitCode, 2); // upstream's bootstrap_env: `[error] …`, exit 2
    assert.match(u.stderr, /^\[error\] Unknown service id\(s\): nope/);
    const bad = path.join(r.dir, 'bad.json');
    writeFileSync(bad, '{\n  "version": 2,\n  "services": []\n}\n');
    const v = await run(['bootstrap', '--accept-defaults', '--registry', bad], r.opts);
    assert.is(v.exitCode, 1);
    assert.match(v.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:3: expected "version": 1`));
    assert.not.match(v.stderr, /\n\s+at /);
    const n = await run(['bootstrap'], r.opts);
    assert.is(n.exitCode, 1);
    assert.match(n.stderr, /--accept-defaults/);
  } finally {
    r.cleanup();
  }
});

test('bootstrap -o DIR stages there; --with-glancer outside an upstream checkout says where Glancer comes from', async () => {
  const r = repo();
  try {
    const out = path.join(r.dir, 'bundle');
    const a = await run(['bootstrap', '--accept-defaults', '-s', 'n8n', '-o', out], r.opts);
    assert.is(a.exitCode, 0, a.stderr);
    assert.ok(existsSync(path.join(out, 'scripts', 'install', 'wizard.sh')));
    const st = await run(['status', '--provisioning-path', out], r.opts);
    assert.ok(st.stdout.split('\n').includes(`Provisioning bundle: ready (${path.join(out, 'scripts', 'install', 'wizard.sh')})`), st.stdout);
    const gl = await run(['bootstrap', '--accept-defaults', '-s', 'n8n', '-o', out, '--with-glancer'], r.opts);
    assert.is(gl.exitCode, 1);
    assert.match(gl.stdout, /^Failed to stage provisioning bundle: Glancer source missing: /m);
  } finally {
    r.cleanup();
  }
});

test('status with a staged Glancer compose and no docker CLI: upstream\'s words', async () => {
  const r = repo();
  try {
    const dest = path.join(r.dir, 'CATACLYSM_STUDIOS_INC', 'PMOVES-PROVISIONS');
    mkdirSync(path.join(dest, 'addons', 'glancer'), { recursive: true });
    writeFileSync(path.join(dest, 'addons', 'glancer', 'docker-compose.glancer.yml'), 'services: {}\n');
    const st = await run(['status'], { ...r.opts, env: { PATH: path.join(r.dir, 'no-bin') } });
    assert.ok(st.stdout.split('\n').includes('Glancer: staged (docker CLI unavailable for health check)'), st.stdout);
  } finally {
    r.cleanup();
  }
});

test.run();
