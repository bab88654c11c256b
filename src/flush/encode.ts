/**
 * Encoding a flush: take the changes of the buffer's stores and turn them, with the families'
 * metadata, into the arguments of one flush script call (one per family group with
 * `shardBy: "metric"`), built through the script's typed builder.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Cell } from '../buffer/cells.js';
import type { ExemplarSlots } from '../buffer/exemplars.js';
import type { SeriesStore, TakenStore } from '../buffer/series-store.js';
import { encodeMeta, sampleNames, type FamilyKind } from '../core/family.js';
import { COUNT, exemplarSuffix, seriesFields, subField } from '../redis/fields.js';
import type { Keys } from '../redis/keys.js';
import { quantileSectionConfig } from '../redis/quantile-window.js';
import {
  flushArgs,
  flushGaugeIndexOf,
  withFlushGaugeIndex,
  type FlushGaugeIndex,
  type FlushMetadata,
  type FlushScriptArgs,
  type FlushSection,
} from '../redis/scripts.js';

/** Cells encoded between two yields to the event loop (keeps a 100k-series flush from stalling it). */
const CELLS_PER_SLICE = 2048;
/** Payloads up to this many characters are sent as strings, longer ones as Buffers. */
const SMALL_PAYLOAD = 8192;

/** Everything a flush script call needs besides the deltas. */
export interface BatchContext {
  readonly keys: Keys;
  readonly processId: string;
  readonly tokenTtlSeconds: number;
  readonly expireSeconds: number;
  /** Names of the registry's per-process gauge families (their keys are kept alive). */
  readonly gaugeFamilies: readonly string[];
  /**
   * The script's gauge index argument (`FlushGaugeIndex`): by default "1" when there are gauge
   * families, else "0". A family group of `shardBy: "metric"` is encoded with "=", and the
   * flusher sets "=<index>" per attempt (`withGaugeIndex`).
   */
  readonly index?: FlushGaugeIndex;
  /** Send each family's sample names for the cross-family clash check (default true). */
  readonly samples?: boolean;
}

/** One flush: a sequence number and the exact script arguments, kept until Redis acknowledges them. */
export interface EncodedBatch {
  readonly seq: number;
  /** Built by `flushArgs` (src/redis/scripts.ts). */
  readonly args: FlushScriptArgs;
  /** Series carried (for self-metrics and for reporting undelivered data). */
  readonly series: number;
  /** Stores whose metadata the batch registers. */
  readonly metaStores: readonly SeriesStore[];
  /** Series dropped because their family conflicts with Redis. */
  readonly dropped: number;
}

function num(value: number): string {
  // -0 would be sent as "0" anyway; String() gives the shortest round-tripping form.
  return String(value);
}

/** Read a cell's pending values into `out` (by section) and zero them. */
function drain(cell: Cell, sections: Sections, created: boolean): void {
  // A new (or re-created) series of a counter, histogram or summary: the script stamps its
  // `|created` field (op `C`) unless another process already did.
  if (created && cell.fresh) sections.created = `${sections.created ?? ''}${cell.key}\n`;
  if (cell.kind === 'add') {
    if (cell.hasSet) sections.set += `${cell.key}\n${num(cell.s + cell.v)}\n`;
    else if (cell.v !== 0 || cell.fresh) {
      // Whole deltas go through HINCRBY (exact, and about 1.6× cheaper for Redis than HINCRBYFLOAT).
      if (Number.isSafeInteger(cell.v)) sections.int += `${cell.key}\n${num(cell.v)}\n`;
      else sections.add += `${cell.key}\n${num(cell.v)}\n`;
    }
    cell.v = 0;
    cell.s = 0;
    cell.hasSet = false;
  } else if (cell.kind === 'gauge') {
    if (cell.t <= 0) sections.gauge += `${cell.key}\n${num(cell.v)}\n`;
    else {
      // `last` gauges: the write's age lets the script date it by the server's clock. A rewrite
      // (after a lost gauge index) carries the original age, so it does not look newer.
      const ageUs = ageMicros(performance.now(), cell.t);
      sections.stamped = `${sections.stamped ?? ''}${cell.key}\n${num(cell.v)}\n${ageUs}\n`;
    }
  } else if (cell.kind === 'histogram') {
    const counts = cell.counts;
    let spec = '';
    for (let i = 0; i < counts.length; i++) {
      const n = counts[i]!;
      if (n !== 0) {
        spec += spec === '' ? `${i}:${n}` : `,${i}:${n}`;
        counts[i] = 0;
      }
    }
    if (spec !== '' || cell.fresh) sections.hist += `${cell.key}\n${num(cell.sum)}\n${spec}\n`;
    cell.sum = 0;
    if (cell.ex !== undefined) {
      sections.ex = (sections.ex ?? '') + encodeExemplars(cell.key, cell.ex, performance.now());
      cell.ex = undefined;
    }
  } else {
    if (cell.n !== 0 || cell.fresh) sections.hist += `${cell.key}\n${num(cell.sum)}\n${COUNT}:${cell.n}\n`;
    // Summaries with quantiles: the sketch's bucket counts (drained in place, no reallocation).
    if (cell.q !== undefined && !cell.q.empty) {
      sections.quantiles = `${sections.quantiles ?? ''}${cell.key}\n${cell.q.drain()}\n`;
    }
    cell.n = 0;
    cell.sum = 0;
  }
  cell.d = false;
  cell.fresh = false;
}

