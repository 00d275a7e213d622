// A TLS DOCKER_HOST goes through dockerode (the only client here that speaks TLS), from the bundled CLI
// as a user runs it: dockerode loads (bundled, ssh2 failed on __dirname), and DOCKER_CERT_PATH defaults
// to ~/.docker as the docker CLI's does (it was read as the text "undefined"). No engine answers on the
// address: the plan says the stack could not be read, naming the certificate file.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, freePort, repoRoot, tempDir } from './helpers.js';

test('plan with DOCKER_TLS_VERIFY and no DOCKER_CERT_PATH reads the certificates from ~/.docker through dockerode', async () => {
  const t = tempDir('pmoves-docker-tls-');
  try {
    const port = await freePort();
    const manifest = path.join(repoRoot, 'examples', 'stacks', 'pmoves.mini.yaml');
    const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '', HOME: t.dir };
    let r = await cli(['mini', 'plan', '-m', manifest], { home: path.join(t.dir, 'pm'), env });
    assert.is(r.exitCode, 1, String(r.stdout));
    assert.match(String(r.stdout) + String(r.stderr), new RegExp(`stacks\\.demo could not read actual state: ${t.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.docker/ca\\.pem: no such file`));
    assert.not.match(String(r.stdout) + String(r.stderr), /__dirname|undefined\/ca\.pem|internal error|\n\s+at /);
    mkdirSync(path.join(t.dir, '.docker'));
    for (const f of ['ca', 'cert', 'key']) writeFileSync(path.join(t.dir, '.docker', `${f}.pem`), 'not a certificate\n');
    r = await cli(['mini', 'plan', '-m', manifest], { home: path.join(t.dir, 'pm'), env });
    assert.is(r.exitCode, 1, String(r.stdout));
    assert.match(String(r.stdout), /stacks\.demo could not read actual state: .*CERTIFICATE/);
  } finally {
    t.cleanup();
  }
});

test.run();
