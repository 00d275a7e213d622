// Profiles end to end: the built CLI spawned as a recorded machine (PMOVES_SYSROOT + recorded commands),
// each test with its own PMOVES_HOME; and the expander's contributions read from a loaded manifest.
import { mkdirSync, readFileSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pmovesHome } from '../src/core/home.js';
import { loadManifest } from '../src/manifest/load.js';
import { expanders, kinds } from '../src/reconcilers/index.js';
import { cli, repoRoot, tempDir } from './helpers.js';

const machinesDir = path.join(repoRoot, 'test', 'fixtures', 'machines');
const bundle = path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json');

function as(machine: string): Record<string, string> {
  const dir = path.join(machinesDir, machine);
  return { PMOVES_SYSROOT: path.join(dir, 'root'), PMOVES_RECORDED_COMMANDS: path.join(dir, 'commands.json') };
}

function withTemp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const t = tempDir('pmoves-profile-');
    try {
      await fn(t.dir);
    } finally {
      t.cleanup();
    }
  };
}

// ---- profile commands -----------------------------------------------------------------------------

test(
  'list / apply / current: upstream lines, the pin in $PMOVES_HOME/profile.yaml, * marks it',
  withTemp(async (dir) => {
    const home = path.join(dir, 'home');
    let r = await cli(['mini', 'profile', 'current'], { home });
    assert.is(r.exitCode, 1);
    assert.is(r.stdout, 'No active profile set.');
    r = await cli(['mini', 'profile', 'list'], { home });
    assert.is(r.exitCode, 0, String(r.stderr));
    assert.ok(String(r.stdout).split('\n').includes('  laptop-4090 – Laptop – i9 + RTX 4090'), String(r.stdout));
    assert.is(String(r.stdout).split('\n').length, 6);
    r = await cli(['mini', 'profile', 'apply', 'laptop-4090'], { home, env: as('laptop') });
    assert.is(r.exitCode, 0, String(r.stderr));
    assert.is(r.stdout, 'Active profile set to laptop-4090.');
    assert.is(r.stderr, '', 'the recorded laptop meets laptop-4090');
    assert.match(readFileSync(path.join(home, 'profile.yaml'), 'utf8'), /^profile: laptop-4090$/m);
    r = await cli(['mini', 'profile', 'list'], { home });
    assert.ok(String(r.stdout).split('\n').includes('* laptop-4090 – Laptop – i9 + RTX 4090'));
    r = await cli(['mini', 'profile', 'current'], { home });
    assert.is(r.stdout, 'Laptop – i9 + RTX 4090 (laptop-4090)');
    r = await cli(['mini', 'profile', 'current', '--json'], { home });
    assert.is(JSON.parse(String(r.stdout)).active, 'laptop-4090');
  }),
);

