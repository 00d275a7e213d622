// devices.<name> type esp32 end to end: the built CLI talks through esptool-js and serialport to a peer
// that answers as an ESP32-S3's ROM bootloader and flasher stub on a socat pty pair (test/esp32-peer.ts).
// Plan on a blank board, apply, re-plan, drift, a board that hangs mid-write, a wrong chip, the
// `edge flash` shortcut, and a Wi-Fi password that never shows.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Esp32Peer } from './esp32-peer.js';
import { cli, repoRoot, tempDir } from './helpers.js';

const CANARY = `canary-wifi-${randomBytes(6).toString('hex')}`;
const APP = 0x10000;
const CONFIG = 0x9000;

interface Ctx {
  t: ReturnType<typeof tempDir>;
  peer: Esp32Peer;
  image: Buffer;
  manifest: string;
  outputs: string[];
}

const E = suite<Ctx>('esp32');

E.before(async (c) => {
  c.t = tempDir('pmoves-edge-');
  c.peer = await Esp32Peer.start(c.t.dir);
  // ~150 KB that deflate shrinks only somewhat: several 16 KB compressed blocks
  c.image = Buffer.from(randomBytes(110_000).toString('base64'));
  writeFileSync(path.join(c.t.dir, 'sonatino.bin'), c.image);
  c.manifest = path.join(c.t.dir, 'pmoves.mini.yaml');
  writeFileSync(
    c.manifest,
    [
      'apiVersion: pmoves.ai/mini/v1',
      'devices:',
      '  sonatino:',
      '    type: esp32',
      `    port: ${c.peer.hostPath}`,
      '    chip: esp32s3',
      '    firmware:',
      '      file: sonatino.bin',
      `      sha256: ${createHash('sha256').update(c.image).digest('hex')}`,
      '    config:',
      `      offset: ${CONFIG}`,
      '      wifi_ssid_from_secret: WIFI_SSID',
      '      wifi_password_from_secret: WIFI_PASSWORD',
      '      mqtt_url: mqtt://broker.local:1883',
      '',
    ].join('\n'),
  );
  c.outputs = [];
});

E.after(async (c) => {
  await c.peer.stop();
  c.t.cleanup();
});

async function run(c: Ctx, args: string[]) {
  const r = await cli(['mini', ...args, '-m', c.manifest], { cwd: c.t.dir, home: path.join(c.t.dir, 'home'), env: { WIFI_SSID: 'pmoves-lab', WIFI_PASSWORD: CANARY }, timeout: 180_000 });
  c.outputs.push(String(r.stdout), String(r.stderr));
  return r;
}

function flashed(c: Ctx): Buffer {
  return Buffer.from(c.peer.flash.subarray(APP, APP + c.image.length));
}

E('plan on a blank board: the firmware will be flashed, with size and time', async (c) => {
  const r = await run(c, ['plan']);
  assert.is(r.exitCode, 0, String(r.stderr));
  const md5 = createHash('md5').update(c.image).digest('hex');
  assert.match(String(r.stdout), `devices.sonatino will be flashed (because firmware (blank) -> ${md5.slice(0, 4)}…`);
  assert.match(String(r.stdout), /\(\d+\.\d KB, ~\d+ s at 921600 baud\); config partition differs\)/);
  assert.match(String(r.stdout), /Plan: 0 to add, 1 to change, 0 to destroy\./);
  assert.ok(c.peer.flash.every((b) => b === 0xff), 'plan wrote nothing');
});

