/**
 * Histogram exemplars on the read side: parses a bucket's stored exemplar (as the flush script
 * writes it) and renders it as the OpenMetrics suffix of its bucket sample.
 */

import { formatValue } from '../core/escape.js';

/** The latest exemplar of one histogram bucket, merged over processes. */
export interface BucketExemplar {
  /** Rendered label set, e.g. `trace_id="abc"`. */
  readonly labels: string;
  readonly value: number;
  /** Unix time of the observation (Redis server clock), ms. */
  readonly timestampMs: number;
}

/**
 * Parse a stored exemplar (`<µs> <value> <labels>`, as the flush script writes it); undefined for
 * anything else, so a malformed field never fails a scrape.
 */
export function parseStoredExemplar(stored: string): BucketExemplar | undefined {
  const a = stored.indexOf(' ');
  const b = a < 0 ? -1 : stored.indexOf(' ', a + 1);
  if (b < 0) return undefined;
  const timestampMs = Number(stored.slice(0, a)) / 1000;
  const value = Number(stored.slice(a + 1, b));
  const labels = stored.slice(b + 1);
  if (!Number.isFinite(timestampMs) || !Number.isFinite(value) || labels === '' || labels.includes('\n')) {
    return undefined;
  }
  return { labels, value, timestampMs };
}

/**
 * The OpenMetrics exemplar suffix of a bucket sample: ` # {trace_id="abc"} 0.043 1700000000.123`
 * (empty without an exemplar).
 */
export function renderExemplar(exemplar: BucketExemplar | undefined): string {
  if (exemplar === undefined) return '';
  return ` # {${exemplar.labels}} ${formatValue(exemplar.value)} ${(exemplar.timestampMs / 1000).toFixed(3)}`;
}
