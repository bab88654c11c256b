/**
 * The registry-wide list of stores with changes since the last flush, and the changed-series
 * count that starts an early flush at the threshold.
 */
/** What the buffer needs of a store (a SeriesStore): whether it is listed, and what it holds. */
export interface BufferedStore {
  /** Whether the buffer lists this store as changed; kept by the buffer (listed at most once). */
  listed: boolean;
  /** Changes the store holds since its last take, as the buffer counts them. */
  readonly waiting: number;
  /** The library's own metrics: flushed along with the others, never a reason to flush. */
  readonly internal: boolean;
  /** Removed from its registry (`removeSingleMetric`, `clear`): its changes are never taken. */
  readonly retired: boolean;
}

/**
 * The registry-wide view of what changed since the last flush: the stores (metric families)
 * that have dirty series, and how many series that is. Knows nothing of Redis or timers.
 */
export class DeltaBuffer<S extends BufferedStore = BufferedStore> {
  #stores: S[] = [];
  #size = 0;
  #threshold: number;
  #onThreshold: () => void;
  /** `onThreshold` was called since the last `take()`: not again until the flusher takes. */
  #signalled = false;
  /** Set by `seal()`: nothing will take the changes any more. */
  // Typed on BufferedStore so that DeltaBuffer<S> stays usable as a DeltaBuffer<BufferedStore>;
  // only the buffer's own stores (S) are ever passed to it.
  #onSealedChange: ((store: BufferedStore) => void) | undefined;
  /** Told of changes made to a retired store: they are dropped, never taken. */
  #onRetiredChange: ((store: BufferedStore) => void) | undefined;

  /**
   * @param threshold - changed-series count at which `onThreshold` is called: at the change that
   *   makes the count reach it, then not again until the next `take()` (given-back stores count
   *   too: the next change after a `requeue()` that left the count reached calls it)
   * @param onThreshold - called synchronously from the hot path: it must only schedule work
   */
  constructor(threshold: number, onThreshold: () => void) {
    this.#threshold = threshold;
    this.#onThreshold = onThreshold;
  }

  /** Called by a store when one more of its series (or a remove/reset) is waiting to be flushed. */
  changed(store: S): void {
    if (store.retired) {
      this.#onRetiredChange?.(store);
      return;
    }
    if (this.#onSealedChange !== undefined) this.#onSealedChange(store);
    if (!store.listed) {
      store.listed = true;
      this.#stores.push(store);
    }
    // The library's own metrics ride along with flushes but never cause one.
    if (!store.internal && ++this.#size >= this.#threshold && !this.#signalled) this.#signal();
  }

  /**
   * Nothing will take this buffer's changes any more (its registry is closed, with no Redis
   * connection left): call `onChange` at every later change instead. A change is a series that
   * changes for the first time since the last take, so a series already waiting calls nothing.
   */
  seal(onChange: (store: S) => void): void {
    this.#onSealedChange = onChange as (store: BufferedStore) => void;
  }

  /** Call `onChange` at changes to retired stores (dropped: see `BufferedStore.retired`). */
  onRetired(onChange: (store: S) => void): void {
    this.#onRetiredChange = onChange as (store: BufferedStore) => void;
  }

  #signal(): void {
    this.#signalled = true;
    this.#onThreshold();
  }

  /** Series changed since the last `take()`, not counting the library's own metrics. */
  get size(): number {
    return this.#size;
  }

  /**
   * Give back stores taken but not flushed (their changes are still in them): they are handed
   * out again by the next `take()`. Call it synchronously after `take()`.
   */
  requeue(stores: readonly S[]): void {
    for (const store of stores) {
      if (store.listed) continue;
      store.listed = true;
      this.#stores.push(store);
      if (!store.internal) this.#size += store.waiting;
    }
  }

  /** Hand the stores with changes to the flusher; each store's own `take()` gives its cells. */
  take(): S[] {
    const stores = this.#stores;
    this.#stores = [];
    this.#size = 0;
    this.#signalled = false;
    for (const store of stores) store.listed = false;
    // A store removed from its registry while listed dropped its changes then (retire()).
    return stores.filter((store) => !store.retired);
  }
}
