/**
 * Helpers for unit tests: registries without Redis (metrics record locally and nothing touches
 * the network) and read access to a metric's series store, so recorded values can be checked
 * without a scrape.
 */
import { AddCell, GaugeCell, HistogramCell, SummaryCell, type Cell } from '../../src/buffer/cells.js';
import type { SeriesStore } from '../../src/buffer/series-store.js';
import { Registry, type RegistryOptions } from '../../src/index.js';

let counter = 0;

/** A registry without a Redis connection; background errors are collected in `errors`. */
export function localRegistry(options: RegistryOptions = {}): { registry: Registry; errors: Error[] } {
  const errors: Error[] = [];
  const registry = new Registry({
    prefix: `unit-${++counter}`,
    selfMetrics: false,
    onError: (e) => errors.push(e),
    ...options,
  });
  return { registry, errors };
}

/** The series store behind a metric (a protected member: read-only use in tests). */
export function storeOf<C extends Cell = Cell>(metric: object): SeriesStore<C> {
  return (metric as unknown as { store: SeriesStore<C> }).store;
}

/** What one series has recorded since it was created (before any flush drains it). */
export type Recorded =
  | { readonly kind: 'add'; readonly value: number }
  | { readonly kind: 'gauge'; readonly value: number }
  | { readonly kind: 'histogram'; readonly counts: number[]; readonly sum: number }
  | { readonly kind: 'summary'; readonly count: number; readonly sum: number };

function recorded(cell: Cell): Recorded {
  if (cell instanceof AddCell) return { kind: 'add', value: cell.hasSet ? cell.s + cell.v : cell.v };
  if (cell instanceof GaugeCell) return { kind: 'gauge', value: cell.v };
  if (cell instanceof HistogramCell) return { kind: 'histogram', counts: [...cell.counts], sum: cell.sum };
  if (cell instanceof SummaryCell) return { kind: 'summary', count: cell.n, sum: cell.sum };
  throw new TypeError('unknown cell');
}

/** Every series of a metric: rendered label key → what it recorded. */
export function seriesOf(metric: object): Map<string, Recorded> {
  const out = new Map<string, Recorded>();
  storeOf(metric).forEach((cell) => out.set(cell.key, recorded(cell)));
  return out;
}

/** The plain value of a counter, common gauge or gauge series (`undefined` if absent). */
export function valueOf(metric: object, key = ''): number | undefined {
  const r = seriesOf(metric).get(key);
  if (r === undefined) return undefined;
  if (r.kind === 'add' || r.kind === 'gauge') return r.value;
  throw new TypeError(`series ${key} is a ${r.kind}`);
}
