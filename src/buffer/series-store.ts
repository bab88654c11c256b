/**
 * The series of one metric family: label set → delta cell, the dirty list a flush takes, and
 * removal and reset (with the detached cells a held child may still write). Label validation
 * lives in label-values.ts, the hot-path lookup in lookup.ts.
 */
import { renderLabels } from '../core/escape.js';
import type { Cell } from './cells.js';
import { clearCell } from './cells.js';
import type { DeltaBuffer } from './delta-buffer.js';
import type { FamilyMeta } from '../core/family.js';
import { isEmptyLabelObject, noLabels, valuesOfObject, valuesOfPositional } from './label-values.js';
import { compileLookup, type Lookup, type Node } from './lookup.js';

export type { LabelValue } from './label-values.js';

/** What a flush takes from one store. */
export interface TakenStore<C extends Cell = Cell> {
  /** Every series of the family was removed before the cells below changed. */
  readonly reset: boolean;
  /** Label keys of removed series (after the reset, if any). */
  readonly removed: readonly string[];
  /** Series that changed (or were created) since the previous take. */
  readonly cells: readonly C[];
  /**
   * The take's epoch. A cell whose `e` differs was detached (removed, reset) and written again
   * after this take: its value belongs to the next take, after the removal — the encoder skips
   * it here, as it skips a cell no longer dirty (`d` false: detached and not written since).
   */
  readonly epoch: number;
}

/** Parameters of one metric family's store. */
export interface SeriesStoreOptions<C extends Cell> {
  readonly meta: FamilyMeta;
  readonly labelNames: readonly string[];
  readonly buffer: DeltaBuffer;
  readonly maxSeries: number;
  /** Longest label value accepted (longer ones are refused at the call with a RangeError). */
  readonly maxLabelValueLength: number;
  /** Create a cell for a new series, given its rendered label key. */
  readonly create: (key: string) => C;
  /** Called once, the first time a label set is refused for the cardinality limit. */
  readonly onLimit: () => void;
  /** The library's own metrics: flushed along with others, never a reason to flush. */
  readonly internal?: boolean;
}

/**
 * The series of one metric family: label set → cell. Inline label objects are looked up through
 * one `Map` level per label (no key string is built per call); a miss takes the slow path that
 * validates, renders the key once and creates the cell.
 */
