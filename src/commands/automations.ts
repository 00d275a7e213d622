// `automations list|webhooks|channels`: n8n flows, in upstream's lines.
import type { Command } from 'commander';
import { globals } from './common.js';

const dirOption = (c: Command) => c.option('--flows-dir <dir>', 'folder of n8n flow JSON files (default: pmoves/n8n/flows under the repository root)');

async function load(o: { flowsDir?: string }) {
  const { loadAutomations, defaultFlowsDir } = await import('../upstream/automations.js');
  const { repoRoot } = await import('../upstream/provisioning.js');
  const path = await import('node:path');
  return [...loadAutomations(o.flowsDir ? path.resolve(o.flowsDir) : defaultFlowsDir(repoRoot())).values()];
}

export function registerAutomations(mini: Command): void {
  const a = mini.command('automations').description('n8n automations: flows, webhooks, channels');

  dirOption(a.command('list').description('List n8n automations and channels')).action(async (o: { flowsDir?: string }, cmd: Command) => {
    const flows = await load(o);
    if (globals(cmd).json) process.stdout.write(JSON.stringify({ automations: flows }, null, 2) + '\n');
    else if (!flows.length) process.stdout.write('No n8n flows found.\n');
    else for (const f of flows) process.stdout.write(`${f.id}: ${f.name} [${f.active ? 'active' : 'inactive'}] → ${(f.channels.length ? f.channels : ['general']).join(', ')}\n`);
    process.exitCode = flows.length ? 0 : 1;
  });

  dirOption(a.command('webhooks').description('Show webhook endpoints')).action(async (o: { flowsDir?: string }, cmd: Command) => {
    const flows = await load(o);
    if (globals(cmd).json) {
      process.stdout.write(JSON.stringify({ webhooks: flows.flatMap((f) => f.webhooks.map((w) => ({ automation: f.id, ...w }))) }, null, 2) + '\n');
      return;
    }
    let total = 0;
    for (const f of flows) {
      if (!f.webhooks.length) continue;
      process.stdout.write(`${f.name}:\n`);
      for (const w of f.webhooks) process.stdout.write(`  - ${w.method} /${w.path} (${w.name})\n`), total++;
    }
    if (!total) process.stdout.write('No webhook nodes detected.\n');
  });

  dirOption(a.command('channels <channel>').description('Filter automations by channel keyword')).action(async (channel: string, o: { flowsDir?: string }, cmd: Command) => {
    const want = channel.toLowerCase();
    const matches = (await load(o)).filter((f) => f.channels.includes(want));
    if (globals(cmd).json) process.stdout.write(JSON.stringify({ channel: want, automations: matches.map((m) => ({ id: m.id, name: m.name })) }, null, 2) + '\n');
    else if (!matches.length) process.stdout.write(`No automations tagged with '${want}'.\n`);
    else for (const m of matches) process.stdout.write(`${m.id}: ${m.name}\n`);
    process.exitCode = matches.length ? 0 : 1;
  });
}
