// The watch loop's event sources besides its timers: file events (the manifest and its inputs) and
// Docker events (the compose projects of the desired state). Each only says "look again" through
// `trigger`; Docker bursts go through the debouncer first.
import path from 'node:path';
import type { Resource } from '../core/types.js';
import { debounce, type Debouncer } from './debounce.js';
import { composeProjects, watchDockerEvents, type DockerEventsHandle } from './docker-events.js';
import { watchFiles, type FileEvents } from './file-events.js';

export interface SourcesOptions {
  debounceMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  env: NodeJS.ProcessEnv;
  trigger(reason: string): void;
  /** A source's own line (warnings, Docker's connection state). */
  log(event: 'warning' | 'docker', message: string): void;
  stopped(): boolean;
}

export class TriggerSources {
  private files: FileEvents | null = null;
  private docker: DockerEventsHandle | null = null;
  private readonly debouncer: Debouncer;

  constructor(private readonly o: SourcesOptions) {
    this.debouncer = debounce(o.debounceMs, (reasons) => {
      for (const r of reasons) o.trigger(r);
    });
  }

  get watchingFiles(): boolean {
    return this.files !== null;
  }

  /** Watch exactly these files (the manifest and its inputs). */
  async watchFiles(files: string[]): Promise<void> {
    this.files ??= await watchFiles({
      settleMs: this.o.debounceMs,
      onChange: (changed) => {
        if (this.o.stopped()) return;
        for (const p of changed) this.o.trigger(`file ${path.relative(process.cwd(), p) || p}`);
      },
      onWarning: (m) => this.o.log('warning', m),
    });
    await this.files.set(files);
  }

  /** Follow the Docker events of these resources' compose projects (started on first need). */
  followDocker(resources: Resource[]): void {
    const projects = composeProjects(resources);
    this.docker ??= projects.length
      ? watchDockerEvents(
          (e) => this.debouncer.push(`docker ${e.project}/${e.container} ${e.action}`),
          (line) => this.o.log('docker', line),
          { baseMs: this.o.minBackoffMs, maxMs: this.o.maxBackoffMs, env: this.o.env },
        )
      : null;
    this.docker?.setProjects(projects);
  }

  close(): void {
    this.debouncer.cancel();
    this.docker?.close();
    this.files?.close();
  }
}
