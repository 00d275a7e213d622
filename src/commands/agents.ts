// `agents list|exec|request`: tasks delegated to local agent CLIs (Codex, Claude Code, Crush) with
// PMOVES context and the pmoves MCP server, and review packets for a human (docs/agents.md).
import { Command, Option } from 'commander';
import { OperationError, UserError } from '../core/errors.js';
import { globals, homeOf, printDiagnostics, type Globals } from './common.js';

export function registerAgents(mini: Command): void {
  const agents = mini.command('agents').description('delegate tasks (tasks/*.yaml) to local agent CLIs, or prepare a review packet for a human');

  agents
    .command('list')
    .description('the tasks beside the manifest (tasks/) and in $PMOVES_HOME/tasks/')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { loadTasks, taskDirs } = await import('../agents/tasks.js');
      const dirs = taskDirs(g.manifest, await homeOf(g));
      const set = await loadTasks(dirs);
      printDiagnostics(set.diagnostics);
      if (g.json) {
        process.stdout.write(JSON.stringify({ tasks: set.tasks.map(({ locate: _l, ...t }) => t), diagnostics: set.diagnostics }, null, 2) + '\n');
      } else if (!set.tasks.length) {
        process.stdout.write(`No tasks. Put tasks/<name>.yaml beside the manifest or in ${dirs[1]} (see docs/agents.md).\n`);
      } else {
        const w = Math.max(...set.tasks.map((t) => t.name.length));
        for (const t of set.tasks) {
          const first = t.description.split(/(?<=\.)\s/)[0]!;
          process.stdout.write(`${t.name.padEnd(w)}  ${t.permission_level.padEnd(10)}  ${first.length > 90 ? first.slice(0, 89) + '…' : first}\n`);
        }
      }
      process.exitCode = set.diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
    });

  agents
    .command('exec')
    .description('run a task with a local agent CLI, non-interactively, streaming its output')
    .addOption(new Option('--tool <tool>', 'agent CLI').choices(['codex', 'claude', 'crush']).makeOptionMandatory())
    .requiredOption('--task <name>', 'task name (tasks/<name>.yaml)')
    .option('--dry-run', 'print the prompt and the exact command line; run nothing')
    .option('--yes', 'allow a privileged task (a confirmation on a terminal is still asked)')
    .option('--model <name>', "the agent's model (default: its own configuration)")
    .option('--bin <path>', 'the agent executable (default: codex, claude or crush on PATH)')
    .option('--template <file>', 'prompt template (default: tasks/prompt.template.md, else built in)')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      await execTask(g, o);
    });

  agents
    .command('request [task]')
    .description('write a review packet (folder + .tar.gz, 0600) for a human: plan, status, audit, env diffs, logs, commands')
    .option('--from-last-failure', 'build it around the last failed apply or agent run in the audit log')
    .option('--out <dir>', 'where to write the packet (default: $PMOVES_HOME/requests)')
    .action(async (task: string | undefined, o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      if (!task && !o.fromLastFailure) throw new UserError('agents request: give a task name or --from-last-failure');
      const { writePacket } = await import('../agents/packet.js');
      const r = await writePacket({ manifestPath: g.manifest, home: await homeOf(g), env: process.env, task, fromLastFailure: Boolean(o.fromLastFailure), outDir: o.out as string | undefined, profile: g.profile });
      if (g.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else process.stdout.write(r.summary);
    });
}

