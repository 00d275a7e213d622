// Saved plans an agent asked for, and the approvals a human gave them.
//
//   $PMOVES_HOME/plans/<hash>.json   the saved plan (`plan --out`), 0600; <hash> = sha256 of its bytes
//   $PMOVES_HOME/plans/<hash>.txt    the plan as text (what `approve` shows)
//   $PMOVES_HOME/approvals/<hash>.json  written by `pmoves mini approve <hash>` on a terminal; used once
//
// The hash binds the approval to the exact bytes of the saved plan: a plan edited after the approval
// no longer has its hash, and `apply FILE` refuses a plan whose actual state changed (stale).
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';

export const plansDir = (home: Home) => path.join(home.root, 'plans');
export const approvalsDir = (home: Home) => path.join(home.root, 'approvals');

export const sha256 = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface StoredPlan {
  hash: string;
  file: string;
  text: string;
}

/** Move a freshly saved plan under its hash; keep its text beside it. */
export async function storePlan(home: Home, tmpFile: string, text: string): Promise<StoredPlan> {
  const bytes = await fsp.readFile(tmpFile);
  const hash = sha256(bytes);
  const file = path.join(plansDir(home), `${hash}.json`);
  await fsp.rename(tmpFile, file);
  await writeFileAtomic(path.join(plansDir(home), `${hash}.txt`), text, { mode: 0o600 });
  return { hash, file, text };
}

/** A full hash or a unique prefix of at least 8 hex digits → the stored plan; UserError otherwise. */
export async function findPlan(home: Home, given: string): Promise<StoredPlan> {
  const h = given.trim().toLowerCase().replace(/^sha256:/, '');
  if (!/^[0-9a-f]{8,64}$/.test(h)) throw new UserError(`plan hash "${given}": expected 8 to 64 hex digits (the plan_hash the plan tool returned)`);
  let names: string[] = [];
  try {
    names = (await fsp.readdir(plansDir(home))).filter((f) => /^[0-9a-f]{64}\.json$/.test(f) && f.startsWith(h));
  } catch {
    /* no plans yet */
  }
  if (!names.length) throw new UserError(`plan hash ${h}: no such plan in ${plansDir(home)} (ask the agent to call the plan tool again)`);
  if (names.length > 1) throw new UserError(`plan hash ${h}: ambiguous (${names.length} plans start with it); give more digits`);
  const hash = names[0]!.slice(0, 64);
  const file = path.join(plansDir(home), names[0]!);
  const text = (await readFileOrNull(path.join(plansDir(home), `${hash}.txt`))) ?? '(the text of this plan is missing)\n';
  return { hash, file, text };
}

export interface Approval {
  plan_hash: string;
  approved_at: string;
  user: string;
}

export async function writeApproval(home: Home, hash: string, user: string): Promise<void> {
  const a: Approval = { plan_hash: hash, approved_at: new Date().toISOString(), user };
  await writeFileAtomic(path.join(approvalsDir(home), `${hash}.json`), JSON.stringify(a, null, 2) + '\n', { mode: 0o600 });
}

/** Why `apply` may not run this plan, or null when a human approved exactly these bytes. */
export async function refusal(home: Home, plan: StoredPlan): Promise<string | null> {
  const text = await readFileOrNull(path.join(approvalsDir(home), `${plan.hash}.json`));
  if (text === null) {
    const used = await readFileOrNull(path.join(approvalsDir(home), `${plan.hash}.used.json`));
    if (used !== null) return `plan ${plan.hash.slice(0, 12)} was approved once and already applied; call plan again`;
    return `plan ${plan.hash.slice(0, 12)} has not been approved by a human. Ask them to run: pmoves mini approve ${plan.hash.slice(0, 12)}`;
  }
  const bytes = await fsp.readFile(plan.file);
  if (sha256(bytes) !== plan.hash) return `plan ${plan.hash.slice(0, 12)} was changed after it was saved (its bytes no longer match the approved hash)`;
  return null;
}

/** One approval, one apply. */
export async function consumeApproval(home: Home, hash: string): Promise<void> {
  await fsp.rename(path.join(approvalsDir(home), `${hash}.json`), path.join(approvalsDir(home), `${hash}.used.json`)).catch(() => {});
}
