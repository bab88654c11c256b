/**
 * The read side of a scrape: reads the families' metadata, then each family's data in bounded
 * pages (scan.ts), and parses the packed pages into the rows text-format.ts renders (big counter
 * and common-gauge families straight into text), yielding to the event loop between pages.
 */

import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { decodeMeta, type FamilyMeta } from '../core/family.js';
import type { Keys } from '../redis/keys.js';
import { readFamilyData, serverNowMs, UnreadableData } from './scan.js';
import type { RedisClient } from '../redis/connection.js';
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

/** A family in Redis that this version cannot read (foreign or newer layout). */
export interface UnreadableFamily {
  readonly name: string;
  readonly error: Error;
}

/** What a read returns: families in name order, and the ones that could not be decoded. */
export interface ReadResult {
  readonly families: FamilyData[];
  readonly unreadable: UnreadableFamily[];
}

function byKey<T>(key: (row: T) => string): (a: T, b: T) => number {
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

function finish(acc: Accumulator): FamilyData {
  const { meta, created } = acc;
  if (meta.kind === 'histogram') {
    const rows: HistogramRow[] = [];
    for (const [key, s] of acc.grouped)
      rows.push({ key, counts: s.counts, sum: s.sum, exemplars: s.exemplars, created: created?.get(key) });
    if (rows.length <= SORT_LIMIT) rows.sort(byKey((r) => r.key));
    return { meta: meta as FamilyMeta & { kind: 'histogram' }, rows };
  }
  if (meta.kind === 'summary') {
    const rows: SummaryRow[] = [];
    const { percentiles } = meta;
    for (const [key, s] of acc.grouped) {
      if (percentiles === undefined)
        rows.push({ key, count: s.count, sum: s.sum, created: created?.get(key) });
      else {
        const quantiles = (s.sketch ?? new MergedSketch()).quantiles(percentiles);
        rows.push({ key, count: s.count, sum: s.sum, quantiles, created: created?.get(key) });
      }
    }
    if (rows.length <= SORT_LIMIT) rows.sort(byKey((r) => r.key));
    return { meta: meta as FamilyMeta & { kind: 'summary' }, rows };
  }
  if (acc.merger !== undefined) acc.scalar = acc.merger.rows();
  if (created !== undefined) {
    acc.scalar = acc.scalar.map((row) => {
      const at = created.get(row[0]);
      return at === undefined ? row : [row[0], row[1], at];
    });
  }
  if (acc.scalar.length <= SORT_LIMIT) acc.scalar.sort(byKey((r) => r[0]));
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

/** The gauge indexes whose lease is held (the leases live in the registry's slot), in order. */
async function liveIndexes(redis: RedisClient, keys: Keys): Promise<string[]> {
  const claimed = (await redis.smembers(keys.gaugeIndexSet)).sort((a, b) => Number(a) - Number(b));
  if (claimed.length === 0) return [];
  const owners = await redis.mget(claimed.map((i) => keys.lease(Number(i))));
  return claimed.filter((_, i) => owners[i] !== null);
}

/** The families' stored metadata: all of the meta hash, or those of `names` (name, encoded). */
async function readMeta(
  redis: RedisClient,
  keys: Keys,
  names: readonly string[],
): Promise<Array<[string, string]>> {
  if (names.length > 0) {
    const encoded = await redis.hmget(keys.meta, ...names);
    return names.flatMap((name, i) => (encoded[i] == null ? [] : [[name, encoded[i]] as [string, string]]));
  }
  return Object.entries(await redis.hgetall(keys.meta));
}

/** Families in flight: the one being handed on and the next, read meanwhile. */
const FAMILIES_IN_FLIGHT = 2;

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

/**
 * One family's chunks turned into rows as they arrive, while the next page is read: histograms,
 * summaries and gauges into their accumulator; counters and common gauges held until they are
 * known to be more than SORT_LIMIT series, then rendered straight to text chunk by chunk
 * (OpenMetrics counters wait for their creation times, read last, as before).
 */
class FamilyBuilder {
  readonly #meta: FamilyMeta;
  readonly #format: ExpositionFormat;
  readonly #acc: Accumulator;
  readonly #scalar: boolean;
  #held: string[] = [];
  #series = 0;
  #prerendered: string[] | undefined;

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

  add(chunk: string, gaugeIndex: string | undefined): void {
    if (!this.#scalar) {
      parseChunk(this.#acc, chunk, gaugeIndex);
      return;
    }
    this.#series += scalarSeries(this.#meta, [chunk]);
    if (this.#prerendered !== undefined) {
      this.#prerendered.push(renderScalarChunk(this.#meta, chunk));
      return;
    }
    this.#held.push(chunk);
    const waitsForCreated = this.#format === 'openmetrics' && this.#meta.kind === 'counter';
    if (this.#series > SORT_LIMIT && !waitsForCreated) {
      this.#prerendered = this.#held.map((held) => renderScalarChunk(this.#meta, held));
      this.#held = [];
    }
  }

  async finish(): Promise<FamilyData> {
    if (this.#prerendered !== undefined) {
      return { meta: this.#meta, rows: [], prerendered: this.#prerendered, series: this.#series };
    }
    if (this.#scalar) return scalarFamily(this.#meta, this.#held, this.#format);
    return finish(this.#acc);
  }
}

/**
 * The merged state of every family under a prefix (or of `names`), family by family in name
 * order: the metadata first, then each family in bounded pages (a `shardBy: "metric"` family
 * from its own group), the next family read while this one is parsed and handed on, so a caller
 * that renders and sends each family as it comes holds about two families at a time. Big
 * counter and common gauge families come back prerendered for `format` (counters' `_created`
 * lines are OpenMetrics-only); the other families render in either format. A family that cannot
 * be decoded or read goes to `unreadable` and is left out.
 */
export async function* streamFamilies(
  redis: RedisClient,
  keys: Keys,
  names: readonly string[],
  format: ExpositionFormat,
  unreadable: (family: UnreadableFamily) => void,
): AsyncGenerator<FamilyData> {
  const metas: FamilyMeta[] = [];
  for (const [name, encoded] of await readMeta(redis, keys, names)) {
    try {
      metas.push(decodeMeta(name, encoded));
    } catch (error) {
      unreadable({ name, error: error as Error });
    }
  }
  metas.sort(byKey((m) => m.name));
  const live = metas.some((m) => m.kind === 'gauge') ? await liveIndexes(redis, keys) : [];
  const nowMs = metas.some((m) => m.percentiles !== undefined) ? await serverNowMs(redis) : 0;
  const read = async (meta: FamilyMeta): Promise<FamilyData | Error> => {
    const builder = new FamilyBuilder(meta, format);
    try {
      await readFamilyData(
        redis,
        {
          meta,
          // shardBy "metric": the family's data lives in its own group (its own slot of a cluster).
          keys: meta.shard === 'metric' ? keys.group(meta.name) : keys,
          live,
          withCreated: format === 'openmetrics',
          nowMs,
        },
        (chunk, index) => builder.add(chunk, index),
      );
    } catch (error) {
      if (!(error instanceof UnreadableData)) throw error;
      return new TypeError(`Metric "${meta.name}": cannot read its data (${error.message})`);
    }
    return builder.finish();
  };
  const reads: Array<Promise<FamilyData | Error> | undefined> = [];
  try {
    for (let i = 0; i < metas.length; i++) {
      while (reads.length < Math.min(metas.length, i + FAMILIES_IN_FLIGHT)) {
        const ahead = read(metas[reads.length]!);
        // A failure of a read ahead surfaces when its turn comes, never as an unhandled rejection.
        ahead.catch(() => {});
        reads.push(ahead);
      }
      const family = await reads[i]!;
      reads[i] = undefined;
      if (family instanceof Error) unreadable({ name: metas[i]!.name, error: family });
      else yield family;
    }
  } finally {
    // Stopped early (the client went away, or a read failed): let the reads ahead settle quietly.
    for (const ahead of reads) void ahead?.catch(() => {});
  }
}

/** Every family of `streamFamilies`, collected (in name order), with the unreadable ones. */
export async function readFamilies(
  redis: RedisClient,
  keys: Keys,
  names: readonly string[] = [],
  format: ExpositionFormat = 'text',
): Promise<ReadResult> {
  const families: FamilyData[] = [];
  const unreadable: UnreadableFamily[] = [];
  for await (const family of streamFamilies(redis, keys, names, format, (u) => unreadable.push(u))) {
    families.push(family);
  }
  return { families, unreadable };
}