export class SeriesStore<C extends Cell = Cell> {
  readonly meta: FamilyMeta;
  readonly metric: string;
  readonly labelNames: readonly string[];
  /** Label sets refused because the store was full. */
  dropped = 0;
  /** Writes to a family whose metadata conflicts with Redis are dropped; see MetadataConflictError. */
  conflicted = false;
  /** Whether the buffer lists this store as changed (kept by DeltaBuffer: listed at most once). */
  listed = false;
  /** Removed from its registry: the buffer drops its changes (see BufferedStore.retired). */
  retired = false;
  /** Counts takes: cells put on the dirty list carry it (`cell.e`). */
  #epoch = 0;
  /** The library's own metrics (see SeriesStoreOptions.internal). */
  readonly internal: boolean;
  readonly #buffer: DeltaBuffer;
  readonly #create: (key: string) => C;
  readonly #onLimit: () => void;
  readonly #maxSeries: number;
  readonly #maxLabelValueLength: number;
  readonly #lookup: Lookup;
  #root: Node = new Map();
  #single: C | undefined;
  #size = 0;
  #void: C | undefined;
  #dirty: C[] = [];
  /** Cells of removed series that a bound child may still hold, by label key. */
  readonly #detached = new Map<string, WeakRef<C>>();
  readonly #finalizer = new FinalizationRegistry<string>((key) => {
    if (this.#detached.get(key)?.deref() === undefined) this.#detached.delete(key);
  });
  #removed: string[] = [];
  #reset = false;

  constructor(options: SeriesStoreOptions<C>) {
    this.meta = options.meta;
    this.metric = options.meta.name;
    this.labelNames = options.labelNames;
    this.#buffer = options.buffer;
    this.#create = options.create;
    this.#onLimit = options.onLimit;
    this.#maxSeries = options.maxSeries;
    this.#maxLabelValueLength = options.maxLabelValueLength;
    this.internal = options.internal ?? false;
    this.#lookup = compileLookup(this.labelNames);
    if (this.labelNames.length === 0) this.#single = this.#insertSingle();
  }

  /**
   * Put a cell on the dirty list. The hot path calls this only when `cell.d` is false, so each
   * cell is listed once per flush.
   */
  touch(cell: C): void {
    cell.d = true;
    cell.e = this.#epoch;
    this.#dirty.push(cell);
    this.#buffer.changed(this);
  }

  /**
   * Removed from its registry: what is waiting is dropped, and every later change goes to the
   * buffer's `onRetired` instead of a flush (see BufferedStore.retired).
   */
  retire(): void {
    this.retired = true;
    for (const cell of this.#dirty) cell.d = false;
    this.#dirty = [];
    this.#removed = [];
    this.#reset = false;
  }

  /** Hand the changes since the previous take to the flusher. */
  take(): TakenStore<C> {
    const taken = { reset: this.#reset, removed: this.#removed, cells: this.#dirty, epoch: this.#epoch++ };
    this.#dirty = [];
    this.#removed = [];
    this.#reset = false;
    return taken;
  }

  #hasOps(): boolean {
    return this.#reset || this.#removed.length > 0;
  }

  /** Changes since the last take, as the buffer counts them: dirty series, and pending removes or a reset. */
  get waiting(): number {
    return this.#dirty.length + (this.#hasOps() ? 1 : 0);
  }

  /** Number of series held. */
  get size(): number {
    return this.#size;
  }

  /** The cell of a family without labels. */
  get single(): C {
    if (this.#single === undefined) {
      throw new TypeError(
        `Metric "${this.metric}" has labels (${this.labelNames.join(', ')}); pass a label object or use labels()`,
      );
    }
    return this.#single;
  }

  /** The cell for a label object, created on first use. The hot path of `inc(labels)`. */
  fromObject(labels: Readonly<Record<string, unknown>>): C {
    const found = this.#lookup(labels, this.#root);
    return found === undefined ? this.#slowObject(labels) : (found as C);
  }

  /** The cell for positional label values, in `labelNames` order. */
  fromValues(values: readonly unknown[]): C {
    const strings = valuesOfPositional(this.metric, this.labelNames, values, this.#maxLabelValueLength);
    return strings.length === 0 ? this.single : this.#lookupOrCreate(strings);
  }

  /** Positional label values → validated strings, one per label name. */
  valuesOfPositional(values: readonly unknown[]): string[] {
    return valuesOfPositional(this.metric, this.labelNames, values, this.#maxLabelValueLength);
  }

  /** Labels object → ordered string values, validating names. */
  valuesOf(labels: unknown): string[] {
    return valuesOfObject(this.metric, this.labelNames, labels, this.#maxLabelValueLength);
  }

  /** Remove one series: its cell leaves the store and Redis deletes it at the next flush. */
  remove(values: readonly string[]): boolean {
    if (values.length === 0) {
      this.reset();
      return true;
    }
    const path: Node[] = [];
    let node: Node = this.#root;
    for (let i = 0; i < values.length - 1; i++) {
      const next = node.get(values[i]!);
      if (next === undefined) return this.#removeDetached(values);
      path.push(node);
      node = next as Node;
    }
    const cell = node.get(values[values.length - 1]!) as C | undefined;
    if (cell === undefined) return this.#removeDetached(values);
    node.delete(values[values.length - 1]!);
    // Drop maps left empty so a removed label value frees its memory.
    for (let i = path.length - 1; i >= 0 && node.size === 0; i--) {
      const parent = path[i]!;
      parent.delete(values[i]!);
      node = parent;
    }
    this.#size--;
    this.#detach(cell);
    return this.#recordRemove(values);
  }

  /**
   * Remove a series this store does not hold: a cell removed earlier may still be written through
   * a held child — detach it again so its newer value does not follow the deletion.
   */
  #removeDetached(values: readonly string[]): boolean {
    const cell = this.#detached.get(renderLabels(this.labelNames, values))?.deref();
    if (cell !== undefined) this.#detach(cell);
    return this.#recordRemove(values);
  }

  /**
   * Take a removed series' cell out of the store: zero it and keep it off the dirty list, so the
   * deletion is not followed by a write of the stale cell. A bound child may still hold the cell:
   * its next write re-creates the series (nothing recorded is lost), and `labels()` for the same
   * label set hands that same cell back instead of creating a second one.
   */
  #detach(cell: C): void {
    clearCell(cell);
    // Off the dirty list it writes nothing (an encoder still holding it skips it, `d` being
    // false); once a held child writes again, it is a new series (with a new `_created`), in the
    // next take, after the removal.
    cell.fresh = true;
    if (cell.d) {
      const at = this.#dirty.indexOf(cell);
      if (at >= 0) this.#dirty.splice(at, 1);
      cell.d = false;
    }
    this.#detached.set(cell.key, new WeakRef(cell));
    this.#finalizer.register(cell, cell.key);
  }

  /** Remove every series of the family, here and (at the next flush) in Redis. */
  reset(): void {
    if (this.#single === undefined) {
      // Dirty cells include detached ones written through held children: zero them all.
      for (const cell of this.#dirty) {
        clearCell(cell);
        cell.fresh = true;
        cell.d = false;
      }
      this.#dirty = [];
      this.forEach((cell) => this.#detach(cell));
    } else {
      clearCell(this.#single);
    }
    this.#reset = true;
    this.#removed = [];
    this.#buffer.changed(this);
    if (this.#single !== undefined) {
      // A family without labels always exports its one series: start it again from zero, in
      // the next take (after the reset) even if an encoder is still holding the cell.
      this.#single.fresh = true;
      if (!this.#single.d || this.#single.e !== this.#epoch) this.touch(this.#single);
      return;
    }
    this.#root = new Map();
    this.#size = 0;
  }

  /** Visit every series (used to rewrite all per-process gauges after a lost lease). */
  forEach(fn: (cell: C) => void): void {
    if (this.#single !== undefined) {
      fn(this.#single);
      return;
    }
    const walk = (node: Node, depth: number): void => {
      for (const child of node.values()) {
        if (depth === this.labelNames.length - 1) fn(child as C);
        else walk(child as Node, depth + 1);
      }
    };
    walk(this.#root, 0);
  }

  /** Mark every series dirty so the next flush writes all of them. */
  touchAll(): void {
    this.forEach((cell) => {
      cell.fresh = true;
      if (!cell.d) this.touch(cell);
    });
  }

  #recordRemove(values: readonly string[]): boolean {
    // Recorded even when this process never saw the series: another process may have written it.
    this.#removed.push(renderLabels(this.labelNames, values));
    this.#buffer.changed(this);
    return true;
  }

  #slowObject(labels: Readonly<Record<string, unknown>>): C {
    if (this.labelNames.length === 0) {
      if (isEmptyLabelObject(labels)) return this.single;
      throw noLabels(this.metric, labels);
    }
    return this.#lookupOrCreate(this.valuesOf(labels));
  }

  #lookupOrCreate(values: readonly string[]): C {
    let node: Node = this.#root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Node | undefined;
      if (next === undefined) {
        if (this.#size >= this.#maxSeries) return this.#refuse();
        next = new Map();
        node.set(values[i]!, next);
      }
      node = next;
    }
    const existing = node.get(values[last]!) as C | undefined;
    if (existing !== undefined) return existing;
    if (this.#size >= this.#maxSeries) return this.#refuse();
    const key = renderLabels(this.labelNames, values);
    let cell = this.#detached.get(key)?.deref();
    if (cell === undefined) cell = this.#create(key);
    else {
      this.#detached.delete(key);
      cell.fresh = true;
    }
    node.set(values[last]!, cell);
    this.#size++;
    if (!cell.d) this.touch(cell);
    return cell;
  }

  #insertSingle(): C {
    const cell = this.#create('');
    this.#size = 1;
    this.touch(cell);
    return cell;
  }

  /**
   * Over the limit: hand out a cell that is never flushed. It stays marked dirty, so writes to it
   * never reach the buffer; the refusal is counted and reported once.
   */
  #refuse(): C {
    if (this.dropped++ === 0) this.#onLimit();
    if (this.#void === undefined) {
      this.#void = this.#create('');
      this.#void.d = true;
      this.#void.fresh = false;
    }
    // Refused writes of unrelated label sets must not add up into one value (a gauge could overflow).
    clearCell(this.#void);
    return this.#void;
  }
}
