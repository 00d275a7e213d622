// Strategic merge of a group's overrides over its manifest: maps merge key by key (recursively),
// anything else (lists, scalars, null) replaces. Pure.
export type Plain = Record<string, unknown>;

export const isMap = (v: unknown): v is Plain => v !== null && typeof v === 'object' && !Array.isArray(v);

export function strategicMerge(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return over;
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? strategicMerge(base[k], v) : v;
  return out;
}
