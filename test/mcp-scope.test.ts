// Claude Code's three scopes, checked against the real Claude Code CLI (a devDependency): what pmoves
// writes for `scope: local|user|project` is what `claude mcp get` reads back in that scope; a same-named
// server the user added in another scope (`claude mcp add --scope …`) is a conflict in plan
// (--detailed-exitcode 2), apply ("Not converged") and status (per client), never "No changes".
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, repoRoot, tempDir } from './helpers.js';

const run = promisify(execFile);
const claudeBin = path.join(repoRoot, 'node_modules', '.bin', 'claude');
const memory = path.join(repoRoot, 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js');
const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;

test('scope local, user, project: where Claude Code reads it; another scope\'s same name is a conflict; removal leaves nothing', async () => {
  const t = tempDir('pmoves-scope-');
  try {
    const home = path.join(t.dir, 'home');
    const project = path.join(t.dir, 'project');
    mkdirSync(path.join(home, '.claude'), { recursive: true });
    mkdirSync(project);
    const manifest = path.join(project, 'pmoves.mini.yaml');
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), CLAUDE_CONFIG_DIR: undefined, DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
    const pm = path.join(t.dir, 'pmoves-home');
    const write = (scope: string | null) =>
      writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nmcp_clients: [claude-code]\n${scope === null ? '' : `mcp:\n  mem:\n    command: ${process.execPath}\n    args: [${memory}]\n    scope: ${scope}\n`}`);
    const mini = (args: string[]) => cli(['mini', ...args, '-m', manifest, '--no-probe'], { home: pm, cwd: project, env });
    const claude = async (args: string[]) => {
      const r = await run(claudeBin, args, { cwd: project, env: { ...process.env, ...env, HOME: home }, timeout: 120_000 }).catch((e: { stdout?: string; stderr?: string; code?: number }) => e);
      return `${r.stdout ?? ''}${r.stderr ?? ''}`;
    };
    const claudeJson = () => JSON.parse(readFileSync(path.join(home, '.claude.json'), 'utf8')) as { mcpServers?: Record<string, unknown>; projects?: Record<string, { mcpServers?: Record<string, unknown> }> };
    const mcpJson = path.join(project, '.mcp.json');

    // local: ~/.claude.json projects[PROJECT].mcpServers, private (0600), no .mcp.json
    write('local');
    const a1 = await mini(['apply', '--auto-approve']);
    assert.is(a1.exitCode, 0, out(a1));
    assert.match(await claude(['mcp', 'get', 'mem']), 'Scope: Local config');
    assert.ok(claudeJson().projects?.[project]?.mcpServers?.mem);
    assert.not.ok(existsSync(mcpJson));
    const p1 = await mini(['plan', '--detailed-exitcode']);
    assert.is(p1.exitCode, 0, out(p1));
    assert.match(String(p1.stdout), 'No changes.');

    // user: moved (the local entry pmoves wrote goes)
    write('user');
    const a2 = await mini(['apply', '--auto-approve']);
    assert.is(a2.exitCode, 0, out(a2));
    assert.match(await claude(['mcp', 'get', 'mem']), 'Scope: User config');
    assert.ok(claudeJson().mcpServers?.mem);
    assert.not.ok(claudeJson().projects?.[project]?.mcpServers?.mem, 'the local entry pmoves wrote was removed');

    // the user's own `claude mcp add --scope local` of the same name shadows ours: a conflict everywhere
    assert.match(await claude(['mcp', 'add', '--scope', 'local', 'mem', '--', 'node', 'mine.js']), 'local config');
    const p2 = await mini(['plan', '--detailed-exitcode']);
    assert.is(p2.exitCode, 2, out(p2));
    assert.not.match(String(p2.stdout), 'No changes');
    assert.match(String(p2.stdout), `(Claude Code's local scope) also has a server "mem" that pmoves did not write; Claude Code uses it, not ours (user scope) (remove it with: claude mcp remove mem -s local)`);
    assert.match(String(p2.stdout), '1 in conflict');
    const a3 = await mini(['apply', '--auto-approve']);
    assert.match(String(a3.stdout), 'Not converged: 1 resource in conflict');
    assert.equal((claudeJson().projects?.[project]?.mcpServers?.mem as { args: string[] }).args, ['mine.js'], 'the user\'s entry is left alone');
    const s1 = await mini(['status']);
    assert.match(String(s1.stdout), /mcp\.mem\.claude-code\s+conflict/);
    assert.not.match(String(s1.stdout), /mcp\.mem\s+in-sync/);
    // --force does not take an entry in another scope: it stays a conflict
    const p3 = await mini(['plan', '--detailed-exitcode', '--force']);
    assert.is(p3.exitCode, 2, out(p3));
    await claude(['mcp', 'remove', 'mem', '-s', 'local']);
    const p4 = await mini(['plan', '--detailed-exitcode']);
    assert.is(p4.exitCode, 0, out(p4));

    // project: PROJECT/.mcp.json, as `claude mcp add --scope project` writes it; the user entry goes
    write('project');
    const a4 = await mini(['apply', '--auto-approve']);
    assert.is(a4.exitCode, 0, out(a4));
    assert.match(await claude(['mcp', 'get', 'mem']), 'Scope: Project config');
    assert.not.ok(claudeJson().mcpServers?.mem);

    // removal takes what pmoves wrote and nothing else
    write(null);
    const a5 = await mini(['apply', '--auto-approve']);
    assert.is(a5.exitCode, 0, out(a5));
    assert.equal((JSON.parse(readFileSync(mcpJson, 'utf8')) as { mcpServers: object }).mcpServers, {});
    const j = claudeJson();
    assert.not.ok(j.mcpServers?.mem || j.projects?.[project]?.mcpServers?.mem);
    assert.match(await claude(['mcp', 'get', 'mem']), /No MCP server named "mem"/);
  } finally {
    t.cleanup();
  }
});

test.run();
