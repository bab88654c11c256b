/**
 * Exposition text: renders families as read from Redis in the Prometheus text format 0.0.4 or
 * OpenMetrics 1.0, in slices so that big scrapes can yield to the event loop, and renders big
 * counter and common-gauge families straight from the packed pages a scrape reads.
 */

import type { ExpositionFormat } from '../core/registry-api.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { withDefaultLabels, type DefaultLabels } from './default-labels.js';
import type { FamilyMeta } from '../core/family.js';
import { sampleName, typeOf } from '../core/family.js';
import { escapeHelp, escapeHelpOpenMetrics, formatCanonical, formatValue } from '../core/escape.js';
import { CREATED_SUFFIX, isCreatedField } from '../redis/fields.js';
import { renderExemplar, type BucketExemplar } from './exemplar-format.js';

/** Prometheus text exposition format 0.0.4. */
export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** OpenMetrics 1.0 text format. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type { ExpositionFormat };

/** The content type of `format`. */
export function contentTypeOf(format: ExpositionFormat): string {
  return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
}

/**
 * A series of a counter or gauge: its rendered label set and value, and for counters when the
 * series was created (Unix time in seconds; OpenMetrics `_created`), if known.
 */
export type ScalarRow = readonly [key: string, value: number, created?: number];
/** A histogram series: per-bucket (non-cumulative) counts, the last one `+Inf`, and the sum. */
export interface HistogramRow {
  readonly key: string;
  readonly counts: readonly number[];
  readonly sum: number;
  /** Latest exemplar per bucket (same indexes as `counts`); OpenMetrics output only. */
  readonly exemplars?: ReadonlyArray<BucketExemplar | undefined> | undefined;
  /** When the series was created, Unix time in seconds; OpenMetrics output only (`_created`). */
  readonly created?: number | undefined;
}
/** A summary series. */
export interface SummaryRow {
  readonly key: string;
  readonly count: number;
  readonly sum: number;
  /** Summaries with `percentiles`: one value per percentile (same order), NaN for an empty window. */
  readonly quantiles?: readonly number[] | undefined;
  /** When the series was created, Unix time in seconds; OpenMetrics output only (`_created`). */
  readonly created?: number | undefined;
}

/** The merged state of one family, as read from Redis. */
export type FamilyData =
  | {
      readonly meta: FamilyMeta;
      readonly rows: readonly ScalarRow[];
      /**
       * Sample lines already rendered (big counter and common-gauge families): rendered straight
       * from Redis's packed chunks, with no row objects, for the format the family was read for
       * (they differ only by counters' `_created` lines, which only OpenMetrics has).
       */
      readonly prerendered?: readonly string[];
      /** How many series `prerendered` holds (`rows` is empty then). */
      readonly series?: number;
      /**
       * Sample lines rendered as they are read, for a family too big to hold (`rows` is empty
       * then): iterate it once; it throws if the read fails part-way.
       */
      readonly streamed?: AsyncIterable<string>;
    }
  | { readonly meta: FamilyMeta & { readonly kind: 'histogram' }; readonly rows: readonly HistogramRow[] }
  | { readonly meta: FamilyMeta & { readonly kind: 'summary' }; readonly rows: readonly SummaryRow[] };

/** A creation-time field's suffix and the line feed that always ends a packed field. */
const CREATED_FIELD_END = `${CREATED_SUFFIX}\n`;

/** How many creation-time fields a packed `field\nvalue\n…` chunk holds. */
export function countCreated(chunk: string): number {
  let n = 0;
  for (let at = chunk.indexOf(CREATED_FIELD_END); at >= 0; at = chunk.indexOf(CREATED_FIELD_END, at + 1)) n++;
  return n;
}

/** Add the creation-time fields of a packed chunk to `into`: label key -> stored value (seconds). */
export function collectCreated(chunk: string, into: Map<string, string>): void {
  for (let at = chunk.indexOf(CREATED_FIELD_END); at >= 0; at = chunk.indexOf(CREATED_FIELD_END, at + 1)) {
    // Fields and values never hold a raw line feed, so the field starts after the previous one.
    const start = chunk.lastIndexOf('\n', at) + 1;
    const valueAt = at + CREATED_FIELD_END.length;
    const end = chunk.indexOf('\n', valueAt);
    into.set(chunk.slice(start, at), chunk.slice(valueAt, end < 0 ? chunk.length : end));
  }
}

