/**
 * The latest exemplar of one histogram bucket in this process: the observed value, its rendered
 * label set and when it was observed (`performance.now()`, ms). Only histograms that are given
 * exemplars ever allocate these.
 */
export class ExemplarSample {
  constructor(
    public value: number,
    public labels: string,
    public at: number,
  ) {}
}

/** Per-bucket slots of one series' exemplars (index = bucket slot, the last one `+Inf`). */
export type ExemplarSlots = Array<ExemplarSample | undefined>;

/** Keep `value` as the latest exemplar of `slot`, reusing the slot's object. */
export function keepExemplar(
  slots: ExemplarSlots,
  slot: number,
  value: number,
  labels: string,
  at: number,
): void {
  const held = slots[slot];
  if (held === undefined) slots[slot] = new ExemplarSample(value, labels, at);
  else {
    held.value = value;
    held.labels = labels;
    held.at = at;
  }
}

/**
 * Encode a series' exemplars as flush records: `<key>|e<slot>` \n age \n
 * `<value> <labels>` \n per bucket that has one. The age (µs since it was observed, at encode
 * time `now`, a `performance.now()` reading) lets the flush script date it by the server's clock,
 * so exemplars of different machines compare by one clock.
 */
export function encodeExemplars(key: string, slots: Readonly<ExemplarSlots>, now: number): string {
  let out = '';
  for (let slot = 0; slot < slots.length; slot++) {
    const sample = slots[slot];
    if (sample === undefined) continue;
    const age = Math.max(0, Math.round((now - sample.at) * 1000));
    out += `${key}|e${slot}\n${age}\n${String(sample.value)} ${sample.labels}\n`;
  }
  return out;
}
