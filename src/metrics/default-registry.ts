/**
 * The registry a metric records into when its options name none. The registry module sets it
 * when it creates `REGISTRY`, so metrics never import the registry (which sits above them).
 */
import type { Cell } from '../buffer/cells.js';
import type { SeriesStore } from '../buffer/series-store.js';
import type { FamilyMeta } from '../core/family.js';

/** What a metric needs of its registry: a place to register its family. `Registry` is one. */
export interface MetricRegistry {
  /**
   * The key prefix the registry stores its metrics under. (Also what keeps this type meaningful in
   * the published declarations, where the internal `register` is stripped.)
   */
  readonly prefix: string;
  /** @internal Called by metric constructors. */
  register<C extends Cell>(meta: FamilyMeta, create: (key: string) => C): SeriesStore<C>;
}

let fallback: MetricRegistry | undefined;

/** @internal Called once, by the registry module, with `REGISTRY`. */
export function setDefaultRegistry(registry: MetricRegistry): void {
  fallback = registry;
}

/** The default registry; throws if the registry module was never loaded (an internal import). */
export function defaultRegistry(): MetricRegistry {
  if (fallback === undefined) {
    throw new TypeError('No default registry: pass `registry` in the metric options');
  }
  return fallback;
}
