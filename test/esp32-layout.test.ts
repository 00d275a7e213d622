// esptool's layout rules, before anything is written: `validate` and `plan` refuse overlapping regions,
// regions that share a 4 KiB sector, offsets inside a sector, images that do not fit in flash_size, and a
// bootloader where the chip's ROM does not look, each with the rule, the regions and the manifest's
// file:line:column; for an ESP32-S3, an ESP32-C3 and a classic ESP32. No board is needed (nor opened).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir } from './helpers.js';

const L = suite<{ t: ReturnType<typeof tempDir> }>('esp32 layout rules');

L.before((c) => {
  c.t = tempDir('pmoves-esp32-layout-');
  writeFileSync(path.join(c.t.dir, 'boot.bin'), Buffer.alloc(0x9000, 0xe9)); // 36 KB: runs over 0x8000
  writeFileSync(path.join(c.t.dir, 'small-boot.bin'), Buffer.alloc(20_001, 0xe9));
  writeFileSync(path.join(c.t.dir, 'pt.bin'), Buffer.alloc(3072, 0xaa));
  writeFileSync(path.join(c.t.dir, 'app.bin'), Buffer.alloc(276_000, 0x5a));
});

L.after((c) => c.t.cleanup());

const BOOT: Record<string, number> = { esp32s3: 0x0, esp32c3: 0x0, esp32: 0x1000 };

/** One device per rule, each with exactly one problem; line numbers are found from the text. */
function manifest(chip: string): string {
  const wrongBoot = BOOT[chip] === 0 ? '0x1000' : '0x0';
  return [
    'apiVersion: pmoves.ai/mini/v1',
    'devices:',
    '  overlap:',
    `    { type: esp32, port: /dev/null, chip: ${chip}, bootloader: { file: boot.bin, offset: 0 }, partition_table: { file: pt.bin } }`,
    '  shared:',
    `    type: esp32`,
    '    port: /dev/null',
    `    chip: ${chip}`,
    '    partition_table: { file: pt.bin }',
    '    firmware: { file: app.bin, offset: 0x10000 }',
    '    config:',
    '      offset: 0x8000', // the partition table's own sector
    '  unaligned:',
    `    type: esp32`,
    '    port: /dev/null',
    `    chip: ${chip}`,
    '    partition_table: { file: pt.bin }',
    '    config:',
    '      offset: 0x8C00',
    '  toobig:',
    `    type: esp32`,
    '    port: /dev/null',
    `    chip: ${chip}`,
    '    flash_size: 4MB',
    '    firmware:',
    '      file: app.bin',
    '      offset: 0x3F0000',
    '  wrongboot:',
    `    type: esp32`,
    '    port: /dev/null',
    `    chip: ${chip}`,
    '    bootloader:',
    '      file: small-boot.bin',
    `      offset: ${wrongBoot}`,
    '  good:',
    `    type: esp32`,
    '    port: /dev/null',
    `    chip: ${chip}`,
    '    bootloader: { file: small-boot.bin }',
    '    partition_table: { file: pt.bin }',
    '    firmware: { file: app.bin }',
    '    config: { offset: 0x9000, mqtt_url: "mqtt://broker.local:1883" }',
    '',
  ].join('\n');
}

const lineOf = (text: string, needle: string, from = 0) => text.split('\n').findIndex((l, i) => i >= from && l.includes(needle)) + 1;

for (const chip of ['esp32s3', 'esp32c3', 'esp32']) {
  L(`${chip}: validate names each rule, both regions and the manifest position; plan refuses the same; the good device passes`, async (c) => {
    const text = manifest(chip);
    const file = path.join(c.t.dir, `${chip}.yaml`);
    writeFileSync(file, text);
    const r = await cli(['mini', 'validate', '-m', file], { cwd: c.t.dir, home: path.join(c.t.dir, 'home') });
    const out = String(r.stdout) + String(r.stderr);
    assert.is(r.exitCode, 1, out);
    assert.not.match(out, /\n\s+at /, 'no stack trace');
    const boot = BOOT[chip]!;
    const hx = (n: number) => `0x${n.toString(16)}`;

    // overlap: a 36 KB bootloader at 0 runs over the partition table at 0x8000
    assert.match(out, `devices.overlap: partition_table at 0x8000–0x8c00 overlaps bootloader at 0x0–0x9000`);
    assert.match(out, `${path.basename(file)}:${lineOf(text, 'overlap:') + 1}:`);
    // shared sector: config at 0x8000 is inside the partition table's range → overlap; 0x8c00 → unaligned
    assert.match(out, /devices\.shared: config at 0x8000–0x8[0-9a-f]+ overlaps partition_table at 0x8000–0x8c00/);
    assert.match(out, `${path.basename(file)}:${lineOf(text, 'offset: 0x8000')}:`);
    assert.match(out, 'devices.unaligned: config at 0x8c00 is not at the start of a 4 KiB flash sector: writing it erases the 0xc00 bytes from 0x8000 before it (partition_table at 0x8000–0x8c00 is in that sector)');
    assert.match(out, `devices.unaligned: config at 0x8c00–0x8`);
    assert.match(out, 'shares the 4 KiB sector 0x8000 with partition_table at 0x8000–0x8c00');
    assert.match(out, `${path.basename(file)}:${lineOf(text, 'offset: 0x8C00')}:`);
    assert.match(out, 'devices.toobig: firmware at 0x3f0000–0x433620 (276000 bytes) does not fit in flash_size 4MB (ends at 0x400000)');
    assert.match(out, `${path.basename(file)}:${lineOf(text, 'offset: 0x3F0000')}:`);
    assert.match(out, `devices.wrongboot: bootloader at ${boot === 0 ? '0x1000' : '0x0'}: the ${chip} ROM starts the bootloader at ${hx(boot)}`);
    assert.not.match(out, /devices\.good:/);
    assert.match(out, /layout rule: (no-overlap|own-sector|sector-aligned|fits-flash|bootloader-offset)/);

    const plan = await cli(['mini', 'plan', '-m', file], { cwd: c.t.dir, home: path.join(c.t.dir, 'home') });
    assert.is(plan.exitCode, 1);
    assert.match(String(plan.stdout) + String(plan.stderr), 'devices.overlap: partition_table at 0x8000–0x8c00 overlaps bootloader at 0x0–0x9000');
  });
}

L.run();
