// `agents request`: a review packet for a human, before anything privileged runs. A folder and a
// .tar.gz beside it (0700 / 0600 files), holding the task, the plan (text + JSON), status, the last
// audit lines and watch state, env diffs by key and keyed fingerprint only, logs of failing
// containers, the commands the agent wants to run, and a README. Every file is scrubbed of every
// secret value this tool can see (bundles and env files the manifest names) before it is written.
import { createHmac, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';
import type { Resource } from '../core/types.js';
import { displayPath } from '../manifest/yaml-source.js';
import { cliEntry } from './context.js';
import { findTask, taskDirs, type Task } from './tasks.js';

export interface PacketOptions {
  manifestPath: string;
  home: Home;
  env: NodeJS.ProcessEnv;
  task?: string;
  fromLastFailure: boolean;
  outDir?: string;
  profile?: string;
}

export interface PacketResult {
  dir: string;
  archive: string;
  files: string[];
  summary: string;
}

interface EnvDiff {
  resource: string;
  env_file: string;
  keys: { key: string; state: 'same' | 'changed' | 'missing' | 'extra'; actual?: string; desired?: string }[];
}

export async function writePacket(o: PacketOptions): Promise<PacketResult> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const root = path.resolve(o.outDir ?? path.join(o.home.root, 'requests'));
  const auditLines = ((await readFileOrNull(o.home.audit)) ?? '').trim().split('\n').filter(Boolean);

  // The task: named, or the one of the last failed agent run (--from-last-failure).
  let failure: Record<string, unknown> | undefined;
  if (o.fromLastFailure) {
    for (const l of [...auditLines].reverse()) {
      try {
        const rec = JSON.parse(l) as Record<string, unknown>;
        if (rec.outcome === 'failed' || rec.outcome === 'error') {
          failure = rec;
          break;
        }
      } catch {
        /* a torn line */
      }
    }
    if (!failure) throw new UserError(`--from-last-failure: no failed apply or agent run in ${displayPath(o.home.audit)}`);
  }
  const taskName = o.task ?? (typeof failure?.task === 'string' ? failure.task : undefined);
  let task: Task | undefined;
  if (taskName) {
    const found = await findTask(taskName, taskDirs(o.manifestPath, o.home));
    if (!found.task) {
      if (found.diagnostics.length) throw new UserError(`task ${taskName} is not valid`, found.diagnostics);
      throw new UserError(`task ${taskName}: no such task (known: ${found.known.join(', ') || 'none'})`);
    }
    task = found.task;
  }
  const name = `${task?.name ?? 'last-failure'}-${stamp}`;
  const dir = path.join(root, name);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await fsp.chmod(dir, 0o700);

  // Secret values known here: scrubbed from every file below.
  const { secrets, diffs } = await envDiffs(o);
  const logs = await failingContainerLogs();
  for (const [v, k] of logs.envValues) if (!secrets.has(v)) secrets.set(v, k);
  // Longest values first, so a value containing another is replaced whole.
  const ordered = [...secrets].sort((x, y) => y[0].length - x[0].length);
  const scrub = (text: string) => {
    let out = text;
    for (const [value, label] of ordered) out = out.split(value).join(`[redacted ${label}]`);
    return out;
  };
  const files: string[] = [];
  const put = async (file: string, text: string) => {
    await writeFileAtomic(path.join(dir, file), scrub(text), { mode: 0o600 });
    files.push(file);
  };

  const cli = async (args: string[]) => {
    const { runChild } = await import('../core/child.js');
    const r = await runChild(process.execPath, [cliEntry, 'mini', ...args, '-m', path.resolve(o.manifestPath), ...(o.profile ? ['--profile', o.profile] : [])], {
      env: { ...process.env, ...o.env, PMOVES_HOME: o.home.root, NO_COLOR: '1' },
      timeoutMs: 10 * 60_000,
    });
    return { out: String(r.stdout), err: String(r.stderr), code: r.exitCode ?? 1 };
  };

  if (task) await put('task.yaml', (await readFileOrNull(task.file)) ?? '');
  if (failure) await put('failure.json', JSON.stringify(failure, null, 2) + '\n');

  // The plan: one refresh, saved to a temp file; its text and its JSON (the masked plan, never the
  // desired resources the saved file also holds).
  const tmp = path.join(o.home.root, 'plans', `.request-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  await fsp.mkdir(path.dirname(tmp), { recursive: true, mode: 0o700 });
  const plan = await cli(['plan', '--out', tmp]);
  await put('plan.txt', plan.out.replace(/\n\nSaved the plan to [^\n]*\n?$/, '\n') + (plan.err ? `\n${plan.err}\n` : ''));
  const saved = await readFileOrNull(tmp);
  await fsp.rm(tmp, { force: true });
  const planJson = saved ? (JSON.parse(saved) as { plan: Record<string, unknown> }).plan : null;
  await put('plan.json', JSON.stringify(planJson ?? { error: 'the plan has errors; see plan.txt' }, null, 2) + '\n');

  const status = await cli(['status']);
  await put('status.txt', status.out + (status.err ? `\n${status.err}\n` : ''));

  await put('audit.jsonl', auditLines.slice(-50).join('\n') + (auditLines.length ? '\n' : ''));
  const watch = await readFileOrNull(path.join(o.home.root, 'watch.json'));
  if (watch !== null) await put('watch.json', watch);

  await put('env-diff.json', JSON.stringify({ fingerprint: 'hmac-sha256 with a key that is not in this packet, first 12 hex digits: equal values have equal fingerprints', resources: diffs }, null, 2) + '\n');

  await put('containers.txt', logs.text);

  const commands = task?.commands ?? [];
  await put('commands.txt', commands.length ? commands.map((c) => `${c}\n`).join('') : '# the task lists no commands\n');

  const changed = diffs.flatMap((d) => d.keys.filter((k) => k.state !== 'same').map((k) => `${d.resource} ${k.key}: ${k.state}`));
  const planSummary = /^(Plan: .*|No changes\..*)$/m.exec(plan.out)?.[0] ?? 'the plan has errors (see plan.txt)';
  const lines = [
    `# Review packet: ${task ? `task ${task.name}` : 'the last failure'}`,
    '',
    `Made by \`pmoves mini agents request\` on ${new Date().toISOString()} for the manifest ${displayPath(path.resolve(o.manifestPath))}.`,
    'Nothing has been run. An agent (or a person) wants to do what is below; you decide.',
    '',
    task ? `Task: ${task.description}\nPermission level: ${task.permission_level}` : `Last failure: ${JSON.stringify(failure)}`,
    '',
    '## What to read',
    '- commands.txt: the commands that would run, one per line. Run them yourself only if they are what you expect.',
    `- plan.txt / plan.json: what \`apply\` would change now (${planSummary}).`,
    '- status.txt: every resource, in-sync or not, and why.',
    '- env-diff.json: env files against their CHIT bundles, by key and fingerprint only (no value is in this packet).',
    '- containers.txt: the last log lines of containers that are not running or not healthy, secret values replaced by [redacted LABEL].',
    '- audit.jsonl: the last 50 audit lines (applies, agent runs, MCP calls, approvals).',
    '',
    '## How to approve',
    '- To let an agent apply a plan: have it call the `plan` tool of `pmoves mini mcp serve`, then run `pmoves mini approve <plan_hash>` on a terminal.',
    '- To run a privileged task yourself: `pmoves mini agents exec --tool codex --task NAME --yes` asks you on a terminal first.',
    '',
  ];
  await put('README.md', lines.join('\n'));

  const archive = `${dir}.tar.gz`;
  const { runChild } = await import('../core/child.js');
  const tar = await runChild('tar', ['-czf', archive, '-C', root, name], { timeoutMs: 10 * 60_000 });
  if (tar.exitCode !== 0) throw new UserError(`tar failed: ${String(tar.stderr).trim()}`);
  await fsp.chmod(archive, 0o600);

  const summary = [
    `Review packet: ${displayPath(dir)}`,
    `          and: ${displayPath(archive)} (mode 0600)`,
    task ? `Task: ${task.name} (${task.permission_level}): ${task.description.split('\n')[0]}` : `Last failure: ${String(failure?.address ?? '')} ${String(failure?.action ?? '')} ${String(failure?.outcome ?? '')}`,
    planSummary.startsWith('Plan:') ? planSummary : `Plan: ${planSummary}`,
    `Status: ${status.out.split('\n').filter((l) => /^[a-z_]+\.\S+\s+(drifted|missing|error|orphaned|conflict)\b/.test(l)).length} resource(s) not in sync`,
    `Env diffs: ${changed.length ? changed.slice(0, 5).join('; ') + (changed.length > 5 ? ` (+${changed.length - 5} more)` : '') : 'none'}`,
    `Failing containers: ${logs.count}`,
    `Commands the agent wants to run: ${commands.length}`,
    ...commands.slice(0, 5).map((c) => `  ${c}`),
    `Read ${displayPath(path.join(dir, 'README.md'))} first.`,
    '',
  ].join('\n');
  return { dir, archive, files, summary };
}