E('apply flashes through the stub, compressed, and the board holds exactly the image', async (c) => {
  c.peer.seen.length = 0;
  const r = await run(c, ['apply', '--auto-approve']);
  assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
  assert.match(String(r.stdout), /Apply complete! Resources: 0 added, 1 changed, 0 destroyed\./);
  assert.match(String(r.stdout), /devices\.sonatino: wrote firmware at 0x10000, config at 0x9000; verified the whole board by MD5 after the last write: 0x10000 [0-9a-f]{4}…, config at 0x9000; reset into the app/);
  assert.ok(flashed(c).equals(c.image), 'the peer flash equals the image');
  assert.ok(c.peer.seen.includes('MEM_END') && c.peer.seen.includes('FLASH_DEFL_DATA') && c.peer.seen.includes('CHANGE_BAUDRATE'), c.peer.seen.join(','));
  // one session: the plan's read, the apply's re-read and the write share one connection and one stub
  assert.is(c.peer.seen.filter((n) => n === 'MEM_END').length, 1, c.peer.seen.join(','));
  assert.is(c.peer.seen.filter((n) => n === 'GET_SECURITY_INFO').length, 1, c.peer.seen.join(','));
  assert.not.ok(c.peer.seen.includes('FLASH_DATA'), 'compressed writes only');
  // the config partition: one JSON document the firmware reads, with the default topic prefix
  const cfg = Buffer.from(c.peer.flash.subarray(CONFIG, CONFIG + 4096));
  const doc = JSON.parse(cfg.subarray(0, cfg.indexOf(0)).toString()) as { wifi: { ssid: string; password: string }; mqtt: { url: string; topic_prefix: string } };
  assert.equal(doc, { wifi: { ssid: 'pmoves-lab', password: CANARY }, mqtt: { url: 'mqtt://broker.local:1883', topic_prefix: 'pmoves/sonatino/' } });
});

E('plan after apply: no changes (the MD5s match)', async (c) => {
  const r = await run(c, ['plan', '--detailed-exitcode']);
  assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
  assert.match(String(r.stdout), /No changes\. Actual state matches the manifest\./);
});

E('one byte flipped on the board is drift', async (c) => {
  c.peer.flash[APP + 5000] ^= 0xff;
  const r = await run(c, ['plan', '--detailed-exitcode']);
  assert.is(r.exitCode, 2, String(r.stderr));
  const want = createHash('md5').update(c.image).digest('hex').slice(0, 4);
  const have = c.peer.md5(APP, c.image.length).slice(0, 4);
  assert.match(String(r.stdout), `firmware ${have}… -> ${want}…`);
  assert.not.match(String(r.stdout), /config partition differs/);
});