/** The hash fields the series `keys` occupy (what a remove deletes). */
function fieldsOf(store: SeriesStore, keys: readonly string[]): string[] {
  return keys.flatMap((key) => seriesFields(store.meta, key));
}

/**
 * Whole µs from `at` to `now` (both `performance.now()` readings, ms), never negative: how old a
 * `last` gauge write or an exemplar is when encoded. The flush script subtracts it from the
 * server's clock (ops `T` and `E`), so processes with skewed clocks date their writes alike.
 */
function ageMicros(now: number, at: number): number {
  return Math.max(0, Math.round((now - at) * 1000));
}

/**
 * A series' exemplars as flush records (op `E`): `<key>|e<slot>` \n age \n `<value> <labels>`
 * \n per bucket that has one. The age (µs since it was observed, at encode time `now`, a
 * `performance.now()` reading) lets the flush script date it by the server's clock, so exemplars
 * of different machines compare by one clock.
 */
function encodeExemplars(key: string, slots: Readonly<ExemplarSlots>, now: number): string {
  let out = '';
  for (let slot = 0; slot < slots.length; slot++) {
    const sample = slots[slot];
    if (sample === undefined) continue;
    const age = ageMicros(now, sample.at);
    out += `${subField(key, exemplarSuffix(slot))}\n${age}\n${String(sample.value)} ${sample.labels}\n`;
  }
  return out;
}

function emptySections(): Sections {
  return { add: '', int: '', set: '', gauge: '', hist: '' };
}

interface Sections {
  add: string;
  /** Whole-number increments (op `I`). */
  int: string;
  set: string;
  gauge: string;
  hist: string;
  /** Histogram exemplars (op `E`), only when some series has one. */
  ex?: string;
  /** Values of `last` gauges with their age (op `T`). */
  stamped?: string;
  /** Summary sketch bucket counts (op `Q`): field \n token:n,token:n \n ... */
  quantiles?: string;
  /** Label keys of series created since the last flush (op `C`): field \n ... */
  created?: string;
}

/** Families whose series expose `<name>_created` (OpenMetrics): counters, histograms, summaries. */
function hasCreated(kind: FamilyKind): boolean {
  return kind === 'counter' || kind === 'histogram' || kind === 'summary';
}

/**
 * Take every change from `stores` and encode it, with metadata, as the arguments of one flush
 * script call. The stores are taken synchronously (the swap); cells are read in slices with
 * yields between them — a cell changed during a yield is still marked dirty, so its newer value
 * rides in this batch, and a cell changed after being read goes onto a fresh dirty list.
 */
export function encodeBatch(
  stores: readonly SeriesStore[],
  metaOnly: readonly SeriesStore[],
  seq: number,
  context: BatchContext,
): Promise<EncodedBatch> {
  return encodeTaken(takeAll(stores), metaOnly, seq, context);
}

type Taken = ReadonlyArray<{ store: SeriesStore; changes: TakenStore }>;

/** The swap: every store's changes, taken at once (no yield between two stores). */
function takeAll(stores: readonly SeriesStore[]): Taken {
  return stores.map((store) => ({ store, changes: store.take() }));
}

/** Whether a taken cell is still this take's to write (see TakenStore.epoch). */
function current(cell: Cell, changes: TakenStore): boolean {
  return cell.d && cell.e === changes.epoch;
}

