// `pmoves mini` against upstream's own CLI, command by command: every case of
// test/fixtures/upstream/cases.json (each command path, flag spelling and error case of the findings
// note) runs here in the same sandbox upstream ran in (scripts/record-upstream.sh recorded it under
// test/fixtures/upstream/recorded/), and the two runs are compared: stdout, exit code, the files written
// (bytes and mode), whole trees, and the argv the stand-ins saw. Where this CLI differs on purpose, the
// difference is asserted as docs/upstream.md states it (each one names this file and its case id).
import os from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { helpCase, loadCases, readRecorded, runCase, type Case, type FileRecord, type Recorded } from './upstream-runner.js';

const { help_paths, cases } = loadCases();
const byId = new Map(cases.map((c) => [c.id, c]));
const runs = new Map<string, { up: Recorded; me: Recorded }>();
const used = new Set<string>();

// Every case runs here once, a few at a time (each is a handful of short CLI runs in its own sandbox).
const all: Case[] = [helpCase(help_paths), ...cases];
let next = 0;
await Promise.all(
  Array.from({ length: Math.max(2, Math.min(4, os.availableParallelism())) }, async () => {
    while (next < all.length) {
      const c = all[next++]!;
      runs.set(c.id, { up: readRecorded(c.id), me: await runCase(c, { kind: 'project' }) });
    }
  }),
);

function run(id: string): { up: Recorded; me: Recorded } {
  const r = runs.get(id);
  assert.ok(r, `no case ${id}`);
  used.add(id);
  return r!;
}

const lines = (s: string) => s.split('\n');
const step = (r: Recorded, i: number) => r.steps[i]!;

/** stdout and exit code of every step equal, unless the step is in `except`. */
function sameSteps(id: string, except: number[] = []): void {
  const { up, me } = run(id);
  assert.is(me.steps.length, up.steps.length);
  up.steps.forEach((u, i) => {
    if (except.includes(i)) return;
    const m = me.steps[i]!;
    assert.is(m.rc, u.rc, `${id} step ${i} (${u.args.join(' ')}): exit code; stderr: ${m.stderr}`);
    assert.fixture(m.stdout, u.stdout, `${id} step ${i} (${u.args.join(' ')}): stdout`);
  });
}

function sameFile(id: string, file: string, o: { mode?: string; normalize?: (s: string) => string } = {}): void {
  const { up, me } = run(id);
  const u = up.files[file] as FileRecord | null;
  const m = me.files[file] as FileRecord | null;
  if (u === null || m === null) {
    assert.is(m, u, `${id}: ${file} exists in one run only`);
    return;
  }
  const n = o.normalize ?? ((s: string) => s);
  assert.fixture(n(m.text ?? m.b64 ?? ''), n(u.text ?? u.b64 ?? ''), `${id}: ${file} bytes`);
  assert.is(m.mode, o.mode ?? u.mode, `${id}: ${file} mode`);
}

// ---- every command path exists, --help exits 0 --------------------------------------------------------

test('help: every upstream command path exists here (--help exits 0 in both)', () => {
  const { up, me } = run('help');
  up.steps.forEach((u, i) => {
    assert.is(u.rc, 0, `upstream ${u.args.join(' ')}`);
    assert.is(me.steps[i]!.rc, 0, `here: ${u.args.join(' ')}: ${me.steps[i]!.stderr}`);
  });
});

// ---- U1 --------------------------------------------------------------------------------------------------

test('u1: init -m/--manifest is the secrets manifest (refusal, report, generate: same stdout, rc, files)', () => {
  sameSteps('u1-init-m-generate');
  sameFile('u1-init-m-generate', 'pmoves/.env.generated');
  sameSteps('u1-init-manifest');
  // difference (docs/upstream.md, init): env files are 0600 here, 0644 upstream
  sameFile('u1-init-manifest', 'pmoves/.env.generated', { mode: '0600' });
  sameFile('u1-init-manifest', 'pmoves/env.shared.generated', { mode: '0600' });
  // a relative -m from a sub-folder is the checkout's path, as upstream resolves it
  sameSteps('init-m-from-subfolder');
  sameSteps('u1-init-default');
  sameFile('u1-init-default', 'pmoves/env.shared.generated', { mode: '0600' });
});


// ---- U2 --------------------------------------------------------------------------------------------------

