// `crush preview|setup|status` against upstream's crush_configurator fixtures (../shared/fixtures/pmoves/crush).
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, fixtures, tempDir, type CliOptions } from './helpers.js';

async function run(args: string[], opts: CliOptions) {
  const r = await cli(args, opts);
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const KEYS = { OPENAI_API_KEY: 'test-openai-secret', ANTHROPIC_API_KEY: 'test-anthropic-secret', TENSORZERO_BASE_URL: 'http://localhost:3030/', TENSORZERO_API_KEY: 'test-tz-secret', N8N_API_KEY: 'test-n8n-secret' };
const NO_KEYS = { OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '', DEEPSEEK_API_KEY: '', TENSORZERO_BASE_URL: '', TENSORZERO_API_KEY: '', N8N_API_KEY: '' };

/** A PATH with only node (no pmoves-mini, mcp-docker, docker), as the fixtures were made. */
function barePath(dir: string): string {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  return bin;
}

function previewParts(stdout: string): { json: string; providers: string } {
  const i = stdout.lastIndexOf('\n\nProviders: ');
  return { json: stdout.slice(0, i), providers: stdout.slice(i + 2).trimEnd() };
}

test('crush preview with no keys equals crush.no-keys.json byte for byte', async () => {
  const t = tempDir();
  try {
    const r = await run(['mini', 'crush', 'preview'], { cwd: t.dir, home: t.dir, env: { ...NO_KEYS, PATH: barePath(t.dir) } });
    assert.is(r.exitCode, 0, r.stderr);
    const p = previewParts(r.stdout);
    assert.is(p.json, readFileSync(path.join(fixtures, 'crush', 'crush.no-keys.json'), 'utf8'));
    assert.is(p.providers, 'Providers: ollama');
  } finally {
    t.cleanup();
  }
});

test('crush preview with keys equals crush.with-keys.json and never prints a value', async () => {
  const t = tempDir();
  try {
    const r = await run(['mini', 'crush', 'preview'], { cwd: t.dir, home: t.dir, env: { ...NO_KEYS, ...KEYS, PATH: barePath(t.dir) } });
    assert.is(r.exitCode, 0, r.stderr);
    const p = previewParts(r.stdout);
    assert.is(p.json, readFileSync(path.join(fixtures, 'crush', 'crush.with-keys.json'), 'utf8'));
    assert.is(p.providers, 'Providers: anthropic, ollama, openai, tensorzero');
    assert.not.match(r.stdout + r.stderr, /test-[a-z0-9]+-secret/);
  } finally {
    t.cleanup();
  }
});

test('keys come from pmoves/env.shared when the environment lacks them (values still never printed)', async () => {
  const t = tempDir();
  try {
    mkdirSync(path.join(t.dir, 'pmoves'));
    writeFileSync(path.join(t.dir, 'pmoves', 'env.shared'), 'OPENAI_API_KEY=test-file-secret\n# DEEPSEEK_API_KEY=x\n');
    const r = await run(['mini', 'crush', 'preview'], { cwd: t.dir, home: t.dir, env: { ...NO_KEYS, PATH: barePath(t.dir) } });
    assert.is(previewParts(r.stdout).providers, 'Providers: ollama, openai');
    assert.match(r.stdout, /"api_key": "\$OPENAI_API_KEY"/);
    assert.not.match(r.stdout, /test-file-secret/);
  } finally {
    t.cleanup();
  }
});

test('crush setup writes upstream bytes to a new file, is idempotent, keeps the user\'s entries, status prints upstream lines', async () => {
  const t = tempDir();
  try {
    const file = path.join(t.dir, 'cfg', 'crush.json');
    const env = { ...NO_KEYS, ...KEYS, PATH: barePath(t.dir) };
    const st0 = await run(['mini', 'crush', 'status', '--path', file], { cwd: t.dir, home: t.dir, env });
    assert.is(st0.stdout, `Path: ${file}\nExists: False\nProviders: (none)`);

    const r1 = await run(['mini', 'crush', 'setup', '--path', file], { cwd: t.dir, home: t.dir, env });
    assert.is(r1.exitCode, 0, r1.stderr);
    assert.is(r1.stdout, `Wrote Crush config to ${file}\nProviders configured: anthropic, ollama, openai, tensorzero`);
    assert.is(readFileSync(file, 'utf8'), readFileSync(path.join(fixtures, 'crush', 'crush.with-keys.json'), 'utf8'));

    const r2 = await run(['mini', 'crush', 'setup', '-p', file], { cwd: t.dir, home: t.dir, env });
    assert.is(r2.stdout, `Crush config at ${file} is up to date (no changes).\nProviders configured: anthropic, ollama, openai, tensorzero`);

    // The user's own server and a hand edit of an entry pmoves wrote: both stay.
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    doc.mcp.mine = { type: 'stdio', command: 'my-server' };
    doc.lsp.gopls = { command: '/opt/go/bin/gopls' };
    writeFileSync(file, JSON.stringify(doc, null, 2));
    // Dropping a key: pmoves removes the provider it wrote for it.
    const r3 = await run(['mini', 'crush', 'setup', '--path', file], { cwd: t.dir, home: t.dir, env: { ...env, OPENAI_API_KEY: '' } });
    assert.is(r3.exitCode, 0, r3.stderr);
    assert.match(r3.stderr, /Left lsp\.gopls as it is/);
    const after = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(after.mcp.mine, { type: 'stdio', command: 'my-server' });
    assert.equal(after.lsp.gopls, { command: '/opt/go/bin/gopls' });
    assert.is(after.providers.openai, undefined);
    assert.ok(after.providers.anthropic);

    const st = await run(['mini', 'crush', 'status', '--path', file], { cwd: t.dir, home: t.dir, env });
    assert.is(st.stdout, `Path: ${file}\nExists: True\nProviders: anthropic, tensorzero, ollama`);
    assert.is(statSync(path.join(t.dir, 'crush-owned.json')).mode & 0o777, 0o600);
    assert.not.match(readFileSync(file, 'utf8') + readFileSync(path.join(t.dir, 'crush-owned.json'), 'utf8'), /test-[a-z0-9]+-secret/);
  } finally {
    t.cleanup();
  }
});

test('crush setup on a file that is not JSON: file:line:column, exit 1, nothing changed', async () => {
  const t = tempDir();
  try {
    const file = path.join(t.dir, 'crush.json');
    writeFileSync(file, '[1, 2]\n');
    chmodSync(file, 0o644);
    const r = await run(['mini', 'crush', 'setup', '--path', file], { cwd: t.dir, home: t.dir, env: { ...NO_KEYS, PATH: barePath(t.dir) } });
    assert.is(r.exitCode, 1);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:1: `));
    assert.not.match(r.stderr, /\n\s+at /);
    assert.is(readFileSync(file, 'utf8'), '[1, 2]\n');
  } finally {
    t.cleanup();
  }
});

test.run();
