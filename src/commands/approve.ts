// `approve HASH`: a human approves, on a terminal, exactly one saved plan an agent asked for through the
// pmoves MCP server; its `apply` tool then accepts that plan hash once (src/agents/approvals.ts).
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
      const { findPlan, writeApproval, refusal } = await import('../agents/approvals.js');
      const { audit } = await import('../engine/audit.js');
      const os = await import('node:os');
      const plan = await findPlan(home, hash);
      process.stdout.write(plan.text.endsWith('\n') ? plan.text : plan.text + '\n');
      process.stdout.write(`\nplan_hash: ${plan.hash}\n`);
      const why = await refusal(home, plan);
      if (why === null) {
        process.stdout.write('This plan is already approved; the agent may apply it once.\n');
        return;
      }
      if (/already applied/.test(why)) throw new UserError(why);
      if (!process.stdin.isTTY || !process.stdout.isTTY || g.nonInteractive) {
        throw new UserError('approve asks a human on a terminal: stdin is not a terminal (there is no --yes: an agent must not approve its own plan)');
      }
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
      await writeApproval(home, plan.hash, user);
      await audit(home, { address: 'mcp.pmoves', action: 'approve', outcome: 'approved', plan_hash: plan.hash });
      process.stdout.write(`\nApproved plan ${plan.hash.slice(0, 12)}. The agent's apply tool will apply exactly it, once.\n`);
    });
}
