// The ESP32 peer (test/esp32-peer.ts) checked against the reference client of its protocol: real esptool
// v4.8.1, unmodified (../shared/tools/esptool), for an ESP32-S3, an ESP32-C3 and a classic ESP32, through
// the flasher stub and through the ROM (--no-stub): chip_id, flash_id, write_flash (esptool verifies by
// MD5), verify_flash, verify_flash failing after one flipped byte, read_flash; and a write at an offset
// inside a sector erases that sector from its start, as the stub and the ROM do.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Esp32Peer, type PeerChip } from './esp32-peer.js';
import { repoRoot, tempDir } from './helpers.js';

const ESPTOOL = process.env.PMOVES_ESPTOOL ?? path.resolve(repoRoot, '..', 'shared', 'tools', 'esptool');
const APP = 0x10000;

interface Ctx {
  t: ReturnType<typeof tempDir>;
  peer: Esp32Peer;
  image: Buffer;
  file: string;
}

const T = suite<Ctx>('esptool v4.8.1 against the ESP32 peer');

T.before(async (c) => {
  c.t = tempDir('pmoves-esptool-');
  c.peer = await Esp32Peer.start(c.t.dir);
  c.image = randomBytes(40_000);
  c.file = path.join(c.t.dir, 'app.bin');
  writeFileSync(c.file, c.image);
});

T.after(async (c) => {
  await c.peer.stop();
  c.t.cleanup();
});

function esptool(c: Ctx, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(ESPTOOL, ['--port', c.peer.hostPath, ...args], { timeout: 120_000, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    ),
  );
}

const NAMES: Record<PeerChip, string> = { esp32s3: 'ESP32-S3', esp32c3: 'ESP32-C3', esp32: 'ESP32' };

for (const chip of ['esp32s3', 'esp32c3', 'esp32'] as PeerChip[]) {
  for (const stub of [true, false]) {
    const mode = stub ? [] : ['--no-stub'];
    T(`${chip} ${stub ? 'through the stub' : 'through the ROM (--no-stub)'}: chip_id, flash_id, write, verify, a flipped byte, read`, async (c) => {
      c.peer.chip = chip;
      c.peer.flash.fill(0xff);
      const id = await esptool(c, [...mode, 'chip_id']);
      assert.is(id.code, 0, id.out);
      assert.match(id.out, `Chip is ${NAMES[chip]}`);
      assert.match(id.out, 'MAC: 7c:df:a1:12:34:56');
      if (chip === 'esp32') assert.match(id.out, 'Unsupported detection protocol, switching and trying again');
      assert.is(id.out.includes('Uploading stub'), stub);

      const flash = await esptool(c, [...mode, 'flash_id']);
      assert.is(flash.code, 0, flash.out);
      assert.match(flash.out, 'Manufacturer: ef');
      assert.match(flash.out, 'Detected flash size: 4MB');

      const write = await esptool(c, [...mode, 'write_flash', `0x${APP.toString(16)}`, c.file]);
      assert.is(write.code, 0, write.out);
      assert.match(write.out, 'Hash of data verified.');
      assert.ok(Buffer.from(c.peer.flash.subarray(APP, APP + c.image.length)).equals(c.image), 'the peer holds the image');

      const verify = await esptool(c, [...mode, 'verify_flash', `0x${APP.toString(16)}`, c.file]);
      assert.is(verify.code, 0, verify.out);
      assert.match(verify.out, '-- verify OK (digest matched)');

      c.peer.flash[APP + 12_345]! ^= 0x01;
      const bad = await esptool(c, [...mode, 'verify_flash', `0x${APP.toString(16)}`, c.file]);
      assert.is(bad.code, 2, bad.out);
      assert.match(bad.out, '-- verify FAILED (digest mismatch)');
      c.peer.flash[APP + 12_345]! ^= 0x01;

      const out = path.join(c.t.dir, `read-${chip}-${stub}.bin`);
      const read = await esptool(c, [...mode, 'read_flash', `0x${APP.toString(16)}`, String(stub ? c.image.length : 3000), out]);
      assert.is(read.code, 0, read.out);
      assert.ok(readFileSync(out).equals(c.image.subarray(0, stub ? c.image.length : 3000)), 'read_flash returns the flash');
    });
  }
}

T('a write inside a sector erases it from the sector start (esptool warns; the peer does it)', async (c) => {
  c.peer.chip = 'esp32s3';
  c.peer.flash.fill(0x00, 0x30000, 0x31000);
  const r = await esptool(c, ['write_flash', '0x30800', c.file]);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, 'WARNING: Flash address 0x00030800 is not aligned to a 0x1000 byte flash sector. 0x800 bytes before this address will be erased.');
  assert.ok(c.peer.flash.subarray(0x30000, 0x30800).every((b) => b === 0xff), 'the 0x800 bytes before it are erased');
  assert.ok(Buffer.from(c.peer.flash.subarray(0x30800, 0x30800 + c.image.length)).equals(c.image));
});

T.run();
