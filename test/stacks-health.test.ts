// A service whose healthcheck fails, on a real Docker Engine: apply (wait: true) fails naming it after
// wait_timeout; the plan then shows it to be recreated because it is unhealthy.
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir } from './helpers.js';

const tmp = tempDir('pmoves-stacks-health-');
const home = path.join(tmp.dir, 'home');
const project = `pmh-${process.pid}-${Date.now().toString(36)}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');

test.before(() => {
  writeFileSync(
    path.join(tmp.dir, 'docker-compose.yml'),
    `services:
  sick:
    image: pmoves-test/busybox:latest
    init: true
    command: ["sleep", "2147483647"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
`,
  );
  writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nstacks:\n  h:\n    files: [docker-compose.yml]\n    project: ${project}\n    wait_timeout: 6s\n`);
});

test.after(async () => {
  await execa('docker-compose', ['-p', project, '-f', path.join(tmp.dir, 'docker-compose.yml'), 'down', '-v'], { reject: false, cwd: tmp.dir });
  tmp.cleanup();
});

test('apply waits for health and fails naming the unhealthy service; the plan then recreates it', async () => {
  const a = await cli(['mini', 'apply', '--auto-approve', '-m', manifest], { home, timeout: 120_000 });
  assert.is(a.exitCode, 1, String(a.stdout));
  assert.match(String(a.stdout), /stacks\.h: Failed: not healthy after 6s: sick \(running \((unhealthy|starting)\)\)/);
  // The container exists, so the next plan judges it (after the healthcheck has failed).
  for (let i = 0; i < 40; i++) {
    const s = await execa('docker', ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Status}}']);
    if (s.stdout.includes('(unhealthy)')) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const p = await cli(['mini', 'plan', '-m', manifest], { home });
  assert.is(p.exitCode, 0, String(p.stderr));
  assert.match(String(p.stdout), '# stacks.h.sick will be recreated (because it is unhealthy)');
  const s = await cli(['mini', 'status', '-m', manifest], { home });
  assert.match(String(s.stdout), /stacks\.h\.sick\s+drifted\s+it is unhealthy/);
});

test.run();
