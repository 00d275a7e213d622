// The standing fuzz suite's targets (issue 13): fast-check properties run in-process over the manifest
// loader, the CHIT decoder, the env-file writer and the MCP config editors. Every input must end in a
// value or a located, expected error: never an internal error (an unexpected throw), never an error
// without a place, never a hang. `test/fuzz.test.ts` runs a few thousand cases with a fixed seed on
// every `npm test`; `npm run fuzz` (test/fuzz-run.ts) runs 10,000+ per target and prints the figures.
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { UserError } from '../src/core/errors.js';
import { pmovesHome } from '../src/core/home.js';
import { loadManifest } from '../src/manifest/load.js';
import { decodeBundle, parseBundleText } from '../src/providers/chit/bundle.js';
import { isOurEnvFormat, parseEnv, renderEnv } from '../src/providers/chit/env-file.js';
import { ConfigSyntaxError, editJsonEntry, readJsonEntry, sameJson } from '../src/providers/mcp/json-edit.js';
import { editTomlEntry, readTomlEntry } from '../src/providers/mcp/toml-edit.js';
import { expanders, kinds } from '../src/reconcilers/index.js';
import { selectValues, type SecretsSpec } from '../src/reconcilers/secrets.js';

/** What one input came to. `internal`: an unexpected throw or a broken property; `unlocated`: an error without a place. */
export type Verdict = { ok: true } | { ok: false; kind: 'internal' | 'unlocated'; what: string };

export interface FuzzTarget<T> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  check(input: T): Promise<Verdict>;
}

const ok: Verdict = { ok: true };
const internal = (what: unknown): Verdict => ({ ok: false, kind: 'internal', what: String((what as Error)?.stack ?? what).slice(0, 500) });

// ---- the manifest loader -------------------------------------------------------------------------

const BASE = `apiVersion: pmoves.ai/mini/v1
profile: generic-cpu
secrets:
  env:
    bundle: env.cgp.json
    env_file: out/env
    include_labels: ["SUPABASE_*"]
    required: [SUPABASE_URL]
stacks:
  core:
    files: [docker-compose.yml]
    depends_on: [secrets.env]
models:
  m:
    provider: file
    url: http://127.0.0.1:9/m.bin
    sha256: ${'a'.repeat(64)}
    size: 1 MB
mcp:
  mem:
    command: npx
    args: [-y, server-memory]
    clients: [crush, codex]
`;

const yamlBits = fc.constantFrom(
  '&a ', '*a', '<<: *a', '${', '${X}', '${X:-d}', '${X:+alt}', '${X:?need}', '$$', '$', '}', '{', '[', ']', ': ', '- ', '\n', '  ', '\t', '#',
  '"', "'", '!!binary ', '!!str ', '? ', '|', '>', '---\n', '...\n', '~', 'null', '0o17', '1e999', '\u0000', '\u001b[31m', '\ufeff',
  'apiVersion', 'secrets', 'stacks', 'models', 'mcp', 'depends_on', 'env_file', 'bundle', 'x: &S [*S]\n',
);

const manifestText: fc.Arbitrary<string> = fc.oneof(
  // the base manifest with pieces of YAML syntax spliced in
  fc.tuple(fc.array(fc.tuple(fc.nat(BASE.length), fc.oneof(yamlBits, fc.string({ maxLength: 8 }))), { minLength: 1, maxLength: 6 })).map(([edits]) => {
    let s = BASE;
    for (const [at, bit] of edits) s = s.slice(0, at % (s.length + 1)) + bit + s.slice(at % (s.length + 1));
    return s;
  }),
  // structured documents with the right keys and any values
  fc
    .record({
      apiVersion: fc.oneof(fc.constant('pmoves.ai/mini/v1'), fc.string({ maxLength: 10 })),
      profile: fc.option(fc.oneof(fc.constant('auto'), fc.string({ maxLength: 10 })), { nil: undefined }),
      secrets: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.anything({ maxDepth: 3 })), { nil: undefined }),
      stacks: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.anything({ maxDepth: 3 })), { nil: undefined }),
      models: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.anything({ maxDepth: 3 })), { nil: undefined }),
      mcp: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.anything({ maxDepth: 3 })), { nil: undefined }),
    })
    .map((doc) => {
      try {
        return stringify(doc);
      } catch {
        return 'apiVersion: pmoves.ai/mini/v1\n';
      }
    }),
  // any text built from YAML syntax
  fc.array(yamlBits, { maxLength: 40 }).map((a) => a.join('')),
  fc.string({ maxLength: 200 }),
);

