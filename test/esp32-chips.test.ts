// devices.<name> type esp32 on an ESP32-S3, an ESP32-C3 and a classic ESP32 (test/esp32-peer.ts, which
// real esptool accepts: test/esp32-esptool.test.ts), with a bootloader, a partition table, an app and a
// config partition: flashed in one session and checked by real esptool's verify_flash; a later write that
// erases an earlier region, an MD5 mismatch after the writes, a board that hangs while the plan reads it
// (and while the stub uploads), and one that hangs mid-write, each failing with the region or the port,
// what was being done and the recovery, and each repaired by the next apply.
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Esp32Peer, type PeerChip } from './esp32-peer.js';
import { cli, repoRoot, tempDir } from './helpers.js';

const ESPTOOL = process.env.PMOVES_ESPTOOL ?? path.resolve(repoRoot, '..', 'shared', 'tools', 'esptool');
const BOOT: Record<PeerChip, number> = { esp32s3: 0x0, esp32c3: 0x0, esp32: 0x1000 };
const PT = 0x8000;
const APP = 0x10000;

interface Ctx {
  t: ReturnType<typeof tempDir>;
  peer: Esp32Peer;
  boot: Buffer;
  pt: Buffer;
  app: Buffer;
}

const C = suite<Ctx>('esp32 on three chips');

C.before(async (c) => {
  c.t = tempDir('pmoves-esp32-chips-');
  c.peer = await Esp32Peer.start(c.t.dir);
  c.boot = randomBytes(20_001); // odd length: padded to 4 with 0xFF when written
  c.pt = randomBytes(3072);
  c.app = Buffer.from(randomBytes(45_000).toString('base64')); // ~60 KB, several 16 KB compressed blocks
  writeFileSync(path.join(c.t.dir, 'bootloader.bin'), c.boot);
  writeFileSync(path.join(c.t.dir, 'partition-table.bin'), c.pt);
  writeFileSync(path.join(c.t.dir, 'app.bin'), c.app);
});

C.after(async (c) => {
  await c.peer.stop();
  c.t.cleanup();
});

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const pad4 = (b: Buffer) => (b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4), 0xff)]) : b);

