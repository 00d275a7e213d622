// plan, apply, validate, status: the engine's own commands.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { askYes, collect, consentOf, globals, homeOf, noConsent, parseDuration, parseIntOption, printDiagnostics, type Globals } from './common.js';

function withPlanOptions(c: Command): Command {
  return c
    .option('-t, --target <address>', 'only this resource and what it depends on (repeatable)', collect)
    .option('--parallelism <n>', 'concurrent reads and applies', parseIntOption('--parallelism'), 8)
    .option('--refresh-timeout <duration>', 'deadline for reading one resource', parseDuration('--refresh-timeout'), 60_000)
    .option('--no-probe', 'skip MCP handshakes (a fast plan; readiness is not checked)')
    .option('--skip-unsatisfiable', 'leave out resources this machine cannot run (requires:, a GPU a compose service reserves) instead of failing the plan')
    .option('--verbose', 'show everything: every environment value of a stack (masked only where secret), unchanged attributes');
}

export async function flowBase(g: Globals, o: Record<string, unknown>, flags: Record<string, unknown> = {}) {
  const home = await homeOf(g);
  return {
    manifestPath: g.manifest,
    home,
    targets: (o.target as string[] | undefined) ?? [],
    flags: { ...flags },
    overrides: g.profile ? { profile: g.profile } : undefined,
    parallelism: (o.parallelism as number | undefined) ?? 8,
    readTimeoutMs: (o.refreshTimeout as number | undefined) ?? 60_000,
    tty: Boolean(process.stdout.isTTY),
  };
}

async function textStyle(g: Globals, stream: NodeJS.WriteStream = process.stdout) {
  const { style, wantColor } = await import('../planner/render-text.js');
  return style(wantColor(stream, process.env, !g.color));
}

