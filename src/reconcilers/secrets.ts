// secrets.<name>: a CHIT bundle rendered into an env file (upstream's format), values never shown.
import path from 'node:path';
import type { Kind, LoadContext, PlanContext, RunContext, Target } from '../core/kind.js';
import type { Diagnostic, PlanResult, Resource } from '../core/types.js';
import { UserError } from '../core/errors.js';
import { clip, exists, notARegularFile } from '../core/fs.js';
import { isOwned, ownedAfter, targetProblem } from '../core/ownership.js';
import type { Expander, Manifest } from '../manifest/load.js';
import { displayPath } from '../manifest/yaml-source.js';
import { compareCodePoints, formatMode, invalidKeys, isOurEnvFormat, parseEnv, renderEnv, showName, unsafeLabels } from '../providers/chit/env-file.js';
import { readSecrets, removeEnvFile, secretValuesOf, writeEnvFile, type BundleReads, type SecretsActual } from '../providers/chit/secrets.js';

export interface SecretsSpec {
  bundle: string;
  env_file: string;
  include_labels: string[] | null;
  required: string[];
  mode: number;
  /** Require a valid HMAC-SHA256 signature (passphrase from CHIT_PASSPHRASE). */
  verify?: boolean;
  /**
   * From an upstream secrets manifest: env key ← bundle label, in manifest order (a later entry wins
   * for the same key; a missing label is skipped, or blocks when required). Replaces include_labels.
   */
  entries?: { key: string; label: string; required: boolean }[];
  /** The upstream secrets manifest this resource was expanded from (watch mode follows it). */
  source_manifest?: string;
  /** Before expansion only: `from_manifest` and its options (the expander replaces the resource). */
  from_manifest?: { path: string; bundle: string | null; repo_root: string | null; env_dir: string | null };
}

interface SecretsState {
  env_file: string;
}

/** Answers shared by every resource of one load (the home's real path, whether a shared bundle exists). */
const loadAnswers = new WeakMap<LoadContext, Map<string, Promise<unknown>>>();
function once<T>(ctx: LoadContext, key: string, f: () => Promise<T>): Promise<T> {
  let m = loadAnswers.get(ctx);
  if (!m) loadAnswers.set(ctx, (m = new Map()));
  let p = m.get(key) as Promise<T> | undefined;
  if (!p) m.set(key, (p = f()));
  return p;
}

/** Bundles read in this run (one session's RunContext), shared by the resources that render them. */
const bundleReads = new WeakMap<RunContext, BundleReads>();

function readOne(ctx: RunContext, t: Target<SecretsSpec>): Promise<SecretsActual> {
  const envFile = t.desired?.spec.env_file ?? (t.prior?.data as SecretsState | undefined)?.env_file;
  if (!envFile) return Promise.resolve({ source: null, file: { exists: false, mode: null, text: null } });
  const verify = t.desired?.spec.verify ? { passphrase: ctx.env.CHIT_PASSPHRASE || null } : undefined;
  let reads = bundleReads.get(ctx);
  if (!reads) bundleReads.set(ctx, (reads = new Map()));
  return readSecrets(t.desired?.spec.bundle ?? null, envFile, verify, reads);
}