/** Env files against their bundles by key and keyed fingerprint; and every value seen (to scrub). */
async function envDiffs(o: PacketOptions): Promise<{ secrets: Map<string, string>; diffs: EnvDiff[] }> {
  const secrets = new Map<string, string>();
  const diffs: EnvDiff[] = [];
  const { loadManifest } = await import('../manifest/load.js');
  const { kinds, expanders } = await import('../reconcilers/index.js');
  const loaded = await loadManifest(o.manifestPath, { env: o.env, home: o.home, kinds, expanders, overrides: o.profile ? { profile: o.profile } : undefined });
  const resources: Resource[] = loaded.manifest?.resources ?? [];
  const { stateKey } = await import('../engine/state.js');
  const key = await stateKey(o.home);
  const fp = (v: string) => createHmac('sha256', key).update(`packet\0${v}`).digest('hex').slice(0, 12);
  const { readBundle, decodeBundle } = await import('../providers/chit/bundle.js');
  const { parseEnv } = await import('../providers/chit/env-file.js');
  for (const r of resources.filter((x) => x.section === 'secrets')) {
    const s = r.spec as { bundle?: string; env_file?: string; include_labels?: string[] | null };
    let desired = new Map<string, string>();
    if (s.bundle) {
      try {
        desired = decodeBundle(await readBundle(s.bundle), s.bundle);
      } catch {
        /* an unreadable bundle: the plan says why */
      }
    }
    for (const [k, v] of desired) if (v.length >= 4) secrets.set(v, k);
    if (s.include_labels) {
      const globs = s.include_labels.map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
      desired = new Map([...desired].filter(([k]) => globs.some((g) => g.test(k))));
    }
    const text = s.env_file ? await readFileOrNull(s.env_file) : null;
    const actual = text === null ? new Map<string, string>() : parseEnv(text);
    for (const [k, v] of [...desired, ...actual]) if (v.length >= 4) secrets.set(v, k);
    const keys: EnvDiff['keys'] = [];
    for (const k of [...new Set([...desired.keys(), ...actual.keys()])].sort()) {
      const a = actual.get(k);
      const d = desired.get(k);
      if (a !== undefined && d !== undefined) keys.push({ key: k, state: a === d ? 'same' : 'changed', actual: fp(a), desired: fp(d) });
      else if (d !== undefined) keys.push({ key: k, state: 'missing', desired: fp(d) });
      else keys.push({ key: k, state: 'extra', actual: fp(a!) });
    }
    diffs.push({ resource: r.address, env_file: s.env_file ? displayPath(s.env_file) : '', keys });
  }
  return { secrets, diffs };
}

