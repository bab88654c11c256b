/**
 * Parsing a family's packed pages as they arrive: into the rows text-format.ts renders
 * (histograms, summaries, gauges, small scalar families), or — for a counter or common-gauge
 * family of more than SORT_LIMIT series — straight into text, streamed page by page with
 * backpressure, so a scrape never holds a big family whole.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FamilyMeta } from '../core/family.js';
import { parseStoredExemplar, type BucketExemplar } from './exemplar-format.js';
import { GaugeMerger } from './gauge-merge.js';
import { MergedSketch } from './quantiles.js';
import {
  COUNT,
  CREATED,
  isCreatedField,
  isExemplarSuffix,
  labelKeyOf,
  slotOf,
  splitField,
  SUM,
  type FieldParts,
} from '../redis/fields.js';
import {
  collectCreated,
  countCreated,
  renderScalarChunk,
  type ExpositionFormat,
  type FamilyData,
  type HistogramRow,
  type ScalarRow,
  type SummaryRow,
} from './text-format.js';

/** Families up to this many series are sorted by label set, so small outputs are stable. */
const SORT_LIMIT = 10_000;

export function byKey<T>(key: (row: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

function gaugeKey(key: string, index: string): string {
  return key === '' ? `gauge_index="${index}"` : `${key},gauge_index="${index}"`;
}

interface Accumulator {
  readonly meta: FamilyMeta;
  scalar: ScalarRow[];
  grouped: Map<
    string,
    { counts: number[]; sum: number; count: number; exemplars?: BucketExemplar[]; sketch?: MergedSketch }
  >;
  /** Per-process gauges with an `aggregate` mode: merged over processes instead of listed. */
  merger?: GaugeMerger | undefined;
  /** Series creation times (the creation-time fields a scrape reads), seconds, by label key. */
  created?: Map<string, number>;
}

function parseChunk(acc: Accumulator, chunk: string, gaugeIndex: string | undefined): void {
  const parts = chunk.split('\n');
  const { meta } = acc;
  if (meta.kind === 'histogram' || meta.kind === 'summary') {
    const slots = (meta.buckets?.length ?? 0) + 1;
    const split: FieldParts = { key: '', suffix: '' };
    for (let i = 0; i + 1 < parts.length; i += 2) {
      // Every field of these hashes is suffixed: a bare label key is none this library wrote.
      if (!splitField(parts[i]!, split)) continue;
      const { key, suffix: sub } = split;
      if (sub === CREATED) {
        // Kept apart: a creation time alone (no sum or count fields) is no series.
        (acc.created ??= new Map()).set(key, Number(parts[i + 1]));
        continue;
      }
      let series = acc.grouped.get(key);
      if (series === undefined) {
        series = { counts: new Array<number>(slots).fill(0), sum: 0, count: 0 };
        acc.grouped.set(key, series);
      }
      const value = Number(parts[i + 1]);
      if (sub === SUM) series.sum = value;
      else if (sub === COUNT) series.count = value;
      // Summaries with quantiles: the window's merged sketch buckets (core/sketch-mapping.ts tokens).
      else if (meta.percentiles !== undefined) (series.sketch ??= new MergedSketch()).add(sub, value);
      else if (isExemplarSuffix(sub)) {
        const slot = slotOf(sub);
        const exemplar = parseStoredExemplar(parts[i + 1]!);
        if (exemplar !== undefined && slot >= 0 && slot < slots) (series.exemplars ??= [])[slot] = exemplar;
      } else {
        const slot = slotOf(sub);
        if (slot >= 0 && slot < slots) series.counts[slot] = value;
      }
    }
    return;
  }
  if (acc.merger !== undefined && gaugeIndex !== undefined) {
    acc.merger.add(parts, gaugeIndex);
    return;
  }
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const field = parts[i]!;
    if (gaugeIndex === undefined && isCreatedField(field)) {
      (acc.created ??= new Map()).set(labelKeyOf(field), Number(parts[i + 1]));
      continue;
    }
    const key = gaugeIndex === undefined ? field : gaugeKey(field, gaugeIndex);
    acc.scalar.push([key, Number(parts[i + 1])]);
  }
}

/** Series a family's finishing handles between yields to the event loop. */
const ROWS_PER_TURN = 1000;

/**
 * `rows` sorted by key (stable), in sorted runs of ROWS_PER_TURN merged pairwise, yielding to the
 * event loop between turns: a family of 10k series sorted in one call held it for ~20 ms.
 */
async function sortByKey<T>(rows: T[], key: (row: T) => string): Promise<T[]> {
  const compare = byKey(key);
  if (rows.length <= ROWS_PER_TURN) return rows.sort(compare);
  let runs: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_TURN) {
    runs.push(rows.slice(i, i + ROWS_PER_TURN).sort(compare));
    await yieldToEventLoop();
  }
  while (runs.length > 1) {
    const merged: T[][] = [];
    for (let r = 0; r < runs.length; r += 2) {
      merged.push(r + 1 < runs.length ? await mergeRuns(runs[r]!, runs[r + 1]!, compare) : runs[r]!);
    }
    runs = merged;
  }
  return runs[0]!;
}

