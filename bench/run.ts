// npm run bench: runs each benchmark module and prints one table. Not a test: no pass/fail exit code
// except for crashes; the table says which targets were met.
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
];

function fmt(rows: Row[]): string {
  const lines = ['| measurement | median ms | peak RSS MB | target | met | note |', '|---|---:|---:|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${Number.isNaN(r.ms) ? '' : r.ms.toFixed(0)} | ${r.rssMb === undefined || Number.isNaN(r.rssMb) ? '' : r.rssMb.toFixed(0)} | ${r.target ?? ''} | ${r.ok === undefined ? '' : r.ok ? 'yes' : 'NO'} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}

const only = process.argv.slice(2);
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
process.stdout.write(fmt(rows) + '\n');
