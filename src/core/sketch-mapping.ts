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
export const MULTIPLIER = 1 / LN_GAMMA;
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
