// A harness that runs upstream's real deployment (../shared/fixtures/pmoves/compose/deployment, files
// unmodified) on this machine: every image the files name, and every `build:` service's image, is stood
// in by an image built FROM pmoves-test/busybox:latest that keeps running whatever command compose passes
// (its entrypoint ignores the arguments), stops on SIGTERM, and answers the files' healthcheck commands
// (curl, wget, pg_isready, neo4j's cypher-shell: small scripts that exit 0).
// Used by test/stacks-deployment.test.ts and bench/deployment.ts. Fixed network names and host ports:
// never run two of these at once.
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { fixtures, repoRoot } from './helpers.js';

export const deployment = path.join(fixtures, 'compose', 'deployment');
export const coreFile = path.join(deployment, 'docker-compose.yml');
export const coreProfiles = ['data', 'workers'];
/** Services of the core stack that reserve NVIDIA GPUs (deploy.resources.reservations.devices). */
export const gpuServices = ['ffmpeg-whisper', 'media-audio', 'media-video'];
const BASE = 'pmoves-test/standin:base';
const rtx = path.join(repoRoot, 'test', 'fixtures', 'machines', 'rtx-desktop');
/** Environment that makes hardware detection read the recorded RTX desktop (an RTX 5090, the NVIDIA container toolkit). */
export const rtxDesktop = { PMOVES_SYSROOT: path.join(rtx, 'root'), PMOVES_RECORDED_COMMANDS: path.join(rtx, 'commands.json') };

/** Which compose the tests use: PMOVES_COMPOSE (`docker-compose`, `docker compose`), else v2 when installed. */
export async function composeArgv(): Promise<string[]> {
  const set = (process.env.PMOVES_COMPOSE ?? '').trim();
  if (set) return set.split(/\s+/);
  const v2 = await execa('docker', ['compose', 'version'], { reject: false, stdin: 'ignore' });
  return v2.exitCode === 0 ? ['docker', 'compose'] : ['docker-compose'];
}

export async function composeGeneration(): Promise<1 | 2> {
  const argv = await composeArgv();
  const r = await execa(argv[0]!, [...argv.slice(1), 'version', '--short'], { reject: false, stdin: 'ignore' });
  return /^v?1\./.test(String(r.stdout).trim()) ? 1 : 2;
}