export function manifestTarget(): FuzzTarget<string> & { cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-fuzz-'));
  const file = path.join(dir, 'pmoves.mini.yaml');
  const home = pmovesHome({ PMOVES_HOME: path.join(dir, 'home') });
  const env = { HOME: dir, X: 'x' };
  return {
    name: 'manifest loader',
    arbitrary: manifestText,
    async check(text) {
      try {
        const r = await loadManifest(file, { env, home, kinds, expanders, text, overrides: { profile: 'generic-cpu' } });
        const bad = r.diagnostics.find((d) => d.severity === 'error' && !d.location && !d.address);
        if (bad) return { ok: false, kind: 'unlocated', what: bad.summary.slice(0, 300) };
        return ok;
      } catch (err) {
        if (err instanceof UserError) return /^\S+:\d+:\d+: /.test(err.message) || err.diagnostics.every((d) => d.location || d.address) ? ok : { ok: false, kind: 'unlocated', what: err.message.slice(0, 300) };
        return internal(err);
      }
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---- the CHIT decoder ----------------------------------------------------------------------------

const point = fc.record(
  { text: fc.oneof(fc.string(), fc.anything({ maxDepth: 1 })), text_b64: fc.oneof(fc.base64String(), fc.stringMatching(/^[0-9a-f]*$/), fc.string(), fc.anything({ maxDepth: 1 })) },
  { requiredKeys: [] },
);
const bundleDoc = fc.oneof(
  fc.record({ super_nodes: fc.array(fc.record({ constellations: fc.array(fc.record({ label: fc.oneof(fc.string(), fc.anything({ maxDepth: 1 })), points: fc.array(point, { maxLength: 2 }) }, { requiredKeys: [] }), { maxLength: 5 }) }, { requiredKeys: [] }), { maxLength: 3 }) }, { requiredKeys: [] }),
  fc.anything({ maxDepth: 4 }),
);
const bundleText: fc.Arbitrary<string> = fc.oneof(
  bundleDoc.map((d) => JSON.stringify(d) ?? 'null'),
  fc.tuple(bundleDoc, fc.nat(), fc.string({ maxLength: 4 })).map(([d, at, bit]) => {
    const s = JSON.stringify(d) ?? 'null';
    return s.slice(0, at % (s.length + 1)) + bit + s.slice(at % (s.length + 1));
  }),
  fc.string({ maxLength: 100 }),
);

export const chitTarget: FuzzTarget<string> = {
  name: 'CHIT decoder',
  arbitrary: bundleText,
  async check(text) {
    try {
      const m = decodeBundle(parseBundleText(text, '/fuzz/env.cgp.json'), '/fuzz/env.cgp.json');
      for (const [k, v] of m) if (typeof k !== 'string' || typeof v !== 'string') return internal(`decoded a non-string label or value for ${JSON.stringify(k)}`);
      return ok;
    } catch (err) {
      if (err instanceof UserError) return err.message.startsWith('/fuzz/env.cgp.json') ? ok : { ok: false, kind: 'unlocated', what: err.message.slice(0, 300) };
      return internal(err);
    }
  },
};

// ---- the env-file writer -------------------------------------------------------------------------

const label = fc.oneof(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/), fc.string({ maxLength: 8 }));
const value = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('a=b', ' spaced ', '#x', '"q"', 'x\ny', 'nul\0', '\r', '\u2028', ''));

export const envTarget: FuzzTarget<Record<string, string>> = {
  name: 'env-file writer',
  arbitrary: fc.dictionary(label, value, { maxKeys: 12 }),
  async check(source) {
    try {
      const spec: SecretsSpec = { bundle: '/b', env_file: '/e', include_labels: null, required: [], mode: 0o600 };
      const { values, problems } = selectValues(spec, source);
      if (problems.length) return ok; // refused, with the labels named: nothing is written
      const text = renderEnv(values);
      if (!isOurEnvFormat(text)) return internal(`rendered text is not in our own env format: ${JSON.stringify(text).slice(0, 200)}`);
      const back = parseEnv(text);
      if (back.size !== values.size || [...values].some(([k, v]) => back.get(k) !== v)) return internal('the env file does not read back as written');
      return ok;
    } catch (err) {
      return internal(err);
    }
  },
};

// ---- the MCP config editors ----------------------------------------------------------------------

const entry = fc.record(
  {
    command: fc.string({ maxLength: 10 }),
    args: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
    env: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), fc.string({ maxLength: 8 }), { maxKeys: 2 }),
    timeout: fc.integer({ min: 1, max: 600 }),
  },
  { requiredKeys: ['command'] },
);
const jsonConfig = fc.oneof(
  fc.constant(null),
  fc.anything({ maxDepth: 3 }).map((d) => JSON.stringify(d) ?? ''),
  fc.tuple(fc.dictionary(fc.string({ maxLength: 6 }), entry, { maxKeys: 3 }), fc.constantFrom('mcpServers', 'servers', 'mcp', 'other')).map(([m, k]) => JSON.stringify({ [k]: m, theme: 'dark' }, null, 2)),
  fc.tuple(fc.string({ maxLength: 40 }), fc.nat(), fc.string({ maxLength: 4 })).map(([s, at, bit]) => `{ // c\n "mcpServers": { "a": {"command": "x"}, }, ${s}\n}`.slice(0, at % 60) + bit),
);
const tomlConfig = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 80 }),
  fc.tuple(fc.string({ maxLength: 6 }), entry).map(([n, e]) => `model = "x"\n\n[mcp_servers.${JSON.stringify(n)}]\ncommand = ${JSON.stringify(e.command)}\n# keep\n[other]\na = 1\n`),
  fc.constantFrom('[mcp_servers]\nx = { command = "a" }\n', 'mcp_servers.s.command = "b"\n', '[mcp_servers.s]\ncommand = "c"\n[mcp_servers.s.env]\nA = "1"\n', '[[mcp_servers]]\n'),
);

