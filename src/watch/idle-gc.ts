// Idle, the daemon should hold what it needs to watch and nothing else (issue 14: idle RSS < 50 MB). V8
// only shrinks its heap when it collects, and an idle process allocates too little to start a collection,
// so the garbage of the last run (parsed manifest, reads, plan, Docker and MCP replies) stays resident
// for as long as nothing happens. After a run, once the daemon has been quiet for a moment, one full
// collection returns it. `gc` is V8's own, obtained without a command-line flag.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (gc !== undefined) return gc;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  } catch {
    gc = null; // not exposed by this runtime: idle RSS is then V8's own business
  }
  return gc;
}

/** A full collection `quietMs` after the last call, unless `arm` is called again first. */
export class IdleCollector {
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly quietMs = 1000) {}

  arm(): void {
    this.cancel();
    this.timer = setTimeout(() => {
      this.timer = null;
      collector()?.();
    }, this.quietMs);
    this.timer.unref();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
