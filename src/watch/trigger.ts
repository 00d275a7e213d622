// The trigger step of the watch loop: the reasons queued since the last run ("file pmoves.mini.yaml",
// "interval", "docker proj/c die", …) become one Trigger. Pure. A trigger only says "look again"; it
// never carries the change (level-based).

export interface Trigger {
  reasons: string[];
  /** First word of each reason, each once: file, interval, docker, git, retry, sighup, start, settle, … */
  words: Set<string>;
  /** The desired state may have changed: resources in backoff are tried at once. */
  release: boolean;
  /** A git source is fetched in this run. */
  fetch: boolean;
}

/** Triggers that mean "the desired state may have changed". */
export const RELEASING = new Set(['start', 'file', 'sighup', 'git', 'rollback', 'settle']);

export const triggerWord = (reason: string) => reason.split(' ')[0]!;

export function readTrigger(reasons: string[], o: { git: boolean; now: number; nextFetchAt: number }): Trigger {
  const words = new Set(reasons.map(triggerWord));
  const has = (w: string) => words.has(w);
  return {
    reasons,
    words,
    release: [...words].some((w) => RELEASING.has(w)),
    // start, interval (when the fetch backoff allows), SIGHUP and the fetch retry timer
    fetch: o.git && (has('start') || has('sighup') || has('fetch-retry') || (has('interval') && o.now >= o.nextFetchAt)),
  };
}
