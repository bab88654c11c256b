/**
 * A flush's cells as script records: each changed cell read into the sections of its ops (the
 * flush script's payload formats), zeroed, and costed in field updates (what bounds a chunk).
 */
import { performance } from 'node:perf_hooks';
import type { Cell } from '../buffer/cells.js';
import type { ExemplarSlots } from '../buffer/exemplars.js';
import type { FamilyKind } from '../core/family.js';
import { COUNT, exemplarSuffix, subField } from '../redis/fields.js';

function num(value: number): string {
  // -0 would be sent as "0" anyway; String() gives the shortest round-tripping form.
  return String(value);
}

/**
 * Read a cell's pending values into `out` (by section) and zero them. Returns the field updates
 * they cost Redis (what bounds a chunk): one per field written, two for a creation time (a read,
 * then a write) and for a field with an expiry (its expiry zset).
 */
export function drain(cell: Cell, sections: Sections, created: boolean, expiring: boolean): number {
  let updates = 0;
  // A new (or re-created) series of a counter, histogram or summary: the script stamps its
  // `|created` field (op `C`) unless another process already did.
  if (created && cell.fresh) {
    sections.created = `${sections.created ?? ''}${cell.key}\n`;
    updates += 2;
  }
  if (cell.kind === 'add') {
    if (cell.hasSet) sections.set += `${cell.key}\n${num(cell.s + cell.v)}\n`;
    else if (cell.v !== 0 || cell.fresh) {
      // Whole deltas go through HINCRBY (exact, and about 1.6× cheaper for Redis than HINCRBYFLOAT).
      if (Number.isSafeInteger(cell.v)) sections.int += `${cell.key}\n${num(cell.v)}\n`;
      else sections.add += `${cell.key}\n${num(cell.v)}\n`;
    }
    updates += expiring ? 3 : 1;
    cell.v = 0;
    cell.s = 0;
    cell.hasSet = false;
  } else if (cell.kind === 'gauge') {
    updates += cell.t <= 0 ? 1 : 2;
    if (cell.t <= 0) sections.gauge += `${cell.key}\n${num(cell.v)}\n`;
    else {
      // `last` gauges: the write's age lets the script date it by the server's clock. A rewrite
      // (after a lost gauge index) carries the original age, so it does not look newer.
      const ageUs = ageMicros(performance.now(), cell.t);
      sections.stamped = `${sections.stamped ?? ''}${cell.key}\n${num(cell.v)}\n${ageUs}\n`;
    }
  } else if (cell.kind === 'histogram') {
    const counts = cell.counts;
    let spec = '';
    for (let i = 0; i < counts.length; i++) {
      const n = counts[i]!;
      if (n !== 0) {
        spec += spec === '' ? `${i}:${n}` : `,${i}:${n}`;
        counts[i] = 0;
        updates++;
      }
    }
    if (spec !== '' || cell.fresh) sections.hist += `${cell.key}\n${num(cell.sum)}\n${spec}\n`;
    updates++;
    cell.sum = 0;
    if (cell.ex !== undefined) {
      const exemplars = encodeExemplars(cell.key, cell.ex, performance.now());
      sections.ex = (sections.ex ?? '') + exemplars.records;
      updates += 2 * exemplars.count;
      cell.ex = undefined;
    }
  } else {
    if (cell.n !== 0 || cell.fresh) sections.hist += `${cell.key}\n${num(cell.sum)}\n${COUNT}:${cell.n}\n`;
    updates += 2;
    // Summaries with quantiles: the sketch's bucket counts (drained in place, no reallocation).
    if (cell.q !== undefined && !cell.q.empty) {
      const buckets = cell.q.drain();
      sections.quantiles = `${sections.quantiles ?? ''}${cell.key}\n${buckets}\n`;
      updates += 1 + countOf(buckets, ',');
    }
    cell.n = 0;
    cell.sum = 0;
  }
  cell.d = false;
  cell.fresh = false;
  return updates;
}

/** How many times `char` occurs in `text`. */
function countOf(text: string, char: string): number {
  let n = 0;
  for (let at = text.indexOf(char); at >= 0; at = text.indexOf(char, at + 1)) n++;
  return n;
}

/**
 * Whole µs from `at` to `now` (both `performance.now()` readings, ms), never negative: how old a
 * `last` gauge write or an exemplar is when encoded. The flush script subtracts it from the
 * server's clock (ops `T` and `E`), so processes with skewed clocks date their writes alike.
 */
function ageMicros(now: number, at: number): number {
  return Math.max(0, Math.round((now - at) * 1000));
}

/**
 * A series' exemplars as flush records (op `E`): `<key>|e<slot>` \n age \n `<value> <labels>`
 * \n per bucket that has one. The age (µs since it was observed, at encode time `now`, a
 * `performance.now()` reading) lets the flush script date it by the server's clock, so exemplars
 * of different machines compare by one clock.
 */
function encodeExemplars(
  key: string,
  slots: Readonly<ExemplarSlots>,
  now: number,
): { records: string; count: number } {
  let records = '';
  let count = 0;
  for (let slot = 0; slot < slots.length; slot++) {
    const sample = slots[slot];
    if (sample === undefined) continue;
    const age = ageMicros(now, sample.at);
    records += `${subField(key, exemplarSuffix(slot))}\n${age}\n${String(sample.value)} ${sample.labels}\n`;
    count++;
  }
  return { records, count };
}

export function emptySections(): Sections {
  return { add: '', int: '', set: '', gauge: '', hist: '' };
}

export interface Sections {
  add: string;
  /** Whole-number increments (op `I`). */
  int: string;
  set: string;
  gauge: string;
  hist: string;
  /** Histogram exemplars (op `E`), only when some series has one. */
  ex?: string;
  /** Values of `last` gauges with their age (op `T`). */
  stamped?: string;
  /** Summary sketch bucket counts (op `Q`): field \n token:n,token:n \n ... */
  quantiles?: string;
  /** Label keys of series created since the last flush (op `C`): field \n ... */
  created?: string;
}

/** Families whose series expose `<name>_created` (OpenMetrics): counters, histograms, summaries. */
export function hasCreated(kind: FamilyKind): boolean {
  return kind === 'counter' || kind === 'histogram' || kind === 'summary';
}
