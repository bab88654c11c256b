/**
 * Summary quantiles at scrape time: merges a series' sketch buckets over processes and window
 * slots, and reads the exported quantiles off the merged sketch.
 */

import { bucketValue, NEGATIVE_TOKEN, ZERO_TOKEN } from '../core/sketch-mapping.js';

/**
 * Rank (1-based, in the ascending order of the observations) whose value is reported as the
 * `q`-quantile of `n` observations: `ceil(q · n)`, at least 1 — the lower quantile, so `q = 0`
 * is the minimum and `q = 1` the maximum. Accuracy is stated against the exact value at this
 * rank of the union of every process's observations in the window.
 */
export function quantileRank(q: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil(q * n)));
}

/**
 * A series' sketch buckets merged over every process and the slots of its window, as the read
 * script returns them (`<bucket token>` → count), and the quantiles they give.
 */
export class MergedSketch {
  zero = 0;
  /** Positive values' buckets: index → count. */
  readonly positive = new Map<number, number>();
  /** Negative values' buckets (by the index of `|v|`): index → count. */
  readonly negative = new Map<number, number>();

  /** Add a stored bucket's count; false when `token` is not a bucket token (nothing is added). */
  add(token: string, count: number): boolean {
    if (!(count > 0)) return count === 0;
    if (token === ZERO_TOKEN) {
      this.zero += count;
      return true;
    }
    const negative = token.startsWith(NEGATIVE_TOKEN);
    const text = negative ? token.slice(NEGATIVE_TOKEN.length) : token;
    const index = Number(text);
    if (text === '' || !Number.isInteger(index)) return false;
    const into = negative ? this.negative : this.positive;
    into.set(index, (into.get(index) ?? 0) + count);
    return true;
  }

  /** Number of observations counted. */
  get count(): number {
    let n = this.zero;
    for (const c of this.positive.values()) n += c;
    for (const c of this.negative.values()) n += c;
    return n;
  }

  /**
   * The `percentiles` (ascending) of the counted observations: for each, the representative
   * value of the bucket holding the observation at `quantileRank(q, n)`; each is within the
   * mapping's relative accuracy of that observation. All NaN when nothing was counted.
   */
  quantiles(percentiles: readonly number[]): number[] {
    const n = this.count;
    const out = new Array<number>(percentiles.length).fill(NaN);
    if (n === 0) return out;
    // Ascending value order: negatives from the largest |v| down, then zero, then positives up.
    const negatives = [...this.negative.keys()].sort((a, b) => b - a);
    const positives = [...this.positive.keys()].sort((a, b) => a - b);
    let p = 0;
    let seen = 0;
    const visit = (count: number, value: number): void => {
      seen += count;
      while (p < percentiles.length && quantileRank(percentiles[p]!, n) <= seen) out[p++] = value;
    };
    for (const i of negatives) visit(this.negative.get(i)!, -bucketValue(i));
    if (this.zero > 0) visit(this.zero, 0);
    for (const i of positives) visit(this.positive.get(i)!, bucketValue(i));
    return out;
  }
}
