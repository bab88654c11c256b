import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Cell } from '../buffer/cells.js';
import { encodeExemplars } from '../buffer/exemplars.js';
import type { SeriesStore, TakenStore } from '../buffer/series-store.js';
import { encodeMeta, sampleNames, type FamilyKind } from '../core/family.js';
import type { Keys } from '../redis/keys.js';
import { quantileSectionConfig } from '../redis/quantile-window.js';

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
   * The script's gauge index argument (see flush-4.lua): by default "1" when there are gauge
   * families, else "0". A family group of `shardBy: "metric"` is sent "=<index>", which the
   * flusher sets per attempt (`INDEX_ARG`).
   */
  readonly index?: string;
  /** Send each family's sample names for the cross-family clash check (default true). */
  readonly samples?: boolean;
}

/** Position of the gauge index argument in `EncodedBatch.args`. */
const INDEX_ARG = 7;

/** One flush: a sequence number and the exact script arguments, kept until Redis acknowledges them. */
export interface EncodedBatch {
  readonly seq: number;
  readonly args: ReadonlyArray<string | Buffer>;
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
      const ageUs = Math.max(0, Math.round((performance.now() - cell.t) * 1000));
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
    if (cell.n !== 0 || cell.fresh) sections.hist += `${cell.key}\n${num(cell.sum)}\nc:${cell.n}\n`;
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

/** The hash fields a series occupies: its key, or for histograms and summaries `key|sub` fields. */
function fieldsOf(store: SeriesStore, keys: readonly string[]): string[] {
  const { kind, buckets } = store.meta;
  // A `last` gauge keeps each value's write time in a `key|t` field next to it.
  if (store.meta.aggregate === 'last') return keys.flatMap((key) => [key, `${key}|t`]);
  if (kind !== 'histogram' && kind !== 'summary') return [...keys];
  const subs = ['s', 'c'];
  // Buckets and their exemplars (`e<slot>`).
  if (kind === 'histogram') for (let i = 0; i <= (buckets?.length ?? 0); i++) subs.push(String(i), `e${i}`);
  return keys.flatMap((key) => subs.map((sub) => `${key}|${sub}`));
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
  const sections: Array<string | Buffer> = [];
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
    if (changes.reset) sections.push(perProcess ? 'x' : 'X', name, expire, '');
    // Creation times live in a hash of their own (read only for OpenMetrics): reset and remove it too.
    const createdKey = created ? keys.created(name) : '';
    if (changes.reset && created) sections.push('Z', name, createdKey, '');
    // A summary's quantile window lives in time-slot keys of its own: wiped and pruned alike.
    const window = store.meta.percentiles === undefined ? undefined : quantileSectionConfig(keys, store.meta);
    if (changes.reset && window !== undefined) sections.push('W', name, window, '');
    if (changes.removed.length > 0) {
      sections.push(perProcess ? 'd' : 'D', name, expire, `${fieldsOf(store, changes.removed).join('\n')}\n`);
      if (created) sections.push('K', name, createdKey, `${changes.removed.join('\n')}\n`);
      if (window !== undefined) sections.push('R', name, window, `${changes.removed.join('\n')}\n`);
    }
    let out = emptySections();
    const emit = (): void => {
      // Each slice becomes sections of its own, big ones turned into Buffers now: ioredis would
      // otherwise flatten and encode one multi-megabyte string in a single block when sending
      // (measured 51 ms for 100k series as one string, 4 ms as Buffers). Small ones stay
      // strings: a Buffer each costs more than it saves (many small families, shardBy "metric").
      const push = (op: string, extra: string, payload: string | undefined): void => {
        if (payload === undefined || payload === '') return;
        sections.push(op, name, extra, payload.length > SMALL_PAYLOAD ? Buffer.from(payload) : payload);
      };
      push('S', expire, out.set);
      push('A', expire, out.add);
      push('I', expire, out.int);
      push('G', '', out.gauge);
      push('T', '', out.stamped);
      push('H', '', out.hist);
      push('E', '', out.ex);
      if (window !== undefined) push('Q', window, out.quantiles);
      // After this family's X/D sections (pushed above): a re-created series gets a new time.
      push('C', createdKey, out.created);
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

  const metas: string[] = [];
  for (const store of metaStores) {
    if (!store.conflicted)
      metas.push(
        store.meta.name,
        encodeMeta(store.meta),
        context.samples === false ? '' : sampleNames(store.meta).join('\n'),
      );
  }
  const args = [
    keys.process(context.processId),
    keys.meta,
    keys.gaugeIndexSet,
    keys.samples,
    context.processId,
    String(seq),
    String(context.tokenTtlSeconds),
    context.index ?? (context.gaugeFamilies.length > 0 ? '1' : '0'),
    String(context.expireSeconds),
    keys.familyPrefix,
    keys.gaugePrefix,
    keys.leasePrefix,
    keys.expiryPrefix,
    context.gaugeFamilies.join('\n'),
    String(metas.length / 3),
    ...metas,
    ...sections,
  ];
  return { seq, args, series, metaStores: [...metaStores], dropped };
}

/**
 * The arguments of a family-group batch for one attempt: a batch encoded with index "=" gets
 * `=<index>` (or `=<index>!` when the index was just (re)claimed and the group's gauge hash must
 * be emptied first); any other batch is sent as encoded.
 */
export function withGaugeIndex(
  batch: EncodedBatch,
  index: number,
  reset: boolean,
): ReadonlyArray<string | Buffer> {
  if (batch.args[INDEX_ARG] !== '=') return batch.args;
  const args = [...batch.args];
  args[INDEX_ARG] = `=${index}${reset ? '!' : ''}`;
  return args;
}

/**
 * `shardBy: "metric"`: take every change from `stores` and encode one batch per family, for the
 * family's own group (its keys, its meta for the shape check, its process sequence). Sample-name
 * clashes are checked in the control group instead. A gauge family's index argument is left for
 * the flusher to set per attempt (`INDEX_ARG`).
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