export function registerCore(mini: Command): void {
  withPlanOptions(
    mini
      .command('plan')
      .description('show what apply would change, without changing anything')
      .option('--out <file>', 'save the plan; `apply FILE` applies exactly it')
      .option('--force', 'plan as `apply --force` would (take over files and entries this tool did not create)')
      .option('--detailed-exitcode', 'exit 0 for no changes, 2 for changes, 1 for errors'),
  ).action(async (o: Record<string, unknown>, cmd: Command) => {
    const g = globals(cmd);
    const { planOnce, savePlan } = await import('../engine/run.js');
    const { planHasErrors } = await import('../planner/plan.js');
    const p = await planOnce({ ...(await flowBase(g, o, cmdFlags(o))), log: (a, l) => process.stderr.write(`${a}: ${l}\n`) });
    if (g.json) {
      const { planToJson } = await import('../planner/render-json.js');
      process.stdout.write(JSON.stringify(planToJson(p.plan), null, 2) + '\n');
    } else {
      const { renderPlan } = await import('../planner/render-text.js');
      process.stdout.write(renderPlan(p.plan, { ...(await textStyle(g)), verbose: Boolean(o.verbose) }));
    }
    const errors = planHasErrors(p.plan);
    if (o.out && !errors) {
      await savePlan(o.out as string, p, (o.target as string[] | undefined) ?? []);
      if (!g.json) process.stdout.write(`\nSaved the plan to ${o.out as string}. To apply exactly it: pmoves mini apply ${o.out as string}\n`);
    }
    // a conflict is not "no changes": the machine does not match the manifest until it is resolved
    const changes = p.plan.summary.add + p.plan.summary.change + p.plan.summary.destroy + p.plan.summary.conflict > 0;
    process.exitCode = errors ? 1 : o.detailedExitcode && changes ? 2 : 0;
  });

  withPlanOptions(
    mini
      .command('apply [planfile]')
      .description('converge the machine to the manifest (or apply a saved plan)')
      .option('--auto-approve', 'do not ask for confirmation')
      .option('--force', 'overwrite entries this tool does not own (e.g. hand-written MCP servers)')
      .option('--lock-timeout <duration>', 'wait this long for another apply to finish', parseDuration('--lock-timeout'), 0),
  ).action(async (planfile: string | undefined, o: Record<string, unknown>, cmd: Command) => {
    const g = globals(cmd);
    await runApply(g, o, { planfile, command: 'apply' });
  });

  mini
    .command('validate')
    .description('check the manifest (schema, references, files) without reading the machine')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { loadManifest, hasErrors } = await import('../manifest/load.js');
      const { kinds, expanders } = await import('../reconcilers/index.js');
      const r = await loadManifest(g.manifest, { env: process.env, home: await homeOf(g), kinds, expanders, overrides: g.profile ? { profile: g.profile } : undefined });
      if (g.json) {
        process.stdout.write(JSON.stringify({ valid: !hasErrors(r.diagnostics), resources: r.manifest?.resources.map((x) => x.address) ?? [], diagnostics: r.diagnostics }, null, 2) + '\n');
      } else {
        printDiagnostics(r.diagnostics);
        if (!hasErrors(r.diagnostics)) process.stdout.write(`The manifest is valid: ${r.manifest!.resources.length} resource(s).\n`);
      }
      process.exitCode = hasErrors(r.diagnostics) ? 1 : 0;
    });

  withPlanOptions(
    mini
      .command('status')
      .description("upstream's lines (active profile, provisioning bundle, Glancer), then one line per declared resource: in-sync, drifted, missing or error, and why")
      .option('--provisioning-path <dir>', 'expected provisioning bundle folder (default: CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS under the repository root)'),
  ).action(
    async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const { statusReport, renderStatus } = await import('../engine/status.js');
      const up = await import('../upstream/provisioning.js');
      const { readPin } = await import('../providers/hardware/profiles.js');
      const staging = o.provisioningPath ? path.resolve(o.provisioningPath as string) : up.defaultProvisioningDest(up.repoRoot());
      const upstream = await up.upstreamStatus((await readPin(await homeOf(g))).id ?? null, staging);
      delete o.provisioningPath;
      let explicit = (cmd.optsWithGlobals() as { manifest?: string }).manifest !== undefined;
      const { isSecretsManifest, upstreamSecretsReport } = await import('../upstream/secrets-report.js');
      // upstream's `status -m FILE` names its secrets manifest
      const secretsManifest = explicit && isSecretsManifest(g.manifest) ? g.manifest : undefined;
      if (secretsManifest) explicit = false;
      if (!explicit && (secretsManifest || !existsSync(g.manifest))) {
        // upstream's secrets report first (inside an upstream checkout), with its exit 1 on a missing label
        const secrets = await upstreamSecretsReport(secretsManifest);
        if (secrets?.error) {
          process.stderr.write(`Error: ${secrets.error}\n`);
          process.exitCode = 1;
        }
        const note = `No manifest at ${secretsManifest ? 'pmoves.mini.yaml' : g.manifest}: per-resource readiness needs one (start from pmoves.mini.yaml.example).`;
        if (g.json) process.stdout.write(JSON.stringify({ upstream, secrets, manifest: null, resources: [], notes: [note] }, null, 2) + '\n');
        else {
          // stdout is upstream's lines exactly; the note is for the person reading
          process.stdout.write([...(secrets?.lines ?? []), ...up.upstreamStatusLines(upstream)].join('\n') + '\n');
          process.stderr.write(note + '\n');
        }
        return;
      }
      const report = Object.assign(await statusReport({ ...(await flowBase(g, o, { ...cmdFlags(o), status: true })), log: () => {} }), { upstream });
      const watch = await (await import('../watch/state-file.js')).watchStatus(await homeOf(g));
      if (watch) Object.assign(report, { watch: watch.json, notes: [...report.notes, watch.line] });
      const edge = await (await import('../providers/hardware/edge.js')).edgeReport(process.env);
      if (edge.lines.length) Object.assign(report, { devices: edge.json, notes: [...report.notes, ...edge.lines] });
      if (g.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(up.upstreamStatusLines(upstream).join('\n') + '\n' + renderStatus(report, await textStyle(g)));
      process.exitCode = report.resources.some((r) => r.status === 'error') ? 1 : 0;
    },
  );
}

/** Command-specific switches handed to kinds as ctx.flags. */
export function cmdFlags(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!['target', 'parallelism', 'refreshTimeout', 'out', 'lockTimeout'].includes(k)) out[k] = v;
  return out;
}

export interface ApplyCommandOptions {
  planfile?: string;
  command: string;
  /** Extra session options (bring-up's forced state). */
  extra?: Record<string, unknown>;
  /** Printed after the plan: e.g. "the manifest declares this stack down". */
  notes?: string[];
}

