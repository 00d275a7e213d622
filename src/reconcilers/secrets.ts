// secrets.<name>: a CHIT bundle rendered into an env file (upstream's format), values never shown.
import type { Kind, PlanContext, Target } from '../core/kind.js';
import type { Diagnostic, PlanResult } from '../core/types.js';
import { exists } from '../core/fs.js';
import { compareCodePoints, formatMode, parseEnv, renderEnv, unsafeLabels } from '../providers/env-file.js';
import { readSecrets, removeEnvFile, writeEnvFile, type SecretsActual } from '../providers/secrets.js';

export interface SecretsSpec {
  bundle: string;
  env_file: string;
  include_labels: string[] | null;
  required: string[];
  mode: number;
}

interface SecretsState {
  env_file: string;
}

export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/** The label → value map this resource writes, or the problems that stop it. */
export function selectValues(spec: SecretsSpec, source: Record<string, string>): { values: Map<string, string>; problems: string[] } {
  const problems: string[] = [];
  const missing = spec.required.filter((l) => !(l in source));
  if (missing.length) problems.push(`required label${missing.length > 1 ? 's' : ''} missing from the bundle: ${missing.join(', ')}`);
  const globs = spec.include_labels?.map(globToRegExp);
  const values = new Map<string, string>();
  for (const [label, value] of Object.entries(source)) {
    if (!globs || globs.some((g) => g.test(label)) || spec.required.includes(label)) values.set(label, value);
  }
  const unsafe = unsafeLabels(values);
  if (unsafe.length) problems.push(`value of ${unsafe.join(', ')} contains a newline and cannot be written on one line of an env file`);
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
    return {
      bundle: ctx.resolvePath(spec.bundle),
      env_file: ctx.resolvePath(spec.env_file),
      include_labels: spec.include_labels ?? null,
      required: spec.required ?? [],
      mode: parseInt(spec.mode ?? '0600', 8),
    };
  },

  inputs: (r) => [r.spec.bundle],

  async check(r, ctx) {
    const out: Diagnostic[] = [];
    if (!(await exists(r.spec.bundle))) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}.bundle: no such file: ${r.spec.bundle}`, location: ctx.locate(r.address, ['bundle']) });
    }
    return out;
  },

  read(_ctx, t: Target<SecretsSpec>) {
    const envFile = t.desired?.spec.env_file ?? (t.prior?.data as SecretsState | undefined)?.env_file;
    if (!envFile) return Promise.resolve({ source: null, file: { exists: false, mode: null, text: null } });
    return readSecrets(t.desired?.spec.bundle ?? null, envFile);
  },

  plan(t, actual, ctx): PlanResult {
    const current = actual.file.text === null ? new Map<string, string>() : parseEnv(actual.file.text);
    const envFile = t.desired?.spec.env_file ?? (t.prior?.data as SecretsState | undefined)?.env_file ?? '';
    const before = actual.file.exists ? display(envFile, actual.file.mode, current, ctx) : null;

    if (!t.desired) {
      if (!actual.file.exists || !t.prior?.owned) return { action: 'no-op', reason: 'not declared any more', before, after: before };
      return { action: 'delete', reason: 'it is no longer in the manifest and this tool created it', before, after: null };
    }
    const spec = t.desired.spec;
    const { values, problems } = selectValues(spec, actual.source ?? {});
    const after = display(spec.env_file, spec.mode, values, ctx);
    if (problems.length) {
      return {
        action: actual.file.exists ? 'update' : 'create',
        reason: 'blocked',
        before,
        after,
        diagnostics: problems.map((p) => ({ severity: 'error', address: t.address, summary: p, detail: `bundle: ${spec.bundle}; nothing will be written` })),
      };
    }
    if (!actual.file.exists) return { action: 'create', reason: `${spec.env_file} does not exist`, before: null, after };
    const text = renderEnv(values);
    const reasons = describeKeys(current, values);
    if (actual.file.mode !== spec.mode) reasons.push(`file mode ${formatMode(actual.file.mode)} -> ${formatMode(spec.mode)}`);
    if (actual.file.text !== text && reasons.length === 0) reasons.push('the file was edited outside pmoves');
    if (!reasons.length) return { action: 'no-op', reason: 'in sync', before, after };
    return { action: 'update', reason: reasons.join('; '), before, after };
  },

  async apply(ctx, t, actual, planned) {
    if (planned.action === 'delete') {
      const envFile = (t.prior?.data as SecretsState).env_file;
      await removeEnvFile(envFile);
      return { outcome: 'deleted', state: null };
    }
    const spec = t.desired!.spec;
    const { values, problems } = selectValues(spec, actual.source ?? {});
    if (problems.length) throw new Error(problems.join('; '));
    const text = renderEnv(values);
    await writeEnvFile(spec.env_file, text, spec.mode);
    ctx.log(t.address, `wrote ${spec.env_file} (${values.size} keys, mode ${formatMode(spec.mode)})`);
    return {
      outcome: planned.action === 'create' ? 'created' : 'updated',
      state: {
        section: 'secrets',
        owned: t.prior?.owned ?? planned.action === 'create',
        digest: ctx.digest(text),
        data: { env_file: spec.env_file } satisfies SecretsState,
      },
    };
  },

  describe(_t, actual) {
    return actual.file.exists ? [`${parseEnv(actual.file.text ?? '').size} keys`] : [];
  },
};
