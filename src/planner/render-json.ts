// `plan --json`: one document. Sensitive markers become "(sensitive value)" after the patch is computed,
// so a changed secret still shows as a replace op, but never its value or fingerprint.
import jsonpatch from 'fast-json-patch';
import type { Change } from '../core/types.js';
import type { Plan } from './plan.js';
import { isSensitive } from './render-text.js';

export const FORMAT_VERSION = '1.0';

const SENSITIVE = '(sensitive value)';

export function mask(v: unknown): unknown {
  if (isSensitive(v)) return SENSITIVE;
  if (Array.isArray(v)) return v.map(mask);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)]));
  return v;
}

export function patchOf(before: unknown, after: unknown): unknown[] {
  const ops = jsonpatch.compare((before ?? {}) as object, (after ?? {}) as object);
  return ops.map((op) => {
    const o = { ...op } as { op: string; path: string; value?: unknown };
    if (o.path.endsWith('/$sensitive')) {
      o.path = o.path.slice(0, -'/$sensitive'.length);
      if ('value' in o) o.value = SENSITIVE;
    } else if ('value' in o) {
      o.value = mask(o.value);
    }
    return o;
  });
}

export function changeToJson(c: Change): Record<string, unknown> {
  return {
    address: c.address,
    section: c.section,
    name: c.name,
    action: c.action,
    ...(c.cause ? { cause: c.cause } : {}),
    reason: c.reason,
    before: mask(c.before),
    after: mask(c.after),
    patch: patchOf(c.before, c.after),
    ...(c.blocked ? { blocked: true } : {}),
    ...(c.conflicts?.length ? { conflicts: c.conflicts } : {}),
    ...(c.origin ? { origin: c.origin } : {}),
    ...(c.warnings?.length ? { warnings: c.warnings } : {}),
    ...(c.parts?.length ? { parts: c.parts.map(changeToJson) } : {}),
  };
}

export function planToJson(plan: Plan): Record<string, unknown> {
  return {
    format_version: FORMAT_VERSION,
    manifest_digest: plan.manifestDigest,
    resource_changes: plan.changes.map(changeToJson),
    summary: plan.summary,
    ...(plan.summaryExtras.length ? { summary_extras: plan.summaryExtras } : {}),
    notes: plan.notes,
    diagnostics: plan.diagnostics.map((d) => ({
      severity: d.severity,
      address: d.address ?? null,
      summary: d.summary,
      detail: d.detail ?? null,
      ...(d.location ? { location: d.location } : {}),
    })),
  };
}
