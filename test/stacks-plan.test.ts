// The stacks kind's pure parts, with plain values: plan (per-service parts and reasons), masking,
// config diffs, compose-file scanning for the cache key, DOCKER_HOST parsing. No daemon needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Target } from '../src/core/kind.js';
import type { StateEntry } from '../src/core/types.js';
import { endpointOf, healthOf, normalizeRef, unreachableMessage, type ContainerInfo } from '../src/providers/docker/engine.js';
import { envFileValues, findCompose, parseDryRun, parseHashes, scrubber } from '../src/providers/docker/compose.js';
import { referencedFiles, referencedVariables } from '../src/providers/docker/compose-inputs.js';
import { configChanges, maskConfig, planStack, type StackActual, type StackData, type StackDesired, type StackSpec } from '../src/reconcilers/stacks.js';
import { renderPlan, style } from '../src/planner/render-text.js';
import { summarize } from '../src/planner/plan.js';

const IMG = 'sha256:1111111111111111111111111111111111111111111111111111111111111111';

function spec(over: Partial<StackSpec> = {}): StackSpec {
  return {
    project: 'pmoves-core',
    files: ['/m/docker-compose.yml'],
    project_directory: '/m',
    profiles: [],
    env_files: [],
    services: null,
    state: 'up',
    wait: true,
    wait_timeout: 120,
    remove_orphans: true,
    remove_volumes: false,
    compose_command: null,
    ...over,
  };
}

function target(s: StackSpec | null, prior?: Partial<StateEntry> & { data?: Partial<StackData> }): Target<StackSpec> {
  return {
    address: 'stacks.core',
    name: 'core',
    desired: s ? { address: 'stacks.core', section: 'stacks', name: 'core', spec: s, dependsOn: [] } : null,
    prior: prior ? ({ section: 'stacks', owned: true, ...prior } as StateEntry) : undefined,
  };
}

function container(service: string, over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: `id-${service}`,
    name: `pmoves-core_${service}_1`,
    project: 'pmoves-core',
    service,
    number: 1,
    state: 'running',
    health: null,
    exit_code: null,
    image: 'postgres:16',
    image_id: IMG,
    config_hash: `hash-${service}`,
    ...over,
  };
}

const configs = {
  db: { image: 'postgres:16', environment: { POSTGRES_PASSWORD: { $sensitive: 'aaaa' } } },
  api: { image: 'pmoves-test/busybox:latest', command: ['httpd', '-f'] },
  web: { image: 'pmoves-test/busybox:latest', ports: ['127.0.0.1:8080:80/tcp'] },
};

function desired(services = ['db', 'api', 'web']): StackDesired {
  return {
    key: 'k',
    services: Object.fromEntries(services.map((s) => [s, { hash: `hash-${s}`, image: configs[s as keyof typeof configs].image, image_id: IMG }])),
    all: services,
    configs: Object.fromEntries(services.map((s) => [s, configs[s as keyof typeof configs]])),
  };
}

function actual(containers: ContainerInfo[], d: StackDesired | null = desired(), extra: Partial<StackActual> = {}): StackActual {
  return { project: 'pmoves-core', containers, desired: d, cached: false, ...extra };
}

const all = () => [container('db'), container('api'), container('web')];
const partOf = (r: ReturnType<typeof planStack>, svc: string) => r.parts!.find((p) => p.address === `stacks.core.${svc}`)!;

test('every service running with the desired hash: no-op, one no-op part per service', () => {
  const r = planStack(target(spec()), actual(all()));
  assert.is(r.action, 'no-op');
  assert.equal(r.parts!.map((p) => [p.address, p.action]), [
    ['stacks.core.api', 'no-op'],
    ['stacks.core.db', 'no-op'],
    ['stacks.core.web', 'no-op'],
  ]);
});

test('no containers at all: the stack is created, each service a + part', () => {
  const r = planStack(target(spec()), actual([]));
  assert.is(r.action, 'create');
  assert.is(r.reason, 'project pmoves-core has no containers');
  assert.ok(r.parts!.every((p) => p.action === 'create' && p.reason === 'it does not exist'));
});

