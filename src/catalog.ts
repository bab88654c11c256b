/**
 * The metric families registered in one registry: their stores, the metric objects that own
 * them, and which family exposes each sample name (so no two families print the same series).
 * Registration, lookup by name (`getSingleMetric`) and removal (`removeSingleMetric`, `clear`),
 * which also removes the metric's `collect` callback.
 */
import type { SeriesStore } from './buffer/series-store.js';
import type { Collectors } from './collectors.js';
import { sampleNames, type FamilyMeta } from './core/family.js';
import { describeValue } from './core/validate.js';

/** `report` for a user's store, once per store (a removed metric's dropped changes). */
export function onceEach(report: (store: SeriesStore) => void): (store: SeriesStore) => void {
  const said = new WeakSet<SeriesStore>();
  return (store) => {
    if (store.internal || said.has(store)) return;
    said.add(store);
    report(store);
  };
}

/** A metric name given to a lookup, checked. */
export function validateName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`Expected a metric name, got ${describeValue(name)}`);
  return name;
}

interface Entry {
  readonly store: SeriesStore;
  /** The metric object whose constructor registered the family (absent for internal callers). */
  readonly metric: object | undefined;
  readonly samples: readonly string[];
}

export class Catalog {
  readonly #entries = new Map<string, Entry>();
  readonly #sampleOwners = new Map<string, string>();
  readonly #collectors: Collectors;

  constructor(collectors: Collectors) {
    this.#collectors = collectors;
  }

  /** Throws unless a family `meta` can be added: its name and sample names are free. */
  check(meta: FamilyMeta): void {
    if (this.#entries.has(meta.name)) {
      throw new TypeError(`A metric named "${meta.name}" is already registered in this registry`);
    }
    for (const sample of sampleNames(meta)) {
      const owner = this.#sampleOwners.get(sample);
      if (owner !== undefined) {
        throw new TypeError(
          `Metric "${meta.name}" would expose series named "${sample}", which metric "${owner}" already exposes`,
        );
      }
    }
  }

  /** Add a family that `check` accepted. */
  add(store: SeriesStore, metric: object | undefined): void {
    const samples = sampleNames(store.meta);
    this.#entries.set(store.meta.name, { store, metric, samples });
    for (const sample of samples) this.#sampleOwners.set(sample, store.meta.name);
  }

  /** Every store, the library's own (internal) ones included. */
  stores(): SeriesStore[] {
    return [...this.#entries.values()].map((e) => e.store);
  }

  /** Names of the user's families (not the library's own self-metrics). */
  names(): string[] {
    return [...this.#entries.values()].filter((e) => !e.store.internal).map((e) => e.store.meta.name);
  }

  /**
   * The user's family called `name`: its family name, or a counter's name with `_total` (how
   * prom-client users know it).
   */
  find(name: string): Entry | undefined {
    const entry = this.#entries.get(name) ?? this.#counterTotal(name);
    return entry === undefined || entry.store.internal ? undefined : entry;
  }

  #counterTotal(name: string): Entry | undefined {
    if (!name.endsWith('_total')) return undefined;
    const entry = this.#entries.get(name.slice(0, -'_total'.length));
    return entry?.store.meta.kind === 'counter' ? entry : undefined;
  }

  /** Forget the user's family `name` (see `find`) and retire its store; the store, if any. */
  remove(name: string): SeriesStore | undefined {
    const entry = this.find(name);
    if (entry === undefined) return undefined;
    entry.store.retire();
    this.#entries.delete(entry.store.meta.name);
    for (const sample of entry.samples) this.#sampleOwners.delete(sample);
    this.#collectors.removeMetric(entry.store.meta.name);
    return entry.store;
  }
}
