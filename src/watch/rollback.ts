// `pmoves mini rollback [GEN]`: re-apply a generation's resources as a whole (through applyOnce, like
// `apply`), and write history/hold.json so a watcher keeps that generation while the manifest it would
// otherwise apply is still the one rolled back from.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { readFileOrNull } from '../core/fs.js';
import type { Home } from '../core/home.js';
import { askYes, consentOf, noConsent, type Globals } from '../commands/common.js';
import { historyDir, holdMatches, listGenerations, readGeneration, readHold, writeHold, type Hold } from './history.js';
import { readWatchFile } from './state-file.js';

/** The generations, what a watcher would apply now (`avoid`: what a rollback holds against) and the
 *  generation in force. Shared by the CLI and the page (src/ui/rollback.ts). */
export async function rollbackContext(home: Home, manifestPath: string): Promise<{ gens: number[]; avoid: Hold['avoid'] | null; inForce: number | null }> {
  const gens = await listGenerations(home);
  const watch = await readWatchFile(home);
  const hold = await readHold(home);
  // What a watcher would apply now: for a git source, the commit it last loaded; for a local manifest,
  // the watcher's manifest file as it is now (else the one given with -m).
  let avoid: Hold['avoid'] | null = watch?.source ? (watch.desired ?? null) : null;
  if (!avoid) {
    const text = (watch?.manifest ? await readFileOrNull(watch.manifest) : null) ?? (await readFileOrNull(path.resolve(manifestPath)));
    if (text !== null) avoid = { manifest_digest: createHash('sha256').update(text).digest('hex'), commit: null };
  }
  const latest = gens.length ? await readGeneration(home, gens[gens.length - 1]!) : null;
  const inForce =
    hold && avoid && holdMatches(hold, avoid.manifest_digest, avoid.commit)
      ? hold.generation
      : latest && avoid && latest.manifest_digest === avoid.manifest_digest && (latest.commit ?? null) === (avoid.commit ?? null)
        ? latest.generation
        : null;
  return { gens, avoid, inForce };
}

export async function runRollback(g: Globals, home: Home, genArg: string | undefined, o: Record<string, unknown>): Promise<void> {
  const { gens, avoid, inForce } = await rollbackContext(home, g.manifest);

  if (o.list) {
    const out: string[] = [];
    if (!gens.length) out.push(`No generations yet in ${historyDir(home)}: \`pmoves mini watch\` records one each time a new desired state converges.`);
    const rows = [];
    for (const n of gens) {
      const gen = await readGeneration(home, n);
      if (gen) rows.push(gen);
    }
    if (g.json) {
      process.stdout.write(JSON.stringify({ in_force: inForce, generations: rows.map(({ resources, ...rest }) => ({ ...rest, resources: resources.map((r) => r.address) })) }, null, 2) + '\n');
      return;
    }
    for (const gen of rows) {
      out.push(
        `${gen.generation === inForce ? '*' : ' '} ${String(gen.generation).padStart(4)}  ${gen.created_at}  ${gen.commit ? `commit ${gen.commit.slice(0, 12)}` : `manifest ${gen.manifest_digest.slice(0, 12)}`}  ${gen.resources.length} resource(s)`,
      );
    }
    if (rows.length) out.push('', inForce === null ? 'No generation is in force: the manifest changed since the last one converged.' : `* in force`);
    process.stdout.write(out.join('\n') + '\n');
    return;
  }

  if (!gens.length) throw new UserError(`no generations in ${historyDir(home)}: \`pmoves mini watch\` records one each time a new desired state converges`);
  let target: number;
  if (genArg !== undefined) {
    target = Number(genArg);
    if (!Number.isInteger(target) || !gens.includes(target)) throw new UserError(`rollback ${genArg}: no such generation (have ${gens.join(', ')}; see \`pmoves mini rollback --list\`)`);
  } else if (inForce === null) {
    target = gens[gens.length - 1]!;
  } else {
    const older = gens.filter((n) => n < inForce);
    if (!older.length) throw new UserError(`generation ${inForce} is in force and it is the oldest one kept: nothing to roll back to`);
    target = older[older.length - 1]!;
  }
  const gen = (await readGeneration(home, target))!;

  const { applyOnce } = await import('../engine/run.js');
  const { renderPlan, style, wantColor } = await import('../planner/render-text.js');
  const st = style(wantColor(process.stdout, process.env, !g.color));
  const out = g.json ? process.stderr : process.stdout;
  const consent = consentOf(g, o);
  let held = false;
  const writeHoldOnce = async () => {
    if (held || !avoid) return;
    held = true;
    await writeHold(home, { generation: gen.generation, avoid, since: new Date().toISOString(), reason: `pmoves mini rollback ${gen.generation}` });
  };
  out.write(`Rolling back to generation ${gen.generation} (${gen.created_at}${gen.commit ? `, commit ${gen.commit.slice(0, 12)}` : ''}).\n`);
  const result = await applyOnce({
    manifestPath: gen.manifest_path,
    home,
    resources: gen.resources,
    manifestDigest: gen.manifest_digest,
    command: 'rollback',
    lockTimeoutMs: o.lockTimeout as number,
    parallelism: o.parallelism as number,
    readTimeoutMs: o.refreshTimeout as number,
    tty: Boolean(process.stdout.isTTY),
    log: (addr, line) => out.write(`${addr}: ${line}\n`),
    progress: (line) => out.write(line + '\n'),
    auditExtra: { rollback_to: gen.generation, ...(gen.commit ? { commit: gen.commit, source: gen.source } : {}) },
    onPlan: (p) => {
      if (!g.json) out.write(renderPlan(p.plan, st));
    },
    confirm: async () => {
      if (consent === 'refuse') throw noConsent('rollback', g);
      const ok = consent === 'ask' ? await askYes() : true;
      if (ok) await writeHoldOnce(); // under the lock, before anything changes: a watcher cannot undo it in between
      return ok;
    },
  });
  if (!result.cancelled) await writeHoldOnce();
  const r = result.report;
  if (g.json) {
    const { planToJson } = await import('../planner/render-json.js');
    process.stdout.write(JSON.stringify({ generation: gen.generation, plan: planToJson(result.plan), apply: r ?? null, cancelled: Boolean(result.cancelled), held }, null, 2) + '\n');
  }
  if (result.cancelled) {
    out.write(result.plan.diagnostics.some((d) => d.severity === 'error') ? `\n${st.red('Rollback cancelled: the plan has errors.')} Nothing was changed.\n` : '\nRollback cancelled.\n');
    process.exitCode = 1;
    return;
  }
  const failed = (r?.failed.length ?? 0) + (r?.skipped.length ?? 0);
  if (!g.json) {
    if (failed) {
      out.write(`\n${st.red(st.bold(`Rollback failed: ${r!.failed.length} failed, ${r!.skipped.length} skipped.`))}\n`);
      for (const f of r!.failed) out.write(`${st.red('Error:')} ${f.address}: ${f.error}\n`);
      for (const s of r!.skipped) out.write(`Skipped: ${s.address}: ${s.error}\n`);
    } else {
      out.write(`\n${st.green(st.bold(`Rolled back to generation ${gen.generation}.`))} Resources: ${r?.added ?? 0} added, ${r?.changed ?? 0} changed, ${r?.destroyed ?? 0} destroyed.\n`);
    }
    if (held) out.write('A running `pmoves mini watch` keeps this generation until the manifest (or the git commit) changes.\n');
  }
  process.exitCode = failed ? 1 : 0;
}