test(
  'apply on a machine that cannot run the profile: pinned, with a warning that says why',
  withTemp(async (dir) => {
    const r = await cli(['mini', 'profile', 'apply', 'desktop-9950xd'], { home: dir, env: as('plain-vm') });
    assert.is(r.exitCode, 0);
    assert.match(String(r.stderr), /Warning: this machine does not meet profile desktop-9950xd's requirement: needs an NVIDIA GPU, found none/);
  }),
);

test(
  "upstream's profile.json is read when it is all there is; a missing profile exits 1",
  withTemp(async (dir) => {
    writeFileSync(path.join(dir, 'profile.json'), JSON.stringify({ profile: 'jetson-nano' }, null, 2));
    let r = await cli(['mini', 'profile', 'current'], { home: dir });
    assert.is(r.stdout, 'Jetson Nano Super (jetson-nano)');
    writeFileSync(path.join(dir, 'profile.json'), JSON.stringify({ profile: 'gone' }));
    r = await cli(['mini', 'profile', 'current'], { home: dir });
    assert.is(r.exitCode, 1);
    assert.is(r.stdout, "Active profile 'gone' no longer exists.");
    r = await cli(['mini', 'profile', 'show', 'laptop-409'], { home: dir });
    assert.is(r.exitCode, 1);
    assert.is(r.stdout, "Profile 'laptop-409' not found.");
    assert.match(String(r.stderr), /did you mean "laptop-4090"/);
    r = await cli(['mini', 'profile', 'apply', 'nope'], { home: dir });
    assert.is(r.exitCode, 1);
    assert.is(existsSync(path.join(dir, 'profile.yaml')), false, 'nothing written');
    // apply writes profile.yaml, and keeps upstream's profile.json (already there) in agreement
    r = await cli(['mini', 'profile', 'apply', 'generic-cpu'], { home: dir });
    assert.is(r.exitCode, 0);
    assert.is(readFileSync(path.join(dir, 'profile.json'), 'utf8'), '{\n  "profile": "generic-cpu"\n}');
    r = await cli(['mini', 'profile', 'current'], { home: dir });
    assert.is(r.stdout, 'Generic CPU machine (generic-cpu)');
  }),
);

test(
  'show: upstream lines, then CHIT labels and requirements',
  withTemp(async (dir) => {
    const r = await cli(['mini', 'profile', 'show', 'jetson-nano'], { home: dir });
    assert.is(r.exitCode, 0);
    const lines = String(r.stdout).split('\n');
    assert.is(lines[0], 'Jetson Nano Super (jetson-nano)');
    assert.ok(lines.includes('Compose overrides: docker-compose.edge.jetson.yaml'));
    assert.ok(lines.includes('Model bundles: jetson-yolov8n, whisper-small-int8'));
    assert.ok(lines.includes('MCP adapters: docker, host'));
    assert.ok(lines.includes('Requires: gpu nvidia-tegra; arch arm64; ram_gb >=4'), lines.join('\n'));
  }),
);

const DETECT: Record<string, string> = {
  'jetson-orin-nano': 'jetson-nano (Jetson Nano Super) – score ',
  'rtx-desktop': 'desktop-9950xd (Desktop – AMD 9950XD / RTX 5090) – score ',
  laptop: 'laptop-4090 (Laptop – i9 + RTX 4090) – score ',
  'esp32-box': 'esp32-sonatino (ESP32 Sonatino) – score ',
  'plain-vm': 'generic-cpu (Generic CPU machine) – score ',
};

test(
  'detect as each recorded machine: the first line is the expected profile, in upstream\'s format',
  withTemp(async (dir) => {
    for (const [machine, first] of Object.entries(DETECT)) {
      const r = await cli(['mini', 'profile', 'detect'], { home: dir, env: as(machine) });
      assert.is(r.exitCode, 0, `${machine}: ${r.stderr}`);
      const lines = String(r.stdout).split('\n');
      assert.ok(lines[0]!.startsWith(first), `${machine}: ${lines[0]}`);
      assert.match(lines[0]!, /^\S+ \(.*\) – score \d+$/);
    }
    const r = await cli(['mini', 'profile', 'detect', '--top', '1'], { home: dir, env: as('plain-vm') });
    const lines = String(r.stdout).split('\n');
    assert.equal(lines.slice(0, 2), ['generic-cpu (Generic CPU machine) – score 1', '  +1 fallback: runs on any machine']);
    assert.is(lines.filter((l) => / – score /.test(l)).length, 1);
    assert.ok(lines.includes('Tags: x64, vm'), lines.join('\n'));
  }),
);

test(
  'detect --json: best, ranking with evidence, the machine facts',
  withTemp(async (dir) => {
    const r = await cli(['mini', 'profile', 'detect', '--json'], { home: dir, env: as('laptop') });
    const j = JSON.parse(String(r.stdout));
    assert.is(j.best, 'laptop-4090');
    assert.is(j.machine.gpu.devices[0].name, 'NVIDIA GeForce RTX 4060 Laptop GPU');
    const desktop = j.ranking.find((x: { id: string }) => x.id === 'desktop-9950xd');
    assert.is(desktop.eligible, false);
    assert.ok(desktop.unmet.includes('needs 32 GB VRAM, found 8 GB'));
  }),
);

test(
  'detect on this machine: runs live (no sysroot), picks a profile this machine can run',
  withTemp(async (dir) => {
    const r = await cli(['mini', 'profile', 'detect', '--json'], { home: dir });
    assert.is(r.exitCode, 0, String(r.stderr));
    const j = JSON.parse(String(r.stdout));
    const best = j.ranking.find((x: { id: string }) => x.id === j.best);
    assert.ok(best.eligible);
    if (j.machine.gpu.type === 'none' && !j.machine.serial.length) assert.is(j.best, 'generic-cpu', 'no GPU, no ESP32: the fallback');
  }),
);

test(
  'broken profile YAML and schema errors: file:line:column, exit 1, nothing else done',
  withTemp(async (dir) => {
    const pdir = path.join(dir, 'profiles');
    mkdirSync(pdir);
    writeFileSync(path.join(pdir, 'broken.yaml'), 'id: broken\nname: "unterminated\nhardware: {}\n');
    let r = await cli(['mini', 'profile', 'list', '--profiles-dir', pdir], { home: path.join(dir, 'home'), cwd: dir });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /^Error: profiles\/broken\.yaml:\d+:\d+: invalid YAML: /m);
    assert.not.match(String(r.stderr), /at \w+ \(/, 'no stack trace');
    writeFileSync(path.join(pdir, 'broken.yaml'), 'id: lab\nname: Lab box\nhardware:\n  gpu:\n    memory_gb: "lots"\nmodel_bundle: [ollama-medium]\n');
    r = await cli(['mini', 'profile', 'show', 'lab', '--profiles-dir', pdir], { home: path.join(dir, 'home'), cwd: dir });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /profiles\/broken\.yaml:5:16: hardware\.gpu\.memory_gb: expected number, got "lots"/);
    assert.match(String(r.stderr), /profiles\/broken\.yaml:6:1: model_bundle: unknown key "model_bundle" \(did you mean "model_bundles"\?\)/);
    // …and in $PMOVES_HOME/profiles, a manifest with `profile: auto` fails the same way
    const home = path.join(dir, 'home2');
    mkdirSync(path.join(home, 'profiles'), { recursive: true });
    writeFileSync(path.join(home, 'profiles', 'x.yaml'), 'id: [oops]\n');
    writeFileSync(path.join(dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\nprofile: auto\n');
    r = await cli(['mini', 'plan'], { home, cwd: dir, env: as('plain-vm') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /x\.yaml:1:5: id: expected string, got a list/);
  }),
);

test(
  'a user profile from --profiles-dir replaces the built-in one with the same id',
  withTemp(async (dir) => {
    const pdir = path.join(dir, 'p');
    mkdirSync(pdir);
    writeFileSync(path.join(pdir, 'generic.yaml'), 'id: generic-cpu\nname: My CPU box\nhardware: {tags: [fallback]}\n');
    const r = await cli(['mini', 'profile', 'detect', '--profiles-dir', pdir], { home: dir, env: as('plain-vm') });
    assert.ok(String(r.stdout).startsWith('generic-cpu (My CPU box) – score 1'), String(r.stdout));
  }),
);

test(
  'nothing this machine can run: "No profile matches detected.", exit 1',
  withTemp(async (dir) => {
    const pdir = path.join(dir, 'p');
    mkdirSync(pdir);
    writeFileSync(path.join(pdir, 'generic.yaml'), 'id: generic-cpu\nname: GPU boxes only\nhardware: {tags: [fallback]}\nrequires: {gpu: nvidia}\n');
    const r = await cli(['mini', 'profile', 'detect', '--profiles-dir', pdir], { home: dir, env: as('plain-vm') });
    assert.is(r.exitCode, 1);
    assert.is(String(r.stdout).split('\n')[0], 'No profile matches detected.');
  }),
);

// ---- manifests with a profile ---------------------------------------------------------------------

function manifestDir(dir: string, body: string): string {
  copyFileSync(bundle, path.join(dir, 'env.cgp.json'));
  writeFileSync(path.join(dir, 'docker-compose.yml'), 'services:\n  app:\n    image: pmoves-test/busybox:latest\n    command: ["sleep", "3600"]\n');
  writeFileSync(path.join(dir, 'docker-compose.gpu.yml'), 'services:\n  app:\n    environment:\n      NVIDIA_VISIBLE_DEVICES: all\n');
  const file = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(file, body);
  return file;
}

const LAPTOP_MANIFEST = `apiVersion: pmoves.ai/mini/v1
profile: auto
secrets:
  env:
    bundle: env.cgp.json
    env_file: out/env.shared
  own:
    bundle: env.cgp.json
    env_file: out/env.own
    include_labels: ["MEILI_*"]
stacks:
  demo:
    files: [docker-compose.yml]
    project: pmoves-profile-expander
models:
  big:
    provider: ollama
    model: llama3.1:70b
    requires:
      vram_gb: ">=24"
  small:
    provider: ollama
    model: qwen2.5:0.5b
    requires: {vram_gb: ">=4", tags: [cuda]}
`;

test(
  'profile: auto on the recorded laptop: overrides, bundles, MCP servers, labels — marked; the manifest wins',
  withTemp(async (dir) => {
    const file = manifestDir(dir, LAPTOP_MANIFEST);
    const r = await loadManifest(file, { env: { ...process.env, ...as('laptop') }, home: pmovesHome({ PMOVES_HOME: path.join(dir, 'home') }), kinds, expanders });
    assert.ok(r.manifest, JSON.stringify(r.diagnostics, null, 2));
    const m = r.manifest!;
    const by = new Map(m.resources.map((x) => [x.address, x] as const));
    assert.match(m.notes[0]!, /^Hardware profile: laptop-4090 \(Laptop – i9 \+ RTX 4090\), detected \(profile: auto in pmoves\.mini\.yaml\): score \d+; next generic-cpu 1$/);
    // compose override, resolved against the stack's folder
    const demo = by.get('stacks.demo')!;
    assert.equal((demo.spec as { files: string[] }).files, [path.join(dir, 'docker-compose.yml'), path.join(dir, 'docker-compose.gpu.yml')]);
    assert.is(demo.origin, 'profile laptop-4090: compose overrides docker-compose.gpu.yml');
    // labels only where the manifest set none
    assert.equal((by.get('secrets.env')!.spec as { include_labels: string[] }).include_labels, ['*']);
    assert.is(by.get('secrets.env')!.origin, 'profile laptop-4090: include_labels');
    assert.equal((by.get('secrets.own')!.spec as { include_labels: string[] }).include_labels, ['MEILI_*']);
    assert.is(by.get('secrets.own')!.origin, undefined);
    // MCP servers and model bundles from the catalogs, origin profile laptop-4090
    for (const a of ['mcp.docker', 'mcp.compose']) assert.match(String(by.get(a)?.origin), /^profile laptop-4090/, a);
    const fromBundles = m.resources.filter((x) => x.section === 'models' && x.origin?.startsWith('profile laptop-4090'));
    assert.ok(fromBundles.length >= 2, m.resources.map((x) => `${x.address} ${x.origin}`).join('\n'));
    // hardware gating on the 8 GB laptop
    assert.is(by.get('models.big')!.unsatisfied, 'needs 24 GB VRAM, found 8 GB');
    assert.is(by.get('models.big')!.origin, undefined);
    assert.is(by.get('models.small')!.unsatisfied, undefined);
  }),
);

test(
  'plan with profile: auto as the recorded laptop (real Docker Engine for the stack): every contribution marked in the plan',
  withTemp(async (dir) => {
    // Needs `bash ../shared/scripts/docker-engine.sh`; plan only reads (compose config, the engine's containers).
    manifestDir(dir, LAPTOP_MANIFEST.replace('pmoves-profile-expander', `pmoves-profile-${process.pid}`));
    const home = path.join(dir, 'home');
    const r = await cli(['mini', 'plan', '--no-probe'], { home, cwd: dir, env: as('laptop') });
    const out = String(r.stdout).split('\n');
    assert.is(r.exitCode, 1, 'models.big cannot run on 8 GB');
    assert.match(out[0]!, /^Hardware profile: laptop-4090 \(Laptop – i9 \+ RTX 4090\), detected \(profile: auto in pmoves\.mini\.yaml\): score \d+; next generic-cpu 1$/);
    assert.match(out[1]!, /^  from the profile: stacks\.demo files \+= docker-compose\.gpu\.yml; models\.\S+.*; mcp\.docker, mcp\.compose; secrets\.env include_labels = \*$/);
    const after = (address: string) => out[out.findIndex((l) => l.startsWith(`  # ${address} will be`)) + 1];
    assert.is(after('stacks.demo'), '  # (from profile laptop-4090: compose overrides docker-compose.gpu.yml)', out.join('\n'));
    assert.is(after('mcp.docker'), '  # (from profile laptop-4090)');
    assert.is(after('mcp.compose'), '  # (from profile laptop-4090)');
    assert.is(after('secrets.env'), '  # (from profile laptop-4090: include_labels)');
    assert.ok(out.some((l) => l.includes(`"${path.join(dir, 'docker-compose.gpu.yml')}"`)), 'the override is in the stack\'s files');
    assert.ok(out.includes('! models.big cannot be applied here: needs 24 GB VRAM, found 8 GB'));
    // the bundles' models are in the plan too (as changes, or as `!` where the bundle's own requires say so)
    assert.ok(out.some((l) => /^(! models\.(?!big )\S+ |  # models\.(?!big )\S+ will be)/.test(l)), out.join('\n'));
  }),
);

test(
  'the manifest\'s own entry wins over the profile\'s (same address)',
  withTemp(async (dir) => {
    const file = manifestDir(dir, `apiVersion: pmoves.ai/mini/v1\nprofile: laptop-4090\nmcp:\n  docker:\n    command: echo\n    args: [mine]\n`);
    const r = await loadManifest(file, { env: { ...process.env, ...as('laptop') }, home: pmovesHome({ PMOVES_HOME: path.join(dir, 'home') }), kinds, expanders });
    assert.ok(r.manifest, JSON.stringify(r.diagnostics, null, 2));
    const docker = r.manifest!.resources.filter((x) => x.address === 'mcp.docker');
    assert.is(docker.length, 1);
    assert.is(docker[0]!.origin, undefined);
    assert.match(r.manifest!.notes[0]!, /chosen by profile: laptop-4090 in pmoves\.mini\.yaml$/);
    assert.is(r.manifest!.resources.find((x) => x.address === 'mcp.compose')?.origin, 'profile laptop-4090');
  }),
);

test(
  'a profile the machine cannot run: what it brings is unsatisfiable, its compose overrides are left out (warning)',
  withTemp(async (dir) => {
    const file = manifestDir(dir, `apiVersion: pmoves.ai/mini/v1\nprofile: jetson-nano\nstacks:\n  demo:\n    files: [docker-compose.yml]\n`);
    const r = await loadManifest(file, { env: { ...process.env, ...as('laptop') }, home: pmovesHome({ PMOVES_HOME: path.join(dir, 'home') }), kinds, expanders });
    assert.ok(r.manifest, JSON.stringify(r.diagnostics, null, 2));
    const m = r.manifest!;
    assert.ok(m.notes.includes("  this machine does not meet the profile's requirement: needs a Jetson (nvidia-tegra) GPU, found \"NVIDIA GeForce RTX 4060 Laptop GPU\""), m.notes.join('\n'));
    assert.ok(r.diagnostics.some((d) => d.severity === 'warning' && /^profile jetson-nano: compose overrides docker-compose\.edge\.jetson\.yaml not added: this machine needs a Jetson/.test(d.summary)));
    assert.equal((m.resources.find((x) => x.address === 'stacks.demo')!.spec as { files: string[] }).files, [path.join(dir, 'docker-compose.yml')]);
    const brought = m.resources.filter((x) => x.origin?.startsWith('profile jetson-nano'));
    assert.ok(brought.length > 0);
    for (const b of brought) assert.match(String(b.unsatisfied), /needs a Jetson \(nvidia-tegra\) GPU, found "NVIDIA GeForce RTX 4060 Laptop GPU" \(the requirement of profile jetson-nano\)/, b.address);
  }),
);

test(
  'a compose override that is not in the stack\'s folder is left out with a warning',
  withTemp(async (dir) => {
    const file = manifestDir(dir, `apiVersion: pmoves.ai/mini/v1\nprofile: rtx\nstacks:\n  demo:\n    files: [docker-compose.yml]\n`);
    const pdir = path.join(dir, 'p');
    mkdirSync(pdir);
    writeFileSync(path.join(pdir, 'rtx.yaml'), 'id: rtx\ncompose_overrides: [docker-compose.gpu.yml, docker-compose.missing.yml]\nrequires: {gpu: nvidia}\n');
    const r = await loadManifest(file, { env: { ...process.env, ...as('rtx-desktop'), PMOVES_PROFILES_DIR: pdir }, home: pmovesHome({ PMOVES_HOME: path.join(dir, 'home') }), kinds, expanders });
    assert.ok(r.manifest, JSON.stringify(r.diagnostics, null, 2));
    assert.equal((r.manifest!.resources[0]!.spec as { files: string[] }).files, [path.join(dir, 'docker-compose.yml'), path.join(dir, 'docker-compose.gpu.yml')]);
    assert.ok(r.diagnostics.some((d) => d.address === 'stacks.demo' && d.summary === `profile rtx: compose override docker-compose.missing.yml not found in ${dir}; not added`), JSON.stringify(r.diagnostics));
    assert.equal(r.manifest!.notes, ['Hardware profile: rtx (rtx), chosen by profile: rtx in pmoves.mini.yaml', '  from the profile: stacks.demo files += docker-compose.gpu.yml']);
  }),
);

const GATED = `apiVersion: pmoves.ai/mini/v1
secrets:
  env:
    bundle: env.cgp.json
    env_file: out/env.shared
  gpu-only:
    bundle: env.cgp.json
    env_file: out/env.gpu
    requires: {vram_gb: ">=24"}
  after-gpu:
    bundle: env.cgp.json
    env_file: out/env.after
    depends_on: [secrets.gpu-only]
models:
  big:
    provider: ollama
    model: llama3.1:70b
    requires:
      vram_gb: ">=24"
`;

test(
  'plan as the recorded 8 GB laptop: `!` for what needs 24 GB, exit 1; --skip-unsatisfiable plans the rest',
  withTemp(async (dir) => {
    manifestDir(dir, GATED);
    const home = path.join(dir, 'home');
    let r = await cli(['mini', 'plan'], { home, cwd: dir, env: as('laptop') });
    assert.is(r.exitCode, 1, String(r.stderr));
    const out = String(r.stdout).split('\n');
    assert.ok(out.includes('! models.big cannot be applied here: needs 24 GB VRAM, found 8 GB'), out.join('\n'));
    assert.ok(out.includes('! secrets.gpu-only cannot be applied here: needs 24 GB VRAM, found 8 GB'));
    assert.ok(out.includes('! secrets.after-gpu cannot be applied here: depends on secrets.gpu-only, which cannot be applied here'));
    assert.ok(out.includes('Plan: 1 to add, 0 to change, 0 to destroy.'), out.join('\n'));
    assert.is(out[0], 'This machine: 13th Gen Intel(R) Core(TM) i7-13700H, 15.5 GB RAM, x64; GPU: NVIDIA GeForce RTX 4060 Laptop GPU (8 GB); tags: x64, laptop, cuda, docker');
    r = await cli(['mini', 'plan', '--skip-unsatisfiable'], { home, cwd: dir, env: as('laptop') });
    assert.is(r.exitCode, 0, String(r.stdout));
    assert.ok(String(r.stdout).split('\n').includes('! models.big cannot be applied here: needs 24 GB VRAM, found 8 GB'));
    r = await cli(['mini', 'plan', '--json'], { home, cwd: dir, env: as('laptop') });
    const j = JSON.parse(String(r.stdout));
    assert.equal(j.resource_changes.map((c: { address: string }) => c.address), ['secrets.env']);
    assert.ok(j.diagnostics.some((d: { address: string; severity: string; summary: string }) => d.address === 'models.big' && d.severity === 'error' && d.summary === 'cannot be applied here: needs 24 GB VRAM, found 8 GB'));
    // the same manifest on the RTX desktop: everything can run (the model is not read: Ollama is not needed to say so)
    r = await cli(['mini', 'validate'], { home, cwd: dir, env: as('rtx-desktop') });
    assert.is(r.exitCode, 0, String(r.stderr));
  }),
);

test(
  'apply as the recorded laptop: cancelled without the flag; with it, only what can run here is applied',
  withTemp(async (dir) => {
    manifestDir(dir, GATED);
    const home = path.join(dir, 'home');
    let r = await cli(['mini', 'apply', '--auto-approve'], { home, cwd: dir, env: as('laptop') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stdout), /Apply cancelled: the plan has errors\./);
    assert.is(existsSync(path.join(dir, 'out', 'env.shared')), false, 'nothing was applied');
    r = await cli(['mini', 'apply', '--auto-approve', '--skip-unsatisfiable'], { home, cwd: dir, env: as('laptop') });
    assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
    assert.ok(existsSync(path.join(dir, 'out', 'env.shared')));
    assert.is(existsSync(path.join(dir, 'out', 'env.gpu')), false);
    assert.is(existsSync(path.join(dir, 'out', 'env.after')), false);
    const state = JSON.parse(readFileSync(path.join(home, 'state.json'), 'utf8')) as { resources: Record<string, unknown> };
    assert.equal(Object.keys(state.resources).sort(), ['secrets.env']);
  }),
);

test(
  'bad requires: file:line:column like any manifest error',
  withTemp(async (dir) => {
    manifestDir(dir, `apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/e\n    requires:\n      vram_gb: 24GB\n      gpus: nvidia\n`);
    const r = await cli(['mini', 'validate'], { home: path.join(dir, 'home'), cwd: dir, env: as('laptop') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:7:16: secrets\.env\.requires\.vram_gb: "24GB" is not valid: a size in GB/);
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:8:7: secrets\.env\.requires\.gpus: unknown key "gpus" \(did you mean "gpu"\?\)/);
  }),
);

test(
  'an unknown profile in the manifest or on the command line',
  withTemp(async (dir) => {
    manifestDir(dir, 'apiVersion: pmoves.ai/mini/v1\nprofile: laptop-4080\n');
    let r = await cli(['mini', 'plan'], { home: path.join(dir, 'home'), cwd: dir, env: as('laptop') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:2:10: profile: no profile "laptop-4080" \(did you mean "laptop-4090"\?\)/);
    r = await cli(['mini', 'plan', '--profile', 'generic-cpu'], { home: path.join(dir, 'home'), cwd: dir, env: as('laptop') });
    assert.is(r.exitCode, 0, String(r.stderr));
    assert.match(String(r.stdout), /^Hardware profile: generic-cpu \(Generic CPU machine\), chosen by --profile generic-cpu$/m);
  }),
);

test(
  'profile: auto uses the pinned profile before detecting',
  withTemp(async (dir) => {
    manifestDir(dir, 'apiVersion: pmoves.ai/mini/v1\nprofile: auto\n');
    const home = path.join(dir, 'home');
    await cli(['mini', 'profile', 'apply', 'generic-cpu'], { home, env: as('laptop') });
    const r = await cli(['mini', 'plan', '--no-probe'], { home, cwd: dir, env: as('laptop') });
    assert.match(String(r.stdout), /^Hardware profile: generic-cpu \(Generic CPU machine\), pinned with `pmoves mini profile apply` \(.*profile\.yaml\); profile: auto in pmoves\.mini\.yaml$/m);
  }),
);

test(
  'status shows edge devices: the Jetson\'s nvargus-daemon and CSI camera; the ESP32\'s port and chip',
  withTemp(async (dir) => {
    manifestDir(dir, 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env.shared\n');
    let r = await cli(['mini', 'status'], { home: path.join(dir, 'home'), cwd: dir, env: as('jetson-orin-nano') });
    const lines = String(r.stdout).split('\n');
    assert.ok(
      lines.includes('jetson: NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super (L4T R36.4.0); nvargus-daemon active; cameras: /dev/video0 (vi-output, imx219 9-0010, CSI)'),
      lines.join('\n'),
    );
    r = await cli(['mini', 'status', '--json'], { home: path.join(dir, 'home'), cwd: dir, env: as('esp32-box') });
    const j = JSON.parse(String(r.stdout));
    assert.equal(j.devices.esp32.map((d: { port: string }) => d.port), ['/dev/ttyACM0', '/dev/ttyUSB0']);
    r = await cli(['mini', 'status'], { home: path.join(dir, 'home'), cwd: dir, env: as('esp32-box') });
    assert.ok(String(r.stdout).split('\n').includes('esp32: /dev/ttyACM0 Espressif USB JTAG/serial (ESP32-S3/C3/C6 native USB) (303a:1001, "USB JTAG/serial debug unit")'), String(r.stdout));
    r = await cli(['mini', 'status'], { home: path.join(dir, 'home'), cwd: dir, env: as('plain-vm') });
    assert.not.match(String(r.stdout), /jetson:|esp32:/);
  }),
);

test.run();