test('a changed config with a known last-applied config names the attribute: image postgres:15 -> postgres:16', () => {
  const applied = { db: { hash: 'old', config: { ...configs.db, image: 'postgres:15' } } };
  const r = planStack(target(spec(), { data: { applied } }), actual([container('db', { config_hash: 'old' }), container('api'), container('web')]));
  assert.is(r.action, 'update');
  const db = partOf(r, 'db');
  assert.is(db.action, 'replace');
  assert.is(db.verb, 'recreated');
  assert.is(db.reason, 'its config changed: image postgres:15 -> postgres:16');
  assert.is(partOf(r, 'api').action, 'no-op');
  const text = renderPlan({ manifestDigest: '', actualDigest: '', changes: [{ address: 'stacks.core', section: 'stacks', name: 'core', ...r }], results: new Map(), diagnostics: [], summary: summarize([{ address: 'stacks.core', section: 'stacks', name: 'core', ...r }]), notes: [], summaryExtras: [] }, style(false));
  assert.match(text, '# stacks.core.db will be recreated (because its config changed: image postgres:15 -> postgres:16)');
  assert.match(text, '~ image = "postgres:15" -> "postgres:16"');
  assert.not.match(text, 'stacks.core.api');
});

test('a changed config without a remembered config says the hash differs', () => {
  const r = planStack(target(spec()), actual([container('db', { config_hash: 'someone-else' }), container('api'), container('web')]));
  assert.is(partOf(r, 'db').action, 'replace');
  assert.match(partOf(r, 'db').reason, "compose's config hash differs");
});

test('an environment change is named by key, never by value', () => {
  const applied = { db: { hash: 'old', config: { ...configs.db, environment: { POSTGRES_PASSWORD: { $sensitive: 'bbbb' } } } } };
  const r = planStack(target(spec(), { data: { applied } }), actual([container('db', { config_hash: 'old' }), container('api'), container('web')]));
  assert.is(partOf(r, 'db').reason, 'its config changed: environment: POSTGRES_PASSWORD changed');
});

test('exited and created containers are started; unhealthy and restarting ones recreated', () => {
  const r = planStack(
    target(spec()),
    actual([container('db', { state: 'exited', exit_code: 137 }), container('api', { health: 'unhealthy' }), container('web', { state: 'restarting' })]),
  );
  assert.equal([partOf(r, 'db').action, partOf(r, 'db').verb, partOf(r, 'db').reason], ['update', 'started', 'it is exited (137)']);
  assert.equal([partOf(r, 'api').action, partOf(r, 'api').reason], ['replace', 'it is unhealthy']);
  assert.equal([partOf(r, 'web').action, partOf(r, 'web').reason], ['replace', 'it keeps restarting']);
  assert.is(r.reason, 'api, web to be recreated; db to be started');
});

test('health "starting" is not drift', () => {
  const r = planStack(target(spec()), actual([container('db', { health: 'starting' }), container('api'), container('web')]));
  assert.is(r.action, 'no-op');
});

test('a tag that now points to another image recreates the service', () => {
  const r = planStack(target(spec()), actual([container('db', { image_id: 'sha256:2222' }), container('api'), container('web')]));
  assert.is(partOf(r, 'db').action, 'replace');
  assert.match(partOf(r, 'db').reason, 'its image postgres:16 now points to a different image');
});

test('a service no longer in the files is removed (orphan), or left with a warning when remove_orphans is false', () => {
  const cs = [...all(), container('old', { name: 'pmoves-core_old_1' })];
  const r = planStack(target(spec()), actual(cs));
  assert.is(partOf(r, 'old').action, 'delete');
  assert.is(partOf(r, 'old').reason, 'it is no longer in the compose files (orphan)');
  const keep = planStack(target(spec({ remove_orphans: false })), actual(cs));
  assert.is(keep.action, 'no-op');
  assert.match(keep.warnings![0]!, 'pmoves-core_old_1');
});

test('services: only those are planned; an unknown one is an error', () => {
  const r = planStack(target(spec({ services: ['db'] })), actual([container('db')]));
  assert.is(r.action, 'no-op');
  assert.equal(r.parts!.map((p) => p.address), ['stacks.core.db']);
  const bad = planStack(target(spec({ services: ['nope'] })), actual(all()));
  assert.match(bad.diagnostics![0]!.summary, 'no service "nope"');
});

