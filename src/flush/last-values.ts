/**
 * What this process last wrote to its common gauges with `set()`, kept so it can be written
 * again if Redis loses it (FLUSHALL, a restart without persistence): a `build_info` set once at
 * start would otherwise never come back. Only series this process set are kept (a common gauge
 * moved only by `inc()`/`dec()` is a sum over processes, lost like a counter); each holds the
 * value set plus this process's increments since.
 */
import type { Cell } from '../buffer/cells.js';
import type { SeriesStore } from '../buffer/series-store.js';

export class LastValues {
  /** By common-gauge store: label key → the value this process last wrote. */
  readonly #values = new WeakMap<SeriesStore, Map<string, number>>();
  /** Stores whose values are to be written again (after a wipe), at their next encoding. */
  readonly #due = new Set<SeriesStore>();
  /**
   * This process has set a common gauge: even idle, it flushes on the heartbeat, so that a wipe
   * is noticed and the values come back (GaugeLease.refreshDue).
   */
  holding = false;

  /** A common gauge's cell about to be encoded (its pending set or increment). */
  record(store: SeriesStore, cell: Cell): void {
    if (cell.kind !== 'add') return;
    let values = this.#values.get(store);
    if (cell.hasSet) {
      this.holding = true;
      if (values === undefined) this.#values.set(store, (values = new Map<string, number>()));
      values.set(cell.key, cell.s + cell.v);
    } else if (values !== undefined && cell.v !== 0) {
      const held = values.get(cell.key);
      if (held !== undefined) values.set(cell.key, held + cell.v);
    }
  }

  /** A store's series were removed (`keys`), or all of them (`reset`). */
  removed(store: SeriesStore, keys: readonly string[], reset: boolean): void {
    const values = this.#values.get(store);
    if (values === undefined) return;
    if (reset) values.clear();
    for (const key of keys) values.delete(key);
  }

  /** Redis lost them: the stores among `stores` that hold values to write again. */
  wiped(stores: readonly SeriesStore[]): SeriesStore[] {
    const due = stores.filter((store) => (this.#values.get(store)?.size ?? 0) > 0);
    for (const store of due) this.#due.add(store);
    return due;
  }

  /** The values to write again for `store` (op N's payload), once after a wipe; undefined if none. */
  takeDue(store: SeriesStore): string | undefined {
    if (!this.#due.delete(store)) return undefined;
    const values = this.#values.get(store);
    if (values === undefined || values.size === 0) return undefined;
    let payload = '';
    for (const [key, value] of values) payload += `${key}\n${String(value)}\n`;
    return payload;
  }
}
