// Shared files are edited under a lock: 20 applies from 20 separate homes at once, each registering its
// own MCP server in the same agents' config files, lose no entry, and every home then plans no change.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir } from './helpers.js';

const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;

test('20 parallel applies from separate homes into one agent config file keep all 20 entries', async () => {
  const t = tempDir('pmoves-shared-');
  try {
    const home = path.join(t.dir, 'home');
    mkdirSync(home, { recursive: true });
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), CODEX_HOME: path.join(home, '.codex'), CRUSH_GLOBAL_CONFIG: undefined, CLAUDE_CONFIG_DIR: undefined };
    const cursor = path.join(home, '.cursor', 'mcp.json');
    mkdirSync(path.dirname(cursor), { recursive: true });
    writeFileSync(cursor, '{\n  "mcpServers": {\n    "mine": { "command": "mine" }\n  }\n}\n');
    const ids = Array.from({ length: 20 }, (_, i) => i);
    const run = (i: number, args: string[]) => {
      const dir = path.join(t.dir, `c${i}`);
      mkdirSync(dir, { recursive: true });
      const m = path.join(dir, 'pmoves.mini.yaml');
      writeFileSync(m, `apiVersion: pmoves.ai/mini/v1\nmcp_clients: [cursor, crush, codex]\nmcp:\n  own${i}: { command: "true", args: ["${i}"] }\n`);
      return cli(['mini', ...args, '-m', m], { home: path.join(dir, 'pm'), cwd: dir, env, timeout: 120_000 });
    };
    const results = await Promise.all(ids.map((i) => run(i, ['apply', '--auto-approve', '--no-probe'])));
    for (const r of results) assert.is(r.exitCode, 0, out(r));
    const names = (text: string, re: RegExp) => new Set([...text.matchAll(re)].map((m) => m[1]));
    const want = ids.map((i) => `own${i}`).sort();
    assert.equal([...names(readFileSync(cursor, 'utf8'), /"(own\d+)"/g)].sort(), want, 'cursor');
    assert.match(readFileSync(cursor, 'utf8'), '"mine"', "the user's own entry stays");
    assert.equal([...names(readFileSync(path.join(home, '.config', 'crush', 'crush.json'), 'utf8'), /"(own\d+)"/g)].sort(), want, 'crush');
    assert.equal([...names(readFileSync(path.join(home, '.codex', 'config.toml'), 'utf8'), /\[mcp_servers\.(own\d+)\]/g)].sort(), want, 'codex');
    // no lock file is left behind
    assert.equal(
      [path.dirname(cursor), path.join(home, '.codex')].flatMap((d) => readdirSync(d)).filter((f) => f.includes('pmoves-lock')),
      [],
    );
    const plans = await Promise.all(ids.slice(0, 5).map((i) => run(i, ['plan', '--no-probe', '--detailed-exitcode'])));
    for (const p of plans) assert.is(p.exitCode, 0, out(p));
  } finally {
    t.cleanup();
  }
});

test.run();
