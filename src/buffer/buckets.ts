/** Index of the bucket `value` falls in (`value <= bound`); `bounds.length` is the `+Inf` slot. */
export function slotOf(bounds: readonly number[], value: number): number {
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
