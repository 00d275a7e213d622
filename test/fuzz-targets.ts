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

// ---- paths, names and expansions that must be bounded (issue 24) ----------------------------------

/** What a path-valued field may name: FIFOs, devices, folders, long names, loops, pmoves' own files. */
const PATH_KINDS = ['fifo', '/dev/null', '/dev/zero', '/dev/urandom', 'folder', 'loop', 'long', 'longer', 'home-key', 'home-state', 'deep', 'ok.env', 'missing.env'] as const;
const bombLevels = 'abcdefghi'.split('');
const ALIAS_BOMB = bombLevels.map((l, i) => (i === 0 ? `${l}: &${l} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` : `${l}: &${l} [${Array(9).fill(`*${bombLevels[i - 1]}`).join(',')}]`)).join('\n');

export interface BoundsCase {
  field: 'env_file' | 'model_path' | 'config_path' | 'stack_env' | 'stack_file' | 'bundle';
  target: (typeof PATH_KINDS)[number];
  name: number;
  expand: number;
  deferred: boolean;
}

const boundsCase: fc.Arbitrary<BoundsCase> = fc.record({
  field: fc.constantFrom('env_file', 'model_path', 'config_path', 'stack_env', 'stack_file', 'bundle'),
  target: fc.constantFrom(...PATH_KINDS),
  // a resource name of up to 300 characters
  name: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 300 })),
  // ${BIG} (64 KiB) repeated: 0 to 200 times in one value (up to 12.8 MB expanded)
  expand: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 })),
  deferred: fc.boolean(),
});

/** The manifest for one bounds case, in `dir` (FIFO, folder, loop and compose files made once by the target). */
export function boundsManifest(c: BoundsCase, dir: string, home: string): string {
  const name = `r${'x'.repeat(Math.max(0, c.name - 1))}`;
  const p =
    c.target === 'fifo' ? path.join(dir, 'fifo')
    : c.target === 'folder' ? path.join(dir, 'folder')
    : c.target === 'loop' ? path.join(dir, 'loopa')
    : c.target === 'long' ? path.join(dir, 'l'.repeat(256))
    : c.target === 'longer' ? path.join(dir, ...Array(40).fill('d'.repeat(120)))
    : c.target === 'home-key' ? path.join(home, 'state.key')
    : c.target === 'home-state' ? path.join(home, 'state.json')
    : c.target === 'deep' ? path.join(dir, 'folder', '..', 'folder', '..', 'ok.env')
    : c.target.startsWith('/') ? c.target
    : path.join(dir, c.target);
  const value = `${p}${'${BIG}'.repeat(c.expand)}`;
  const q = JSON.stringify(value);
  const bundle = path.join(dir, 'env.cgp.json');
  const dep = c.deferred ? `    depends_on: [secrets.env]\n` : '';
  const secrets = `secrets:\n  env: { bundle: ${JSON.stringify(bundle)}, env_file: ${JSON.stringify(path.join(dir, 'out', 'env'))} }\n`;
  switch (c.field) {
    case 'env_file':
      return `apiVersion: pmoves.ai/mini/v1\nsecrets:\n  ${name}: { bundle: ${JSON.stringify(bundle)}, env_file: ${q} }\n`;
    case 'bundle':
      return `apiVersion: pmoves.ai/mini/v1\nsecrets:\n  ${name}: { bundle: ${q}, env_file: out/x.env }\n`;
    case 'model_path':
      return `apiVersion: pmoves.ai/mini/v1\nmodels:\n  ${name}: { provider: file, url: "http://127.0.0.1:9/m.bin", sha256: "${'a'.repeat(64)}", path: ${q} }\n`;
    case 'config_path':
      return `apiVersion: pmoves.ai/mini/v1\nmcp:\n  ${name}:\n    command: "true"\n    clients: [claude-code]\n    config_paths: { claude-code: ${q} }\n`;
    case 'stack_env':
      return `apiVersion: pmoves.ai/mini/v1\n${secrets}stacks:\n  ${name}:\n    files: [${JSON.stringify(path.join(dir, 'docker-compose.yml'))}]\n    project: pmoves-fuzz-bounds\n    env_files: [${q}]\n${dep}`;
    case 'stack_file':
      return `apiVersion: pmoves.ai/mini/v1\n${secrets}stacks:\n  ${name}:\n    files: [${c.target === 'ok.env' ? JSON.stringify(path.join(dir, 'bomb.yml')) : q}]\n    project: pmoves-fuzz-bounds\n${dep}`;
  }
}

