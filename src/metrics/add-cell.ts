/**
 * The two writes into an AddCell, the cell Counter and CommonGauge share: a delta that flushes
 * add up across processes, and an absolute value (`set()`) that the flush writes before the delta.
 * Callers validate first: these only write and put the cell on its store's dirty list.
 */
import type { AddCell } from '../buffer/cells.js';
import type { SeriesStore } from '../buffer/series-store.js';

/** Make `next` the buffered delta of `cell`. */
export function writeDelta(store: SeriesStore<AddCell>, cell: AddCell, next: number): void {
  cell.v = next;
  if (!cell.d) store.touch(cell);
}

/** Make `value` the absolute value of `cell`; deltas recorded after it are added on top. */
export function writeAbsolute(store: SeriesStore<AddCell>, cell: AddCell, value: number): void {
  cell.s = value;
  cell.v = 0;
  cell.hasSet = true;
  if (!cell.d) store.touch(cell);
}
