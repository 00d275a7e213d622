// Saved plans an agent asked for, and the approvals a human gave them.
//
//   $PMOVES_HOME/plans/<hash>.json      the saved plan (`plan --out`), 0600; <hash> = sha256 of its bytes
//   $PMOVES_HOME/plans/<hash>.txt       the plan's text as the agent got it (never shown to approve)
//   $PMOVES_HOME/approvals/<hash>.json  written by `pmoves mini approve <hash>` on a terminal (0600, folder 0700)
//   $PMOVES_HOME/approvals/<hash>.used.json  the same, once an apply claimed it
//
// An approval is checked, not found: it names the plan hash and carries an HMAC-SHA256 over that hash
// (and its own time and user) keyed with the machine's state key ($PMOVES_HOME/state.key), which only
// `approve` uses to sign. A file written by anyone else, or copied from another plan, is refused. The
// hash binds the approval to the exact bytes of the saved plan; `apply FILE` then refuses a plan whose
// actual state changed (stale). The approval is claimed by one atomic rename before an apply starts:
// a second caller finds nothing to rename and is refused.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { OperationError, UserError, messageOf } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';
import { stateKey } from '../engine/state.js';

export const plansDir = (home: Home) => path.join(home.root, 'plans');
export const approvalsDir = (home: Home) => path.join(home.root, 'approvals');

export const sha256 = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface StoredPlan {
  hash: string;
  file: string;
}

/** Move a freshly saved plan under its hash; keep the agent's text beside it. */
export async function storePlan(home: Home, tmpFile: string, text: string): Promise<StoredPlan> {
  const bytes = await fsp.readFile(tmpFile);
  const hash = sha256(bytes);
  const file = path.join(plansDir(home), `${hash}.json`);
  await fsp.rename(tmpFile, file);
  await writeFileAtomic(path.join(plansDir(home), `${hash}.txt`), text, { mode: 0o600 });
  return { hash, file };
}

/** A full hash or a unique prefix of at least 8 hex digits → the stored plan; UserError otherwise. */
export async function findPlan(home: Home, given: string): Promise<StoredPlan> {
  const h = given.trim().toLowerCase().replace(/^sha256:/, '');
  if (!/^[0-9a-f]{8,64}$/.test(h)) throw new UserError(`plan hash "${given}": expected 8 to 64 hex digits (the plan_hash the plan tool returned)`);
  let names: string[] = [];
  try {
    names = (await fsp.readdir(plansDir(home))).filter((f) => /^[0-9a-f]{64}\.json$/.test(f) && f.startsWith(h));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new OperationError(`cannot read ${plansDir(home)}: ${code ?? messageOf(err)}`); // ENOENT: no plans yet
  }
  if (!names.length) throw new UserError(`plan hash ${h}: no such plan in ${plansDir(home)} (ask the agent to call the plan tool again)`);
  if (names.length > 1) throw new UserError(`plan hash ${h}: ambiguous (${names.length} plans start with it); give more digits`);
  return { hash: names[0]!.slice(0, 64), file: path.join(plansDir(home), names[0]!) };
}

interface Approval {
  plan_hash: string;
  approved_at: string;
  user: string;
  /** hmac-sha256 over "pmoves-mini-approval", plan_hash, approved_at and user, keyed with state.key. */
  mac: string;
}

const macOf = (key: Buffer, a: Omit<Approval, 'mac'>) =>
  'hmac-sha256:' + createHmac('sha256', key).update(['pmoves-mini-approval', a.plan_hash, a.approved_at, a.user].join('\n')).digest('hex');

/** approvals/ is 0700 (an older version made it 0755). */
async function ensureApprovalsDir(home: Home): Promise<void> {
  await fsp.mkdir(approvalsDir(home), { recursive: true, mode: 0o700 });
  await fsp.chmod(approvalsDir(home), 0o700);
}