test('state: down tears the stack down; volumes only with remove_volumes, and then the plan warns', () => {
  const r = planStack(target(spec({ state: 'down' })), actual(all(), null));
  assert.is(r.action, 'delete');
  assert.is(r.verb, 'torn down');
  assert.equal(r.warnings, ['its volumes are kept (remove_volumes: false)']);
  assert.equal(r.parts!.map((p) => p.action), ['delete', 'delete', 'delete']);
  const v = planStack(target(spec({ state: 'down', remove_volumes: true })), { ...actual(all(), null), volumes: ['pmoves-core_data', 'pmoves-core_logs'] });
  assert.equal(v.warnings, ['volumes pmoves-core_data, pmoves-core_logs will be removed (remove_volumes: true)']);
  assert.is(planStack(target(spec({ state: 'down' })), actual([], null)).action, 'no-op');
});

test('not declared any more: torn down only when this tool created it', () => {
  const data = { project: 'pmoves-core', files: ['/m/docker-compose.yml'], profiles: [] } as unknown as StackData;
  assert.is(planStack(target(null, { owned: true, data }), actual(all(), null)).action, 'delete');
  assert.is(planStack(target(null, { owned: false, data }), actual(all(), null)).action, 'no-op');
});

test('compose errors and a missing compose become error diagnostics under the address', () => {
  const r = planStack(target(spec()), actual([], null, { compose_error: 'Service media-video has neither an image nor a build context specified.' }));
  assert.is(r.diagnostics![0]!.severity, 'error');
  assert.is(r.diagnostics![0]!.detail, 'Service media-video has neither an image nor a build context specified.');
  const t = planStack(target(spec()), actual([], null, { tool_error: 'docker compose is not installed: tried …' }));
  assert.match(t.diagnostics![0]!.summary, 'not installed');
});

// Two stacks on one compose project: a manifest error (stacksExpander), see stacks-validate.test.ts.

test('maskConfig hides environment values and secret-looking keys, keeps the rest', () => {
  const m = maskConfig(
    { image: 'x', environment: { A: 'plain', B: null }, command: ['run'], labels: { 'app.password': 'p' }, healthcheck: { test: ['CMD', 'true'] } },
    (v) => `hmac-sha256:${v.length}${'0'.repeat(20)}`,
  );
  assert.is(m.image, 'x');
  assert.equal(m.command, ['run']);
  assert.ok((m.environment as Record<string, unknown>).A && typeof (m.environment as Record<string, unknown>).A === 'object');
  assert.is((m.environment as Record<string, unknown>).B, null);
  assert.not.match(JSON.stringify(m), 'plain');
  assert.not.match(JSON.stringify(m), '"p"');
  assert.equal(m.healthcheck, { test: ['CMD', 'true'] });
});

test('maskConfig: a command with a password argument is masked as a whole; a plain one is shown', () => {
  const d = (v: string) => `hmac-sha256:${v.length}${'0'.repeat(20)}`;
  const surreal = maskConfig({ command: 'start --log info --user root --pass s3cret rocksdb:/x' }, d);
  assert.ok(typeof surreal.command === 'object' && '$sensitive' in (surreal.command as object));
  assert.not.match(JSON.stringify(surreal), 's3cret');
  assert.ok('$sensitive' in (maskConfig({ entrypoint: ['app', '--api-token=abc'] }, d).entrypoint as object));
  assert.equal(maskConfig({ command: ['httpd', '-f', '-p', '8080'] }, d).command, ['httpd', '-f', '-p', '8080']);
});

test('configChanges: scalars with values, maps by key, the rest by name', () => {
  assert.equal(configChanges({ image: 'a:1', command: ['x'], environment: { A: 1, B: 2 } }, { image: 'a:2', command: ['y'], environment: { A: 1, C: 3 } }), [
    'command changed',
    'environment: B removed, C added',
    'image a:1 -> a:2',
  ]);
  assert.equal(configChanges({ image: 'a' }, { image: 'a', ports: ['1:1'] }), ['ports added']);
});

test('compose file scanning for the cache key: variables and the files compose reads', () => {
  assert.equal(referencedVariables('image: ${IMG:-x}\ncmd: $HOME $$NOT ${B}'), ['B', 'HOME', 'IMG']);
  assert.equal(referencedFiles({ services: { a: { env_file: ['env.shared', { path: 'x.env' }] }, b: { env_file: '.env.local', extends: { file: 'base.yml' } } } }, '/p'), [
    '/p/env.shared',
    '/p/x.env',
    '/p/.env.local',
    '/p/base.yml',
  ]);
  assert.equal(parseHashes(`db ${'a'.repeat(64)}\nweb ${'b'.repeat(64)}\n`), { db: 'a'.repeat(64), web: 'b'.repeat(64) });
});