export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/** The label → value map this resource writes, or the problems that stop it. */
export function selectValues(
  spec: SecretsSpec,
  source: Record<string, string>,
  labelAt: Record<string, string> = {},
): { values: Map<string, string>; problems: string[] } {
  const problems: string[] = [];
  const has = (l: string) => Object.prototype.hasOwnProperty.call(source, l);
  const missing = spec.required.filter((l) => !has(l));
  if (missing.length) problems.push(`required label${missing.length > 1 ? 's' : ''} missing from the bundle: ${clip(missing.map((l) => clip(l, 100)).join(', '))}`);
  const globs = spec.include_labels?.map(globToRegExp);
  const values = new Map<string, string>();
  if (spec.entries) {
    for (const e of spec.entries) if (Object.prototype.hasOwnProperty.call(source, e.label)) values.set(e.key, source[e.label]!);
  } else {
    for (const [label, value] of Object.entries(source)) {
      if (!has(label)) continue;
      if (!globs || globs.some((g) => g.test(label)) || spec.required.includes(label)) values.set(label, value);
    }
  }
  const bad = invalidKeys(values);
  for (const k of bad.slice(0, 5)) {
    const at = labelAt[k] ? ` (${labelAt[k]} of the bundle)` : '';
    problems.push(`label ${showName(k)}${at} is not an env variable name: expected letters, digits and _, not starting with a digit ([A-Za-z_][A-Za-z0-9_]*)`);
  }
  if (bad.length > 5) problems.push(`${bad.length - 5} more labels are not env variable names`);
  const unsafe = unsafeLabels(values).filter((k) => !bad.includes(k));
  const nul = unsafe.filter((k) => values.get(k)!.includes('\0'));
  const broken = unsafe.filter((k) => !nul.includes(k));
  if (broken.length) problems.push(`value of ${broken.join(', ')} contains a newline and cannot be written on one line of an env file`);
  if (nul.length) problems.push(`value of ${nul.join(', ')} contains a NUL character, which an env file cannot hold`);
  return { values, problems };
}

function display(envFile: string, mode: number | null, values: Map<string, string>, ctx: PlanContext) {
  const keys: Record<string, unknown> = {};
  for (const k of [...values.keys()].sort(compareCodePoints)) keys[k] = { $sensitive: ctx.fingerprint(values.get(k)!) };
  return { env_file: envFile, mode: formatMode(mode), keys };
}

function describeKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k));
  const out: string[] = [];
  if (added.length) out.push(`keys added: ${added.join(', ')}`);
  if (changed.length) out.push(`keys changed: ${changed.join(', ')}`);
  if (removed.length) out.push(`keys removed: ${removed.join(', ')}`);
  return out;
}

