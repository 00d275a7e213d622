// `profile list|show|detect|apply|current`: upstream's lines (scripts parse them), plus evidence and --json.
import { InvalidArgumentError, type Command } from 'commander';
import path from 'node:path';
import { globals, homeOf, printDiagnostics, type Globals } from './common.js';

async function loadAll(g: Globals) {
  const { loadProfiles } = await import('../providers/hardware/profiles.js');
  const home = await homeOf(g);
  const set = await loadProfiles({ env: process.env, home });
  const broken = set.diagnostics.some((d) => d.severity === 'error');
  printDiagnostics(set.diagnostics);
  return { set, home, broken };
}

function out(line = ''): void {
  process.stdout.write(line + '\n');
}

function json(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

type ProfileSet = Awaited<ReturnType<typeof loadAll>>['set'];

/** The profile `id`, or upstream's "not found" line, an error naming the nearest ids, and exit code 1. */
async function profileOrFail(set: ProfileSet, id: string) {
  const p = set.profiles.get(id);
  if (p) return p;
  const { unknownProfile } = await import('../providers/hardware/profiles.js');
  out(`Profile '${id}' not found.`);
  process.stderr.write(`Error: ${unknownProfile(id, set)}\n`);
  process.exitCode = 1;
  return undefined;
}

export function registerProfile(mini: Command): void {
  // --profiles-dir is a global option: hand it to every command (and the manifest's profile expander).
  mini.hook('preAction', (_this, action) => {
    const dir = (action.optsWithGlobals() as { profilesDir?: string }).profilesDir;
    if (dir) process.env.PMOVES_PROFILES_DIR = path.resolve(dir);
  });

  const profile = mini.command('profile').description('hardware profiles: detect this machine, pick the profile that drives the manifest');

  profile
    .command('list')
    .description('list profiles (* marks the active one)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { set, home, broken } = await loadAll(g);
      const { readPin } = await import('../providers/hardware/profiles.js');
      const pin = await readPin(home);
      const list = [...set.profiles.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
      if (g.json) {
        json({ active: pin.id, profiles: list.map((p) => ({ id: p.id, name: p.name, origin: p.origin, file: p.file, active: p.id === pin.id })) });
      } else if (!list.length) {
        out('No profiles found.');
      } else {
        for (const p of list) out(`${p.id === pin.id ? '*' : ' '} ${p.id} – ${p.name}`);
      }
      process.exitCode = broken || !list.length ? 1 : 0;
    });

  profile
    .command('show <id>')
    .description('show one profile: hardware, what it brings, what it requires')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { set, broken } = await loadAll(g);
      const { effectiveRequires } = await import('../providers/hardware/profiles.js');
      const p = await profileOrFail(set, id);
      if (!p) return;
      const requires = effectiveRequires(p);
      if (g.json) {
        const { file, location: _l, ...rest } = p;
        json({ ...rest, file, requires_effective: requires });
      } else {
        out(`${p.name} (${p.id})`);
        out(p.description);
        out(''); // upstream prints two blank lines here
        out('');
        out('Hardware:');
        out(JSON.stringify(p.hardware, null, 2));
        out('Compose overrides: ' + (p.compose_overrides.length ? p.compose_overrides : ['(none)']).join(', '));
        out('Model bundles: ' + (p.model_bundles.length ? p.model_bundles : ['(none)']).join(', '));
        out('MCP adapters: ' + (p.mcp.length ? p.mcp : ['(none)']).join(', '));
        if (p.notes.length) {
          out('Notes:');
          for (const n of p.notes) out(`  - ${n}`);
        }
        out('CHIT labels: ' + (p.chit_scope.include_labels?.length ? p.chit_scope.include_labels.join(', ') : '(all)'));
        const req = Object.entries(requires).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`);
        out(`Requires: ${req.length ? req.join('; ') : '(nothing)'}${p.requires ? '' : ' (from its hardware block)'}`);
        out(`File: ${p.file}${p.origin === 'user' ? ' (user profile)' : ''}`);
      }
      process.exitCode = broken ? 1 : 0;
    });

  profile
    .command('detect')
    .description('rank the profiles against this machine, with the evidence for and against each')
    .option('--top <n>', 'number of suggestions to show (0: none, as upstream)', topOption, 3)
    .action(async (o: { top: number }, cmd: Command) => {
      const g = globals(cmd);
      if (o.top === 0 && !g.json) return; // upstream prints nothing and exits 0
      const { set, broken } = await loadAll(g);
      if (broken) {
        process.exitCode = 1;
        return;
      }
      const { detectFromEnv } = await import('../providers/hardware/detect.js');
      const { rankProfiles, bestProfile, evidenceLine, machineSummary } = await import('../providers/hardware/profiles.js');
      const machine = await detectFromEnv(process.env);
      const ranked = rankProfiles(set.profiles.values(), machine);
      const best = bestProfile(ranked);
      // Candidates (eligible, best first) in upstream's `id (name) – score N`; ruled-out ones after, in
      // a block whose lines never match that shape, so a script taking the top score cannot pick one.
      const shown = ranked.filter((r) => r.eligible && r.score > 0).slice(0, o.top);
      const ruledOut = ranked.filter((r) => !r.eligible && r.score > 0);
      if (g.json) {
        json({
          best: best?.profile.id ?? null,
          ranking: ranked.map((r) => ({ id: r.profile.id, name: r.profile.name, score: r.score, eligible: r.eligible, evidence: r.evidence, unmet: r.unmet, unknown: r.unknown })),
          machine,
        });
      } else {
        if (!best) out('No profile matches detected.');
        for (const r of best ? shown : []) {
          out(`${r.profile.id} (${r.profile.name}) – score ${r.score}`);
          for (const e of r.evidence) out(`  ${evidenceLine(e)}`);
          for (const u of r.unknown) out(`  ?  ${u}`);
        }
        if (ruledOut.length) {
          out('');
          out('Ruled out (this machine does not meet their requirements):');
          for (const r of ruledOut) out(`  x ${r.profile.id} (${r.profile.name}): ${r.unmet.join('; ')}`);
        }
        out('');
        for (const l of machineSummary(machine)) out(l);
      }
      process.exitCode = best ? 0 : 1;
    });

  profile
    .command('apply <id>')
    .description('pin the active profile of this machine ($PMOVES_HOME/profile.yaml); `profile: auto` uses it')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { set, home, broken } = await loadAll(g);
      const { writePin, effectiveRequires } = await import('../providers/hardware/profiles.js');
      const p = await profileOrFail(set, id);
      if (!p) return;
      if (broken) {
        process.exitCode = 1;
        return;
      }
      const file = await writePin(home, id);
      const { detectFromEnv } = await import('../providers/hardware/detect.js');
      const { checkRequires } = await import('../providers/hardware/requirements.js');
      const req = checkRequires(effectiveRequires(p), await detectFromEnv(process.env));
      if (g.json) json({ active: id, file, unmet: req.unmet });
      else out(`Active profile set to ${id}.`);
      for (const u of req.unmet) process.stderr.write(`Warning: this machine does not meet profile ${id}'s requirement: ${u}; what the profile brings will show as "!" in plans here.\n`);
    });

  profile
    .command('current')
    .description('show the pinned profile')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { set, home } = await loadAll(g);
      const { readPin } = await import('../providers/hardware/profiles.js');
      const pin = await readPin(home);
      if (pin.problem) process.stderr.write(`Error: ${pin.problem}\n`);
      if (!pin.id) {
        if (g.json) json({ active: null });
        else out('No active profile set.');
        process.exitCode = 1;
        return;
      }
      const p = set.profiles.get(pin.id);
      if (!p) {
        if (g.json) json({ active: pin.id, exists: false, file: pin.file });
        else out(`Active profile '${pin.id}' no longer exists.`);
        process.exitCode = 1;
        return;
      }
      if (g.json) json({ active: p.id, name: p.name, exists: true, file: pin.file });
      else out(`${p.name} (${p.id})`);
    });
}

/** `--top N`: a whole number >= 0; anything else is a usage error (exit 2 on upstream's paths, as Click). */
function topOption(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number >= 0, got "${v}"`);
  return n;
}