async function imageLabel(ref: string): Promise<string | null> {
  const r = await execa('docker', ['image', 'inspect', '--format', '{{index .Config.Labels "pmoves.test.standin"}}', ref], { reject: false, stdin: 'ignore' });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

async function buildBase(dir: string): Promise<void> {
  if ((await imageLabel(BASE)) !== null) return;
  const ctx = path.join(dir, 'standin-build');
  mkdirSync(path.join(ctx, 'bin'), { recursive: true });
  writeFileSync(path.join(ctx, 'bin', 'standin'), '#!/bin/sh\n# Keeps running whatever command compose passes; stops on TERM.\ntrap \'exit 0\' TERM INT\nwhile :; do sleep 3600 & wait $!; done\n', { mode: 0o755 });
  writeFileSync(path.join(ctx, 'bin', 'ok'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  writeFileSync(
    path.join(ctx, 'Dockerfile'),
    [
      'FROM pmoves-test/busybox:latest',
      'LABEL pmoves.test.standin=base',
      'COPY bin/standin /usr/local/bin/standin',
      ...['curl', 'wget', 'pg_isready', 'redis-cli', 'nc'].map((c) => `COPY bin/ok /usr/local/bin/${c}`),
      'COPY bin/ok /var/lib/neo4j/bin/cypher-shell',
      'ENV PATH=/usr/local/bin:/bin',
      'ENTRYPOINT ["/usr/local/bin/standin"]',
      '',
    ].join('\n'),
  );
  await execa('docker', ['build', '-q', '-t', BASE, ctx], { stdin: 'ignore' });
}

/** A stand-in image under `ref` (a distinct image per ref: its label names it). Skipped when present. */
export async function standIn(ref: string, variant = ref): Promise<void> {
  if ((await imageLabel(ref)) === variant) return;
  await execa('docker', ['build', '-q', '-t', ref, '-'], { input: `FROM ${BASE}\nLABEL pmoves.test.standin=${variant}\n` });
}

/** Images a compose config names: `image:`, else the image compose builds (`<project>-<service>` under v2, `_` under v1). */
export function imagesOf(configYaml: string, project: string): string[] {
  const doc = parse(configYaml) as { services?: Record<string, { image?: string; build?: unknown }> };
  const out = new Set<string>();
  for (const [svc, s] of Object.entries(doc.services ?? {})) {
    if (s.image) out.add(s.image);
    if (s.build || !s.image) {
      out.add(`${project}-${svc}`);
      out.add(`${project}_${svc}`);
    }
  }
  return [...out];
}

export interface Deployment {
  dir: string;
  project: string;
  envShared: string;
  canaries: string[];
  /** compose argv + the stack's arguments (for asking compose directly). */
  composeArgs(extra: string[]): Promise<string[]>;
  cleanup(): Promise<void>;
}

/**
 * Prepare `dir` as the project directory of upstream's core stack: env.shared from upstream's example
 * with canary values for the variables compose requires and one canary per env file, the env files the
 * services name, and the stand-in images (for `files` under `profiles`).
 */
export async function prepareDeployment(dir: string, project: string, files = [coreFile], profiles = coreProfiles): Promise<Deployment> {
  const canaries = [`canary-companion-${project}`, `canary-hmac-${project}`, `canary-shared-${project}`, `canary-generated-${project}`];
  const example = readFileSync(path.join(deployment, 'env.shared.example'), 'utf8');
  const envShared = path.join(dir, 'env.shared');
  writeFileSync(
    envShared,
    example.replace(/^INVIDIOUS_COMPANION_KEY=$/m, `INVIDIOUS_COMPANION_KEY=${canaries[0]}`).replace(/^INVIDIOUS_HMAC_KEY=$/m, `INVIDIOUS_HMAC_KEY=${canaries[1]}`) + `\nPMOVES_TEST_SECRET=${canaries[2]}\n`,
  );
  writeFileSync(path.join(dir, 'env.shared.generated'), `# Auto-generated by pmoves.tools.secrets_sync. Do not edit.\nPMOVES_TEST_GENERATED_TOKEN=${canaries[3]}\n`);
  for (const f of ['.env.generated', '.env.local']) writeFileSync(path.join(dir, f), '');
  const argv = await composeArgv();
  const base = () => [...argv.slice(1), '--project-name', project, '--project-directory', dir, ...files.flatMap((f) => ['--file', f]), ...profiles.flatMap((p) => ['--profile', p]), '--env-file', envShared];
  const config = await execa(argv[0]!, [...base(), 'config'], { stdin: 'ignore' });
  await buildBase(dir);
  const images = imagesOf(config.stdout, project);
  // A few at a time: each build is a short container commit.
  for (let i = 0; i < images.length; i += 4) await Promise.all(images.slice(i, i + 4).map((ref) => standIn(ref)));
  return {
    dir,
    project,
    envShared,
    canaries,
    composeArgs: async (extra) => [argv[0]!, ...base(), ...extra],
    cleanup: async () => {
      await execa(argv[0]!, [...base(), 'down', '--volumes', '--remove-orphans', '--timeout', '2'], { reject: false, stdin: 'ignore' });
      const left = await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { reject: false });
      if (left.stdout.trim()) await execa('docker', ['rm', '-f', ...left.stdout.trim().split('\n')], { reject: false });
      const vols = await execa('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`], { reject: false });
      if (vols.stdout.trim()) await execa('docker', ['volume', 'rm', ...vols.stdout.trim().split('\n')], { reject: false });
      const nets = await execa('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`], { reject: false });
      if (nets.stdout.trim()) await execa('docker', ['network', 'rm', ...nets.stdout.trim().split('\n')], { reject: false });
    },
  };
}