export const secretsKind: Kind<SecretsSpec, SecretsActual> = {
  section: 'secrets',
  order: 10,
  schema: 'secrets.schema.json',

  normalize(spec, _name, ctx) {
    if (spec.from_manifest !== undefined) {
      return {
        bundle: '',
        env_file: '',
        include_labels: null,
        required: [],
        mode: parseInt(spec.mode ?? '0600', 8),
        ...(spec.verify ? { verify: true } : {}),
        from_manifest: {
          path: ctx.resolvePath(spec.from_manifest),
          bundle: spec.bundle ? ctx.resolvePath(spec.bundle) : null,
          repo_root: spec.repo_root ? ctx.resolvePath(spec.repo_root) : null,
          env_dir: spec.env_dir ? ctx.resolvePath(spec.env_dir) : null,
        },
      };
    }
    return {
      bundle: ctx.resolvePath(spec.bundle),
      env_file: ctx.resolvePath(spec.env_file),
      include_labels: spec.include_labels ?? null,
      required: spec.required ?? [],
      mode: parseInt(spec.mode ?? '0600', 8),
      ...(spec.verify ? { verify: true } : {}),
    };
  },

  inputs: (r) => (r.spec.source_manifest ? [r.spec.bundle, r.spec.source_manifest] : [r.spec.bundle]),

  async secretValues(r) {
    const bundles = [r.spec.bundle, r.spec.from_manifest?.bundle ?? ''].filter(Boolean);
    return secretValuesOf(bundles, r.spec.env_file ? [r.spec.env_file] : []);
  },

  async check(r, ctx) {
    const out: Diagnostic[] = [];
    // $PMOVES_HOME holds the state, its key and the lock: never a target (also not through a symlink)
    if (r.spec.env_file) {
      const problem = await targetProblem(ctx.home.root, r.spec.env_file);
      const odd = problem ? null : await notARegularFile(r.spec.env_file);
      if (problem || odd) out.push({ severity: 'error', address: r.address, summary: `${r.address}.env_file: ${problem ?? `${clip(r.spec.env_file)} ${odd}`}`, location: ctx.locate(r.address, ['env_file']) });
    }
    // a label or glob is a bundle label's name: a 150 KB one is a mistake (and too large a pattern)
    for (const [key, list] of [['include_labels', r.spec.include_labels ?? []], ['required', r.spec.required]] as const) {
      for (const [i, l] of list.entries()) {
        if (l.length > 1024) out.push({ severity: 'error', address: r.address, summary: `${r.address}.${key}[${i}]: ${l.length} characters, more than a label's 1024 ("${clip(l, 40)}")`, location: ctx.locate(r.address, [key, i]) });
      }
    }
    // an expanded from_manifest resource: the expander already checked the bundle, once, at from_manifest
    if (!r.spec.source_manifest) {
      // missing, or not a regular file (a FIFO, a device, a folder): said here, once per bundle
      const why = await once(ctx, `bundle\0${r.spec.bundle}`, async () => (!(await exists(r.spec.bundle)) ? 'no such file' : await notARegularFile(r.spec.bundle)));
      if (why) {
        out.push({
          severity: 'error',
          address: r.address,
          summary: why === 'no such file' ? `${r.address}.bundle: no such file: ${clip(r.spec.bundle)}` : `${r.address}.bundle: ${clip(r.spec.bundle)} ${why}`,
          location: ctx.locate(r.address, ['bundle']),
        });
      }
    }
    return out;
  },

  read: (ctx, t) => readOne(ctx, t),

  // Before the write: which env file this resource is about to write, so that an apply killed mid-write
  // still knows the file (and its temp file) as its own, and removal takes them away.
  intent: (t) => (t.desired ? ({ env_file: t.desired.spec.env_file } satisfies SecretsState) : t.prior?.data),

  plan(t, actual, ctx): PlanResult {
    const current = actual.file.text === null ? new Map<string, string>() : parseEnv(actual.file.text);
    const envFile = t.desired?.spec.env_file ?? (t.prior?.data as SecretsState | undefined)?.env_file ?? '';
    const before = actual.file.exists ? display(envFile, actual.file.mode, current, ctx) : null;

    if (!t.desired) {
      // an apply killed while writing it may have left only its temp file: removal sweeps that too
      if (!actual.file.exists && isOwned(t.prior) && t.prior?.pending && envFile) return { action: 'delete', reason: 'it is no longer in the manifest and an interrupted apply of this tool was writing it (its temp file goes too)', before, after: null };
      if (!actual.file.exists || !isOwned(t.prior)) return { action: 'no-op', reason: 'not declared any more', before, after: before };
      return { action: 'delete', reason: 'it is no longer in the manifest and this tool created it', before, after: null };
    }
    const spec = t.desired.spec;
    const { values, problems } = selectValues(spec, actual.source ?? {}, actual.labelAt);
    problems.unshift(...signatureProblems(spec, actual));
    const after = display(spec.env_file, spec.mode, values, ctx);
    if (problems.length) {
      return {
        action: actual.file.exists ? 'update' : 'create',
        reason: 'blocked',
        before,
        after,
        diagnostics: problems.map((p) => ({ severity: 'error', address: t.address, summary: `cannot be written: ${p}`, detail: `bundle: ${clip(spec.bundle)}; nothing will be written` })),
      };
    }
    if (!actual.file.exists) return { action: 'create', reason: `${spec.env_file} does not exist`, before: null, after };
    // Never replace a file we did not write, unless it is already an env file in our format or --force.
    const warnings: string[] = [];
    const ours = (t.prior?.data as SecretsState | undefined)?.env_file === spec.env_file;
    if (!ours) {
      if (!isOurEnvFormat(actual.file.text ?? '') && !ctx.flags.force) {
        return {
          action: 'update',
          reason: 'blocked',
          before,
          after,
          diagnostics: [
            {
              severity: 'error',
              address: t.address,
              summary: `will not replace ${spec.env_file}: pmoves did not create it and it is not an env file in the format pmoves writes`,
              detail: 'move it away or point env_file elsewhere; or take it over with --force (its content is replaced)',
            },
          ],
        };
      }
      warnings.push(`will take over ${spec.env_file} (not created by pmoves)`);
    }
    const text = renderEnv(values);
    const reasons = describeKeys(current, values);
    if (actual.file.mode !== spec.mode) reasons.push(`file mode ${formatMode(actual.file.mode)} -> ${formatMode(spec.mode)}`);
    if (actual.file.text !== text && reasons.length === 0) reasons.push('the file was edited outside pmoves');
    // an apply killed after the write and before its record: record it, so that removal still deletes it
    if (!reasons.length && t.prior?.pending) reasons.push('an interrupted apply wrote it without recording it');
    if (!reasons.length) return { action: 'no-op', reason: 'in sync', before, after };
    return { action: 'update', reason: reasons.join('; '), before, after, ...(warnings.length ? { warnings } : {}) };
  },

  async apply(ctx, t, actual, planned) {
    if (planned.action === 'delete') {
      const envFile = (t.prior?.data as SecretsState).env_file;
      await removeEnvFile(envFile);
      return { outcome: 'deleted', state: null };
    }
    const spec = t.desired!.spec;
    const { values, problems } = selectValues(spec, actual.source ?? {}, actual.labelAt);
    problems.unshift(...signatureProblems(spec, actual));
    if (problems.length) throw new Error(problems.join('; '));
    const text = renderEnv(values);
    await writeEnvFile(spec.env_file, text, spec.mode);
    ctx.log(t.address, `wrote ${spec.env_file} (${values.size} keys, mode ${formatMode(spec.mode)})`);
    return {
      outcome: planned.action === 'create' ? 'created' : 'updated',
      state: {
        section: 'secrets',
        owned: ownedAfter(t.prior, planned.action === 'create'),
        digest: ctx.digest(text),
        data: { env_file: spec.env_file } satisfies SecretsState,
      },
    };
  },

  describe(_t, actual) {
    return actual.file.exists ? [`${parseEnv(actual.file.text ?? '').size} keys`] : [];
  },
};