/** The OpenMetrics `_created` line of a series created at `seconds`. */
function createdLine(name: string, key: string, seconds: number): string {
  return `${name}_created${braces(key)} ${formatValue(seconds)}\n`;
}

/** What every sample line of a counter or gauge family starts with, built once per family. */
interface ScalarPrefix {
  readonly name: string;
  /** `<sample>{`, for a series with labels. */
  readonly open: string;
  /** `<sample> `, for the series without labels. */
  readonly bare: string;
}

function scalarPrefix(meta: FamilyMeta): ScalarPrefix {
  const sample = sampleName(meta);
  return { name: meta.name, open: `${sample}{`, bare: `${sample} ` };
}

/**
 * The sample line of a counter or gauge series and, when `created` is given, its `_created` line.
 * The hottest code of a big scrape: plain concatenation, and finite values formatted without
 * a call.
 */
function scalarLines(prefix: ScalarPrefix, key: string, value: number, created: number | undefined): string {
  const text = value - value === 0 ? String(value) : formatValue(value);
  const line = key === '' ? `${prefix.bare}${text}\n` : `${prefix.open}${key}} ${text}\n`;
  return created === undefined ? line : line + createdLine(prefix.name, key, created);
}

/**
 * Render one packed `field\nvalue\n…` chunk of a counter or common gauge as sample lines.
 * Counters' creation-time fields are skipped; with `created` (OpenMetrics: every creation time
 * of the family, by label key, see `collectCreated`) a series' `_created` line follows its sample.
 */
export function renderScalarChunk(
  meta: FamilyMeta,
  chunk: string,
  created?: ReadonlyMap<string, string>,
): string {
  const prefix = scalarPrefix(meta);
  const lines: string[] = [];
  let at = 0;
  while (at < chunk.length) {
    const nl = chunk.indexOf('\n', at);
    const end = chunk.indexOf('\n', nl + 1);
    const key = chunk.slice(at, nl);
    if (!isCreatedField(key)) {
      const value = Number(chunk.slice(nl + 1, end < 0 ? chunk.length : end));
      const seconds = created?.get(key);
      lines.push(scalarLines(prefix, key, value, seconds === undefined ? undefined : Number(seconds)));
    }
    if (end < 0) break;
    at = end + 1;
  }
  return lines.join('');
}

/** Series rendered per slice; the async formatter yields to the event loop between slices. */
const ROWS_PER_SLICE = 2000;

function braces(key: string, extra?: string): string {
  if (extra === undefined) return key === '' ? '' : `{${key}}`;
  return key === '' ? `{${extra}}` : `{${key},${extra}}`;
}

function header(meta: FamilyMeta, format: ExpositionFormat): string {
  const type = typeOf(meta.kind);
  if (format === 'openmetrics') {
    let out = `# TYPE ${meta.name} ${type}\n`;
    if (meta.unit !== undefined) out += `# UNIT ${meta.name} ${meta.unit}\n`;
    if (meta.help !== '') out += `# HELP ${meta.name} ${escapeHelpOpenMetrics(meta.help)}\n`;
    return out;
  }
  const name = sampleName(meta);
  // An empty HELP line is legal but linted by promtool; leave it out, as OpenMetrics output does.
  const help = meta.help === '' ? '' : `# HELP ${name} ${escapeHelp(meta.help)}\n`;
  return `${help}# TYPE ${name} ${type}\n`;
}

/**
 * Render a family as exposition text, in slices of `ROWS_PER_SLICE` series.
 * The first slice carries the HELP/TYPE header.
 */
