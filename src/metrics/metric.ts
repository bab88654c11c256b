/**
 * The base of every metric type: validates the options shared by all types, registers the family
 * with its registry and gives `labels()`, `remove()` and `reset()`. What a type records, and how,
 * lives in that type's file.
 */
import type { Cell } from '../buffer/cells.js';
import type { LabelValue, SeriesStore } from '../buffer/series-store.js';
import { jsonHeadOf, type FamilyKind, type FamilyMeta } from '../core/family.js';
import type { MetricObject } from '../core/registry-api.js';
import { isRegistry } from '../core/registry-check.js';
import { defaultRegistry, type MetricRegistry } from './default-registry.js';
import { LAYOUT_VERSION } from '../core/version.js';
import { describeValue, validateHelp, validateLabelNames, validateMetricName } from '../core/validate.js';

/**
 * A label set: every declared label name with a string (or number) value. For `L = never` (a
 * metric typed `Counter<never>`: no labels) no label object is accepted but `{}`.
 */
export type Labels<L extends string = string> = [L] extends [never]
  ? Readonly<Record<string, never>>
  : Readonly<Record<L, LabelValue>>;

/** Options every metric type accepts. */
export interface MetricOptions<L extends string = string> {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  readonly name: string;
  /** HELP text. */
  readonly help: string;
  /**
   * Label names, in the order positional `labels(...)` takes their values.
   * @default []
   */
  readonly labelNames?: readonly L[];
  /**
   * The registry (Redis connection, prefix, flusher) the metric records into.
   * @default REGISTRY
   */
  readonly registry?: MetricRegistry;
  /** OpenMetrics unit (e.g. `seconds`); the name must end with `_<unit>`. */
  readonly unit?: string;
  /**
   * Sample the metric's value when it is needed (a pool's size, a queue's depth), as prom-client's
   * `collect`: called with the metric as `this`, sync or async, in each process before each of
   * its flushes — every `flushIntervalMs`, and before the flush that starts a scrape. For a
   * per-process `Gauge`, each process samples its own value; for a value only one process knows,
   * give the callback to that process's metric (or use `registry.registerCollector`). A flush
   * waits for it at most `flushIntervalMs` or 1 s, whichever is less (a value that comes later
   * goes with the next flush); a failure or overrun goes to `onError` (`CollectError`) and the
   * flush goes on. Each metric type declares `this` as itself.
   */
  readonly collect?: (this: never) => void | Promise<void>;
  /** @internal The library's own metrics (self-metrics): registered as internal families. */
  readonly internal?: boolean;
}

/** @internal What a metric type tells the base class about itself. */
export interface MetricSpec<C extends Cell> {
  readonly kind: FamilyKind;
  readonly create: (key: string) => C;
  /** Label names this type reserves (`le`, `quantile`, `gauge_index`). */
  readonly reserved?: readonly string[];
  readonly extra?: Partial<
    Pick<
      FamilyMeta,
      'buckets' | 'expireSeconds' | 'aggregate' | 'percentiles' | 'maxAgeSeconds' | 'ageBuckets'
    >
  >;
  /** Counters: the family name without `_total`. */
  readonly familyName?: (name: string) => string;
}

/** The cell for `labels(...)` arguments: one label object, or one value per label name. */
export function cellOf<C extends Cell>(store: SeriesStore<C>, args: readonly unknown[]): C {
  if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null) {
    return store.fromObject(args[0] as Record<string, unknown>);
  }
  return store.fromValues(args);
}

/**
 * Shared behaviour of all metric types: registration, `labels()` (a child of type `Child` bound to
 * one label set), `remove()` and `reset()`.
 */
export abstract class Metric<L extends string = string, Child = unknown> {
  /** The family name as stored and exposed (counters: without `_total`). */
  readonly name: string;
  /** The HELP text. */
  readonly help: string;
  /** The label names, in the order positional `labels(...)` takes their values. */
  readonly labelNames: readonly L[];
  /** The registry this metric records into. */
  readonly registry: MetricRegistry;
  /** @internal Each type narrows it to its own cell with a `declare` field. */
  protected readonly store: SeriesStore;

