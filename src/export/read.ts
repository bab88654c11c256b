/**
 * The read side of a scrape: calls the read script, decodes each family's metadata and parses
 * its packed chunks into the rows text-format.ts renders (big counter and common-gauge families
 * straight into text), yielding to the event loop between chunks.
 */

import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { decodeMeta, type FamilyMeta } from '../core/family.js';
import type { Keys } from '../redis/keys.js';
import { callRead, readArgs } from '../redis/scripts.js';
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

/** Fields per chunk the read script packs into one string (a slice of parsing work here). */
const FIELDS_PER_CHUNK = 4096;
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
  /** Series creation times (the read script's creation-time fields), seconds, by label key. */
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
 * The number of series a counter's or common gauge's packed chunks hold: every chunk but the
 * last holds exactly `FIELDS_PER_CHUNK` fields, and counters' creation-time fields are no series.
 */
function scalarSeries(meta: FamilyMeta, data: readonly string[]): number {
  const last = data.at(-1) ?? '';
  let lines = 1;
  for (let at = last.indexOf('\n'); at >= 0; at = last.indexOf('\n', at + 1)) lines++;
  let fields = (data.length - 1) * FIELDS_PER_CHUNK + lines / 2;
  if (meta.kind === 'counter') for (const chunk of data) fields -= countCreated(chunk);
  return fields;
}

/**
 * One call of the read script (see read-2.lua) on the keys of `keys`. With `live` (the gauge
 * indexes whose lease is held, as `liveIndexes` reads them) the script takes those; without, it
 * finds them itself from the gauge index set.
 */
function readScript(
  redis: RedisClient,
  keys: Keys,
  live: readonly string[] | undefined,
  format: ExpositionFormat,
  names: readonly string[],
): Promise<unknown[]> {
  return callRead(
    redis,
    readArgs({
      keys,
      liveIndexes: live,
      fieldsPerChunk: FIELDS_PER_CHUNK,
      // Creation times are only exported in OpenMetrics: text scrapes do not read them at all.
      withCreated: format === 'openmetrics',
      families: names,
    }),
  );
}

/** The gauge indexes whose lease is held (the leases live in the registry's slot), in order. */
async function liveIndexes(redis: RedisClient, keys: Keys): Promise<string[]> {
  const claimed = (await redis.smembers(keys.gaugeIndexSet)).sort((a, b) => Number(a) - Number(b));
  if (claimed.length === 0) return [];
  const owners = await redis.mget(claimed.map((i) => keys.lease(Number(i))));
  return claimed.filter((_, i) => owners[i] !== null);
}

/**
 * `shardBy: "metric"` families came back from the registry's slot with their metadata only:
 * read each one's data from its own group, all at once (each group is one slot of a cluster).
 */
async function readGroups(
  redis: RedisClient,
  keys: Keys,
  format: ExpositionFormat,
  entries: ReadonlyArray<{ meta: FamilyMeta; data: string[] }>,
): Promise<void> {
  const sharded = entries.filter((e) => e.meta.shard === 'metric');
  if (sharded.length === 0) return;
  const live = sharded.some((e) => e.meta.kind === 'gauge') ? await liveIndexes(redis, keys) : [];
  await Promise.all(
    sharded.map(async (entry) => {
      const { name } = entry.meta;
      const reply = await readScript(redis, keys.group(name), live, format, [name]);
      // No metadata in the group yet (nothing flushed there): the family has no series.
      entry.data = (reply[2] as string[] | undefined) ?? [];
    }),
  );
}

/**
 * Read the merged state of every family under a prefix (or of `names`) in one round trip (with
 * `shardBy: "metric"`, one more per family, all at once), and
 * parse it chunk by chunk, yielding to the event loop between chunks. Big counter and common
 * gauge families come back prerendered for `format` (counters' `_created` lines are
 * OpenMetrics-only); the other families render in either format.
 */
export async function readFamilies(
  redis: RedisClient,
  keys: Keys,
  names: readonly string[] = [],
  format: ExpositionFormat = 'text',
): Promise<ReadResult> {
  const reply = await readScript(redis, keys, undefined, format, names);
  const families: FamilyData[] = [];
  const unreadable: UnreadableFamily[] = [];
  const entries: Array<{ meta: FamilyMeta; data: string[] }> = [];
  for (let i = 0; i + 2 < reply.length; i += 3) {
    const name = String(reply[i]);
    try {
      entries.push({ meta: decodeMeta(name, String(reply[i + 1])), data: reply[i + 2] as string[] });
    } catch (error) {
      unreadable.push({ name, error: error as Error });
    }
  }
  await readGroups(redis, keys, format, entries);
  for (const { meta, data } of entries) {
    const { name } = meta;
    if (data.length === 1 && data[0]!.startsWith('\0')) {
      unreadable.push({
        name,
        error: new TypeError(`Metric "${name}": cannot read its data (${data[0]!.slice(1)})`),
      });
      continue;
    }
    const acc: Accumulator = {
      meta,
      scalar: [],
      grouped: new Map(),
      merger:
        meta.kind === 'gauge' && meta.aggregate !== undefined ? new GaugeMerger(meta.aggregate) : undefined,
    };
    const series =
      (meta.kind === 'counter' || meta.kind === 'common_gauge') && data.length * FIELDS_PER_CHUNK > SORT_LIMIT
        ? scalarSeries(meta, data)
        : 0;
    // As many chunks as the series alone fill (not counting creation-time fields): which families
    // are sorted does not depend on creation times.
    if (Math.ceil(series / FIELDS_PER_CHUNK) * FIELDS_PER_CHUNK > SORT_LIMIT) {
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
      families.push({ meta, rows: [], prerendered, series });
      continue;
    }
    if (meta.kind === 'gauge') {
      for (let c = 0; c + 1 < data.length; c += 2) {
        parseChunk(acc, data[c + 1]!, String(data[c]));
        await yieldToEventLoop();
      }
    } else {
      for (const chunk of data) {
        parseChunk(acc, chunk, undefined);
        await yieldToEventLoop();
      }
    }
    families.push(finish(acc));
  }
  families.sort(byKey((f) => f.meta.name));
  return { families, unreadable };
}
