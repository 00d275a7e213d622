// Model files end to end: the built CLI against a real HTTP server on loopback (node:http) serving real
// bytes with Range support, a server that drops the connection half-way, one that hangs until the CLI is
// killed, and a wrong checksum.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { cli, cliPath, cliSpawn, tempDir, waitFor } from './helpers.js';

type Mode = 'normal' | 'drop-once' | 'hang-once' | 'always-drop';

interface Served {
  body: Buffer;
  mode: Mode;
  hits: number;
}

interface LogEntry {
  method: string;
  path: string;
  range: string | null;
  status: number;
}

class FileServer {
  files = new Map<string, Served>();
  log: LogEntry[] = [];
  private server?: http.Server;
  private held: http.ServerResponse[] = [];
  url = '';

  add(name: string, body: Buffer, mode: Mode = 'normal'): string {
    this.files.set(`/${name}`, { body, mode, hits: 0 });
    return `${this.url}/${name}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const h of this.held) h.destroy();
    this.server!.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const f = this.files.get(req.url ?? '');
    const range = req.headers.range ?? null;
    const entry: LogEntry = { method: req.method ?? 'GET', path: req.url ?? '', range, status: 0 };
    this.log.push(entry);
    if (!f) {
      entry.status = 404;
      res.writeHead(404).end('not found');
      return;
    }
    const size = f.body.length;
    if (req.method === 'HEAD') {
      entry.status = 200;
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' }).end();
      return;
    }
    f.hits++;
    let start = 0;
    if (range) {
      const m = /^bytes=(\d+)-$/.exec(range);
      start = m ? Number(m[1]) : 0;
      if (start >= size) {
        entry.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      entry.status = 206;
      res.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}`, 'accept-ranges': 'bytes' });
    } else {
      entry.status = 200;
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
    }
    const half = Math.floor(size / 2);
    const cut = (f.mode === 'drop-once' || f.mode === 'hang-once') && f.hits === 1 && !range ? half : f.mode === 'always-drop' ? start + Math.floor((size - start) / 2) : -1;
    if (cut < 0) {
      res.end(f.body.subarray(start));
      return;
    }
    res.write(f.body.subarray(start, cut), () => {
      if (f.mode === 'hang-once') this.held.push(res);
      else setTimeout(() => res.socket?.destroy(), 20);
    });
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const server = new FileServer();
const MiB = 1024 * 1024;

test.before(async () => {
  await server.start();
});
test.after(async () => {
  await server.stop();
});

function setup(models: string, extra = '') {
  const t = tempDir('pmoves-models-file-');
  const home = path.join(t.dir, 'home');
  writeFileSync(path.join(t.dir, 'pmoves.mini.yaml'), `apiVersion: pmoves.ai/mini/v1\n${extra}models:\n${models}`);
  const run = (args: string[], env: Record<string, string> = {}) => cli(['mini', ...args], { cwd: t.dir, home, env: { PMOVES_PROGRESS_INTERVAL_MS: '0', ...env } });
  return { ...t, home, run };
}

function fileModel(name: string, url: string, digest: string, more = ''): string {
  return `  ${name}:\n    provider: file\n    url: ${url}\n    sha256: ${digest}\n    path: out/${name}.bin\n${more}`;
}