/** verify: true and the bundle's signature: what stops the resource. */
function signatureProblems(spec: SecretsSpec, actual: SecretsActual): string[] {
  if (!spec.verify) return [];
  const sig = actual.signature;
  if (!sig) return ['verify: true, but the signature was not checked'];
  switch (sig.status) {
    case 'valid':
      return [];
    case 'missing':
      return ['verify: true, but the bundle is not signed (no "sig"); sign it with `pmoves mini secrets sign`'];
    case 'no-passphrase':
      return ['verify: true needs the CHIT passphrase to check the signature: set CHIT_PASSPHRASE'];
    case 'invalid':
      return [`the bundle's signature does not verify: ${sig.why}`];
  }
}

// ---- secrets.<name>.from_manifest: one resource per target file of an upstream secrets manifest ----

/** A resource-name-safe form of a target file (`.env.generated` → `env-generated`). */
export function fileSlug(file: string): string {
  const s = file
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-_]+|-+$/g, '');
  return s || 'file';
}

/** The resources one `from_manifest` entry stands for (reads the upstream secrets manifest). */
export async function expandFromManifest(r: Resource<SecretsSpec>): Promise<Resource<SecretsSpec>[]> {
  const fm = r.spec.from_manifest!;
  const { loadSecretsManifest, detectRepoRoot } = await import('../providers/chit/secrets-manifest.js');
  const sm = await loadSecretsManifest(fm.path);
  const repoRoot = fm.repo_root ?? detectRepoRoot(fm.path);
  if (!fm.bundle && !repoRoot) {
    throw new UserError(
      `cannot tell the upstream repository root of ${displayPath(fm.path)} (no folder named "pmoves" above it): set ${r.address}.repo_root (cgp_file is relative to it) or ${r.address}.bundle`,
    );
  }
  if (!fm.env_dir && !repoRoot) throw new UserError(`cannot tell where the env files go: set ${r.address}.env_dir or ${r.address}.repo_root`);
  const bundle = fm.bundle ?? path.resolve(repoRoot!, sm.cgpFile);
  const envDir = fm.env_dir ?? path.join(repoRoot!, 'pmoves');
  const files = new Map<string, { key: string; label: string; required: boolean }[]>();
  for (const e of sm.entries) {
    for (const t of e.targets) {
      if (!files.has(t.file)) files.set(t.file, []);
      files.get(t.file)!.push({ key: t.key, label: e.label, required: e.required });
    }
  }
  const used = new Set<string>();
  const out: Resource<SecretsSpec>[] = [];
  for (const [file, entries] of files) {
    let name = `${r.name}-${fileSlug(file)}`;
    for (let i = 2; used.has(name); i++) name = `${r.name}-${fileSlug(file)}-${i}`;
    used.add(name);
    const required = [...new Set(entries.filter((e) => e.required).map((e) => e.label))];
    out.push({
      address: `secrets.${name}`,
      section: 'secrets',
      name,
      spec: {
        bundle,
        env_file: path.resolve(envDir, file),
        include_labels: null,
        required,
        mode: r.spec.mode,
        ...(r.spec.verify ? { verify: true } : {}),
        entries,
        source_manifest: sm.path,
      },
      dependsOn: [...r.dependsOn],
      origin: `${r.address}.from_manifest ${displayPath(sm.path)}`,
      ...(r.requires ? { requires: r.requires } : {}),
    });
  }
  return out;
}