/** Set up the odd files every bounds case may name (a FIFO, a folder, a symlink loop, an alias bomb). */
export async function boundsDir(): Promise<{ dir: string; home: string; cleanup(): void }> {
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync, symlinkSync, writeFileSync, copyFileSync } = await import('node:fs');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-fuzz-bounds-'));
  const home = path.join(dir, 'pm');
  mkdirSync(home);
  writeFileSync(path.join(home, 'state.key'), 'k'.repeat(32), { mode: 0o600 });
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  mkdirSync(path.join(dir, 'folder'));
  symlinkSync('loopb', path.join(dir, 'loopa'));
  symlinkSync('loopa', path.join(dir, 'loopb'));
  writeFileSync(path.join(dir, 'ok.env'), 'A=1\n');
  const compose = 'services:\n  app:\n    image: pmoves-test/busybox:latest\n    command: ["sleep", "1"]\n';
  writeFileSync(path.join(dir, 'docker-compose.yml'), compose);
  writeFileSync(path.join(dir, 'bomb.yml'), `${compose}${ALIAS_BOMB}\n`);
  copyFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'examples', 'quickstart', 'env.cgp.json'), path.join(dir, 'env.cgp.json'));
  return { dir, home, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** validate in-process over odd paths, long names and expansion bombs: a value or a located error, fast. */
export async function boundsTarget(): Promise<FuzzTarget<BoundsCase> & { cleanup(): void }> {
  const d = await boundsDir();
  const file = path.join(d.dir, 'pmoves.mini.yaml');
  const home = pmovesHome({ PMOVES_HOME: d.home });
  const env = { HOME: d.dir, BIG: 'B'.repeat(65536) };
  return {
    name: 'paths and bounds',
    arbitrary: boundsCase,
    async check(c) {
      try {
        const r = await loadManifest(file, { env, home, kinds, expanders, text: boundsManifest(c, d.dir, d.home), overrides: { profile: 'generic-cpu' } });
        const bad = r.diagnostics.find((x) => x.severity === 'error' && !x.location);
        if (bad) return { ok: false, kind: 'unlocated', what: bad.summary.slice(0, 300) };
        const long = r.diagnostics.find((x) => `${x.summary}${x.detail ?? ''}`.length > 4000);
        if (long) return internal(`a message of ${long.summary.length} characters`);
        return ok;
      } catch (err) {
        if (err instanceof UserError) return /^\S+:\d+:\d+: /.test(err.message) || err.diagnostics.every((x) => x.location) ? ok : { ok: false, kind: 'unlocated', what: err.message.slice(0, 300) };
        return internal(err);
      }
    },
    cleanup: d.cleanup,
  };
}

/**
 * `plan` through the built CLI, as a process (fewer cases: each is a node start): exit 0 or 1, never an
 * internal error, never a hang, and no process left behind that names the case's folder (compose, …).
 */
export async function cliBoundsTarget(): Promise<FuzzTarget<BoundsCase> & { cleanup(): void; leftovers: number }> {
  const { cli } = await import('./helpers.js');
  const { execFileSync } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const d = await boundsDir();
  const file = path.join(d.dir, 'pmoves.mini.yaml');
  const t = {
    name: 'CLI plan, bounded',
    leftovers: 0,
    arbitrary: boundsCase.map((c) => ({ ...c, expand: Math.min(c.expand, 30) })), // an environment string holds at most 128 KiB
    async check(c: BoundsCase): Promise<Verdict> {
      writeFileSync(file, boundsManifest(c, d.dir, d.home));
      const r = await cli(['mini', 'plan', '--no-probe', '-m', file], { home: d.home, cwd: d.dir, env: { HOME: d.dir, BIG: 'B'.repeat(4096) }, timeout: 60_000 });
      const text = `${String(r.stdout)}\n${String(r.stderr)}`;
      const left = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(d.dir) && !l.includes(' ps '));
      if (left.length) {
        t.leftovers += left.length;
        return internal(`left running after the command ended: ${left.join('; ').slice(0, 300)}`);
      }
      if (r.timedOut) return internal('no answer within 60 s');
      if (/internal error|\n\s+at \S+ \(/.test(text)) return internal(text.slice(0, 300));
      if (r.exitCode !== 0 && r.exitCode !== 1) return internal(`exit ${r.exitCode}: ${text.slice(0, 200)}`);
      if (text.split('\n').some((l) => l.length > 2000)) return internal('an output line over 2,000 characters');
      return ok;
    },
    cleanup: d.cleanup,
  };
  return t;
}