export const mcpTarget: FuzzTarget<{ json: string | null; toml: string | null; name: string; entry: Record<string, unknown>; remove: boolean; dir: string }> = {
  name: 'MCP config editors',
  arbitrary: fc.record({ json: jsonConfig, toml: tomlConfig, name: fc.oneof(fc.constantFrom('s', 'mem', 'a'), fc.string({ maxLength: 6 })), entry, remove: fc.boolean(), dir: fc.oneof(fc.constantFrom('/p', 'mcpServers'), fc.string({ maxLength: 6 })) }),
  async check({ json, toml, name, entry: value, remove, dir }) {
    const want = remove ? undefined : value;
    // the top-level map, and Claude Code's local scope (projects[DIR].mcpServers, created on the way)
    for (const key of ['mcpServers', ['projects', dir, 'mcpServers']]) {
      try {
        const out = editJsonEntry(json, key, name, want);
        const back = readJsonEntry(out, key, name);
        if (remove ? back.entry !== undefined : !sameJson(back.entry, value)) return internal(`JSON ${JSON.stringify(key)}: the entry does not read back as written (${JSON.stringify(json)?.slice(0, 120)})`);
      } catch (err) {
        if (!(err instanceof ConfigSyntaxError)) return internal(err);
        if (!(err.line >= 1 && err.column >= 1)) return { ok: false, kind: 'unlocated', what: err.message };
      }
    }
    try {
      const out = editTomlEntry(toml, name, want);
      const back = readTomlEntry(out, name);
      if (remove ? back.entry !== undefined : !sameJson(back.entry, value)) return internal(`TOML: the entry does not read back as written (${JSON.stringify(toml)?.slice(0, 120)})`);
    } catch (err) {
      if (err instanceof ConfigSyntaxError) return err.line >= 1 && err.column >= 1 ? ok : { ok: false, kind: 'unlocated', what: err.message };
      if ((err as Error)?.name === 'TomlError') return ok; // smol-toml's parse error carries line and column
      return internal(err);
    }
    return ok;
  },
};

// ---- running them --------------------------------------------------------------------------------

export interface FuzzFigures {
  target: string;
  cases: number;
  internal: number;
  unlocated: number;
  /** Cases over the hang budget (a figure, never an assertion). */
  hangs: number;
  examples: string[];
}

/** Run `runs` cases of one target with a fixed seed; a case slower than `hangMs` counts as a hang. */
export async function runTarget<T>(t: FuzzTarget<T>, runs: number, seed: number, hangMs = 5_000): Promise<FuzzFigures> {
  const f: FuzzFigures = { target: t.name, cases: 0, internal: 0, unlocated: 0, hangs: 0, examples: [] };
  await fc.assert(
    fc.asyncProperty(t.arbitrary, async (input) => {
      const start = performance.now();
      const v = await t.check(input);
      f.cases++;
      const ms = performance.now() - start;
      if (ms > hangMs) {
        f.hangs++;
        if (f.examples.length < 3) f.examples.push(`hang: ${(ms / 1000).toFixed(1)} s\n    input: ${JSON.stringify(input)?.slice(0, 300)}`);
      }
      if (!v.ok) {
        f[v.kind]++;
        if (f.examples.length < 3) f.examples.push(`${v.kind}: ${v.what}\n    input: ${JSON.stringify(input)?.slice(0, 300)}`);
      }
      return true; // count everything; the caller asserts on the figures
    }),
    { numRuns: runs, seed, endOnFailure: false },
  );
  return f;
}
