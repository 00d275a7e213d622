// `graph`: the resources, their depends_on and each stack's services as a graph (DOT, Mermaid, SVG or
// JSON), coloured by the last known status or, with --plan, by what the plan would do.
import { Option, type Command } from 'commander';
import { globals, homeOf, parseDuration, parseIntOption } from './common.js';

export function registerGraph(mini: Command): void {
  mini
    .command('graph')
    .description('draw the resources, their dependencies and each stack\'s services (GPU-gated ones marked), coloured by status')
    .addOption(new Option('--format <format>', 'output format').choices(['dot', 'mermaid', 'svg', 'json']).default('dot'))
    .option('--plan', 'read the machine and colour what the plan would create, change and destroy')
    .option('-o, --out <file>', 'write to this file instead of standard output')
    .option('--parallelism <n>', 'concurrent reads (with --plan)', parseIntOption('--parallelism'), 8)
    .addOption(new Option('--refresh-timeout <duration>', 'deadline for reading one resource (with --plan)').argParser(parseDuration('--refresh-timeout')).default(60_000, '1m'))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const home = await homeOf(g);
      const { graphOf } = await import('../ui/graph-data.js');
      const { readWatchFile } = await import('../watch/state-file.js');
      const base = { manifestPath: g.manifest, home, overrides: g.profile ? { profile: g.profile } : undefined, flags: { probe: false } };
      let model;
      if (o.plan) {
        const { planOnce } = await import('../engine/run.js');
        const p = await planOnce({ ...base, parallelism: o.parallelism as number, readTimeoutMs: o.refreshTimeout as number, log: (a, l) => process.stderr.write(`${a}: ${l}\n`) });
        model = await graphOf(p.session.resources, { plan: p.plan });
      } else {
        const { openSession } = await import('../engine/session.js');
        const s = await openSession(base);
        model = await graphOf(s.resources, { watch: await readWatchFile(home), applied: Object.keys(s.state.resources) });
      }
      const r = await import('../ui/graph-render.js');
      const fmt = g.json ? 'json' : (o.format as string);
      const text = fmt === 'svg' ? await r.toSvg(model) : fmt === 'mermaid' ? r.toMermaid(model) : fmt === 'json' ? r.toJson(model) : r.toDot(model);
      if (o.out) await (await import('../core/fs.js')).writeFileAtomic(o.out as string, text);
      else process.stdout.write(text);
    });
}
