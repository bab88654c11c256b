/**
 * In-process counts of the quantile sketch (the mapping itself is in core/sketch-mapping.ts):
 * what a Summary with `percentiles` records between two flushes.
 */
import { MULTIPLIER, NEGATIVE_TOKEN, ZERO_TOKEN } from '../core/sketch-mapping.js';

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
