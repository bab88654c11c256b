/**
 * The registry a metric records into when its options name none. The registry module sets it
 * when it creates `REGISTRY`, so metrics never import the registry (which sits above them).
 */
import type { Cell } from '../buffer/cells.js';
import type { SeriesStore } from '../buffer/series-store.js';
import type { FamilyMeta } from '../core/family.js';
import type { RegistryApi } from '../core/registry-api.js';

/**
 * The registry a metric records into: the public API users call on it (`metric.registry.metrics()`)
 * and the internal `register` metrics call. `Registry` implements it.
 */
export interface MetricRegistry extends RegistryApi {
  /**
   * @internal Called by metric constructors; `internal` families (the library's own metrics)
   * are not listed and never trigger a flush; `metric` is what `getSingleMetric` returns.
   */
  register<C extends Cell>(
    meta: FamilyMeta,
    create: (key: string) => C,
    internal?: boolean,
    metric?: object,
  ): SeriesStore<C>;
  /** @internal A metric's `collect` option: run before each flush of this process. */
  addCollect(metric: string, run: () => unknown): void;
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