function manifest(c: Ctx, chip: PeerChip): string {
  const file = path.join(c.t.dir, `${chip}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: pmoves.ai/mini/v1',
      'devices:',
      '  board:',
      '    type: esp32',
      `    port: ${c.peer.hostPath}`,
      `    chip: ${chip}`,
      '    baud: 921600',
      '    bootloader: { file: bootloader.bin }',
      '    partition_table: { file: partition-table.bin }',
      '    firmware: { file: app.bin }',
      '    config: { offset: 0x9000, wifi_password_from_secret: WIFI_PASSWORD, mqtt_url: "mqtt://broker.local:1883" }',
      '',
    ].join('\n'),
  );
  return file;
}

async function run(c: Ctx, chip: PeerChip, args: string[]) {
  const r = await cli(['mini', ...args, '-m', manifest(c, chip)], { cwd: c.t.dir, home: path.join(c.t.dir, `home-${chip}`), env: { WIFI_PASSWORD: 'pw-not-shown' }, timeout: 120_000 });
  return { code: r.exitCode, out: `${r.stdout}${r.stderr}` };
}

function esptool(c: Ctx, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(ESPTOOL, ['--port', c.peer.hostPath, ...args], { cwd: c.t.dir, timeout: 120_000, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    ),
  );
}

const holds = (c: Ctx, at: number, b: Buffer) => Buffer.from(c.peer.flash.subarray(at, at + b.length)).equals(b);

for (const chip of ['esp32s3', 'esp32c3', 'esp32'] as PeerChip[]) {
  const boot = BOOT[chip];
  const hx = (n: number) => `0x${n.toString(16)}`;

  C(`${chip}: blank board → one session writes all four regions → real esptool verifies them → no changes`, async (c) => {
    c.peer.chip = chip;
    c.peer.powerCycle();
    c.peer.flash.fill(0xff);
    c.peer.seen.length = 0;
    const r = await run(c, chip, ['apply', '--auto-approve']);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, `wrote bootloader at ${hx(boot)}, partition_table at 0x8000, firmware at 0x10000, config at 0x9000; verified the whole board by MD5 after the last write`);
    assert.is(c.peer.seen.filter((n) => n === 'MEM_END').length, 1, 'the stub is uploaded once');
    assert.is(c.peer.seen.filter((n) => n === 'FLASH_DEFL_BEGIN').length, 4);
    assert.ok(holds(c, boot, c.boot) && holds(c, PT, c.pt) && holds(c, APP, c.app));

    const v = await esptool(c, ['verify_flash', hx(boot), 'bootloader.bin', '0x8000', 'partition-table.bin', '0x10000', 'app.bin']);
    assert.is(v.code, 0, v.out);
    assert.is(v.out.split('-- verify OK').length - 1, 3, v.out);

    const again = await run(c, chip, ['plan', '--detailed-exitcode']);
    assert.is(again.code, 0, again.out);
    assert.match(again.out, 'No changes.');
  });

  C(`${chip}: a later write that erases an earlier region is caught by the verify after the last write, naming the region`, async (c) => {
    c.peer.flash[APP + 100]! ^= 0xff; // only the firmware will be written...
    c.peer.eraseAlsoOnce(PT); // ...and the board erases the partition table's sector with it
    const r = await run(c, chip, ['apply', '--auto-approve']);
    assert.is(r.code, 1, r.out);
    const blank = md5(Buffer.alloc(3072, 0xff));
    assert.match(r.out, `devices.board: verification after the last write failed: partition_table at 0x8000–0x8c00 has MD5 ${blank} on the board, not the image's ${md5(c.pt)}`);
    assert.not.match(r.out, /firmware at 0x10000–\S+ has MD5/);
    assert.not.match(r.out, /\n\s+at /, 'no stack trace');
    const fix = await run(c, chip, ['apply', '--auto-approve']);
    assert.is(fix.code, 0, fix.out);
    assert.match(fix.out, 'wrote partition_table at 0x8000;');
    assert.ok(holds(c, PT, c.pt) && holds(c, APP, c.app));
    if (chip === 'esp32s3') {
      // the config partition holds secrets: named, but neither its content nor its digests are shown
      const size = c.peer.flash.indexOf(0, 0x9000) + 1 - 0x9000;
      const doc = c.peer.md5(0x9000, size + ((4 - (size % 4)) % 4));
      c.peer.flash[APP + 100]! ^= 0xff;
      c.peer.eraseAlsoOnce(0x9000);
      const cfg = await run(c, chip, ['apply', '--auto-approve']);
      assert.is(cfg.code, 1, cfg.out);
      assert.match(cfg.out, /verification after the last write failed: config at 0x9000–0x9[0-9a-f]+ differs on the board from the document written \(its digests are not shown: it holds secrets\)/);
      assert.not.ok(cfg.out.includes(doc) || cfg.out.includes('pw-not-shown'), cfg.out);
      const again = await run(c, chip, ['apply', '--auto-approve']);
      assert.is(again.code, 0, again.out);
    }
  });

  C(`${chip}: an MD5 mismatch after the write names the region, its range and both digests`, async (c) => {
    c.peer.flash[APP + 100]! ^= 0xff;
    c.peer.flipBitOnce(APP + 0x3000);
    const r = await run(c, chip, ['apply', '--auto-approve']);
    assert.is(r.code, 1, r.out);
    const have = c.peer.md5(APP, c.app.length + ((4 - (c.app.length % 4)) % 4));
    assert.match(r.out, `firmware at 0x10000–${hx(APP + pad4(c.app).length)} has MD5 ${have} on the board, not the image's ${md5(pad4(c.app))}`);
    assert.not.match(r.out, /write failed at offset/);
    const fix = await run(c, chip, ['apply', '--auto-approve']);
    assert.is(fix.code, 0, fix.out);
    assert.ok(holds(c, APP, c.app));
  });

  C(`${chip}: a board that hangs while the plan reads it: the port, what was being read, and the recovery`, async (c) => {
    c.peer.seen.length = 0;
    c.peer.hangOn('SPI_FLASH_MD5', 2);
    const r = await run(c, chip, ['plan']);
    c.peer.powerCycle();
    assert.is(r.code, 1, r.out);
    assert.match(r.out, `the ESP32 on ${c.peer.hostPath} stopped answering while reading the MD5 of partition_table at 0x8000–0x8c00 (`);
    assert.match(r.out, '(this port cannot drive DTR/RTS: hold BOOT, press RESET, then try again); nothing was written');
    if (chip === 'esp32s3') {
      // after the connect, during the stub upload (the findings' E5; reads need no stub, a write does)
      c.peer.flash[APP + 100]! ^= 0xff;
      c.peer.hangOn('MEM_DATA', 2);
      const s = await run(c, chip, ['apply', '--auto-approve']);
      c.peer.powerCycle();
      assert.is(s.code, 1, s.out);
      assert.match(s.out, `the ESP32 on ${c.peer.hostPath} stopped answering while starting the flasher stub (`);
      assert.match(s.out, 'hold BOOT, press RESET, then try again');
      assert.not.match(s.out, /half-flashed/);
      assert.is(c.peer.seen.filter((n) => n.startsWith('FLASH_')).length, 0, 'nothing was written');
      c.peer.flash[APP + 100]! ^= 0xff;
    }
    const ok = await run(c, chip, ['plan', '--detailed-exitcode']);
    assert.is(ok.code, 0, ok.out);
  });

  C(`${chip}: a board that hangs mid-write: the region, the block, the recovery; the next apply completes`, async (c) => {
    c.peer.flash[APP + 100]! ^= 0xff;
    c.peer.goSilentAfter(1);
    const r = await run(c, chip, ['apply', '--auto-approve']);
    c.peer.powerCycle();
    assert.is(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`the ESP32 on \\S+ stopped answering while writing firmware at 0x10000–${hx(APP + pad4(c.app).length)} \\(block 1 of \\d+, about 0x10000\\) \\(this port cannot drive DTR/RTS`));
    assert.match(r.out, 'is half-flashed and will not boot this image. Retry: pmoves mini edge flash --device board');
    const fix = await run(c, chip, ['apply', '--auto-approve']);
    assert.is(fix.code, 0, fix.out);
    assert.ok(holds(c, APP, c.app));
  });
}

C.run();