E('a board that stops answering mid-write: an error naming the offset and the retry; the next apply completes', async (c) => {
  c.peer.goSilentAfter(2);
  const r = await run(c, ['apply', '--auto-approve']);
  assert.is(r.exitCode, 1);
  const out = String(r.stdout) + String(r.stderr);
  assert.match(out, /devices\.sonatino: the ESP32 on \S+ttyESP stopped answering while writing firmware at 0x10000–0x[0-9a-f]+ \(block 2 of \d+, about 0x1[0-9a-f]{4}\) \(this port cannot drive DTR\/RTS/);
  assert.match(out, /hold BOOT, press RESET, then try again/);
  assert.match(out, /is half-flashed and will not boot this image\. Retry: pmoves mini edge flash --device sonatino/);
  assert.not.match(out, /\n\s+at /, 'no stack trace');
  assert.not.ok(flashed(c).equals(c.image));

  c.peer.powerCycle(); // the user presses RESET
  const again = await run(c, ['apply', '--auto-approve']);
  assert.is(again.exitCode, 0, String(again.stdout) + String(again.stderr));
  assert.ok(flashed(c).equals(c.image));
});

E('edge flash --device esp32-sonatino: the profile id finds devices.sonatino; consent as apply', async (c) => {
  c.peer.flash[APP + 100] ^= 0x01;
  const refused = await run(c, ['edge', 'flash', '--device', 'esp32-sonatino']);
  assert.is(refused.exitCode, 1);
  assert.match(String(refused.stdout), /devices\.sonatino will be flashed/);
  assert.match(String(refused.stderr), /--auto-approve/);
  assert.not.ok(flashed(c).equals(c.image), 'nothing written without consent');

  const r = await run(c, ['edge', 'flash', '--device', 'esp32-sonatino', '--auto-approve']);
  assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
  assert.ok(flashed(c).equals(c.image));

  const unknown = await run(c, ['edge', 'flash', '--device', 'nosuch']);
  assert.is(unknown.exitCode, 1);
  assert.match(String(unknown.stderr), /--device nosuch: no ESP32 of that name under devices: \(declared: sonatino\)/);
});

E('firmware from a URL: downloaded once into the cache, sha256-verified, then flashed', async (c) => {
  const next = Buffer.from(randomBytes(60_000).toString('hex'));
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    res.writeHead(200, { 'content-length': String(next.length) });
    res.end(next);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sonatino-2.bin`;
    const sha = createHash('sha256').update(next).digest('hex');
    writeFileSync(c.manifest, readFileSync(c.manifest, 'utf8').replace(/      file: sonatino\.bin\n      sha256: [0-9a-f]+/, `      url: ${url}\n      sha256: ${sha}`));
    const plan = await run(c, ['plan']);
    assert.is(plan.exitCode, 0, String(plan.stdout) + String(plan.stderr));
    assert.match(String(plan.stdout), `(because firmware (not compared) -> (to download) (not downloaded yet from ${url}))`);
    assert.is(requests, 0, 'plan downloads nothing');
    const r = await run(c, ['apply', '--auto-approve']);
    assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
    c.image = next;
    assert.ok(flashed(c).equals(next));
    const again = await run(c, ['plan', '--detailed-exitcode']);
    assert.is(again.exitCode, 0, String(again.stdout));
    assert.is(requests, 1);
  } finally {
    server.close();
  }
});

E('a different chip on the port is a plan error, and nothing is written', async (c) => {
  c.peer.chip = 'esp32c3';
  const before = Buffer.from(c.peer.flash);
  const r = await run(c, ['plan']);
  c.peer.chip = 'esp32s3';
  assert.is(r.exitCode, 1);
  assert.match(String(r.stdout) + String(r.stderr), /! devices\.sonatino the board on \S+ttyESP is an esp32c3, not the declared esp32s3/);
  assert.ok(Buffer.from(c.peer.flash).equals(before));
});

E('port: auto finds the board by its USB id (the recorded esp32-box machine, its tty linked to the peer)', async (c) => {
  const root = path.join(c.t.dir, 'esp32-box');
  cpSync(path.join(repoRoot, 'test', 'fixtures', 'machines', 'esp32-box', 'root'), root, { recursive: true, verbatimSymlinks: true });
  cpSync(path.join(repoRoot, 'test', 'fixtures', 'machines', 'esp32-box', 'commands.json'), path.join(c.t.dir, 'esp32-box.json'));
  mkdirSync(path.join(root, 'dev'));
  symlinkSync(c.peer.hostPath, path.join(root, 'dev', 'ttyACM0'));
  const auto = path.join(c.t.dir, 'auto.yaml');
  writeFileSync(auto, readFileSync(c.manifest, 'utf8').replace(`port: ${c.peer.hostPath}`, 'port: auto'));
  const env = { PMOVES_SYSROOT: root, PMOVES_RECORDED_COMMANDS: path.join(c.t.dir, 'esp32-box.json'), WIFI_SSID: 'pmoves-lab', WIFI_PASSWORD: CANARY };
  const plan = () => cli(['mini', 'plan', '-m', auto], { cwd: c.t.dir, home: path.join(c.t.dir, 'home'), env, timeout: 120_000 });

  // this machine has two boards (native USB and a CH340): auto does not guess
  const two = await plan();
  c.outputs.push(String(two.stdout), String(two.stderr));
  assert.is(two.exitCode, 1);
  assert.match(String(two.stdout) + String(two.stderr), /port: auto found 2 ESP32 boards \(\/dev\/ttyACM0 \(303a:1001\), \/dev\/ttyUSB0 \(1a86:7523\)\); name one as port:/);

  rmSync(path.join(root, 'sys', 'class', 'tty', 'ttyUSB0'));
  const one = await plan();
  c.outputs.push(String(one.stdout), String(one.stderr));
  assert.is(one.exitCode, 0, String(one.stdout) + String(one.stderr));
  assert.match(String(one.stdout), /No changes\./);
});

E('the Wi-Fi password appears in no output, state or log', async (c) => {
  const status = await run(c, ['status']);
  assert.is(status.exitCode, 0, String(status.stdout) + String(status.stderr));
  const json = await run(c, ['plan', '--json']);
  assert.is(json.exitCode, 0);
  for (const o of c.outputs) assert.not.ok(o.includes(CANARY), 'canary in output');
  const home = path.join(c.t.dir, 'home');
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : [path.join(d, f)]));
  for (const f of walk(home)) assert.not.ok(readFileSync(f).includes(CANARY), `canary in ${f}`);
});

E.run();
