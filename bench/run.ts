// npm run bench: runs each benchmark module and prints one table. Not a test: no pass/fail exit code
// except for crashes; the table says which targets were met.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Row } from './types.js';

type Bench = { name: string; load: () => Promise<{ bench: () => Promise<Row[]> }> };

const benches: Bench[] = [
  { name: 'speed', load: () => import('./speed.js') },
  { name: 'engine', load: () => import('./engine.js') },
  { name: 'secrets', load: () => import('./secrets.js') },
  { name: 'stacks', load: () => import('./stacks.js') },
  { name: 'deployment', load: () => import('./deployment.js') },
  { name: 'models', load: () => import('./models.js') },
  { name: 'profile', load: () => import('./profile.js') },
  { name: 'mcp', load: () => import('./mcp.js') },
  { name: 'watch', load: () => import('./watch.js') },
  { name: 'fleet', load: () => import('./fleet.js') },
  { name: 'ui', load: () => import('./ui.js') },
  { name: 'esp32', load: () => import('./esp32.js') },
];

function fmt(rows: Row[]): string {
  const lines = ['| measurement | median ms | peak RSS MB | target | met | note |', '|---|---:|---:|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${Number.isNaN(r.ms) ? '' : r.ms.toFixed(0)} | ${r.rssMb == null || Number.isNaN(r.rssMb) ? '' : r.rssMb.toFixed(0)} | ${r.target ?? ''} | ${r.ok === undefined ? '' : r.ok ? 'yes' : 'NO'} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}

// `npm run bench -- --readme [GROUP…]` keeps each group's last rows in bench/results.json (with when and
// where they ran: the date, node and compose versions, the load average) and writes README's table
// between its bench-table markers from all groups, in the order above: a run of some groups replaces
// only theirs, so a row's figures and its peer's always come from the same run.
const args = process.argv.slice(2);
const readme = args.includes('--readme');
const only = args.filter((a) => a !== '--readme');
const loadBefore = os.loadavg()[0]!;
const ran = new Map<string, Row[]>();
for (const b of benches) {
  if (only.length && !only.includes(b.name)) continue;
  process.stderr.write(`bench: ${b.name}…\n`);
  const rows: Row[] = [];
  try {
    const mod = await b.load();
    rows.push(...(await mod.bench()));
  } catch (err) {
    process.stderr.write(`bench: ${b.name} failed: ${(err as Error).message}\n`);
    rows.push({ name: `${b.name} (failed: ${(err as Error).message.split('\n')[0]})`, ms: NaN });
  }
  ran.set(b.name, rows);
}
process.stdout.write(fmt([...ran.values()].flat()) + '\n');
if (readme) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const resultsFile = path.join(here, '..', '..', 'bench', 'results.json');
  type Group = { measured: string; rows: Row[] };
  const results: { groups: Record<string, Group> } = JSON.parse(readFileSync(resultsFile, 'utf8'));
  const measured = `${new Date().toISOString().slice(0, 10)}, node ${process.version}, compose v2 ${versionOf('docker', ['compose', 'version', '--short']) ?? 'absent'}, docker-compose ${versionOf('docker-compose', ['version', '--short']) ?? 'absent'}, ${os.cpus().length} cores, load average ${loadBefore.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)} (${only.length ? `groups ${only.join(', ')}` : 'every group'}, one run)`;
  for (const [name, rows] of ran) results.groups[name] = { measured, rows: rows.map((r) => ({ ...r, ms: Number.isNaN(r.ms) ? (null as unknown as number) : r.ms })) };
  writeFileSync(resultsFile, JSON.stringify(results, null, 1) + '\n');
  const order = benches.map((b) => b.name).filter((n) => results.groups[n]);
  const when = order.map((n) => `- \`${n}\`: ${results.groups[n]!.measured}`).join('\n');
  const rows = order.flatMap((n) => results.groups[n]!.rows.map((r) => ({ ...r, ms: r.ms ?? NaN, name: `${n}: ${r.name.replace(new RegExp(`^${n}: `), '')}` })));
  const file = path.join(here, '..', '..', 'README.md');
  const text = readFileSync(file, 'utf8');
  const [open, close] = ['<!-- bench-table -->', '<!-- /bench-table -->'];
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} markers`);
  const header = `Written by \`npm run bench -- --readme [GROUP…]\` from \`bench/results.json\`; each group's rows come from one run:\n\n${when}`;
  writeFileSync(file, `${text.slice(0, a + open.length)}\n${header}\n\n${fmt(rows)}\n${text.slice(b)}`);
  process.stderr.write('bench: bench/results.json and the README.md table written\n');
}

function versionOf(cmd: string, argv: string[]): string | null {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
