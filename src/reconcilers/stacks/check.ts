// What `validate` can tell about a stack without Docker or compose: its compose files exist, the env
// files it and its active services name exist (compose's long syntax `required: false` honoured), and
// the build contexts of its active services exist. Each is an error at the manifest's file:line:column
// (the `files`/`env_files` entry that leads to it), with the compose file's own position in the detail.
// Env files are not required when the stack depends on another resource: that one may write them (the
// plan then waits for it, see planStack).
import path from 'node:path';
import type { LoadContext } from '../../core/kind.js';
import type { Diagnostic, Resource } from '../../core/types.js';
import type { StackSpec } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A build context compose would read from the disk (not a URL or git remote, not interpolated). */
function localContext(build: unknown): string | null {
  const ctx = typeof build === 'string' ? build : isObj(build) ? (build.context ?? '.') : null;
  if (typeof ctx !== 'string' || ctx.includes('$') || /^[a-z][a-z0-9+.-]*:\/\//i.test(ctx) || /^git@|\.git(#|$)/.test(ctx)) return null;
  return ctx;
}

/** Alias expansions allowed in a compose file (`<<: *common` in every service is normal; a bomb is millions). */
const COMPOSE_ALIAS_BUDGET = 10_000;

/** The first of `refs` the Docker Engine has as an image (null: none, or the engine cannot be asked). */
async function imagePresent(env: NodeJS.ProcessEnv, refs: string[]): Promise<string | null> {
  const { engineGet } = await import('../../providers/docker/engine.js');
  for (const ref of refs) {
    const found = await engineGet(env, `/images/${encodeURIComponent(ref)}/json`, 5_000).then(
      () => true,
      () => false,
    );
    if (found) return ref;
  }
  return null;
}

const refsMemo = new Map<string, Obj | undefined>();

/**
 * What validate reads of a compose file's services (profiles, env_file, build, image: paths and names, never values),
 * kept in memory and in `$PMOVES_HOME/cache` keyed by the file's text, so that an unchanged file is not
 * parsed again on every command. `parse` parses it (and throws when it is not YAML).
 */
async function serviceRefs(text: string, home: string, parse: () => Obj | undefined): Promise<Obj | undefined> {
  const { createHash } = await import('node:crypto');
  const { readFile, mkdir } = await import('node:fs/promises');
  const id = createHash('sha256').update('check-refs-2\0' + text).digest('hex');
  if (refsMemo.has(id)) return refsMemo.get(id);
  const file = path.join(home, 'cache', `compose-check-${id.slice(0, 32)}.json`);
  try {
    const hit = JSON.parse(await readFile(file, 'utf8')) as { services?: Obj };
    refsMemo.set(id, hit.services);
    return hit.services;
  } catch {
    /* parsed below */
  }
  const all = parse();
  const services = all && Object.fromEntries(Object.entries(all).map(([k, v]) => [k, isObj(v) ? Object.fromEntries(['profiles', 'env_file', 'build', 'image'].filter((x) => x in v).map((x) => [x, v[x]])) : v]));
  refsMemo.set(id, services);
  const { writeFileAtomic } = await import('../../core/fs.js');
  await mkdir(path.dirname(file), { recursive: true }).catch(() => undefined);
  await writeFileAtomic(file, JSON.stringify({ services }), { mode: 0o600 }).catch(() => undefined);
  return services;
}

export async function checkStack(r: Resource<StackSpec>, ctx: LoadContext): Promise<Diagnostic[]> {
  const { clip, MiB, notARegularFile, pathKind, readRegularFile } = await import('../../core/fs.js');
  const { parseYamlText, yamlData } = await import('../../manifest/yaml-source.js');
  const s = r.spec;
  const out: Diagnostic[] = [];
  if (s.state === 'down') return out;
  const waits = r.dependsOn.length > 0;
  const err = (summary: string, at: (string | number)[], detail?: string) =>
    out.push({ severity: 'error', address: r.address, summary: `${r.address}.${summary}`, location: ctx.locate(r.address, at), ...(detail ? { detail } : {}) });
  const profiles = [...s.profiles, ...(ctx.env.COMPOSE_PROFILES ?? '').split(',').map((x) => x.trim()).filter(Boolean)];
  for (const [j, f] of s.env_files.entries()) {
    const odd = await notARegularFile(f);
    if (odd) err(`env_files: ${clip(f)} ${odd}`, ['env_files', j]);
    else if (!waits && (await pathKind(f)) !== 'file') err(`env_files: no such env file: ${clip(f)}`, ['env_files', j], 'Write it first (e.g. a secrets resource, then depends_on: [secrets.NAME] on this stack).');
  }
  const seen = new Set<string>();
  for (const [i, file] of s.files.entries()) {
    const kind = await pathKind(file);
    if (kind !== 'file') {
      err(`files: ${kind === null ? 'no such compose file' : 'not a file'}: ${clip(file)}`, ['files', i]);
      continue;
    }
    let services: Obj | undefined;
    let text: string;
    try {
      text = await readRegularFile(file, 16 * MiB);
    } catch {
      continue; // compose says what is wrong with the file itself at plan
    }
    // Positions only when a diagnostic needs one: the YAML parse with positions is the cost of every load.
    let parsed: ReturnType<typeof parseYamlText> | null = null;
    const locate = (p: (string | number)[]): string => {
      try {
        parsed ??= parseYamlText(file, text);
        return parsed.source.locate(p);
      } catch {
        return file;
      }
    };
    const found: { bomb?: Diagnostic } = {};
    try {
      services = await serviceRefs(text, ctx.home.root, () => {
        parsed ??= parseYamlText(file, text);
        const data = yamlData(parsed.source, COMPOSE_ALIAS_BUDGET);
        // an alias bomb would make compose take gigabytes: refused here, located in the compose file (never cached)
        found.bomb = data.diagnostics.find((d) => /alias/.test(d.summary));
        if (found.bomb) throw new Error(found.bomb.summary);
        const doc = data.value;
        return isObj(doc) && isObj(doc.services) ? doc.services : undefined;
      });
    } catch {
      const bomb = found.bomb;
      if (bomb) err(`files: ${clip(file)}${bomb.location ? ` (${bomb.location})` : ''}: ${bomb.summary}`, ['files', i]);
      continue; // otherwise compose says what is wrong with the file itself at plan
    }
    for (const [name, svc] of Object.entries(services ?? {})) {
      if (!isObj(svc)) continue;
      const own = Array.isArray(svc.profiles) ? svc.profiles.map(String) : [];
      if (own.length && !profiles.includes('*') && !own.some((p) => profiles.includes(p))) continue; // compose does not read it
      const envFiles = Array.isArray(svc.env_file) ? svc.env_file : svc.env_file === undefined ? [] : [svc.env_file];
      for (const [k, e] of envFiles.entries()) {
        const p = typeof e === 'string' ? e : isObj(e) && typeof e.path === 'string' ? e.path : null;
        if (!p || p.includes('$') || (isObj(e) && e.required === false) || waits) continue;
        const abs = path.resolve(s.project_directory, p);
        if (seen.has(`env ${abs}`) || (await pathKind(abs)) === 'file') continue;
        seen.add(`env ${abs}`);
        err(`files: ${path.basename(file)}: service ${name}: env_file ${p} does not exist (${abs})`, ['files', i], `${locate(['services', name, 'env_file', ...(Array.isArray(svc.env_file) ? [k] : [])])}: env_file entry. Create it, mark it required: false, or let a dependency write it (depends_on).`);
      }
      const context = localContext(svc.build);
      if (context === null) continue;
      const abs = path.resolve(s.project_directory, context);
      if (seen.has(`build ${abs}`) || (await pathKind(abs)) === 'dir') continue;
      seen.add(`build ${abs}`);
      // Only an image that must be built needs its context: when the image is present, compose starts it.
      const image = typeof svc.image === 'string' && !svc.image.includes('$') ? svc.image : null;
      const present = await imagePresent(ctx.env, image ? [image] : [`${s.project}-${name}`, `${s.project}_${name}`]);
      if (present) {
        out.push({ severity: 'warning', address: r.address, summary: `${r.address}.files: ${path.basename(file)}: service ${name}: build context ${context} does not exist (${abs}); its image ${present} is present, so it is not built (note)`, location: ctx.locate(r.address, ['files', i]) });
        continue;
      }
      err(`files: ${path.basename(file)}: service ${name}: build context ${context} does not exist (${abs})`, ['files', i], `${locate(['services', name, 'build'])}: build context (relative to the project directory ${s.project_directory}), needed because its image is not present.`);
    }
  }
  return out;
}