export function* renderFamily(family: FamilyData, format: ExpositionFormat): Generator<string> {
  const { meta } = family;
  const head = header(meta, format);
  if ('prerendered' in family && family.prerendered !== undefined) {
    yield head;
    yield* family.prerendered;
    return;
  }
  const bound = format === 'openmetrics' ? formatCanonical : formatValue;
  // `_created` samples exist only in OpenMetrics; text 0.0.4 output is unchanged by them.
  const om = format === 'openmetrics' && meta.kind !== 'gauge' && meta.kind !== 'common_gauge';
  const rows = family.rows;
  // About ROWS_PER_SLICE lines per slice: a histogram series is a line per bucket and two more.
  const perSlice =
    meta.kind === 'histogram'
      ? Math.max(1, Math.floor(ROWS_PER_SLICE / ((meta.buckets?.length ?? 0) + 3)))
      : meta.kind === 'summary'
        ? Math.max(1, Math.floor(ROWS_PER_SLICE / ((meta.percentiles?.length ?? 0) + 2)))
        : ROWS_PER_SLICE;
  // Lines gathered in an array and joined once per slice: the slice is one flat string, so no
  // later consumer (a join of the whole scrape, a socket write) pays to flatten it all at once.
  const lines: string[] = [head];
  for (let start = 0; start < rows.length; start += perSlice) {
    const end = Math.min(rows.length, start + perSlice);
    if (meta.kind === 'histogram') {
      const buckets = meta.buckets ?? [];
      for (let i = start; i < end; i++) {
        const row = rows[i] as HistogramRow;
        // Exemplars exist only in OpenMetrics; text 0.0.4 output is unchanged by them.
        const ex = format === 'openmetrics' ? row.exemplars : undefined;
        let cumulative = 0;
        for (let b = 0; b < buckets.length; b++) {
          cumulative += row.counts[b] ?? 0;
          const exemplar = ex === undefined ? '' : renderExemplar(ex[b]);
          lines.push(
            `${meta.name}_bucket${braces(row.key, `le="${bound(buckets[b]!)}"`)} ${cumulative}${exemplar}\n`,
          );
        }
        cumulative += row.counts[buckets.length] ?? 0;
        const exemplar = ex === undefined ? '' : renderExemplar(ex[buckets.length]);
        lines.push(`${meta.name}_bucket${braces(row.key, 'le="+Inf"')} ${cumulative}${exemplar}\n`);
        lines.push(`${meta.name}_sum${braces(row.key)} ${formatValue(row.sum)}\n`);
        lines.push(`${meta.name}_count${braces(row.key)} ${cumulative}\n`);
        if (om && row.created !== undefined) lines.push(createdLine(meta.name, row.key, row.created));
      }
    } else if (meta.kind === 'summary') {
      const percentiles = meta.percentiles ?? [];
      // `quantile="…"` label values, rendered once per family (canonical in OpenMetrics: 0.5, 1.0).
      const labels = percentiles.map((q) => `quantile="${bound(q)}"`);
      for (let i = start; i < end; i++) {
        const row = rows[i] as SummaryRow;
        const quantiles = row.quantiles;
        if (quantiles !== undefined) {
          for (let p = 0; p < labels.length; p++) {
            lines.push(`${meta.name}${braces(row.key, labels[p])} ${formatValue(quantiles[p] ?? NaN)}\n`);
          }
        }
        lines.push(`${meta.name}_sum${braces(row.key)} ${formatValue(row.sum)}\n`);
        lines.push(`${meta.name}_count${braces(row.key)} ${row.count}\n`);
        if (om && row.created !== undefined) lines.push(createdLine(meta.name, row.key, row.created));
      }
    } else {
      const prefix = scalarPrefix(meta);
      for (let i = start; i < end; i++) {
        const row = rows[i] as ScalarRow;
        lines.push(scalarLines(prefix, row[0], row[1], om ? row[2] : undefined));
      }
    }
    yield lines.join('');
    lines.length = 0;
  }
  if (lines.length > 0) yield lines.join('');
}

/** Render families synchronously (small outputs and tests). */
export function formatFamilies(families: readonly FamilyData[], format: ExpositionFormat = 'text'): string {
  let out = '';
  for (const family of families) for (const slice of renderFamily(family, format)) out += slice;
  return format === 'openmetrics' ? `${out}# EOF\n` : out;
}

/**
 * Render families as they come, slice by slice (OpenMetrics' `# EOF` last), yielding to the
 * event loop between slices so big scrapes never stall it; with `defaults`, every sample gets
 * those labels too.
 */
export async function* renderStream(
  families: AsyncIterable<FamilyData>,
  format: ExpositionFormat = 'text',
  defaults?: DefaultLabels,
): AsyncGenerator<string> {
  for await (const family of families) {
    const extra = defaults?.renderedFor(family.meta) ?? '';
    if ('streamed' in family && family.streamed !== undefined) {
      yield header(family.meta, format);
      for await (const slice of family.streamed) yield withDefaultLabels(slice, extra);
      continue;
    }
    for (const slice of renderFamily(family, format)) {
      yield withDefaultLabels(slice, extra);
      await yieldToEventLoop();
    }
  }
  if (format === 'openmetrics') yield '# EOF\n';
}
