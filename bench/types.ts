// One row of the benchmark table.
export interface Row {
  /** What was measured, e.g. "no-op plan, 100 secrets". */
  name: string;
  /** Median wall time in ms. */
  ms: number;
  /** Peak RSS of the measured process in MB, when measured. */
  rssMb?: number;
  /** Target, e.g. "< 1500 ms". */
  target?: string;
  /** Whether the target was met (undefined: no target). */
  ok?: boolean;
  /** Anything else worth printing (ratios…). */
  note?: string;
}