test('DOCKER_HOST: unix, tcp, default; the unreachable message names it and how to start the engine', () => {
  assert.equal(endpointOf({}).socketPath, '/var/run/docker.sock');
  assert.equal(endpointOf({ DOCKER_HOST: 'unix:///tmp/d.sock' }).socketPath, '/tmp/d.sock');
  const tcp = endpointOf({ DOCKER_HOST: 'tcp://127.0.0.1:2375' });
  assert.equal([tcp.host, tcp.port, tcp.needsDockerode], ['127.0.0.1', 2375, false]);
  assert.ok(endpointOf({ DOCKER_HOST: 'ssh://me@box' }).needsDockerode);
  const msg = unreachableMessage(endpointOf({ DOCKER_HOST: 'unix:///tmp/d.sock' }), 'connect ENOENT');
  assert.match(msg, 'unix:///tmp/d.sock (from DOCKER_HOST)');
  assert.match(msg, 'systemctl start docker');
  assert.match(unreachableMessage(endpointOf({}), 'x'), 'DOCKER_HOST is not set');
});

test('findCompose: the override wins; without any compose on PATH both commands are named', () => {
  const o = findCompose({ PATH: '' }, ['docker', 'compose']);
  assert.equal('argv' in o && [o.argv, o.version], [['docker', 'compose'], 0], 'the generation is asked, never guessed from the name');
  const e = findCompose({ PATH: '', PMOVES_COMPOSE: 'docker-compose' }, null);
  assert.equal('argv' in e && e.argv, ['docker-compose']);
  const none = findCompose({ PATH: '/nonexistent', HOME: '/nonexistent' }, null);
  assert.ok('error' in none);
  assert.match((none as { error: string }).error, '`docker compose`');
  assert.match((none as { error: string }).error, '`docker-compose`');
});

test('parseDryRun: compose v2\'s own words per service (create, recreate with a cascade, start of a stopped one, nothing)', () => {
  const text = [
    ' DRY-RUN MODE -  Container p-nats-1  Recreate',
    ' DRY-RUN MODE -  Container p-qdrant-1  Created',
    ' DRY-RUN MODE -  Container p-nats-1  Recreated',
    ' DRY-RUN MODE -  Container p-chat-relay-1  Recreate',
    ' DRY-RUN MODE -  Container p-new-svc-1  Creating',
    ' DRY-RUN MODE -  Container 8370749e3af3_p-nats-1  Starting',
    ' DRY-RUN MODE -  Container p-qdrant-1  Starting',
    ' DRY-RUN MODE -  Container p-minio-1  Running',
    ' DRY-RUN MODE -  Container p-old-1  Removing',
  ].join('\n');
  assert.equal(parseDryRun(text, 'p', ['nats', 'qdrant', 'chat-relay', 'new-svc', 'minio']), { nats: 'recreate', qdrant: 'start', 'chat-relay': 'recreate', 'new-svc': 'create', old: 'remove' });
});

test('scrubber: every value (longest first) becomes (sensitive value); short ones stay', () => {
  const s = scrubber(['s3cr3t-value', 's3cr3t', 'ab', 'x.y*z']);
  assert.is(s('error: s3cr3t-value and s3cr3t and x.y*z in ab'), 'error: (sensitive value) and (sensitive value) and (sensitive value) in ab');
  assert.equal([...envFileValues('# c\nexport A="q v"\nB=1=2\n  \nC\n').entries()], [['A', 'q v'], ['B', '1=2']]);
});

test('status words from `docker ps` text; image references as the engine lists them', () => {
  assert.is(healthOf('Up 3 minutes (healthy)'), 'healthy');
  assert.is(healthOf('Up 3 minutes (unhealthy)'), 'unhealthy');
  assert.is(healthOf('Up 1 second (health: starting)'), 'starting');
  assert.is(healthOf('Exited (0) 2 hours ago'), null);
  assert.is(normalizeRef('busybox'), 'busybox:latest');
  assert.is(normalizeRef('docker.io/library/postgres:16'), 'postgres:16');
  assert.is(normalizeRef('localhost:5000/x'), 'localhost:5000/x:latest');
});

test.run();