/** Replaces every `from_manifest` resource by its expansion; depends_on on it follows to all of them. */
export const secretsManifestExpander: Expander = async (m: Manifest, ctx: LoadContext) => {
  const diagnostics: Diagnostic[] = [];
  const replaced = new Map<string, string[]>();
  const result: Resource[] = [];
  const declared = new Set(m.resources.map((r) => r.address));
  for (const r of m.resources) {
    const spec = r.spec as SecretsSpec;
    if (r.section !== 'secrets' || !spec.from_manifest) {
      result.push(r);
      continue;
    }
    try {
      const expanded = await expandFromManifest(r as Resource<SecretsSpec>);
      for (const x of expanded) {
        if (declared.has(x.address)) {
          diagnostics.push({
            severity: 'error',
            address: r.address,
            summary: `${r.address}.from_manifest: the target file ${displayPath(x.spec.env_file)} becomes ${x.address}, which the manifest already declares; rename one of them`,
            location: ctx.locate(r.address, ['from_manifest']),
          });
        }
      }
      const bundle = expanded[0]?.spec.bundle;
      if (bundle && !(await exists(bundle))) {
        diagnostics.push({
          severity: 'error',
          address: r.address,
          summary: `${r.address}: the bundle does not exist: ${bundle}${spec.from_manifest.bundle ? '' : ` (the cgp_file of ${displayPath(spec.from_manifest.path)}, taken relative to the upstream repository root; set ${r.address}.repo_root or ${r.address}.bundle)`}`,
          location: ctx.locate(r.address, spec.from_manifest.bundle ? ['bundle'] : ['from_manifest']),
        });
      }
      replaced.set(r.address, expanded.map((x) => x.address));
      result.push(...expanded);
      if (!m.inputs.includes(spec.from_manifest.path)) m.inputs.push(spec.from_manifest.path);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      diagnostics.push({ severity: 'error', address: r.address, summary: `${r.address}.from_manifest: ${err.message}`, location: ctx.locate(r.address, ['from_manifest']) });
    }
  }
  for (const r of result) r.dependsOn = r.dependsOn.flatMap((d) => replaced.get(d) ?? [d]);
  m.resources.splice(0, m.resources.length, ...result);
  return diagnostics;
};
