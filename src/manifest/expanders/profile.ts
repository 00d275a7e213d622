// The profile expander: `profile: auto | ID` (or --profile) picks a hardware profile, which then adds to
// the desired state — compose overrides on every stack, model bundles, MCP servers, CHIT labels on the
// secrets — and every resource's `requires:` (and a profile's own requirement, for what it brings) is
// checked against the detected machine: what cannot run here is marked `unsatisfied` and the planner
// shows it as `!` without planning or applying it. Explicit manifest entries always win.
import { pathKind } from '../../core/fs.js';
import path from 'node:path';
import type { Kind, LoadContext } from '../../core/kind.js';
import type { Diagnostic, Resource } from '../../core/types.js';
import type { MachineFacts } from '../../providers/hardware/detect.js';
import type { Profile, Ranked } from '../../providers/hardware/profiles.js';
import type { Requires } from '../../providers/hardware/requirements.js';
import type { Expander, Manifest } from '../load.js';

type Catalog = (ids: string[], origin: string, ctx: LoadContext, kinds: Kind[]) => Promise<{ resources: Resource[]; diagnostics: Diagnostic[] }>;

export interface Choice {
  profile: Profile;
  /** How it was chosen, for the plan's notes. */
  how: string;
  ranked?: Ranked[];
}

function quoteList(xs: string[]): string {
  return xs.join(', ');
}

export const profileExpander: Expander = async (m: Manifest, ctx: LoadContext, kinds: Kind[]) => {
  const choice = typeof m.data.profile === 'string' ? m.data.profile : undefined;
  const hasRequires = m.resources.some((r) => r.requires && Object.keys(r.requires).length);
  if (!choice && !hasRequires) return [];

  const diags: Diagnostic[] = [];
  const { detectFromEnv } = await import('../../providers/hardware/detect.js');
  const { checkRequires } = await import('../../providers/hardware/requirements.js');
  const machine = await detectFromEnv(ctx.env);

  let chosen: Choice | undefined;
  if (choice) {
    const r = await chooseProfile(m, ctx, choice, machine);
    diags.push(...r.diagnostics);
    chosen = r.choice;
    if (!chosen) return diags;
  }

  const fromProfile = new Set<string>();
  const contributed: string[] = [];
  let profileUnmet: string | undefined;
  if (chosen) {
    const p = chosen.profile;
    const { effectiveRequires } = await import('../../providers/hardware/profiles.js');
    const pr = checkRequires(effectiveRequires(p), machine);
    profileUnmet = [...pr.unmet, ...pr.unknown][0];
    const origin = `profile ${p.id}`;
    const known = new Set(m.resources.map((r) => r.address));
    const kindNames = new Set(kinds.map((k) => k.section));

    // compose overrides → every stack's files
    if (p.compose_overrides.length) {
      const stacks = m.resources.filter((r) => r.section === 'stacks');
      if (profileUnmet && stacks.length) {
        diags.push({ severity: 'warning', summary: `profile ${p.id}: compose overrides ${quoteList(p.compose_overrides)} not added: this machine ${profileUnmet}` });
      } else {
        for (const s of stacks) {
          const spec = s.spec as { files?: unknown };
          if (!Array.isArray(spec.files) || !spec.files.length) {
            diags.push({ severity: 'warning', address: s.address, summary: `profile ${p.id}: compose overrides not added: ${s.address} has no compose files list` });
            continue;
          }
          const files = spec.files as string[];
          const dir = path.dirname(files[0]!); // the stack's folder: where its compose file is
          const added: string[] = [];
          for (const o of p.compose_overrides) {
            const abs = path.resolve(dir, o);
            if (files.includes(abs)) continue;
            if ((await pathKind(abs)) !== 'file') {
              diags.push({ severity: 'warning', address: s.address, summary: `profile ${p.id}: compose override ${o} not found in ${dir}; not added` });
              continue;
            }
            files.push(abs);
            added.push(o);
          }
          if (added.length) {
            s.origin = s.origin ?? `${origin}: compose overrides ${quoteList(added)}`;
            contributed.push(`${s.address} files += ${quoteList(added)}`);
          }
        }
      }
    }

    // model bundles and MCP servers: resources from the catalogs their kinds own
    const catalogs: { ids: string[]; section: string; load: () => Promise<Catalog>; what: string }[] = [
      { ids: p.model_bundles, section: 'models', load: async () => (await import('./model-bundles.js')).bundleResources, what: 'model bundles' },
      { ids: p.mcp, section: 'mcp', load: async () => (await import('../../providers/mcp/catalog.js')).catalogResources, what: 'MCP servers' },
    ];
    for (const c of catalogs) {
      if (!c.ids.length) continue;
      // A registry without that kind has no catalog to take them from.
      const fn = kindNames.has(c.section) ? await c.load() : null;
      if (!fn) {
        diags.push({ severity: 'warning', summary: `profile ${p.id}: ${c.what} ${quoteList(c.ids)} not added: this build has no ${c.section} catalog yet` });
        continue;
      }
      const got = await fn(c.ids, origin, ctx, kinds);
      // A profile is a suggestion layer: what its catalog cannot resolve is left out with a warning.
      for (const d of got.diagnostics) diags.push({ ...d, severity: 'warning', summary: d.summary.startsWith(origin) ? d.summary : `${origin}: ${d.summary}` });
      const mine: string[] = [];
      for (const r of got.resources) {
        if (known.has(r.address)) continue; // the manifest's own entry wins
        known.add(r.address);
        r.origin = r.origin || origin;
        m.resources.push(r);
        fromProfile.add(r.address);
        mine.push(r.address);
      }
      if (mine.length) contributed.push(quoteList(mine));
    }

    // CHIT scope → secrets that set no include_labels of their own
    const labels = p.chit_scope.include_labels;
    if (labels?.length) {
      const raw = (m.data.secrets ?? {}) as Record<string, Record<string, unknown> | null>;
      for (const s of m.resources.filter((r) => r.section === 'secrets' && !r.origin)) {
        if (raw[s.name]?.include_labels !== undefined) continue;
        (s.spec as { include_labels?: string[] | null }).include_labels = [...labels];
        s.origin = `${origin}: include_labels`;
        contributed.push(`${s.address} include_labels = ${quoteList(labels)}`);
      }
    }

    m.notes.push(...profileNotes(chosen, contributed, profileUnmet));
  }

  // Hardware gating: each resource's own requires, and the profile's requirement for what it brought.
  for (const r of m.resources) {
    const reasons: string[] = [];
    if (r.requires && Object.keys(r.requires).length) {
      const c = checkRequires(r.requires as Requires, machine);
      reasons.push(...c.unmet, ...c.unknown);
    }
    if (fromProfile.has(r.address) && profileUnmet) reasons.push(`${profileUnmet} (the requirement of profile ${chosen!.profile.id})`);
    if (reasons.length) r.unsatisfied = reasons.join('; ');
  }
  // …and whatever depends on a resource that cannot run here cannot run either.
  const anyUnsatisfied = m.resources.some((r) => r.unsatisfied);
  for (let changed = true; changed; ) {
    changed = false;
    const blocked = new Map(m.resources.filter((r) => r.unsatisfied).map((r) => [r.address, r] as const));
    for (const r of m.resources) {
      if (r.unsatisfied) continue;
      const dep = r.dependsOn.find((d) => blocked.has(d));
      if (dep) {
        r.unsatisfied = `depends on ${dep}, which cannot be applied here`;
        changed = true;
      }
    }
  }
  if (anyUnsatisfied) {
    const { machineLine } = await import('../../providers/hardware/profiles.js');
    m.notes.push(`This machine: ${machineLine(machine)}`);
  }
  return diags;
};

