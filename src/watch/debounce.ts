// Bursts of events → one trigger. Trailing edge: fires `ms` after the last event, with every reason seen.

export interface Debouncer {
  push(reason: string): void;
  cancel(): void;
}

export function debounce(ms: number, fire: (reasons: string[]) => void): Debouncer {
  let timer: NodeJS.Timeout | undefined;
  let reasons: string[] = [];
  return {
    push(reason) {
      if (!reasons.includes(reason)) reasons.push(reason);
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        const r = reasons;
        reasons = [];
        fire(r);
      }, ms);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      reasons = [];
    },
  };
}