test('u2: secrets encode/decode default to upstream bundle path; encode && init --generate fills from the new bundle', async () => {
  // difference (docs/upstream.md, secrets): a value with a newline is refused unless --allow-multiline
  const { up, me } = run('u2-decode-default');
  assert.is(step(me, 0).rc, 1);
  assert.match(step(me, 0).stderr, 'contains a newline');
  assert.match(step(me, 0).stderr, '--allow-multiline');
  assert.is(me.files['pmoves/pmoves/data/chit/env.decoded'], null, 'nothing written');
  // the flag away: upstream's bytes, at upstream's default paths
  const c = byId.get('u2-decode-default')!;
  const flagged = await runCase({ ...c, steps: [{ args: ['secrets', 'decode', '--allow-multiline'] }] }, { kind: 'project' });
  assert.is(step(flagged, 0).stdout, step(up, 0).stdout);
  assert.is(step(flagged, 0).rc, 0);
  assert.is(flagged.files['pmoves/pmoves/data/chit/env.decoded']!.text, up.files['pmoves/pmoves/data/chit/env.decoded']!.text);
  assert.is(flagged.files['pmoves/pmoves/data/chit/env.decoded']!.mode, '0600'); // upstream 0644

  sameSteps('u2-encode-then-init');
  sameFile('u2-encode-then-init', 'pmoves/env.shared.generated', { mode: '0600' });
  sameFile('u2-encode-then-init', 'pmoves/.env.generated', { mode: '0600' });
  assert.match(run('u2-encode-then-init').me.files['pmoves/env.shared.generated']!.text!, 'MEILI_MASTER_KEY=NEW-meili');
  sameSteps('u2-encode-decode-explicit');
  sameFile('u2-encode-decode-explicit', 'out/d.env', { mode: '0600' });
  // the bundle: upstream's JSON apart from created_at (and 0600 here)
  sameFile('u2-encode-decode-explicit', 'out/b.json', { mode: '0600', normalize: (t) => t.replace(/"created_at": "[^"]*"/, '"created_at": "<T>"') });
  // missing, empty or corrupt inputs: the same exit code; one `Error:` line instead of a traceback
  sameSteps('secrets-errors');
  for (const st of run('secrets-errors').me.steps) assert.match(st.stderr, /^Error: /);
});

// ---- U3 --------------------------------------------------------------------------------------------------

test("u3: bootstrap -o stages upstream's README and bundle folders, file for file (and keeps tailscale_brand_up.sh)", () => {
  sameSteps('u3-bootstrap-output');
  const { up, me } = run('u3-bootstrap-output');
  const mine = new Map(me.tree['out/prov']!.map(([p, mode, sha]) => [p, `${mode} ${sha}`]));
  const theirs = new Map(up.tree['out/prov']!.map(([p, mode, sha]) => [p, `${mode} ${sha}`]));
  assert.ok(theirs.size > 60, `upstream staged ${theirs.size} files`);
  for (const [p, v] of theirs) if (p !== 'provisioning-manifest.json') assert.is(mine.get(p), v, `out/prov/${p}`);
  // difference: upstream's folder copy deletes the staged tailscale/tailscale_brand_up.sh; kept here
  assert.equal([...mine.keys()].filter((p) => !theirs.has(p)), ['tailscale/tailscale_brand_up.sh']);
  const stamp = (s: string) => s.replace(/^# Generated at .*$/m, '# Generated at <T>');
  sameFile('u3-bootstrap-output', 'pmoves/env.shared', { mode: '0600', normalize: stamp });
});

// ---- U4 --------------------------------------------------------------------------------------------------

/** The two documented differences of join's output: no key fragment, the key as a file. */
const joinText = (s: string) =>
  s
    .replace(/Signed auth key detected; using tske\**\./g, 'Signed auth key detected; using the signed key.')
    .replace('Invoking tailscale_brand_up.sh', 'Invoking tailscale up')
    .replace(/--auth-key tskey-[A-Za-z0-9_-]+/g, '--auth-key <KEY>')
    .replace(/--auth-key=file:(\(temporary file\)|\S+)/g, '--auth-key <KEY>');

function sameJoin(id: string): void {
  const { up, me } = run(id);
  up.steps.forEach((u, i) => {
    assert.is(step(me, i).rc, u.rc, `${id} step ${i}: ${step(me, i).stderr}`);
    assert.fixture(joinText(step(me, i).stdout), joinText(u.stdout), `${id} step ${i}`);
  });
  assert.fixture(joinText(me.log ?? ''), joinText(up.log ?? ''), `${id}: the tailscale calls`);
  // the key never reaches a command line here
  assert.not.match(me.log ?? '', /--auth-key tskey/);
  assert.not.match(me.steps.map((s) => s.stdout + s.stderr).join(''), /tskey-/);
}

test("u4: tailscale join is upstream's join: flags, variables, signing, sentinel, env-first key, refusal without a key", () => {
  sameJoin('u4-join');
  const { up, me } = run('u4-join');
  assert.match(me.log!, 'up --ssh --accept-routes --advertise-tags tag:pmoves --hostname node-a --login-server https://hs.invalid --auth-key=file:');
  assert.is(me.files['~/.config/pmoves/tailnet-initialized']!.mode, '0600');
  assert.match(me.files['~/.config/pmoves/tailnet-initialized']!.text!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
  assert.is(up.files['~/.config/pmoves/tailnet-initialized']!.mode, '0600');
  sameFile('u4-join', 'CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS/tailscale/tailscale_authkey.txt');
  sameJoin('u4-join-routes');
  assert.match(run('u4-join-routes').me.log!, 'up --accept-routes --advertise-routes 10.0.0.0/24 --force-reauth --auth-key=file:');
  sameJoin('u4-join-precedence');
  assert.match(run('u4-join-precedence').me.log!, 'lock sign tskey-FROMENV');
  sameJoin('u4-join-keyfile');
  sameFile('u4-join-keyfile', 'CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS/tailscale/tailscale_authkey.txt');
  sameSteps('u4-join-nokey');
  const nokey = run('u4-join-nokey');
  assert.is(nokey.me.log, '', 'no tailscale up without a key');
  assert.is(nokey.me.files['~/.config/pmoves/tailnet-initialized'], null);
  assert.match(step(nokey.me, 0).stderr, '[tailscale-init][error] TAILSCALE_AUTHKEY not provided and no readable key found at <ROOT>/CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS/tailscale/tailscale_authkey.txt.');
});

// ---- U5 --------------------------------------------------------------------------------------------------

test("u5: the checkout's own profiles and MCP catalog (custom ones included) are what list, apply, setup and health read", () => {
  sameSteps('u5-profiles-custom');
  sameSteps('u5-mcp-custom');
  sameSteps('u5-mcp-stock');
  // the `To register:` hint is on stderr, so stdout stays upstream's checklist
  assert.match(step(run('u5-mcp-stock').me, 2).stderr, 'To register:');
});

// ---- U6, crush holds, U9 paths, U11 --------------------------------------------------------------------

test("u6: crush preview uses TENSORZERO_LARGE/SMALL_MODEL and upstream's provider order (byte for byte)", () => {
  sameSteps('u6-crush-tz-models');
  sameSteps('u6-crush-order');
  sameSteps('crush-preview-plain');
  sameSteps('crush-preview-envfile');
  sameSteps('crush-setup-default');
  sameFile('crush-setup-default', '~/.config/crush/crush.json');
});

test('u9/u11: crush paths are echoed as given; crush status reads JSONC; a folder or no file as upstream', () => {
  sameSteps('crush-status-folder');
  sameSteps('u9-crush-relative');
  sameFile('u9-crush-relative', 'rel/c.json');
  sameSteps('u11-crush-jsonc', [0, 2]);
  const { up, me } = run('u11-crush-jsonc');
  // difference: upstream cannot parse the comment (none), and its setup then overwrote the user's provider
  assert.match(step(up, 0).stdout, 'Providers: (none)');
  assert.match(step(me, 0).stdout, 'Providers: mine');
  assert.match(step(up, 2).stdout, 'Providers: ollama');
  assert.match(step(me, 2).stdout, 'Providers: mine, ollama');
});

// ---- U7 --------------------------------------------------------------------------------------------------

/** Upstream's getpass prompt lands in stdout; here the key comes from --from-stdin, unprompted. */
const authkeyText = (s: string) => s.replace('Paste tailnet auth key (leave blank to cancel):', '').replace(/Signed auth key captured: tske\**/, 'Signed auth key captured.');

test('u7: tailscale authkey --sign/--write-env/--write-secret are accepted; --show-completion works', () => {
  for (const id of ['u7-authkey-sign', 'u7-authkey-write', 'u7-authkey-empty']) {
    const { up, me } = run(id);
    assert.is(step(me, 0).rc, step(up, 0).rc, `${id}: ${step(me, 0).stderr}`);
    assert.fixture(authkeyText(step(me, 0).stdout), authkeyText(step(up, 0).stdout), id);
  }
  assert.is(run('u7-authkey-sign').me.log, run('u7-authkey-sign').up.log, 'the same lock status / lock sign calls');
  sameFile('u7-authkey-sign', 'z.env', { mode: '0600' });
  sameFile('u7-authkey-sign', 'z.txt');
  sameFile('u7-authkey-write', 'z.env', { mode: '0600' });
  sameFile('u7-authkey-write', 'z.txt');
  sameFile('u7-authkey-empty', 'z.env');
  const { up, me } = run('u7-show-completion');
  assert.is(step(me, 0).rc, step(up, 0).rc);
  assert.match(step(me, 0).stdout, 'complete -o default -F _pmoves_mini_completion pmoves-mini');
  // --install-completion bash: a file bash-completion loads by name, ~/.bashrc untouched (as Typer)
  const inst = run('u7-install-completion');
  assert.is(step(inst.me, 0).rc, step(inst.up, 0).rc, step(inst.me, 0).stderr);
  assert.is(inst.me.files['~/.bashrc'], null);
  assert.match(inst.me.files['~/.local/share/bash-completion/completions/pmoves-mini']!.text!, 'complete -o default -F _pmoves_mini_completion pmoves-mini');
  assert.match(step(inst.me, 0).stdout, /^bash completion installed in <HOME>\/\.local\/share\/bash-completion\/completions\/pmoves-mini\n/);
  // difference: a key piped in without --from-stdin is refused (no terminal), nothing written
  const piped = run('authkey-piped');
  assert.is(step(piped.up, 0).rc, 0);
  assert.is(step(piped.me, 0).rc, 1);
  assert.match(step(piped.me, 0).stderr, 'pipe the key in with --from-stdin');
  assert.is(piped.me.files['z.env'], null);
});

// ---- U8 --------------------------------------------------------------------------------------------------

test("u8: usage errors exit 2 (Click's code), bootstrap -s nope 2, profile detect --top 0 prints nothing", () => {
  sameSteps('u8-usage');
  sameSteps('u8-bootstrap-unknown-service');
  assert.match(step(run('u8-bootstrap-unknown-service').me, 0).stderr, /^\[error\] Unknown service id\(s\): nope/);
  sameSteps('u8-detect-top-0');
});

test('u8: status exits 1 when a required secret is missing (the stock checkout lacks CHIT_PASSPHRASE)', () => {
  const { up, me } = run('u8-status-missing-secret');
  assert.is(step(up, 0).rc, 1);
  assert.is(step(me, 0).rc, 1);
  assert.match(step(up, 0).stderr, 'Missing required secrets: CHIT_PASSPHRASE');
  assert.match(step(me, 0).stderr, 'Error: Missing required secrets: CHIT_PASSPHRASE');
  // difference: upstream dies with a traceback before its lines; here they are still printed
  assert.is(step(up, 0).stdout, '');
  assert.equal(lines(step(me, 0).stdout).slice(0, 3), [
    'Active profile: (none)',
    'Provisioning bundle: missing (expected <ROOT>/CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS/scripts/install/wizard.sh)',
    'Glancer: not requested',
  ]);
  sameSteps('status-stock');
  // `status -m FILE` names upstream's secrets manifest there: its report, or its exit 1
  sameSteps('status-m-secrets', [1]);
  const m = run('status-m-secrets');
  assert.is(step(m.me, 1).rc, step(m.up, 1).rc);
  assert.match(step(m.me, 1).stderr, 'Error: Missing required secrets: CHIT_PASSPHRASE');
});

// ---- U9 --------------------------------------------------------------------------------------------------

test('u9: profile show is upstream text (two blank lines) plus its three documented lines', () => {
  const { up, me } = run('u9-profile-show');
  up.steps.forEach((u, i) => {
    const m = step(me, i);
    assert.is(m.rc, u.rc);
    if (u.rc !== 0) return assert.is(m.stdout, u.stdout);
    const mine = lines(m.stdout);
    // the three extra lines (CHIT labels, Requires, File), and a mapping note as `k: v` (upstream: a Python dict)
    assert.match(mine.at(-4)!, /^CHIT labels: /);
    assert.match(mine.at(-3)!, /^Requires: /);
    assert.match(mine.at(-2)!, /^File: <ROOT>\/pmoves\/config\/profiles\//);
    const pyDict = (s: string) => s.replace(/^ {2}- \{'(.*)': '(.*)'\}$/gm, '  - $1: $2');
    assert.fixture([...mine.slice(0, -4), ''].join('\n'), pyDict(u.stdout), u.args.join(' '));
  });
});

test('u9: deps check keeps the `dep: available|missing` shape (its tool list is documented as different)', () => {
  const { up, me } = run('u9-deps-check');
  for (const out of [step(up, 0).stdout, step(me, 0).stdout]) {
    const ls = lines(out.trimEnd());
    for (const l of ls.slice(0, -1)) assert.match(l, /^[\w-]+: (available|missing)/);
  }
  assert.match(step(me, 0).stdout, /^docker: (available|missing)/m);
});

// ---- U10 -------------------------------------------------------------------------------------------------

test('u10: inside another git repository, without a .git of its own, the checkout is still the root', () => {
  const { up, me } = run('u10-outer-git');
  assert.is(step(me, 0).rc, step(up, 0).rc);
  assert.match(step(me, 0).stdout, 'Provisioning bundle: missing (expected <ROOT>/CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS/scripts/install/wizard.sh)');
  assert.is(step(me, 1).rc, step(up, 1).rc);
  assert.is(step(me, 1).stdout, step(up, 1).stdout);
  assert.equal(me.tree['CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS/scripts'], up.tree['CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS/scripts']);
});

// ---- holds -----------------------------------------------------------------------------------------------

test('holds: automations list/webhooks/channels byte for byte, misses and usage errors included', () => {
  sameSteps('automations');
});

test('bootstrap: a second run says nothing changed; no terminal and no --accept-defaults is a clear refusal', () => {
  sameSteps('bootstrap-twice', [1]);
  const { up, me } = run('bootstrap-twice');
  // difference: upstream rewrites its timestamp and says `Updated …`; nothing is rewritten here
  assert.match(step(up, 1).stdout, '[info] Updated configuration files:');
  assert.equal(lines(step(me, 1).stdout), [
    '[info] No changes were necessary.',
    'Provisioning bundle staged to <ROOT>/CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS',
    'The bundle was already up to date: nothing changed.',
    '',
  ]);
  const n = run('bootstrap-no-tty');
  assert.is(step(n.me, 0).rc, step(n.up, 0).rc);
  assert.match(step(n.up, 0).stderr, 'EOFError');
  assert.match(step(n.me, 0).stderr, 'no terminal to ask on; run with --accept-defaults');
});

test("0600 is a flag away from upstream's 0644: --mode 0644 on init, secrets encode|decode, bootstrap, tailscale authkey", async () => {
  const withMode = async (id: string, files: string[]) => {
    const c = byId.get(id)!;
    const steps = c.steps.map((st) => ({ ...st, args: [...st.args, '--mode', '0644'], project_args: st.project_args && [...st.project_args, '--mode', '0644'] }));
    const me = await runCase({ ...c, steps }, { kind: 'project' });
    const { up } = run(id);
    for (const [i, st] of me.steps.entries()) assert.is(st.rc, step(up, i).rc, `${id} --mode 0644: ${st.stderr}`);
    for (const f of files) {
      assert.is(up.files[f]!.mode, '0644', `upstream ${f}`);
      assert.is(me.files[f]!.mode, '0644', `${id} --mode 0644: ${f}`);
      assert.is(me.files[f]!.text?.replace(/^# Generated at .*$/m, ''), up.files[f]!.text?.replace(/^# Generated at .*$/m, ''));
    }
  };
  await withMode('u1-init-default', ['pmoves/.env.generated', 'pmoves/env.shared.generated']);
  await withMode('u2-encode-then-init', ['pmoves/.env.generated', 'pmoves/env.shared.generated']);
  await withMode('u7-authkey-write', ['z.env']);
  await withMode('u3-bootstrap-output', ['pmoves/env.shared']);
  const c = byId.get('u2-encode-decode-explicit')!;
  const me = await runCase({ ...c, steps: c.steps.map((st) => ({ ...st, args: [...st.args, '--mode', '0644'] })) }, { kind: 'project' });
  assert.is(me.files['out/b.json']!.mode, '0644');
  assert.is(me.files['out/d.env']!.mode, '0644');
  // a world-writable mode is a usage error
  const bad = await runCase({ ...c, steps: [{ args: ['secrets', 'decode', '-c', 'nowhere.json', '--mode', '0666'] }] }, { kind: 'project' });
  assert.is(step(bad, 0).rc, 2);
  assert.match(step(bad, 0).stderr, 'lets every user change the file');
});

test('every case of cases.json is asserted by a test above', () => {
  for (const c of cases) assert.ok(used.has(c.id), `case ${c.id} is not compared`);
});

test.run();