test('bundle + a local file: plan shows the budget; pull downloads with progress and verifies; then no changes; deleting the file is drift', async () => {
  const body = randomBytes(MiB);
  const url = server.add('local.bin', body);
  const s = setup(fileModel('local', url, sha(body), '    size: 1048576\n'), 'bundles: [whisper-small-int8]\n');
  try {
    const plan = await s.run(['plan']);
    assert.is(plan.exitCode, 0, String(plan.stderr) + String(plan.stdout));
    const out = String(plan.stdout);
    assert.match(out, /# models\.whisper-small will be downloaded/);
    assert.match(out, /# \(from bundle whisper-small-int8\)/);
    assert.match(out, /# models\.local will be downloaded/);
    // 461 MiB (the bundle's size) + 1 MiB
    assert.match(out, /Plan: 2 to add, 0 to change, 0 to destroy\. Downloads: 484\.4 MB; disk: needs 489\.3 MB, [\d.]+ [GT]B free/);

    const pull = await s.run(['models', 'pull', 'local', '--auto-approve']);
    assert.is(pull.exitCode, 0, String(pull.stderr) + String(pull.stdout));
    const po = String(pull.stdout);
    assert.match(po, /models\.local: downloading http:\/\/127\.0\.0\.1:\d+\/local\.bin -> /);
    assert.match(po, /models\.local: downloading: [\d.]+ [KM]B of 1\.0 MB \(\d+%\)/);
    assert.match(po, /models\.local: sha256 verified \([0-9a-f]{12}…\), 1\.0 MB/);
    assert.not.match(po, /whisper-small: /, 'models pull local touches only models.local');
    assert.ok(readFileSync(path.join(s.dir, 'out', 'local.bin')).equals(body));
    assert.equal(readdirSync(path.join(s.dir, 'out')), ['local.bin'], 'no temp file left behind');

    const again = await s.run(['plan', '--target', 'models.local']);
    assert.is(again.exitCode, 0);
    assert.match(String(again.stdout), /No changes\. Actual state matches the manifest\./);

    rmSync(path.join(s.dir, 'out', 'local.bin'));
    const drift = await s.run(['plan', '--target', 'models.local']);
    assert.match(String(drift.stdout), /# models\.local will be downloaded \(because .*out\/local\.bin does not exist\)/);
    const status = await s.run(['status', '--target', 'models.local']);
    assert.match(String(status.stdout), /models\.local\s+missing/, String(status.stdout) + String(status.stderr));
  } finally {
    s.cleanup();
  }
});

test('on a TTY the progress is a bar (run under script(1), a real pseudo-terminal)', async () => {
  if (!existsSync('/usr/bin/script')) return; // util-linux script(1) gives the CLI a real pty
  const body = randomBytes(MiB);
  const url = server.add('tty.bin', body);
  const s = setup(fileModel('tty', url, sha(body)));
  try {
    const cmd = `${process.execPath} ${cliPath} mini apply --auto-approve --no-color`;
    const r = await execa('/usr/bin/script', ['-qec', cmd, '/dev/null'], {
      cwd: s.dir,
      env: { PMOVES_HOME: s.home, PMOVES_PROGRESS_INTERVAL_MS: '0', NO_COLOR: '1' },
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });
    assert.is(r.exitCode, 0, String(r.stdout));
    const out = String(r.stdout);
    assert.match(out, /models\.tty: downloading \[\.{24}\]   0% 0 B\/1\.0 MB/);
    assert.match(out, /models\.tty: downloaded \[#{24}\] 100% 1\.0 MB\/1\.0 MB/);
  } finally {
    s.cleanup();
  }
});

test('a connection dropped half-way is resumed with a Range request in the same apply', async () => {
  const body = randomBytes(2 * MiB);
  const url = server.add('drop.bin', body, 'drop-once');
  const s = setup(fileModel('drop', url, sha(body)));
  try {
    const r = await s.run(['apply', '--auto-approve']);
    assert.is(r.exitCode, 0, String(r.stderr) + String(r.stdout));
    assert.match(String(r.stdout), /models\.drop: connection lost after [\d.]+ [KM]B .*; resuming/);
    const gets = server.log.filter((l) => l.path === '/drop.bin' && l.method === 'GET');
    assert.is(gets.length, 2);
    assert.is(gets[0]!.range, null);
    assert.match(gets[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
    assert.is(gets[1]!.status, 206);
    assert.ok(readFileSync(path.join(s.dir, 'out', 'drop.bin')).equals(body));
  } finally {
    s.cleanup();
  }
});

test('an apply killed mid-download leaves the partial file; the next apply resumes it (server log shows the Range request)', async () => {
  const body = randomBytes(4 * MiB);
  const url = server.add('hang.bin', body, 'hang-once');
  const s = setup(fileModel('hang', url, sha(body)));
  try {
    const child = cliSpawn(['mini', 'apply', '--auto-approve'], { cwd: s.dir, home: s.home });
    let exited = false;
    child.on('exit', () => (exited = true));
    const partial = async () => {
      if (exited) {
        const r = await child;
        throw new Error(`the apply ended before it was killed: ${String(r.stdout)}${String(r.stderr)}`);
      }
      const dir = path.join(s.dir, 'out');
      const f = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith('.partial')) : undefined;
      return f && statSync(path.join(dir, f)).size === 2 * MiB ? f : undefined;
    };
    const name = (await waitFor(partial, 'half of the file on disk', 60_000)) as string;
    child.kill('SIGKILL');
    await child;
    assert.ok(!existsSync(path.join(s.dir, 'out', 'hang.bin')));

    const plan = await s.run(['plan']);
    assert.match(String(plan.stdout), /resumes at 2\.1 MB of 4\.2 MB/);

    const r = await s.run(['apply', '--auto-approve']);
    assert.is(r.exitCode, 0, String(r.stderr) + String(r.stdout));
    assert.match(String(r.stdout), /models\.hang: resuming at 2\.1 MB of 4\.2 MB \(Range: bytes=2097152-\)/);
    assert.match(String(r.stdout), /resumed from 2\.1 MB/);
    const gets = server.log.filter((l) => l.path === '/hang.bin' && l.method === 'GET');
    assert.equal(
      gets.map((g) => [g.range, g.status]),
      [
        [null, 200],
        ['bytes=2097152-', 206],
      ],
    );
    assert.ok(readFileSync(path.join(s.dir, 'out', 'hang.bin')).equals(body));
    assert.ok(!existsSync(path.join(s.dir, 'out', name)));
  } finally {
    s.cleanup();
  }
});

test('plan --out then apply PLANFILE downloads exactly that', async () => {
  const body = randomBytes(200_000);
  const url = server.add('saved.bin', body);
  const s = setup(fileModel('saved', url, sha(body)));
  try {
    const plan = await s.run(['plan', '--out', 'models.plan']);
    assert.is(plan.exitCode, 0, String(plan.stdout) + String(plan.stderr));
    assert.match(String(plan.stdout), /Downloads: 200\.0 KB; disk: needs 202\.0 KB/);
    const r = await s.run(['apply', 'models.plan']);
    assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
    assert.ok(readFileSync(path.join(s.dir, 'out', 'saved.bin')).equals(body));
  } finally {
    s.cleanup();
  }
});

test('a wrong checksum fails with both digests, deletes the temp file and writes nothing', async () => {
  const body = randomBytes(256 * 1024);
  const url = server.add('wrong.bin', body);
  const claimed = sha(Buffer.from('something else'));
  const s = setup(fileModel('wrong', url, claimed));
  try {
    const r = await s.run(['apply', '--auto-approve']);
    assert.is(r.exitCode, 1);
    const out = String(r.stdout);
    assert.match(out, new RegExp(`sha256 mismatch for ${url.replace(/[./]/g, '\\$&')}: expected ${claimed}, got ${sha(body)}`));
    assert.match(out, /the download was deleted/);
    assert.match(out, /Apply failed: 1 failed/);
    assert.equal(readdirSync(path.join(s.dir, 'out')), []);
  } finally {
    s.cleanup();
  }
});

test('a 404 fails at once, without retries, naming the URL and the status', async () => {
  const s = setup(fileModel('gone', `${server.url}/no-such.bin`, 'c'.repeat(64), '    size: 1000\n'));
  try {
    const r = await s.run(['apply', '--auto-approve']);
    assert.is(r.exitCode, 1);
    assert.match(String(r.stdout), /models\.gone: Failed: cannot download http:\/\/127\.0\.0\.1:\d+\/no-such\.bin: HTTP 404 Not Found/);
    assert.is(server.log.filter((l) => l.path === '/no-such.bin' && l.method === 'GET').length, 1);
  } finally {
    s.cleanup();
  }
});

test('a server that keeps dropping: apply fails, keeps the partial file and says the next apply resumes it', async () => {
  const body = randomBytes(MiB);
  const url = server.add('flaky.bin', body, 'always-drop');
  const s = setup(fileModel('flaky', url, sha(body)));
  try {
    const r = await s.run(['apply', '--auto-approve']);
    assert.is(r.exitCode, 1);
    assert.match(String(r.stdout), /interrupted after [\d.]+ [KM]B: .*the partial file .*\.partial is kept and the next apply resumes it/);
    assert.is(server.log.filter((l) => l.path === '/flaky.bin' && l.method === 'GET').length, 3, 'one try and two resumes');
    assert.is(readdirSync(path.join(s.dir, 'out')).filter((n) => n.endsWith('.partial')).length, 1);
  } finally {
    s.cleanup();
  }
});

test('a download that does not fit on the disk is a plan error; apply changes nothing', async () => {
  const body = randomBytes(1024);
  const url = server.add('huge.bin', body);
  const s = setup(fileModel('huge', url, sha(body), '    size: 900 TB\n'));
  try {
    const plan = await s.run(['plan']);
    assert.is(plan.exitCode, 1);
    assert.match(String(plan.stdout), /Downloads: 900000\.0 GB|Downloads: 900\.0 TB/);
    assert.match(String(plan.stdout), /! not enough disk space in .*: the downloads need 909\.0 TB \(with 1% headroom\), [\d.]+ [GT]B is free/);
    const r = await s.run(['apply', '--auto-approve']);
    assert.is(r.exitCode, 1);
    assert.match(String(r.stdout), /Apply cancelled: the plan has errors/);
    assert.is(server.log.filter((l) => l.path === '/huge.bin' && l.method === 'GET').length, 0);
  } finally {
    s.cleanup();
  }
});

test('no size declared: the plan asks the server (HEAD) for the download size', async () => {
  const body = randomBytes(300_000);
  const url = server.add('nosize.bin', body);
  const s = setup(fileModel('nosize', url, sha(body)));
  try {
    const plan = await s.run(['plan']);
    assert.is(plan.exitCode, 0, String(plan.stderr));
    assert.match(String(plan.stdout), /Downloads: 300\.0 KB; disk: needs 303\.0 KB/);
    assert.ok(server.log.some((l) => l.path === '/nosize.bin' && l.method === 'HEAD'));
  } finally {
    s.cleanup();
  }
});

test('a file this tool downloaded is deleted when it leaves the manifest; a hand-placed one is not', async () => {
  const body = randomBytes(64 * 1024);
  const url = server.add('owned.bin', body);
  const s = setup(fileModel('owned', url, sha(body)));
  try {
    assert.is((await s.run(['apply', '--auto-approve'])).exitCode, 0);
    const file = path.join(s.dir, 'out', 'owned.bin');
    assert.ok(existsSync(file));
    // Same file, declared absent: this tool downloaded it, so it goes.
    writeFileSync(path.join(s.dir, 'pmoves.mini.yaml'), `apiVersion: pmoves.ai/mini/v1\nmodels:\n${fileModel('owned', url, sha(body), '    state: absent\n')}`);
    const plan = await s.run(['plan']);
    assert.match(String(plan.stdout), /# models\.owned will be destroyed \(because the manifest says absent and this tool downloaded it\)/);
    assert.is((await s.run(['apply', '--auto-approve'])).exitCode, 0);
    assert.ok(!existsSync(file));

    // A file put there by hand and declared absent stays, with a warning.
    writeFileSync(file, body);
    writeFileSync(path.join(s.dir, 'pmoves.mini.yaml'), `apiVersion: pmoves.ai/mini/v1\nmodels:\n${fileModel('owned', url, sha(body), '    state: absent\n')}`);
    const p2 = await s.run(['plan']);
    assert.is(p2.exitCode, 0);
    assert.match(String(p2.stdout), /! models\.owned .*out\/owned\.bin is declared absent but was not downloaded by pmoves mini, so it is not deleted \(apply --force deletes it\)/);
    assert.match(String(p2.stdout), /No changes/);
    const a2 = await s.run(['apply', '--auto-approve']);
    assert.is(a2.exitCode, 0);
    assert.ok(existsSync(file));
  } finally {
    s.cleanup();
  }
});

test('a file put there by hand is hashed once (digest cache), and an edit to it is still seen', async () => {
  const body = randomBytes(128 * 1024);
  const url = server.add('hand.bin', body);
  const s = setup(fileModel('hand', url, sha(body)));
  try {
    mkdirSync(path.join(s.dir, 'out'), { recursive: true });
    const file = path.join(s.dir, 'out', 'hand.bin');
    writeFileSync(file, body);
    const p1 = await s.run(['plan']);
    assert.match(String(p1.stdout), /No changes/, String(p1.stdout));
    const cache = path.join(s.home, 'cache', 'sha256');
    const entries = readdirSync(cache);
    assert.is(entries.length, 1);
    assert.is((JSON.parse(readFileSync(path.join(cache, entries[0]!), 'utf8')) as { sha256: string }).sha256, sha(body));
    assert.is(server.log.filter((l) => l.path === '/hand.bin').length, 0, 'nothing downloaded');
    // Same size, other bytes: mtime moves, the cache entry no longer applies, the plan sees the change.
    const other = Buffer.from(body);
    other[0] = other[0]! ^ 0xff;
    writeFileSync(file, other);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    // (and, as pmoves did not download it, it is not replaced without --force: the takeover rule)
    const p2 = await s.run(['plan']);
    assert.match(String(p2.stdout), new RegExp(`will not replace ${file.replace(/[.]/g, '\\.')}: pmoves did not download it \\(sha256 ${sha(other).slice(0, 12)}… on disk is not ${sha(body).slice(0, 12)}…\\)`), String(p2.stdout));
  } finally {
    s.cleanup();
  }
});

test('bad input: a file model without sha256, a bad URL and an unknown bundle name file:line:column', async () => {
  const s = setup('  m:\n    provider: file\n    url: ftp://example.invalid/m.bin\n    sha256: ' + 'a'.repeat(64) + '\n  n:\n    provider: file\n    url: http://example.invalid/n.bin\n', 'bundles: [whisper-smal-int8]\n');
  try {
    const r = await s.run(['validate']);
    assert.is(r.exitCode, 1);
    const err = String(r.stderr);
    assert.match(err, /pmoves\.mini\.yaml:\d+:\d+: models\.n: missing required key "sha256"/);
    assert.not.match(err, /at .*\.js:\d+/, 'no stack trace');
  } finally {
    s.cleanup();
  }
  const s2 = setup('  m:\n    provider: file\n    url: ftp://example.invalid/m.bin\n    sha256: ' + 'a'.repeat(64) + '\n', 'bundles: [whisper-smal-int8]\n');
  try {
    const r = await s2.run(['validate']);
    assert.is(r.exitCode, 1);
    const err = String(r.stderr);
    assert.match(err, /pmoves\.mini\.yaml:2:11: no model bundle "whisper-smal-int8"; did you mean "whisper-small-int8"\?/);
  } finally {
    s2.cleanup();
  }
  const s3 = setup('  m:\n    provider: file\n    url: ftp://example.invalid/m.bin\n    sha256: ' + 'a'.repeat(64) + '\n');
  try {
    const r = await s3.run(['validate']);
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:5:10: models\.m\.url: expected an http:\/\/ or https:\/\/ URL/);
  } finally {
    s3.cleanup();
  }
  const s4 = setup('  m:\n    provider: ollama\n    model: x:1\n    sha256: ' + 'a'.repeat(64) + '\n');
  try {
    const r = await s4.run(['validate']);
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:6:13: models\.m\.sha256: only for provider: file \(this model has provider: ollama\)/);
  } finally {
    s4.cleanup();
  }
});

test.run();
