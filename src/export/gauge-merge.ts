/**
 * Per-process gauges with an `aggregate` mode: merges the live processes' values of each label
 * set into one series at scrape time (sum, min, max, avg, or the newest write for `last`).
 */

import type { GaugeAggregate } from '../core/family.js';
import { isTimeField, labelKeyOf } from '../redis/fields.js';
import type { ScalarRow } from './text-format.js';

interface Merged {
  sum: number;
  count: number;
  min: number;
  max: number;
}

interface Stamped {
  v: number | undefined;
  /** Server time of the write, µs (0 when unknown: the oldest). */
  t: number;
}

/**
 * Merges a per-process gauge family over the live processes' hashes at scrape time: one series
 * per label set, without `gauge_index`. A scrape only reads live processes' hashes, so
 * a process that stopped flushing drops out once its lease expires. `last` fields come in pairs:
 * the label key (the value) and its time field (the server time of its write, µs, see
 * redis/fields.ts), possibly in different chunks.
 */
export class GaugeMerger {
  readonly #mode: Exclude<GaugeAggregate, 'all'>;
  readonly #merged = new Map<string, Merged>();
  /** `last`: label key → gauge index → value and write time. */
  readonly #stamped = new Map<string, Map<string, Stamped>>();

  constructor(mode: Exclude<GaugeAggregate, 'all'>) {
    this.#mode = mode;
  }

  /** Add one chunk of `field\nvalue\n…` parts read from process `index`'s hash. */
  add(parts: readonly string[], index: string): void {
    if (this.#mode === 'last') {
      for (let i = 0; i + 1 < parts.length; i += 2) this.#addStamped(parts[i]!, parts[i + 1]!, index);
      return;
    }
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const key = parts[i]!;
      const value = Number(parts[i + 1]);
      const merged = this.#merged.get(key);
      if (merged === undefined) {
        this.#merged.set(key, { sum: value, count: 1, min: value, max: value });
      } else {
        merged.sum += value;
        merged.count++;
        if (value < merged.min) merged.min = value;
        if (value > merged.max) merged.max = value;
      }
    }
  }

  #addStamped(field: string, raw: string, index: string): void {
    const stamp = isTimeField(field);
    const key = stamp ? labelKeyOf(field) : field;
    let byIndex = this.#stamped.get(key);
    if (byIndex === undefined) {
      byIndex = new Map();
      this.#stamped.set(key, byIndex);
    }
    let entry = byIndex.get(index);
    if (entry === undefined) {
      entry = { v: undefined, t: 0 };
      byIndex.set(index, entry);
    }
    if (stamp) entry.t = Number(raw) || 0;
    else entry.v = Number(raw);
  }

  /** One row per label set, merged. */
  rows(): ScalarRow[] {
    const rows: ScalarRow[] = [];
    if (this.#mode === 'last') {
      for (const [key, byIndex] of this.#stamped) {
        let best: Stamped | undefined;
        let bestIndex = -1;
        for (const [index, entry] of byIndex) {
          if (entry.v === undefined) continue;
          const i = Number(index);
          // Newest write wins; equal times (same microsecond) go to the higher index, deterministically.
          if (best === undefined || entry.t > best.t || (entry.t === best.t && i > bestIndex)) {
            best = entry;
            bestIndex = i;
          }
        }
        if (best !== undefined) rows.push([key, best.v!]);
      }
      return rows;
    }
    for (const [key, m] of this.#merged) {
      const value =
        this.#mode === 'sum'
          ? m.sum
          : this.#mode === 'min'
            ? m.min
            : this.#mode === 'max'
              ? m.max
              : m.sum / m.count;
      rows.push([key, value]);
    }
    return rows;
  }
}
