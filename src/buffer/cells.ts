/**
 * Delta cells: the per-series state the hot path writes into. A bound child holds its cell
 * directly, so recording is a field update plus one predictable branch (`d`, "dirty").
 *
 * A cell is put on its buffer's dirty list the first time it changes after a flush took it;
 * the flusher reads and zeroes it synchronously (JavaScript runs one thing at a time, so the
 * read-and-zero is the whole "swap": no locks, no copies of clean series).
 */
import type { ExemplarSlots } from './exemplars.js';
import { SketchCounts } from './sketch.js';

/**
 * What a cell holds, for the code that reads or zeroes cells. Readers dispatch on it, not on
 * `instanceof`: when an ESM and a CommonJS copy of the library meet, a metric of one copy records
 * into cells of its own classes in the other copy's registry, and those must read the same.
 */
export type CellKind = 'add' | 'gauge' | 'histogram' | 'summary';

/** What every cell carries besides its values. */
export interface CellBase {
  /** What the cell holds (a getter on the class's prototype: no memory per series). */
  readonly kind: CellKind;
  /** Dirty: already on the buffer's dirty list. */
  d: boolean;
  /** The store's take epoch when the cell was last put on its dirty list (see SeriesStore.take). */
  e: number;
  /** Created since the last flush took it: written even when its values are zero. */
  fresh: boolean;
  /** The series' label set rendered as exposition text (`a="x",b="y"`); its field in Redis. */
  readonly key: string;
}

/**
 * A shared value: counters and common gauges. Holds an increment `v`, or — after `set()` —
 * an absolute value `s` that `v` is added to.
 */
export class AddCell implements CellBase {
  get kind(): 'add' {
    return 'add';
  }
  d = false;
  e = 0;
  fresh = true;
  v = 0;
  s = 0;
  hasSet = false;
  constructor(readonly key: string) {}
}

/** A per-process gauge: the current value of this process. */
export class GaugeCell implements CellBase {
  get kind(): 'gauge' {
    return 'gauge';
  }
  d = false;
  e = 0;
  fresh = true;
  v = 0;
  /**
   * Gauges with `aggregate: "last"`: when the value was last written (`performance.now()`, ms),
   * 0 before the first write. -1 for gauges that keep no write time.
   */
  t: number;
  constructor(
    readonly key: string,
    stamped = false,
  ) {
    this.t = stamped ? 0 : -1;
  }
}

/** Histogram deltas: per-bucket (non-cumulative) counts, the last slot is `+Inf`, and the sum. */
export class HistogramCell implements CellBase {
  get kind(): 'histogram' {
    return 'histogram';
  }
  d = false;
  e = 0;
  fresh = true;
  sum = 0;
  readonly counts: Float64Array;
  /** Latest exemplar per bucket since the last flush; allocated by the first exemplar only. */
  ex: ExemplarSlots | undefined = undefined;
  constructor(
    readonly key: string,
    slots: number,
  ) {
    this.counts = new Float64Array(slots);
  }
}

/** Summary deltas: count and sum, and — for summaries with quantiles — sketch bucket counts. */
export class SummaryCell implements CellBase {
  get kind(): 'summary' {
    return 'summary';
  }
  d = false;
  e = 0;
  fresh = true;
  n = 0;
  sum = 0;
  readonly q: SketchCounts | undefined;
  constructor(
    readonly key: string,
    quantiles = false,
  ) {
    this.q = quantiles ? new SketchCounts() : undefined;
  }
}

export type Cell = AddCell | GaugeCell | HistogramCell | SummaryCell;

/** Zero a cell's values (used by `remove()` and `reset()`). */
export function clearCell(cell: Cell): void {
  if (cell.kind === 'add') {
    cell.v = 0;
    cell.s = 0;
    cell.hasSet = false;
  } else if (cell.kind === 'gauge') {
    cell.v = 0;
    if (cell.t > 0) cell.t = 0;
  } else if (cell.kind === 'histogram') {
    cell.counts.fill(0);
    cell.sum = 0;
    cell.ex = undefined;
  } else {
    cell.n = 0;
    cell.sum = 0;
    cell.q?.clear();
  }
}
