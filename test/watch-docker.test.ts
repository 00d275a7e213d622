// Docker events as triggers, against the real Docker Engine (bash ../shared/scripts/docker-engine.sh):
// the event stream module on its own, and the watcher repairing a killed container of a stack.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { composeProjects, watchDockerEvents, type DockerEvent } from '../src/watch/docker-events.js';
import { stacksKind } from '../src/reconcilers/stacks.js';
import { tempDir, waitFor } from './helpers.js';
import { isApply, startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const IMAGE = 'pmoves-test/busybox:latest';
const project = () => `pmoves-watch-${randomBytes(4).toString('hex')}`;

async function cleanupProject(p: string): Promise<void> {
  const ids = (await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${p}`], { reject: false })).stdout.split('\n').filter(Boolean);
  if (ids.length) await execa('docker', ['rm', '-f', ...ids], { reject: false });
  const nets = (await execa('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${p}`], { reject: false })).stdout.split('\n').filter(Boolean);
  if (nets.length) await execa('docker', ['network', 'rm', ...nets], { reject: false });
}

test('composeProjects picks the compose project of each stack', () => {
  assert.equal(
    composeProjects([
      { section: 'stacks', name: 'a', spec: { project: 'p1' } },
      { section: 'secrets', name: 'b', spec: { project: 'nope' } },
      { section: 'stacks', name: 'c', spec: { project: 'p0' } },
    ]),
    ['p0', 'p1'],
  );
});

test('the stacks kind reports compose and env files as inputs, so the watcher sees their edits', () => {
  const r = { address: 'stacks.a', section: 'stacks', name: 'a', dependsOn: [], spec: { files: ['/a/docker-compose.yml', '/a/gpu.yml'], env_files: ['/a/.env'] } };
  assert.equal(stacksKind.inputs!(r as never), ['/a/docker-compose.yml', '/a/gpu.yml', '/a/.env']);
});

test('the event stream reports drift actions for the watched project only', async () => {
  const p = project();
  const other = project();
  const seen: DockerEvent[] = [];
  const h = watchDockerEvents((e) => seen.push(e), () => {});
  try {
    h.setProjects([p]);
    await new Promise((r) => setTimeout(r, 500)); // subscription in place (no assertion on time)
    for (const proj of [other, p]) {
      await execa('docker', ['run', '-d', '--name', `${proj}-c1`, '--label', `com.docker.compose.project=${proj}`, IMAGE, 'sleep', '600']);
      await execa('docker', ['rm', '-f', `${proj}-c1`]);
    }
    await waitFor(() => seen.some((e) => e.action === 'destroy'), 'destroy event');
    assert.ok(seen.every((e) => e.project === p), JSON.stringify(seen));
    assert.ok(seen.some((e) => e.action === 'die' || e.action === 'kill'));
    assert.is(seen.find((e) => e.action === 'destroy')!.container, `${p}-c1`);
  } finally {
    h.close();
    await cleanupProject(p);
    await cleanupProject(other);
  }
});

test('a killed container of a stack is repaired by the Docker event, not the interval', async () => {
  const t = tempDir('pmoves-watch-docker-');
  const p = project();
  let w: WatchProc | undefined;
  try {
    writeFileSync(
      path.join(t.dir, 'docker-compose.yml'),
      ['services:', '  app:', `    image: ${IMAGE}`, '    init: true', '    command: ["sleep", "2147483647"]', ''].join('\n'),
    );
    writeBundle(path.join(t.dir, 'env.cgp.json'), { SUPABASE_URL: 'http://127.0.0.1:54321' });
    writeFileSync(
      path.join(t.dir, 'pmoves.mini.yaml'),
      ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', '    env_file: out/env.shared', 'stacks:', '  app:', '    files: [docker-compose.yml]', `    project: ${p}`, ''].join('\n'),
    );
    w = startWatch(['-m', path.join(t.dir, 'pmoves.mini.yaml'), '--interval', '1h'], { home: path.join(t.dir, 'home'), cwd: t.dir });
    const first = await w.next(isApply, 'first apply', 0, 120_000);
    assert.is(first.result, 'ok', JSON.stringify(first));
    await w.next((e) => e.event === 'docker' && /subscribed/.test(e.message), 'subscribed to Docker events');
    const id = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${p}`])).stdout.trim();
    assert.ok(id, 'the stack runs');
    const m = w.mark();
    await execa('docker', ['rm', '-f', id]);
    const trig = await w.next((e) => e.event === 'trigger' && e.reasons.some((r: string) => r.startsWith(`docker ${p}/`)), 'a run triggered by the Docker event', m);
    const fixed = await w.next((e) => isApply(e) && e.result === 'ok' && e.added + e.changed >= 1, 'the stack repaired', w.events.indexOf(trig), 120_000);
    assert.ok(fixed);
    const after = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${p}`])).stdout.trim();
    assert.ok(after && after !== id, 'a new container runs');

    // the compose file is watched too: an edit is a trigger and the stack is updated
    const m2 = w.mark();
    writeFileSync(
      path.join(t.dir, 'docker-compose.yml'),
      ['services:', '  app:', `    image: ${IMAGE}`, '    init: true', '    command: ["sleep", "2147483647"]', '    environment:', '      EDITED: "1"', ''].join('\n'),
    );
    await w.next((e) => e.event === 'trigger' && e.reasons.some((r: string) => r.startsWith('file') && r.includes('docker-compose.yml')), 'a run triggered by the compose edit', m2);
    // The edit may be applied by that run or by one already under way (e.g. after the Docker events of
    // the repair) that read the new file: either way, an apply after the edit updates the stack.
    await w.next((e) => isApply(e) && e.result === 'ok' && e.changed + e.added >= 1, 'the stack updated', m2, 120_000);
    const env = (await execa('docker', ['inspect', '--format', '{{json .Config.Env}}', (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${p}`])).stdout.trim()])).stdout;
    assert.match(env, /EDITED=1/);
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    await cleanupProject(p);
    t.cleanup();
  }
});

test.run();
