// MCP figures: a no-probe plan of 10 registered servers (target < 300 ms), and a probing plan of 5 slow
// servers, which should take about the slowest handshake (they run concurrently), not the sum.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repeat, runNode } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const memory = path.join(root, 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js');
const slow = path.join(root, 'test', 'fixtures', 'mcp', 'servers', 'slow.mjs');
const SLOW_MS = 1500;

function sandbox(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-mcp-'));
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  return {
    dir,
    env: { ...process.env, NO_COLOR: '1', HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), CODEX_HOME: path.join(home, '.codex'), PMOVES_HOME: path.join(dir, 'pm'), CRUSH_GLOBAL_CONFIG: '' },
  };
}

export async function bench(): Promise<Row[]> {
  const rows: Row[] = [];
  {
    const { dir, env } = sandbox();
    try {
      const lines = ['apiVersion: pmoves.ai/mini/v1', 'mcp_clients: [crush, codex, claude-desktop, claude-code, cursor, vscode]', 'mcp:'];
      for (let i = 0; i < 10; i++) lines.push(`  s${i}:`, `    command: ${process.execPath}`, `    args: [${memory}]`);
      const file = path.join(dir, 'pmoves.mini.yaml');
      writeFileSync(file, lines.join('\n') + '\n');
      const first = runNode([cli, 'mini', 'apply', '--auto-approve', '--no-probe', '-m', file], env);
      if (first.status !== 0) throw new Error(`apply of 10 mcp servers exited ${first.status}`);
      rows.push({ name: 'mcp: first apply, 10 servers x 6 clients (no probe)', ms: first.ms, rssMb: first.rssMb });
      const empty = path.join(dir, 'empty.yaml');
      writeFileSync(empty, 'apiVersion: pmoves.ai/mini/v1\n');
      const e = repeat(5, () => runNode([cli, 'mini', 'plan', '-m', empty], env));
      const p = repeat(5, () => runNode([cli, 'mini', 'plan', '--no-probe', '-m', file], env));
      const load = os.loadavg()[0]!.toFixed(1);
      rows.push({
        name: 'mcp: no-probe plan, 10 servers x 6 clients',
        ms: p.ms,
        rssMb: p.rssMb,
        target: '< 300 ms',
        ok: p.ms < 300,
        note: `${p.ms >= e.ms ? '+' : ''}${(p.ms - e.ms).toFixed(0)} ms against an empty plan (${e.ms.toFixed(0)} ms), load average ${load} on ${os.cpus().length} cores`,
      });
      const probed = repeat(3, () => runNode([cli, 'mini', 'plan', '-m', file], env));
      rows.push({ name: 'mcp: probing plan, 10 real memory servers', ms: probed.ms, rssMb: probed.rssMb, note: `handshake cost over no-probe: ${(probed.ms - p.ms).toFixed(0)} ms for 10 servers` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  {
    const { dir, env } = sandbox();
    try {
      const n = 5;
      const lines = ['apiVersion: pmoves.ai/mini/v1', 'mcp_clients: [claude-code]', 'mcp:'];
      for (let i = 0; i < n; i++) lines.push(`  slow${i}:`, `    command: ${process.execPath}`, `    args: [${slow}]`, `    env: { SLOW_MS: "${SLOW_MS}" }`, '    timeout: 30');
      const file = path.join(dir, 'pmoves.mini.yaml');
      writeFileSync(file, lines.join('\n') + '\n');
      const noProbe = repeat(3, () => runNode([cli, 'mini', 'plan', '--no-probe', '-m', file], env));
      const probed = repeat(3, () => runNode([cli, 'mini', 'plan', '-m', file], env));
      const extra = probed.ms - noProbe.ms;
      const sum = n * SLOW_MS;
      rows.push({
        name: `mcp: probing plan, ${n} servers each ${SLOW_MS} ms slow`,
        ms: probed.ms,
        rssMb: probed.rssMb,
        target: `handshakes < ${(sum / 2).toFixed(0)} ms (sum ${sum})`,
        ok: extra < sum / 2,
        note: `handshakes took ${extra.toFixed(0)} ms over the no-probe plan (${noProbe.ms.toFixed(0)} ms); slowest alone >= ${SLOW_MS} ms`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