export async function writeApproval(home: Home, hash: string, user: string): Promise<void> {
  const base = { plan_hash: hash, approved_at: new Date().toISOString(), user };
  const a: Approval = { ...base, mac: macOf(await stateKey(home), base) };
  await ensureApprovalsDir(home);
  await writeFileAtomic(path.join(approvalsDir(home), `${hash}.json`), JSON.stringify(a, null, 2) + '\n', { mode: 0o600 });
}

/** Why this file's text is not `approve`'s approval of exactly this plan, or null when it is. */
async function invalid(home: Home, hash: string, text: string): Promise<string | null> {
  const short = hash.slice(0, 12);
  const forged = `the approval file for plan ${short} was not written by \`pmoves mini approve\``;
  let a: Partial<Approval>;
  try {
    a = JSON.parse(text) as Partial<Approval>;
  } catch {
    return `${forged} (not JSON); ask a human to run: pmoves mini approve ${short}`;
  }
  if (!a || typeof a !== 'object' || typeof a.plan_hash !== 'string' || typeof a.approved_at !== 'string' || typeof a.user !== 'string' || typeof a.mac !== 'string') {
    return `${forged} (fields missing); ask a human to run: pmoves mini approve ${short}`;
  }
  if (a.plan_hash !== hash) return `the approval file for plan ${short} approves another plan (${a.plan_hash.slice(0, 12)}); ask a human to run: pmoves mini approve ${short}`;
  const want = Buffer.from(macOf(await stateKey(home), { plan_hash: a.plan_hash, approved_at: a.approved_at, user: a.user }));
  const got = Buffer.from(a.mac);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return `${forged} (its signature does not match this machine's key); ask a human to run: pmoves mini approve ${short}`;
  return null;
}

const macField = (text: string): string | null => {
  try {
    const m = (JSON.parse(text) as { mac?: unknown }).mac;
    return typeof m === 'string' ? m : null;
  } catch {
    return null;
  }
};

/** Why `apply` may not run this plan, or null when a human approved exactly these bytes (not claimed). */
export async function refusal(home: Home, plan: StoredPlan): Promise<string | null> {
  const short = plan.hash.slice(0, 12);
  const text = await readFileOrNull(path.join(approvalsDir(home), `${plan.hash}.json`));
  if (text === null) {
    const used = await readFileOrNull(path.join(approvalsDir(home), `${plan.hash}.used.json`));
    if (used !== null && (await invalid(home, plan.hash, used)) === null) return `plan ${short} was approved once and already applied; call plan again`;
    return `plan ${short} has not been approved by a human. Ask them to run: pmoves mini approve ${short}`;
  }
  const bad = await invalid(home, plan.hash, text);
  if (bad) return bad;
  // A claimed approval put back under its old name (the same signature as the one already used) is a
  // replay, not a second approval: `approve` signs a new time each time a human approves.
  const used = await readFileOrNull(path.join(approvalsDir(home), `${plan.hash}.used.json`));
  if (used !== null && macField(used) !== null && macField(used) === macField(text)) return `plan ${short} was approved once and already applied (this approval was used before); call plan again`;
  const bytes = await fsp.readFile(plan.file);
  if (sha256(bytes) !== plan.hash) return `plan ${short} was changed after it was saved (its bytes no longer match the approved hash)`;
  return null;
}

/**
 * One approval, one apply: check it, then claim it by renaming it to `<hash>.used.json` (atomic; only
 * one caller can rename it), and check the claimed bytes again. Returns why not, or null when this
 * caller holds the approval and may apply.
 */
export async function claimApproval(home: Home, plan: StoredPlan): Promise<string | null> {
  const why = await refusal(home, plan);
  if (why) return why;
  const from = path.join(approvalsDir(home), `${plan.hash}.json`);
  const to = path.join(approvalsDir(home), `${plan.hash}.used.json`);
  try {
    await fsp.rename(from, to); // replaces an older claim of a re-approved plan
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `plan ${plan.hash.slice(0, 12)}: its approval was claimed by another apply call (one approval, one apply)`;
    throw err;
  }
  const claimed = await readFileOrNull(to);
  return claimed === null ? `plan ${plan.hash.slice(0, 12)}: its approval vanished while it was claimed` : invalid(home, plan.hash, claimed);
}