async function chooseProfile(m: Manifest, ctx: LoadContext, choice: string, machine: MachineFacts): Promise<{ choice?: Choice; diagnostics: Diagnostic[] }> {
  const { loadProfiles, readPin, rankProfiles, bestProfile, unknownProfile } = await import('../../providers/hardware/profiles.js');
  const set = await loadProfiles({ env: ctx.env, home: ctx.home });
  const diagnostics = [...set.diagnostics];
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const own = m.source.doc.get('profile');
  const inManifest = typeof own === 'string' && (own === choice || own.includes('${'));
  const where = inManifest ? `profile: ${choice} in ${path.basename(m.path)}` : `--profile ${choice}`;
  const location = inManifest ? m.source.locate(['profile']) : undefined;

  if (choice !== 'auto') {
    const p = set.profiles.get(choice);
    if (!p) return { diagnostics: [...diagnostics, { severity: 'error', summary: `${inManifest ? 'profile' : '--profile'}: ${unknownProfile(choice, set)}`, ...(location ? { location } : {}) }] };
    return { choice: { profile: p, how: `chosen by ${where}` }, diagnostics };
  }

  const pin = await readPin(ctx.home);
  if (pin.problem) diagnostics.push({ severity: 'warning', summary: `${pin.problem}; detecting the profile instead` });
  if (pin.id) {
    const p = set.profiles.get(pin.id);
    if (p) return { choice: { profile: p, how: `pinned with \`pmoves mini profile apply\` (${pin.file}); ${where}` }, diagnostics };
    diagnostics.push({ severity: 'warning', summary: `the pinned profile "${pin.id}" (${pin.file}) no longer exists; detecting the profile instead` });
  }
  const ranked = rankProfiles(set.profiles.values(), machine);
  const best = bestProfile(ranked);
  if (!best) {
    return { diagnostics: [...diagnostics, { severity: 'error', summary: 'profile: auto: no hardware profile fits this machine (run `pmoves mini profile detect` to see why)', ...(location ? { location } : {}) }] };
  }
  const next = ranked.find((r) => r !== best && r.eligible && r.score > 0);
  return { choice: { profile: best.profile, how: `detected (${where}): score ${best.score}${next ? `; next ${next.profile.id} ${next.score}` : ''}`, ranked }, diagnostics };
}

function profileNotes(c: Choice, contributed: string[], unmet: string | undefined): string[] {
  const out = [`Hardware profile: ${c.profile.id} (${c.profile.name}), ${c.how}`];
  if (contributed.length) out.push(`  from the profile: ${contributed.join('; ')}`);
  if (unmet) out.push(`  this machine does not meet the profile's requirement: ${unmet}`);
  return out;
}