/** `apply` and every command that is "apply --target X" underneath. */
export async function runApply(g: Globals, o: Record<string, unknown>, a: ApplyCommandOptions): Promise<void> {
  const { applyOnce, loadSavedPlan } = await import('../engine/run.js');
  const { renderPlan, renderDiagnostic } = await import('../planner/render-text.js');
  const st = { ...(await textStyle(g)), verbose: Boolean(o.verbose) };
  const base = await flowBase(g, o, cmdFlags(o));
  let saved: Awaited<ReturnType<typeof loadSavedPlan>> | undefined;
  if (a.planfile) saved = await loadSavedPlan(a.planfile);
  const out = g.json ? process.stderr : process.stdout;
  // a saved plan is the consent (as Terraform's `apply PLANFILE`)
  const consent = saved ? 'auto' : consentOf(g, o);
  const result = await applyOnce({
    ...base,
    ...(a.extra ?? {}),
    ...(saved ? { resources: saved.resources, manifestDigest: saved.manifest_digest, targets: saved.targets, expectDigest: saved.actual_digest } : {}),
    command: a.command,
    lockTimeoutMs: (o.lockTimeout as number | undefined) ?? 0,
    log: (addr, line) => out.write(`${addr}: ${line}\n`),
    progress: (line) => out.write(line + '\n'),
    onPlan: (p) => {
      if (!g.json) {
        out.write(renderPlan(p.plan, st));
        for (const n of a.notes ?? []) out.write(`\n${st.yellow(n)}\n`);
      }
    },
    confirm: async () => {
      if (consent === 'auto') return true;
      if (consent === 'ask') return askYes();
      throw noConsent(a.command, g);
    },
  });
  if (g.json) {
    const { planToJson } = await import('../planner/render-json.js');
    process.stdout.write(JSON.stringify({ plan: planToJson(result.plan), apply: result.report ?? null, cancelled: Boolean(result.cancelled) }, null, 2) + '\n');
  }
  if (result.cancelled) {
    const errs = result.plan.diagnostics.filter((d) => d.severity === 'error');
    if (errs.length) {
      out.write(`\n${st.red('Apply cancelled: the plan has errors.')} Fix them and run apply again; nothing was changed.\n`);
      if (g.json) for (const d of errs) process.stderr.write(renderDiagnostic(d, st).join('\n') + '\n');
    } else out.write('\nApply cancelled.\n');
    process.exitCode = 1;
    return;
  }
  const r = result.report!;
  const stuck = result.stuckRemovals ?? [];
  if (!g.json) {
    if (!r.resources.length && !stuck.length) {
      // renderPlan already said "No changes."
    } else if (!r.failed.length && !r.skipped.length && !stuck.length) {
      out.write(`\n${st.green(st.bold(`Apply complete! Resources: ${r.added} added, ${r.changed} changed, ${r.destroyed} destroyed.`))}\n`);
    } else {
      const counts = [`${r.failed.length + stuck.length} failed`, `${r.skipped.length} skipped`].join(', ');
      out.write(`\n${st.red(st.bold(`Apply failed: ${counts}.`))} Resources: ${r.added} added, ${r.changed} changed, ${r.destroyed} destroyed.\n`);
      for (const f of r.failed) out.write(`${st.red('Error:')} ${f.address}: ${f.error}\n`);
      for (const d of stuck) out.write(`${st.red('Error:')} ${d.address}: not removed: ${d.summary}\n`);
      for (const s of r.skipped) out.write(`Skipped: ${s.address}: ${s.error}\n`);
    }
  }
  // a conflict is never "complete": say what was left alone (plan --detailed-exitcode returns 2 for it)
  const conflicts = result.plan.changes.filter((c) => c.conflicts?.length);
  if (conflicts.length && !g.json) {
    out.write(`${st.yellow(`Not converged: ${conflicts.length} resource${conflicts.length === 1 ? '' : 's'} in conflict, left alone:`)}\n`);
    for (const c of conflicts) for (const x of c.conflicts!) out.write(`  ${c.address}: ${x}\n`);
  }
  process.exitCode = r.failed.length || r.skipped.length || stuck.length ? 1 : 0;
}
