/**
 * The quantile sketch of a Summary with `percentiles`: DDSketch's logarithmic bucket mapping
 * with integer counts, so that bucket counts of many processes merge exactly by addition (Redis
 * `HINCRBY`, in any order) and quantiles are computed once, at scrape time, from merged counts.
 *
 * Mapping. A value `v > 0` falls in bucket `i = ceil(ln(v) / ln(γ))`, which covers
 * `(γ^(i-1), γ^i]`, with `γ = (1 + α) / (1 - α)`. Its representative value `2γ^i / (γ + 1)`
 * is within relative error `α` of every value in the bucket. A negative value uses the bucket
 * of `|v|`, counted separately; zero has a bucket of its own. Every finite double maps to an
 * index in [-74,443, +70,978] (α = 0.5%), so there is no clamping and no collapsing:
 * the index depends on the value alone, identical in every process.
 *
 * Why not hdr-histogram-js: HdrHistogram needs a fixed `[lowest, highest]` trackable range and
 * a significant-digit setting agreed in advance, scales values to integers (1e-6 and 1e6 in
 * one histogram needs 12 decades of integer range), and its counts live in its own array
 * layout — merging in Redis would mean re-deriving that layout in Lua. The DDSketch mapping is
 * three lines, needs no range, and its bucket index *is* the Redis hash field.
 *
 * Memory. The number of buckets a series uses is at most `ln(max/min) / ln(γ)` for its value
 * range — about 230 per decade of values per sign at α = 0.5%, and never more than the
 * number of observations. See `SketchCounts` for the in-process cost.
 */

/** Relative accuracy of every reported quantile (0.5%: twice the margin the 1% target asks for). */
export const RELATIVE_ACCURACY = 0.005;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
/** `1 / ln(γ)`: an index is one `Math.log`, one multiply and one `Math.ceil`. */
const MULTIPLIER = 1 / LN_GAMMA;
/** `ln(2 / (γ + 1))`: the representative value's offset from the bucket's upper bound. */
const LN_REPRESENTATIVE = Math.log(2 / (GAMMA + 1));

/**
 * Identifies the mapping in the family's stored shape: a future change of `α` must read as a
 * metadata conflict, never as silently mis-scaled buckets.
 */
export const SKETCH_MAPPING = `ddsketch-log-${RELATIVE_ACCURACY}`;

/** Bucket index of `|value|` (`value` finite and not zero). */
export function bucketIndex(value: number): number {
  return Math.ceil(Math.log(Math.abs(value)) * MULTIPLIER);
}

/**
 * The value bucket `index` stands for (positive; negate it for negative-value buckets).
 * Computed in the log domain and clamped to the largest double, so the buckets of values near
 * `Number.MAX_VALUE` do not report `Infinity`.
 */
export function bucketValue(index: number): number {
  return Math.min(Math.exp(index * LN_GAMMA + LN_REPRESENTATIVE), Number.MAX_VALUE);
}

/**
 * Token of a bucket in a Redis hash field (`<series>|<token>`) and in the flush payload:
 * `<i>` for a positive value's bucket, `n<i>` for a negative value's, `z` for zero. Indexes
 * are signed integers; the three forms cannot be mistaken for each other, nor for a summary's
 * `s` and `c` fields.
 */
export const ZERO_TOKEN = 'z';
export const NEGATIVE_TOKEN = 'n';

const EMPTY = 0x7fffffff;
const INITIAL_CAPACITY = 16;

/**
 * One series' bucket counts since the last flush: an open-addressing hash table (linear
 * probing, Fibonacci hashing) of bucket codes in an `Int32Array` and counts in a
 * `Float64Array`. A code is `2i` for a positive value's bucket `i` and `2i + 1` for a negative
 * value's; zero is a plain field. `add()` allocates only when the table grows (load factor
 * 1/2); `drain()` empties it in place, so a series that keeps its value range never allocates
 * again. Counts are doubles: exact up to 2^53 between two flushes, even through a long outage.
 *
 * In-process memory: 12 bytes per slot (4 for the code, 8 for the count), at most twice as
 * many slots as distinct buckets seen between two flushes (rounded up to a power of two),
 * plus ~200 bytes of fixed overhead — about 3 KB for a series touching 100 buckets.
 */
export class SketchCounts {
  /** Observations of exactly zero (or -0). */
  zero = 0;
  /** Occupied slots. */
  size = 0;
  #codes = new Int32Array(INITIAL_CAPACITY).fill(EMPTY);
  #counts = new Float64Array(INITIAL_CAPACITY);
  /** `32 - log2(capacity)`: the hash takes the top bits of a 32-bit product. */
  #shift = 32 - Math.log2(INITIAL_CAPACITY);

  /** Count one observation of `value` (finite). */
  add(value: number): void {
    let code: number;
    if (value > 0) code = Math.ceil(Math.log(value) * MULTIPLIER) * 2;
    else if (value < 0) code = Math.ceil(Math.log(-value) * MULTIPLIER) * 2 + 1;
    else {
      this.zero++;
      return;
    }
    const codes = this.#codes;
    const mask = codes.length - 1;
    let slot = Math.imul(code, 0x9e3779b1) >>> this.#shift;
    for (;;) {
      const held = codes[slot]!;
      if (held === code) {
        this.#counts[slot]! += 1;
        return;
      }
      if (held === EMPTY) break;
      slot = (slot + 1) & mask;
    }
    codes[slot] = code;
    this.#counts[slot] = 1;
    if (++this.size * 2 > codes.length) this.#grow();
  }

  /** True when nothing was counted since the last drain. */
  get empty(): boolean {
    return this.size === 0 && this.zero === 0;
  }

  /**
   * The counts as `token:n,token:n,...` (the flush payload's form), then empty the table in
   * place. Returns '' when nothing was counted.
   */
  drain(): string {
    let spec = this.zero === 0 ? '' : `${ZERO_TOKEN}:${this.zero}`;
    if (this.size > 0) {
      const codes = this.#codes;
      const counts = this.#counts;
      for (let slot = 0; slot < codes.length; slot++) {
        const code = codes[slot]!;
        if (code === EMPTY) continue;
        const token = (code & 1) === 0 ? String(code / 2) : `${NEGATIVE_TOKEN}${(code - 1) / 2}`;
        spec += spec === '' ? `${token}:${counts[slot]!}` : `,${token}:${counts[slot]!}`;
      }
    }
    this.clear();
    return spec;
  }

  /** Forget every count, keeping the table's capacity. */
  clear(): void {
    if (this.size > 0) {
      this.#codes.fill(EMPTY);
      this.#counts.fill(0);
      this.size = 0;
    }
    this.zero = 0;
  }

  #grow(): void {
    const oldCodes = this.#codes;
    const oldCounts = this.#counts;
    const capacity = oldCodes.length * 2;
    const codes = new Int32Array(capacity).fill(EMPTY);
    const counts = new Float64Array(capacity);
    const shift = this.#shift - 1;
    const mask = capacity - 1;
    for (let i = 0; i < oldCodes.length; i++) {
      const code = oldCodes[i]!;
      if (code === EMPTY) continue;
      let slot = Math.imul(code, 0x9e3779b1) >>> shift;
      while (codes[slot] !== EMPTY) slot = (slot + 1) & mask;
      codes[slot] = code;
      counts[slot] = oldCounts[i]!;
    }
    this.#codes = codes;
    this.#counts = counts;
    this.#shift = shift;
  }
}