/** Last log lines of compose containers that exited, restart, or are unhealthy. */
async function failingContainerLogs(): Promise<{ text: string; count: number; envValues: Map<string, string> }> {
  const envValues = new Map<string, string>();
  const { runChild } = await import('../core/child.js');
  const ps = await runChild('docker', ['ps', '-a', '--filter', 'label=com.docker.compose.project', '--format', '{{.ID}}\t{{.Names}}\t{{.Status}}'], { timeoutMs: 20_000 });
  if (ps.exitCode !== 0) return { text: `# docker is not reachable here: ${String(ps.stderr || ps.stdout).trim().split('\n')[0] ?? ''}\n`, count: 0, envValues };
  const failing = String(ps.stdout)
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'))
    .filter(([, , st]) => /Exited \((?!0\))|Restarting|unhealthy|Dead/.test(st ?? ''));
  if (!failing.length) return { text: '# no compose container is failing\n', count: 0, envValues };
  const parts: string[] = [];
  for (const [id, nameOf, st] of failing.slice(0, 10)) {
    // The container's own environment values are scrubbed too (a service may log its credentials).
    const env = await runChild('docker', ['inspect', '--format', '{{json .Config.Env}}', id!], { timeoutMs: 20_000 });
    try {
      for (const kv of JSON.parse(String(env.stdout)) as string[]) {
        const i = kv.indexOf('=');
        if (i > 0 && kv.length - i - 1 >= 6) envValues.set(kv.slice(i + 1), kv.slice(0, i));
      }
    } catch {
      /* no env */
    }
    const logs = await runChild('docker', ['logs', '--tail', '200', id!], { timeoutMs: 20_000 });
    parts.push(`## ${nameOf} (${st})\n${`${logs.stdout}${logs.stderr}`.trimEnd()}\n`);
  }
  return { text: parts.join('\n'), count: failing.length, envValues };
}