async function execTask(g: Globals, o: Record<string, unknown>): Promise<void> {
  const path = await import('node:path');
  const { randomBytes } = await import('node:crypto');
  const { findTask, taskDirs } = await import('../agents/tasks.js');
  const { buildContext } = await import('../agents/context.js');
  const { buildInvocation, homeReach, shellLine } = await import('../agents/invocation.js');
  const { promptDigest } = await import('../agents/prompt.js');
  const home = await homeOf(g);
  const name = o.task as string;
  const found = await findTask(name, taskDirs(g.manifest, home));
  if (!found.task) {
    if (found.diagnostics.length) throw new UserError(`task ${name} is not valid`, found.diagnostics);
    throw new UserError(`--task ${name}: no such task (known: ${found.known.join(', ') || 'none'}; tasks live in tasks/ beside the manifest or ${path.join(home.root, 'tasks')})`);
  }
  const task = found.task;
  const ctx = await buildContext({ manifestPath: g.manifest, home, env: process.env, task, template: o.template as string | undefined, profileOverride: g.profile });
  printDiagnostics(ctx.diagnostics);
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const tool = o.tool as 'codex' | 'claude' | 'crush';
  const workdir = await realish(path.dirname(path.resolve(g.manifest)));
  const realHome = await realish(home.root);
  const { audit } = await import('../engine/audit.js');
  const refuse = async (why: string, E: typeof UserError | typeof OperationError) => {
    if (!o.dryRun) await audit(home, { address: `agents.${task.name}`, action: 'agents-exec', outcome: 'refused', task: task.name, tool, permission_level: task.permission_level, reason: why });
    return new E(`agents exec refused before starting ${tool} on task ${task.name}: ${why}`);
  };
  const reach = homeReach(tool, task.permission_level, realHome, workdir);
  if (reach) throw await refuse(reach, UserError);
  const inv = buildInvocation({
    tool,
    permission: task.permission_level,
    servers: ctx.facts.servers,
    commands: task.commands,
    workdir,
    runDir: path.join(home.root, 'agents', 'runs', runId),
    home: realHome,
    bin: o.bin as string | undefined,
    model: o.model as string | undefined,
  });
  const digest = promptDigest(ctx.prompt);

  if (o.dryRun) {
    if (g.json) {
      process.stdout.write(JSON.stringify({ task: task.name, tool, permission_level: task.permission_level, prompt: ctx.prompt, prompt_digest: digest, argv: inv.argv, env: inv.env, files: inv.files, permission: inv.permissionNote, sandbox_probe: inv.probe ?? null, template: ctx.templateFile }, null, 2) + '\n');
      return;
    }
    const out = process.stdout;
    out.write(`# Prompt (template: ${ctx.templateFile ?? 'built in'}; ${digest})\n\n${ctx.prompt}\n\n`);
    out.write(`# Command line (the prompt above goes on stdin)\n\n${Object.entries(inv.env).map(([k, v]) => `${k}=${shellLine([v])} `).join('')}${shellLine(inv.argv)}\n\n`);
    out.write(`# Permission level ${task.permission_level}\n\n${inv.permissionNote}\n`);
    if (inv.probe) out.write(`\n# Sandbox check, run first: it must neither write nor read $PMOVES_HOME\n\n${shellLine(inv.probe)}\n`);
    for (const f of inv.files) out.write(`\n# ${f.path} (written at run time, mode ${f.mode.toString(8).padStart(4, '0')})\n\n${f.text}`);
    out.write('\nDry run: nothing was started.\n');
    return;
  }

  if (task.permission_level === 'privileged') {
    if (!o.yes) throw new UserError(`task ${task.name} is privileged: pass --yes, then confirm on a terminal`);
    if (!process.stdin.isTTY || !process.stderr.isTTY || g.nonInteractive) throw new UserError(`task ${task.name} is privileged: it needs a confirmation on a terminal (stdin is not one)`);
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      process.stderr.write(`\nTask ${task.name} runs ${tool} without a sandbox (${inv.permissionNote}).\nCommands it may run:\n${task.commands.map((c) => `  ${c}`).join('\n')}\n\n`);
      const answer = await rl.question('  Only "yes" will be accepted to run it: ');
      if (answer.trim() !== 'yes') throw new UserError('cancelled: the privileged run was not confirmed');
    } finally {
      rl.close();
    }
  }

  const { probeSandbox, runAgent } = await import('../agents/run-agent.js');
  const { promises: fsp } = await import('node:fs');
  await fsp.mkdir(home.root, { recursive: true, mode: 0o700 }); // the probe writes into it
  const unsafe = await probeSandbox(inv, workdir, process.env, realHome);
  if (unsafe) throw await refuse(unsafe, OperationError);
  const { newStreamState, readable } = await import('../agents/stream.js');
  const st = newStreamState();
  const started = Date.now();
  if (!g.json) process.stderr.write(`Running ${tool} on task ${task.name} (${task.permission_level}); Ctrl-C stops it.\n`);
  let exit: number;
  try {
    exit = await runAgent({
      inv,
      prompt: ctx.prompt,
      cwd: workdir,
      env: process.env,
      onLine: (line) => {
        const lines = readable(tool, line, st);
        if (g.json) process.stdout.write(line + '\n');
        else for (const l of lines) process.stdout.write(l + '\n');
      },
      onStderr: (chunk) => process.stderr.write(chunk),
    });
  } catch (err) {
    await audit(home, { address: `agents.${task.name}`, action: 'agents-exec', outcome: 'error', task: task.name, tool, permission_level: task.permission_level, prompt_digest: digest, tools_called: [], exit_code: null, duration_ms: Date.now() - started, error: (err as Error).message });
    throw err;
  }
  await audit(home, {
    address: `agents.${task.name}`,
    action: 'agents-exec',
    outcome: exit === 0 ? 'ok' : 'failed',
    task: task.name,
    tool,
    permission_level: task.permission_level,
    prompt_digest: digest,
    tools_called: st.toolsCalled,
    exit_code: exit,
    duration_ms: Date.now() - started,
  });
  if (!g.json) process.stderr.write(`${tool} exited with code ${exit}.\n`);
  process.exitCode = exit;
}

/** The real path of a file that may not exist yet: its nearest existing folder's, resolved, plus the rest. */
async function realish(p: string): Promise<string> {
  const { promises: fsp } = await import('node:fs');
  const path = await import('node:path');
  try {
    return await fsp.realpath(p);
  } catch {
    const up = path.dirname(p);
    return up === p ? p : path.join(await realish(up), path.basename(p));
  }
}
