// A metric family's metadata, the one description every layer agrees on: its kind, help, label
// names, buckets or quantile window, and how it is encoded into Redis's meta hash (so a
// standalone reader can render families it never registered).
import type { MetricObject } from './registry-api.js';
import { SKETCH_MAPPING } from './sketch-mapping.js';
import { isLabelName } from './validate.js';
import { LAYOUT_VERSION } from './version.js';

/** How a family is stored: `gauge` is per process (`gauge_index`), `common_gauge` is shared. */
export type FamilyKind = 'counter' | 'gauge' | 'common_gauge' | 'histogram' | 'summary';

/** The Prometheus type a family is exposed as. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/**
 * How a per-process gauge family is exported: `all` is one series per live process (with
 * `gauge_index`); the others merge the live processes' values into one series per label set.
 */
export type GaugeAggregate = 'all' | 'sum' | 'min' | 'max' | 'avg' | 'last';

/** Every `GaugeAggregate`, in documentation order. */
export const GAUGE_AGGREGATES: readonly GaugeAggregate[] = Object.freeze([
  'all',
  'sum',
  'min',
  'max',
  'avg',
  'last',
]);

/**
 * A metric family as stored in Redis at registration, so that any process — including one
 * without the application's code — can render it.
 */
export interface FamilyMeta {
  /** Layout version of the data (see LAYOUT_VERSION). */
  readonly v: number;
  /** Family name; for counters without the `_total` suffix, which exposition adds. */
  readonly name: string;
  /** Which metric class recorded it (`common_gauge` is exposed as a gauge). */
  readonly kind: FamilyKind;
  /** HELP text. */
  readonly help: string;
  /** Label names, in declaration order. */
  readonly labelNames: readonly string[];
  /** Histogram bucket upper bounds, ascending, without `+Inf`. */
  readonly buckets?: readonly number[];
  /** Common gauge: seconds a series lives after its last write. */
  readonly expireSeconds?: number;
  /** OpenMetrics unit, if declared. */
  readonly unit?: string;
  /** Per-process gauge: how live processes' values are merged; absent means `all`. */
  readonly aggregate?: Exclude<GaugeAggregate, 'all'>;
  /**
   * Summary with quantiles: the quantiles exported (ascending, each in [0, 1]), merged over every
   * process from the buckets of the last `maxAgeSeconds` (in `ageBuckets` time slots). Absent
   * for a summary that exports only `_sum` and `_count`.
   */
  readonly percentiles?: readonly number[];
  readonly maxAgeSeconds?: number;
  readonly ageBuckets?: number;
  /**
   * Where the family's data lives: absent, in the registry's own slot; `metric`, in a group of
   * its own (the registry's `shardBy: "metric"`). Part of the shape: processes must agree.
   */
  readonly shard?: 'metric';
}

export function typeOf(kind: FamilyKind): MetricType {
  return kind === 'common_gauge' ? 'gauge' : kind;
}

/** The name of a family's samples and, in the text format, of its HELP and TYPE lines. */
export function sampleName(meta: Pick<FamilyMeta, 'name' | 'kind'>): string {
  return meta.kind === 'counter' ? `${meta.name}_total` : meta.name;
}

/**
 * A family as prom-client's JSON names it, with no values yet: its sample name (counters with
 * `_total`), and how the processes' values are merged (`sum`, or a per-process gauge's
 * `aggregate`, `all` for one series per process).
 */
export function jsonHeadOf(meta: FamilyMeta): Omit<MetricObject, 'values'> {
  return {
    name: sampleName(meta),
    help: meta.help,
    type: typeOf(meta.kind),
    aggregator: meta.kind === 'gauge' ? (meta.aggregate ?? 'all') : 'sum',
  };
}

/**
 * The part of the metadata that must agree between processes: changing it under live data would
 * misread that data. HELP text may change between deployments (the latest registration wins).
 */
export function shapeOf(meta: FamilyMeta): string {
  return [
    `v${meta.v}`,
    meta.kind,
    meta.labelNames.join(','),
    meta.buckets?.join(',') ?? '',
    meta.expireSeconds ?? '',
    // Appended only when set, so the shape of every other family stays what it always was.
    ...(meta.aggregate === undefined ? [] : [`aggregate=${meta.aggregate}`]),
    // The bucket mapping is part of the shape: processes must agree on what a bucket index means.
    ...(meta.percentiles === undefined
      ? []
      : [
          `quantiles=${meta.percentiles.join(',')};${meta.maxAgeSeconds};${meta.ageBuckets};${SKETCH_MAPPING}`,
        ]),
    // Last, and only when set: readers look for it to find the data.
    ...(meta.shard === undefined ? [] : [`shard=${meta.shard}`]),
  ].join('|');
}

