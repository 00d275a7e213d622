// Builds the CLI the package ships: one ESM bundle, dist/src/cli.js (the package's `bin`), with lazy
// chunks under dist/src/chunks/ for what a command imports only when it runs (the engine, dockerode,
// systeminformation, the MCP SDK, MQTT.js…). Runs at install (`prepare`) and after tsc in `build`
// (tsc's own dist/src/cli.js is replaced; the other dist/ files stay for the unit tests).
//
// The entry is a two-line stub that imports src/cli.ts dynamically, so that every module lands in
// dist/src/chunks/: code that finds files next to itself (`new URL('../cli.js', import.meta.url)`)
// sees the same depth under dist/src/ as in tsc's output. Then it warms the schema cache
// (src/manifest/schema-cache.ts) so that the first command does not compile the schemas.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'src');
rmSync(path.join(outdir, 'chunks'), { recursive: true, force: true });
// tsc's own entry stays as dist/src/cli-unbundled.js: the toy-kind test runs a copy of the unbundled
// modules with one more kind in its registry (a bundle would need rebuilding for that).
const tscCli = path.join(outdir, 'cli.js');
if (existsSync(tscCli) && !readFileSync(tscCli, 'utf8').includes('./chunks/')) copyFileSync(tscCli, path.join(outdir, 'cli-unbundled.js'));

const entry = {
  name: 'cli-entry',
  setup(b) {
    b.onResolve({ filter: /^cli-entry$/ }, () => ({ path: 'cli-entry', namespace: 'cli-entry' }));
    b.onLoad({ filter: /.*/, namespace: 'cli-entry' }, () => ({
      // `fleet status` connects first and loads the rest while the broker answers (src/fleet/early-status.ts)
      // and runs without commander when its command line is simple (src/fleet/status-fast.ts)
      contents: [
        '#!/usr/bin/env node',
        'let done = false;',
        "if (process.argv[3] === 'fleet') {",
        "  const early = await import('./fleet/early-status.ts');",
        '  early.startEarly(process.argv);',
        "  if (early.earlyStatus()) done = await (await import('./fleet/status-fast.ts')).fastStatus(process.argv);",
        '}',
        "if (!done) await import('./cli.ts');",
        '',
      ].join('\n'),
      resolveDir: path.join(root, 'src'),
      loader: 'js',
    }));
  },
};

// `await import('yaml')` of a CommonJS package: esbuild gives such a chunk only a default export, while
// node gives it named exports too (`const { parse } = await import('yaml')`). Route each dynamic
// import of a CommonJS package through a small ESM facade that has both.
const cjsFacade = {
  name: 'cjs-facade',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.kind !== 'dynamic-import' || args.pluginData === 'facade' || args.path.startsWith('node:')) return undefined;
      const r = await b.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, importer: args.importer, pluginData: 'facade' });
      if (r.errors.length || !r.path || !isCommonJs(r.path)) return undefined;
      return { path: r.path, namespace: 'cjs-facade' };
    });
    b.onLoad({ filter: /.*/, namespace: 'cjs-facade' }, (args) => ({
      // The names node would find: the module's own keys, read by loading it here once.
      contents: [
        `import m from ${JSON.stringify(args.path)};`,
        `export default m;`,
        ...Object.keys(createRequire(import.meta.url)(args.path))
          .filter((k) => k !== 'default' && isBindingName(k))
          .map((k) => `export const ${k} = m[${JSON.stringify(k)}];`),
      ].join('\n'),
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

function isBindingName(k) {
  try {
    new Function(`"use strict"; let ${k};`);
    return /^[A-Za-z_$][\w$]*$/.test(k);
  } catch {
    return false;
  }
}

function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true;
  if (file.endsWith('.mjs') || !file.endsWith('.js')) return false;
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (!existsSync(path.join(dir, 'package.json'))) continue;
    return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).type !== 'module';
  }
  return true;
}

const result = await build({
  absWorkingDir: root,
  // the page's SVG worker (src/ui/svg-worker.ts) is a file of its own, where tsc puts it too
  entryPoints: [{ in: 'cli-entry', out: 'cli' }, { in: 'src/ui/svg-worker.ts', out: 'ui/svg-worker' }],
  plugins: [entry, cjsFacade],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // ESM builds first: jsonc-parser's UMD main requires its own files by computed paths.
  mainFields: ['module', 'main'],
  target: 'node20.19',
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS packages inside an ESM bundle call require() for node's own modules.
  banner: { js: "import { createRequire as __pmovesCreateRequire } from 'node:module'; const require = __pmovesCreateRequire(import.meta.url);" },
  // Native add-ons (ssh2's optional crypto binding, cpu-features) stay where npm put them.
  // serialport finds its prebuilt binding from its own folder; esptool-js imports its stub JSON files: both stay in node_modules.
  // dockerode (TLS and ssh:// DOCKER_HOSTs only) stays there too: bundled, ssh2 reads __dirname, which ESM has not.
  external: ['*.node', 'cpu-features', 'serialport', '@serialport/*', 'esptool-js', 'dockerode'],
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: process.argv.includes('--meta'),
  logLevel: 'warning',
});
if (result.metafile) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(root, 'dist', 'bundle-meta.json'), JSON.stringify(result.metafile));
}

// Warm the ajv standalone validator cache (a failure only means the first command compiles them).
const home = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bundle-'));
try {
  spawnSync(process.execPath, [path.join(outdir, 'cli.js'), 'mini', 'validate', '-m', path.join(root, 'examples', 'quickstart', 'pmoves.mini.yaml')], {
    env: { ...process.env, PMOVES_HOME: home, NO_COLOR: '1' },
    stdio: 'ignore',
  });
} finally {
  rmSync(home, { recursive: true, force: true });
}
