// Real agent CLIs (Codex, Claude Code, from npm) against a model peer on 127.0.0.1: `agents exec` hands
// them the pmoves MCP server; the scripted model calls status and plan, is refused on apply, a human
// approves on a terminal (util-linux `script`), apply succeeds, and audit.jsonl records all of it.
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, cliPath, repoRoot, tempDir } from './helpers.js';
import { startModelPeer, type ModelPeer, type Step } from './model-peer.js';

const t = suite('agents-real');
let dir: string;
let cleanup: () => void;
let peer: ModelPeer | undefined;
const CANARY_KEY = 'test-meili-canary-7f3a9c';

t.before.each(() => {
  ({ dir, cleanup } = tempDir('pmoves-agents-'));
  copyFileSync(path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json'), path.join(dir, 'env.cgp.json'));
  writeFileSync(path.join(dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env.shared\n');
  mkdirSync(path.join(dir, 'tasks'));
  writeFileSync(
    path.join(dir, 'tasks', 'converge.yaml'),
    'description: Converge this node through the pmoves MCP tools; apply only a plan a human approved.\npermission_level: read-only\nexpected_output: what was applied\n',
  );
  for (const d of ['user', 'codex-home']) mkdirSync(path.join(dir, d));
});
t.after.each(async () => {
  await peer?.close();
  peer = undefined;
  cleanup();
  rmSync(`${dir}-home`, { recursive: true, force: true });
});

const hashIn = (outputs: string[]) => {
  for (const o of [...outputs].reverse()) {
    const m = /plan_hash"?:\s*"?([0-9a-f]{64})/.exec(o);
    if (m) return m[1]!;
  }
  throw new Error('no plan_hash in the tool results so far');
};

function approveOnTty(hash: string) {
  const cmd = [process.execPath, cliPath, 'mini', 'approve', hash].map((a) => `'${a}'`).join(' ');
  return execa('script', ['-qec', cmd, '/dev/null'], { cwd: dir, input: 'yes\n', reject: false, env: { PMOVES_HOME: `${dir}-home`, NO_COLOR: '1', TERM: 'xterm' }, timeout: 60_000 });
}

/** status → plan → apply (refused) → a human approves → apply → the answer. */
function script(approvals: string[]): Step[] {
  return [
    { tool: 'status' },
    { tool: 'plan' },
    { tool: 'apply', args: (c) => ({ plan_hash: hashIn(c.outputs) }) },
    {
      tool: 'apply',
      args: (c) => ({ plan_hash: hashIn(c.outputs) }),
      before: async (c) => {
        const h = hashIn(c.outputs);
        if (approvals.includes(h)) return;
        const r = await approveOnTty(h);
        if (r.exitCode !== 0) throw new Error(`approve failed: ${String(r.stdout)}`);
        approvals.push(h);
      },
    },
    { say: 'Applied the approved plan: secrets.env created.' },
  ];
}

function auditLines(): Record<string, any>[] {
  const f = path.join(`${dir}-home`, 'audit.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
}

function checkOutcome(stdout: string, tool: string, debug = '') {
  const audit = auditLines();
  const calls = audit.filter((a) => a.action?.startsWith('mcp-tool:'));
  assert.equal(
    calls.map((a) => `${a.action}:${a.outcome}`),
    ['mcp-tool:status:ok', 'mcp-tool:plan:ok', 'mcp-tool:apply:refused', 'mcp-tool:apply:ok'],
    `${debug}\n${JSON.stringify(audit, null, 1)}`,
  );
  assert.ok(audit.some((a) => a.action === 'approve' && a.outcome === 'approved'));
  assert.ok(audit.some((a) => a.address === 'secrets.env' && a.action === 'create'), 'the engine audited the applied change');
  const run = audit.find((a) => a.action === 'agents-exec');
  assert.ok(run, 'the agent run is audited');
  assert.is(run!.tool, tool);
  assert.is(run!.task, 'converge');
  assert.is(run!.permission_level, 'read-only');
  assert.is(run!.exit_code, 0);
  assert.match(run!.prompt_digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(run!.tools_called.filter((x: string) => x.startsWith('pmoves.')), ['pmoves.status', 'pmoves.plan', 'pmoves.apply', 'pmoves.apply']);
  assert.ok(existsSync(path.join(dir, 'out', 'env.shared')), 'the approved plan was applied');
  assert.match(stdout, /tool pmoves\.status/);
  assert.match(stdout, /refused: plan [0-9a-f]{12} has not been approved/);
  assert.match(stdout, /Applied the approved plan/);
  // No secret value anywhere we wrote or printed.
  const secrets = readFileSync(path.join(dir, 'out', 'env.shared'), 'utf8').split('\n').map((l) => l.split('=').slice(1).join('=')).filter((v) => v.length > 6);
  assert.ok(secrets.length > 0);
  const auditText = readFileSync(path.join(`${dir}-home`, 'audit.jsonl'), 'utf8');
  for (const s of secrets) {
    assert.not.ok(stdout.includes(s), 'no secret value in the output');
    assert.not.ok(auditText.includes(s), 'no secret value in the audit log');
  }
}

t('codex exec: a real Codex calls pmoves tools; apply is refused until a human approves', async () => {
  const approvals: string[] = [];
  peer = await startModelPeer(script(approvals));
  writeFileSync(
    path.join(dir, 'codex-home', 'config.toml'),
    `model = "test-model"\nmodel_provider = "peer"\n[model_providers.peer]\nname = "peer"\nbase_url = "${peer.url}/v1"\nenv_key = "PEER_API_KEY"\nwire_api = "responses"\n`,
  );
  const r = await cli(['mini', 'agents', 'exec', '--tool', 'codex', '--task', 'converge', '-m', path.join(dir, 'pmoves.mini.yaml')], {
    cwd: dir,
    home: `${dir}-home`,
    timeout: 240_000,
    env: {
      HOME: path.join(dir, 'user'),
      CODEX_HOME: path.join(dir, 'codex-home'),
      PEER_API_KEY: 'test-key',
      PATH: `${path.join(repoRoot, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
      CANARY: CANARY_KEY,
    },
  });
  assert.is(r.exitCode, 0, `${String(r.stdout)}\n${String(r.stderr)}\n${JSON.stringify(peer.requests.map((q) => [q.path, q.step, q.toolNames.slice(0, 3)]))}`);
  checkOutcome(String(r.stdout), 'codex', `${String(r.stdout)}\n${String(r.stderr)}\n${JSON.stringify(peer.requests)}`);
});

t('claude -p: a real Claude Code calls pmoves tools; apply is refused until a human approves', async () => {
  const approvals: string[] = [];
  peer = await startModelPeer(script(approvals));
  const r = await cli(['mini', 'agents', 'exec', '--tool', 'claude', '--task', 'converge', '--model', 'claude-test', '-m', path.join(dir, 'pmoves.mini.yaml')], {
    cwd: dir,
    home: `${dir}-home`,
    timeout: 240_000,
    env: {
      HOME: path.join(dir, 'user'),
      ANTHROPIC_BASE_URL: peer.url,
      ANTHROPIC_API_KEY: 'test-key',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      PATH: `${path.join(repoRoot, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
    },
  });
  assert.is(r.exitCode, 0, `${String(r.stdout)}\n${String(r.stderr)}\n${JSON.stringify(peer.requests.map((q) => [q.path, q.step, q.toolNames.slice(0, 3)]))}`);
  checkOutcome(String(r.stdout), 'claude', `${String(r.stdout)}\n${String(r.stderr)}\n${JSON.stringify(peer.requests)}`);
});

t.run();