  /** @internal */
  protected constructor(options: MetricOptions<L>, spec: MetricSpec<Cell>) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Metric options must be an object, got ${describeValue(options)}`);
    }
    const given = validateMetricName(options.name);
    const name = spec.familyName ? spec.familyName(given) : given;
    this.name = name;
    this.help = validateHelp(name, options.help);
    this.labelNames = validateLabelNames(name, options.labelNames, spec.reserved ?? []) as readonly L[];
    if (options.unit !== undefined) {
      if (typeof options.unit !== 'string' || !/^[a-zA-Z0-9_]+$/.test(options.unit)) {
        throw new TypeError(
          `Metric "${name}": unit must match [a-zA-Z0-9_]+, got ${describeValue(options.unit)}`,
        );
      }
      if (!name.endsWith(`_${options.unit}`)) {
        throw new TypeError(
          `Metric "${name}": a metric with unit "${options.unit}" must be named *_${options.unit}`,
        );
      }
    }
    const collect: unknown = options.collect;
    if (collect !== undefined && typeof collect !== 'function') {
      throw new TypeError(`Metric "${name}": \`collect\` must be a function, got ${describeValue(collect)}`);
    }
    const registry: unknown = options.registry ?? defaultRegistry();
    if (!isRegistry(registry, ['register'])) {
      throw new TypeError(
        `Metric "${name}": \`registry\` must be a Registry, got ${describeValue(registry)}`,
      );
    }
    this.registry = registry as MetricRegistry;
    const meta: FamilyMeta = {
      v: LAYOUT_VERSION,
      name,
      kind: spec.kind,
      help: this.help,
      labelNames: this.labelNames,
      ...spec.extra,
      ...(options.unit === undefined ? {} : { unit: options.unit }),
    };
    this.store = this.registry.register(meta, spec.create, options.internal === true, this);
    if (collect !== undefined) this.registry.addCollect(name, () => (collect as () => unknown).call(this));
  }

  /**
   * This metric's merged state — every process's, from Redis, after flushing this one's deltas —
   * in prom-client's shape (`{ name, help, type, values, aggregator }`). `values` is empty until
   * the family is in Redis.
   */
  async get(): Promise<MetricObject> {
    const found = await this.registry.getSingleMetricAsJSON(this.store.meta.name);
    return found ?? { ...jsonHeadOf(this.store.meta), values: [] };
  }

  /** The child for one label set: `labels({ route: '/a' })` or `labels('/a')`. */
  labels(labels: Labels<L>): Child;
  labels(...values: LabelValue[]): Child;
  labels(...args: unknown[]): Child {
    return this.child(cellOf(this.store, args), args);
  }

  /** @internal The child bound to `cell`; `args` are the `labels(...)` arguments that named it. */
  protected abstract child(cell: Cell, args: readonly unknown[]): Child;

  /** @internal The label object that `labels(...)` arguments (already accepted once) name. */
  labelsOf(args: readonly unknown[]): Labels<L> {
    if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null) return args[0] as Labels<L>;
    const labels: Record<string, unknown> = {};
    this.labelNames.forEach((name, i) => (labels[name] = args[i]));
    return labels as Labels<L>;
  }

  /**
   * Remove one series, here and — at the next flush — in Redis, for every process. A bound child
   * of it that is still used re-creates the series: nothing recorded is lost.
   */
  remove(labels: Labels<L>): void;
  remove(...values: LabelValue[]): void;
  remove(...args: unknown[]): void {
    const values =
      args.length === 1 && typeof args[0] === 'object' && args[0] !== null
        ? this.store.valuesOf(args[0])
        : this.store.valuesOfPositional(args);
    if (values.length === 0) {
      throw new TypeError(`Metric "${this.name}" has no labels; use reset() to clear it`);
    }
    this.store.remove(values);
  }

  /** Remove every series of this metric, here and (at the next flush) in Redis. */
  reset(): void {
    this.store.reset();
  }
}