/** Two sorted runs as one (equal keys: `a`'s first), yielding every few thousand rows. */
async function mergeRuns<T>(a: readonly T[], b: readonly T[], compare: (x: T, y: T) => number): Promise<T[]> {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    out.push(compare(b[j]!, a[i]!) < 0 ? b[j++]! : a[i++]!);
    if (out.length % (4 * ROWS_PER_TURN) === 0) await yieldToEventLoop();
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

async function finish(acc: Accumulator): Promise<FamilyData> {
  const { meta, created } = acc;
  if (meta.kind === 'histogram') {
    let rows: HistogramRow[] = [];
    for (const [key, s] of acc.grouped)
      rows.push({ key, counts: s.counts, sum: s.sum, exemplars: s.exemplars, created: created?.get(key) });
    if (rows.length <= SORT_LIMIT) rows = await sortByKey(rows, (r) => r.key);
    return { meta: meta as FamilyMeta & { kind: 'histogram' }, rows };
  }
  if (meta.kind === 'summary') {
    let rows: SummaryRow[] = [];
    const { percentiles } = meta;
    for (const [key, s] of acc.grouped) {
      if (percentiles === undefined)
        rows.push({ key, count: s.count, sum: s.sum, created: created?.get(key) });
      else {
        const quantiles = (s.sketch ?? new MergedSketch()).quantiles(percentiles);
        rows.push({ key, count: s.count, sum: s.sum, quantiles, created: created?.get(key) });
        if (rows.length % ROWS_PER_TURN === 0) await yieldToEventLoop();
      }
    }
    if (rows.length <= SORT_LIMIT) rows = await sortByKey(rows, (r) => r.key);
    return { meta: meta as FamilyMeta & { kind: 'summary' }, rows };
  }
  if (acc.merger !== undefined) acc.scalar = acc.merger.rows();
  if (created !== undefined) {
    acc.scalar = acc.scalar.map((row) => {
      const at = created.get(row[0]);
      return at === undefined ? row : [row[0], row[1], at];
    });
  }
  if (acc.scalar.length <= SORT_LIMIT) acc.scalar = await sortByKey(acc.scalar, (r) => r[0]);
  return { meta, rows: acc.scalar };
}

/**
 * The number of series a counter's or common gauge's packed chunks hold (counters'
 * creation-time fields are no series).
 */
function scalarSeries(meta: FamilyMeta, data: readonly string[]): number {
  let fields = 0;
  for (const chunk of data) {
    if (chunk === '') continue;
    let lines = 1;
    for (let at = chunk.indexOf('\n'); at >= 0; at = chunk.indexOf('\n', at + 1)) lines++;
    fields += lines / 2;
    if (meta.kind === 'counter') fields -= countCreated(chunk);
  }
  return fields;
}

/** A counter's or common gauge's chunks as rows (more than SORT_LIMIT series: prerendered text). */
async function scalarFamily(meta: FamilyMeta, data: string[], format: ExpositionFormat): Promise<FamilyData> {
  const acc: Accumulator = {
    meta,
    scalar: [],
    grouped: new Map(),
    merger:
      meta.kind === 'gauge' && meta.aggregate !== undefined ? new GaugeMerger(meta.aggregate) : undefined,
  };
  // Which families are sorted does not depend on creation times (not counted as series).
  const series = meta.kind === 'counter' || meta.kind === 'common_gauge' ? scalarSeries(meta, data) : 0;
  if (series > SORT_LIMIT) {
    // Too big to sort anyway: render each chunk straight to text, keeping no per-series objects
    // alive across the scrape (they made the garbage collector stall the event loop).
    let created: Map<string, string> | undefined;
    if (format === 'openmetrics' && meta.kind === 'counter') {
      // A series' creation-time field may sit in any chunk: gather them all first (strings only).
      created = new Map();
      for (const chunk of data) {
        collectCreated(chunk, created);
        await yieldToEventLoop();
      }
    }
    const prerendered: string[] = [];
    for (const chunk of data) {
      prerendered.push(renderScalarChunk(meta, chunk, created));
      await yieldToEventLoop();
    }
    return { meta, rows: [], prerendered, series };
  }
  for (const chunk of data) {
    parseChunk(acc, chunk, undefined);
    await yieldToEventLoop();
  }
  return finish(acc);
}

/** Rendered chunks a streamed family holds at most before its reader waits for the consumer. */
const QUEUED_CHUNKS = 8;

/**
 * The rendered chunks of a streamed family between the read (which waits while it is full) and
 * the consumer (which waits while it is empty). Ends when the read ends, or throws its error.
 */
class TextQueue implements AsyncIterable<string> {
  readonly #items: string[] = [];
  #ended = false;
  #cancelled = false;
  #error: Error | undefined;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  /** Queue `text`; the promise (when full) resolves once the consumer has taken some. */
  push(text: string): Promise<void> | undefined {
    if (this.#cancelled) return undefined;
    this.#items.push(text);
    this.#wake('reader');
    if (this.#items.length < QUEUED_CHUNKS) return undefined;
    return new Promise((resolve) => (this.#wakeWriter = resolve));
  }

  end(error?: unknown): void {
    this.#ended = true;
    if (error !== undefined) this.#error = error instanceof Error ? error : new Error('the read failed');
    this.#wake('reader');
  }

  /** The consumer went away: let the read run out without keeping anything. */
  cancel(): void {
    this.#cancelled = true;
    this.#items.length = 0;
    this.#wake('writer');
  }

  #wake(which: 'reader' | 'writer'): void {
    const wake = which === 'reader' ? this.#wakeReader : this.#wakeWriter;
    if (which === 'reader') this.#wakeReader = undefined;
    else this.#wakeWriter = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    for (;;) {
      const text = this.#items.shift();
      if (text !== undefined) {
        if (this.#items.length < QUEUED_CHUNKS) this.#wake('writer');
        yield text;
        continue;
      }
      if (this.#ended) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#wakeReader = resolve));
    }
  }
}

/**
 * One family's chunks turned into rows as they arrive, while the next page is read: histograms,
 * summaries and gauges into their accumulator; counters and common gauges held until they are
 * known to be more than SORT_LIMIT series, then rendered straight to text and streamed chunk by
 * chunk (`streamed`), the read waiting while the consumer is QUEUED_CHUNKS behind.
 * (OpenMetrics counters wait for their creation times, read last, and are rendered at the end.)
 */
export class FamilyBuilder {
  readonly #meta: FamilyMeta;
  readonly #format: ExpositionFormat;
  readonly #acc: Accumulator;
  readonly #scalar: boolean;
  #held: string[] = [];
  #series = 0;
  #stream: TextQueue | undefined;
  #started: () => void = () => {};
  /** Resolves when the family starts to stream (it may never: then wait for the read). */
  readonly streaming = new Promise<void>((resolve) => (this.#started = resolve));

  constructor(meta: FamilyMeta, format: ExpositionFormat) {
    this.#meta = meta;
    this.#format = format;
    this.#scalar = meta.kind === 'counter' || meta.kind === 'common_gauge';
    this.#acc = {
      meta,
      scalar: [],
      grouped: new Map(),
      merger:
        meta.kind === 'gauge' && meta.aggregate !== undefined ? new GaugeMerger(meta.aggregate) : undefined,
    };
  }

  /** The family as it streams (once `streaming` resolved). */
  get streamed(): FamilyData | undefined {
    if (this.#stream === undefined) return undefined;
    return { meta: this.#meta, rows: [], streamed: this.#stream };
  }

  /** One chunk; the promise, when there is one, says to wait before reading more. */
  add(chunk: string, gaugeIndex: string | undefined): Promise<void> | undefined {
    if (!this.#scalar) {
      parseChunk(this.#acc, chunk, gaugeIndex);
      return undefined;
    }
    if (this.#stream !== undefined) return this.#stream.push(renderScalarChunk(this.#meta, chunk));
    this.#series += scalarSeries(this.#meta, [chunk]);
    this.#held.push(chunk);
    const waitsForCreated = this.#format === 'openmetrics' && this.#meta.kind === 'counter';
    if (this.#series > SORT_LIMIT && !waitsForCreated) {
      const stream = new TextQueue();
      this.#stream = stream;
      for (const held of this.#held) void stream.push(renderScalarChunk(this.#meta, held));
      this.#held = [];
      this.#started();
    }
    return undefined;
  }

  /** The read ended (with `error` if it failed): a streamed family's stream ends with it. */
  end(error?: unknown): void {
    this.#stream?.end(error);
  }

  /** The consumer went away. */
  cancel(): void {
    this.#stream?.cancel();
  }

  /** The family once its read is done (not for a streamed one). */
  async finish(): Promise<FamilyData> {
    if (this.#scalar) return scalarFamily(this.#meta, this.#held, this.#format);
    return finish(this.#acc);
  }
}