async function encodeTaken(
  taken: Taken,
  metaOnly: readonly SeriesStore[],
  seq: number,
  context: BatchContext,
): Promise<EncodedBatch> {
  const { keys } = context;
  const sections: FlushSection[] = [];
  const metaStores = new Set<SeriesStore>(metaOnly);
  let series = 0;
  let dropped = 0;
  let sinceYield = 0;

  for (const { store, changes } of taken) {
    const { name, kind, expireSeconds } = store.meta;
    const expire = expireSeconds === undefined ? '' : String(expireSeconds);
    const perProcess = kind === 'gauge';
    const created = hasCreated(kind);
    if (store.conflicted) {
      dropped += changes.cells.length;
      for (const cell of changes.cells) if (current(cell, changes)) drain(cell, emptySections(), false);
      continue;
    }
    metaStores.add(store);
    const family = name;
    if (changes.reset) sections.push({ op: perProcess ? 'x' : 'X', family, payload: '' });
    // Creation times live in a hash of their own (read only for OpenMetrics): reset and remove it too.
    const createdKey = created ? keys.created(name) : '';
    if (changes.reset && created) sections.push({ op: 'Z', family, createdKey, payload: '' });
    // A summary's quantile window lives in time-slot keys of its own: wiped and pruned alike.
    const window = store.meta.percentiles === undefined ? undefined : quantileSectionConfig(keys, store.meta);
    if (changes.reset && window !== undefined) sections.push({ op: 'W', family, window, payload: '' });
    if (changes.removed.length > 0) {
      const fields = `${fieldsOf(store, changes.removed).join('\n')}\n`;
      const labelKeys = `${changes.removed.join('\n')}\n`;
      if (perProcess) sections.push({ op: 'd', family, payload: fields });
      else sections.push({ op: 'D', family, expireSeconds: expire, payload: fields });
      if (created) sections.push({ op: 'K', family, createdKey, payload: labelKeys });
      if (window !== undefined) sections.push({ op: 'R', family, window, payload: labelKeys });
    }
    let out = emptySections();
    const emit = (): void => {
      // Each slice becomes sections of its own, big ones turned into Buffers now: ioredis would
      // otherwise flatten and encode one multi-megabyte string in a single block when sending
      // (measured 51 ms for 100k series as one string, 4 ms as Buffers). Small ones stay
      // strings: a Buffer each costs more than it saves (many small families, shardBy "metric").
      const big = (payload: string): string | Buffer =>
        payload.length > SMALL_PAYLOAD ? Buffer.from(payload) : payload;
      const push = (section: FlushSection, payload: string | undefined): void => {
        if (payload !== undefined && payload !== '') sections.push({ ...section, payload: big(payload) });
      };
      push({ op: 'S', family, expireSeconds: expire, payload: '' }, out.set);
      push({ op: 'A', family, expireSeconds: expire, payload: '' }, out.add);
      push({ op: 'I', family, expireSeconds: expire, payload: '' }, out.int);
      push({ op: 'G', family, payload: '' }, out.gauge);
      push({ op: 'T', family, payload: '' }, out.stamped);
      push({ op: 'H', family, payload: '' }, out.hist);
      push({ op: 'E', family, payload: '' }, out.ex);
      if (window !== undefined) push({ op: 'Q', family, window, payload: '' }, out.quantiles);
      // After this family's X/D sections (pushed above): a re-created series gets a new time.
      push({ op: 'C', family, createdKey, payload: '' }, out.created);
      out = emptySections();
    };
    for (const cell of changes.cells) {
      // Removed during a yield (and perhaps written again, for the next take): not this batch's.
      if (!current(cell, changes)) continue;
      drain(cell, out, created);
      series++;
      if (++sinceYield >= CELLS_PER_SLICE) {
        sinceYield = 0;
        emit();
        await yieldToEventLoop();
      }
    }
    emit();
  }

  const metadata: FlushMetadata[] = [];
  for (const store of metaStores) {
    if (!store.conflicted)
      metadata.push({
        name: store.meta.name,
        encoded: encodeMeta(store.meta),
        samples: context.samples === false ? [] : sampleNames(store.meta),
      });
  }
  const args = flushArgs({
    keys,
    processId: context.processId,
    seq,
    processTtlSeconds: context.tokenTtlSeconds,
    gaugeIndex: context.index ?? (context.gaugeFamilies.length > 0 ? '1' : '0'),
    leaseTtlSeconds: context.expireSeconds,
    gaugeFamilies: context.gaugeFamilies,
    metadata,
    sections,
  });
  return { seq, args, series, metaStores: [...metaStores], dropped };
}

/**
 * The arguments of a family-group batch for one attempt: a batch encoded with index "=" gets
 * `=<index>` (or `=<index>!` when the index was just (re)claimed and the group's gauge hash must
 * be emptied first); any other batch is sent as encoded.
 */
export function withGaugeIndex(batch: EncodedBatch, index: number, reset: boolean): FlushScriptArgs {
  if (flushGaugeIndexOf(batch.args) !== '=') return batch.args;
  return withFlushGaugeIndex(batch.args, reset ? `=${index}!` : `=${index}`);
}

/**
 * `shardBy: "metric"`: take every change from `stores` and encode one batch per family, for the
 * family's own group (its keys, its meta for the shape check, its process sequence). Sample-name
 * clashes are checked in the control group instead. A gauge family's index argument is left for
 * the flusher to set per attempt (`withGaugeIndex`).
 */
export async function encodeGroups(
  stores: readonly SeriesStore[],
  seq: number,
  context: BatchContext,
): Promise<Map<string, EncodedBatch>> {
  const batches = new Map<string, EncodedBatch>();
  let sinceYield = 0;
  // Taken at once, as for a whole flush: a change made while an earlier family is being
  // encoded belongs to the next flush, whichever family it is in.
  for (const one of takeAll(stores)) {
    const { name, kind } = one.store.meta;
    const batch = await encodeTaken([one], [], seq, {
      ...context,
      keys: context.keys.group(name),
      gaugeFamilies: kind === 'gauge' ? [name] : [],
      index: kind === 'gauge' ? '=' : '0',
      samples: false,
    });
    // A conflicted family's changes were dropped: nothing to send.
    if (batch.metaStores.length > 0) batches.set(name, batch);
    sinceYield += batch.series + batch.dropped;
    if (sinceYield >= CELLS_PER_SLICE) {
      sinceYield = 0;
      await yieldToEventLoop();
    }
  }
  return batches;
}