const encoded = new WeakMap<FamilyMeta, string>();

/**
 * Stored form: `<shape>\n<json>` (the script compares the shape without decoding JSON). A
 * family's metadata never changes, and flushes send it often: encoded once per object.
 */
export function encodeMeta(meta: FamilyMeta): string {
  let text = encoded.get(meta);
  if (text === undefined) {
    text = `${shapeOf(meta)}\n${JSON.stringify(meta)}`;
    encoded.set(meta, text);
  }
  return text;
}

/** Decode a stored metadata value; throws a descriptive error on a foreign or newer layout. */
export function decodeMeta(name: string, stored: string): FamilyMeta {
  const nl = stored.indexOf('\n');
  let meta: FamilyMeta | undefined;
  try {
    meta = JSON.parse(stored.slice(nl + 1)) as FamilyMeta;
  } catch {
    meta = undefined;
  }
  if (nl < 0 || meta === undefined || typeof meta !== 'object' || meta === null) {
    throw new TypeError(`Metric "${name}": metadata in Redis is not in this library's format`);
  }
  if (meta.v !== LAYOUT_VERSION) {
    throw new TypeError(
      `Metric "${name}": stored with data layout v${String(meta.v)}, this library reads v${LAYOUT_VERSION}`,
    );
  }
  const problem = structureProblem(name, meta);
  if (problem !== undefined) {
    throw new TypeError(`Metric "${name}": metadata in Redis is malformed (${problem})`);
  }
  return meta;
}

const KINDS: ReadonlySet<string> = new Set(['counter', 'gauge', 'common_gauge', 'histogram', 'summary']);

function structureProblem(name: string, meta: FamilyMeta): string | undefined {
  const m = meta as unknown as Record<string, unknown>;
  if (m.name !== name) return `name ${JSON.stringify(m.name)}`;
  if (typeof m.kind !== 'string' || !KINDS.has(m.kind)) return `kind ${JSON.stringify(m.kind)}`;
  if (typeof m.help !== 'string') return 'help is not a string';
  if (!Array.isArray(m.labelNames) || !m.labelNames.every((l) => typeof l === 'string' && isLabelName(l))) {
    return 'labelNames';
  }
  if (m.kind === 'histogram') {
    const b = m.buckets;
    if (
      !Array.isArray(b) ||
      b.length === 0 ||
      !b.every((x, i) => Number.isFinite(x) && (i === 0 || (x as number) > (b[i - 1] as number)))
    ) {
      return 'buckets';
    }
  }
  if (m.unit !== undefined && typeof m.unit !== 'string') return 'unit';
  if (m.shard !== undefined && m.shard !== 'metric') return `shard ${JSON.stringify(m.shard)}`;
  if (
    m.aggregate !== undefined &&
    (m.kind !== 'gauge' || m.aggregate === 'all' || !GAUGE_AGGREGATES.includes(m.aggregate as GaugeAggregate))
  ) {
    return `aggregate ${JSON.stringify(m.aggregate)}`;
  }
  if (m.percentiles !== undefined || m.maxAgeSeconds !== undefined || m.ageBuckets !== undefined) {
    const q = m.percentiles;
    const age = m.maxAgeSeconds;
    const slots = m.ageBuckets;
    if (
      m.kind !== 'summary' ||
      !Array.isArray(q) ||
      q.length === 0 ||
      !q.every(
        (x, i) => typeof x === 'number' && x >= 0 && x <= 1 && (i === 0 || x > (q[i - 1] as number)),
      ) ||
      typeof age !== 'number' ||
      typeof slots !== 'number' ||
      !Number.isInteger(age) ||
      !Number.isInteger(slots) ||
      slots < 1 ||
      slots > 100 ||
      age < slots
    ) {
      return 'percentiles, maxAgeSeconds or ageBuckets';
    }
  }
  return undefined;
}

/** Sample names a family produces, used to reject families whose series would collide. */
export function sampleNames(meta: Pick<FamilyMeta, 'name' | 'kind'>): string[] {
  const n = meta.name;
  switch (meta.kind) {
    case 'counter':
      return [n, `${n}_total`, `${n}_created`];
    case 'histogram':
      return [n, `${n}_bucket`, `${n}_sum`, `${n}_count`, `${n}_created`];
    case 'summary':
      return [n, `${n}_sum`, `${n}_count`, `${n}_created`];
    default:
      return [n];
  }
}
