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
    lines.push(`| ${r.name} | ${Number.isNaN(r.ms) ? '' : r.ms.toFixed(0)} | ${r.rssMb === undefined || Number.isNaN(r.rssMb) ? '' : r.rssMb.toFixed(0)} | ${r.target ?? ''} | ${r.ok === undefined ? '' : r.ok ? 'yes' : 'NO'} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}

// `npm run bench -- --readme` (a full run) writes the table into README.md between its bench-table
// markers, headed by when and where it ran: the date, node and compose versions, the load average.
const args = process.argv.slice(2);
const readme = args.includes('--readme');
const only = args.filter((a) => a !== '--readme');
const loadBefore = os.loadavg()[0]!;
const rows: Row[] = [];
for (const b of benches) {
  if (only.length && !only.includes(b.name)) continue;
  process.stderr.write(`bench: ${b.name}…\n`);
  try {
    const mod = await b.load();
    rows.push(...(await mod.bench()));
  } catch (err) {
    process.stderr.write(`bench: ${b.name} failed: ${(err as Error).message}\n`);
    rows.push({ name: `${b.name} (failed: ${(err as Error).message.split('\n')[0]})`, ms: NaN });
  }
}
const table = fmt(rows);
process.stdout.write(table + '\n');
if (readme) {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
  const text = readFileSync(file, 'utf8');
  const [open, close] = ['<!-- bench-table -->', '<!-- /bench-table -->'];
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} markers`);
  const header = `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench -- --readme\`${only.length ? ` (groups: ${only.join(', ')})` : ' (every group, one run)'}: node ${process.version}, ${versionOf('docker', ['compose', 'version', '--short']) ?? 'no compose v2'} (compose v2), ${versionOf('docker-compose', ['version', '--short']) ?? 'no docker-compose'} (docker-compose), ${os.cpus().length} cores, load average ${loadBefore.toFixed(1)} at the start and ${os.loadavg()[0]!.toFixed(1)} at the end.`;
  writeFileSync(file, `${text.slice(0, a + open.length)}\n${header}\n\n${table}\n${text.slice(b)}`);
  process.stderr.write('bench: README.md table written\n');
}

function versionOf(cmd: string, argv: string[]): string | null {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
