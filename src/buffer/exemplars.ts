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
