// `approve HASH`: a human approves, on a terminal, exactly one saved plan an agent asked for through the
// pmoves MCP server; its `apply` tool then accepts that plan hash once (src/agents/approvals.ts).
// What is shown is planned again from the hashed file itself (its resources, against this machine, with
// the planner's own renderer), never from the text the agent was given: the human sees what `apply`
// will do, and a plan whose machine changed since is not offered for approval.
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import { globals, homeOf } from './common.js';

export function registerApprove(mini: Command): void {
  mini
    .command('approve <plan-hash>')
    .description('show a plan an agent made (mcp serve) and approve it on a terminal, so its apply tool may apply exactly it')
    .action(async (hash: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const home = await homeOf(g);
      const { findPlan, writeApproval, refusal, sha256 } = await import('../agents/approvals.js');
      const { loadSavedPlan, planOnce } = await import('../engine/run.js');
      const { renderPlan, style, wantColor } = await import('../planner/render-text.js');
      const { planToJson } = await import('../planner/render-json.js');
      const { audit } = await import('../engine/audit.js');
      const os = await import('node:os');
      const plan = await findPlan(home, hash);
      const short = plan.hash.slice(0, 12);
      const { promises: fsp } = await import('node:fs');
      if (sha256(await fsp.readFile(plan.file)) !== plan.hash) {
        await audit(home, { address: 'mcp.pmoves', action: 'approve', outcome: 'refused', plan_hash: plan.hash, reason: 'changed after it was saved' });
        throw new UserError(`plan ${short} was changed after it was saved (its bytes no longer have its hash): nothing to approve. Ask the agent to call plan again.`);
      }
      const saved = await loadSavedPlan(plan.file);
      const p = await planOnce({
        manifestPath: saved.manifest_path || g.manifest,
        home,
        resources: saved.resources,
        manifestDigest: saved.manifest_digest,
        targets: saved.targets,
        tty: false,
      });
      process.stdout.write(renderPlan(p.plan, style(wantColor(process.stdout, process.env, !g.color))));
      process.stdout.write(`\nplan_hash: ${plan.hash}\n`);
      // The plan recorded in the file (what the agent was shown) against the plan its resources make now.
      const { canonical } = await import('../planner/plan.js');
      if (canonical(planToJson(p.plan).resource_changes) !== canonical(saved.plan.resource_changes ?? null)) {
        process.stdout.write(`\nWarning: the saved plan ${short} records other changes than its own resources make: it was altered after it was made. The text above is what apply would do.\n`);
      }
      if (p.plan.actualDigest !== saved.actual_digest) {
        await audit(home, { address: 'mcp.pmoves', action: 'approve', outcome: 'refused', plan_hash: plan.hash, reason: 'stale' });
        throw new UserError(`plan ${short} is stale: the machine changed since the agent made it, so apply would refuse it. Ask the agent to call plan again.`);
      }
      const why = await refusal(home, plan);
      if (why === null) {
        process.stdout.write('This plan is already approved; the agent may apply it once.\n');
        return;
      }
      if (/already applied/.test(why)) throw new UserError(why);
      const noHuman = g.nonInteractive
        ? '--non-interactive was given'
        : !process.stdin.isTTY
          ? 'stdin is not a terminal'
          : !process.stdout.isTTY
            ? 'stdout is not a terminal'
            : null;
      if (noHuman) throw new UserError(`approve asks a human on a terminal: ${noHuman} (there is no --yes: an agent must not approve its own plan)`);
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      let answer: string;
      try {
        process.stdout.write('\nApprove this plan? The agent may then apply exactly it, once, if the machine has not changed.\n  Only "yes" will be accepted to approve.\n\n');
        answer = await rl.question('  Enter a value: ');
      } finally {
        rl.close();
      }
      const user = os.userInfo().username;
      if (answer.trim() !== 'yes') {
        await audit(home, { address: 'mcp.pmoves', action: 'approve', outcome: 'declined', plan_hash: plan.hash });
        process.stdout.write('\nNot approved.\n');
        process.exitCode = 1;
        return;
      }
      try {
        await writeApproval(home, plan.hash, user);
      } catch (err) {
        const { OperationError } = await import('../core/errors.js');
        throw new OperationError(`could not record the approval in ${home.root}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (approve must run where it can write $PMOVES_HOME, not inside an agent's sandbox)`);
      }
      await audit(home, { address: 'mcp.pmoves', action: 'approve', outcome: 'approved', plan_hash: plan.hash });
      process.stdout.write(`\nApproved plan ${short}. The agent's apply tool will apply exactly it, once.\n`);
    });
}
