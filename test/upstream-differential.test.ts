// `pmoves mini` against upstream's own CLI, command by command: every case of
// test/fixtures/upstream/cases.json (each command path, flag spelling and error case of the findings
// note) runs here in the same sandbox upstream ran in (scripts/record-upstream.sh recorded it under
// test/fixtures/upstream/recorded/), and the two runs are compared: stdout, exit code, the files written
// (bytes and mode), whole trees, and the argv the stand-ins saw. Where this CLI differs on purpose, the
// difference is asserted as docs/upstream.md states it (each one names this file and its case id).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { helpCase, loadCases, readRecorded, runCase, type Case, type FileRecord, type Recorded } from './upstream-runner.js';

const { help_paths, cases } = loadCases();
const byId = new Map(cases.map((c) => [c.id, c]));
const runs = new Map<string, { up: Recorded; me: Recorded }>();

function run(id: string): { up: Recorded; me: Recorded } {
  let r = runs.get(id);
  if (!r) {
    const c: Case = id === 'help' ? helpCase(help_paths) : byId.get(id)!;
    assert.ok(c, `no case ${id}`);
    r = { up: readRecorded(id), me: runCase(c, { kind: 'project' }) };
    runs.set(id, r);
  }
  return r;
}


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
  sameSteps('u1-init-default');
  sameFile('u1-init-default', 'pmoves/env.shared.generated', { mode: '0600' });
});

test.run();
