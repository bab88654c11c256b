/**
 * Encoding a flush: take the changes of the buffer's stores and turn them, with the families'
 * metadata, into the arguments of flush script calls built through the script's typed builder —
 * chunks bounded by field updates, a series never split between two (one chain of chunks per
 * family group with `shardBy: "metric"`).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Cell } from '../buffer/cells.js';
import type { SeriesStore, TakenStore } from '../buffer/series-store.js';
import { encodeMeta, sampleNames } from '../core/family.js';
import { seriesFields } from '../redis/fields.js';
import type { Keys } from '../redis/keys.js';
import { quantileSectionConfig } from '../redis/quantile-window.js';
import {
  flushArgs,
  type FlushGaugeIndex,
  type FlushMetadata,
  type FlushScriptArgs,
  type FlushSection,
} from '../redis/scripts.js';
import { drain, emptySections, hasCreated, type Sections } from './encode-cells.js';
import type { LastValues } from './last-values.js';

/** Cells encoded between two yields to the event loop (keeps a 100k-series flush from stalling it). */
const CELLS_PER_SLICE = 2048;
/** Payloads up to this many characters are sent as strings, longer ones as Buffers. */
const SMALL_PAYLOAD = 8192;
/**
 * A section's payload is closed once it passes this many characters (at most 3 UTF-8 bytes
 * each, plus the record that passed it): far inside Redis's smallest proto-max-bulk-len (1 MB),
 * which refuses a longer argument outright.
 */
const SECTION_CHARS = 128 * 1024;

/** Line feeds in `text`. */
function countLines(text: string): number {
  let n = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) n++;
  return n;
}

/** Characters in a slice's section payloads so far. */
function charsOf(out: Sections): number {
  return (
    out.add.length +
    out.int.length +
    out.set.length +
    out.gauge.length +
    out.hist.length +
    (out.ex?.length ?? 0) +
    (out.stamped?.length ?? 0) +
    (out.quantiles?.length ?? 0) +
    (out.created?.length ?? 0)
  );
}

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
   * flusher sets "=<index>" per attempt (`withFlushAttempt`).
   */
  readonly index?: FlushGaugeIndex;
  /** Send each family's sample names for the cross-family clash check (default true). */
  readonly samples?: boolean;
  /** Field updates after which a chunk is closed (at the end of the series that reaches it). */
  readonly chunkUpdates: number;
  /** The next sequence number (strictly increasing per process), one per chunk. */
  nextSeq(): number;
  /** What this process last set on its common gauges (kept, and written again after a wipe). */
  readonly lastValues?: LastValues;
}

/**
 * One chunk of a flush: a sequence number and the exact script arguments, kept until Redis
 * acknowledges them. Its arguments are those of an anchor (see ChunkQueue); an attempt may set
 * the gauge index, the gauge families and `after` (`withFlushAttempt`), never the data.
 */
export interface EncodedBatch {
  readonly seq: number;
  /** Built by `flushArgs` (src/redis/scripts.ts). */
  readonly args: FlushScriptArgs;
  /** Series carried (for self-metrics and for reporting undelivered data). */
  readonly series: number;
  /** Stores whose metadata the chunk registers (each family it writes, and the metadata-only ones). */
  readonly metaStores: readonly SeriesStore[];
}

/** The chunk being filled. */
interface OpenChunk {
  readonly sections: FlushSection[];
  readonly families: Set<SeriesStore>;
  series: number;
  updates: number;
}

function openChunk(): OpenChunk {
  return { sections: [], families: new Set(), series: 0, updates: 0 };
}

/**
 * Take every change from `stores` and encode it, with metadata, as the chunks of one flush (at
 * least one: an empty flush still keeps the gauge lease). The stores are taken synchronously
 * (the swap); cells are read in slices with yields between them — a cell changed during a yield
 * is still marked dirty, so its newer value rides in this flush, and a cell changed after being
 * read goes onto a fresh dirty list.
 */
export function encodeBatch(
  stores: readonly SeriesStore[],
  metaOnly: readonly SeriesStore[],
  context: BatchContext,
): Promise<EncodedBatch[]> {
  return encodeTaken(takeAll(stores), metaOnly, context);
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

// Each slice becomes sections of its own, big ones turned into Buffers now: ioredis would
// otherwise flatten and encode one multi-megabyte string in a single block when sending
// (measured 51 ms for 100k series as one string, 4 ms as Buffers). Small ones stay strings: a
// Buffer each costs more than it saves (many small families, shardBy "metric").
function payloadOf(text: string): string | Buffer {
  return text.length > SMALL_PAYLOAD ? Buffer.from(text) : text;
}

/** Push a family's records of one slice as sections (those that have any). */
function pushRecords(
  sections: FlushSection[],
  out: Sections,
  family: string,
  expire: string,
  window: string | undefined,
  createdKey: string,
): void {
  const push = (section: FlushSection, records: string | undefined): void => {
    if (records !== undefined && records !== '') sections.push({ ...section, payload: payloadOf(records) });
  };
  push({ op: 'S', family, expireSeconds: expire, payload: '' }, out.set);
  push({ op: 'A', family, expireSeconds: expire, payload: '' }, out.add);
  push({ op: 'I', family, expireSeconds: expire, payload: '' }, out.int);
  push({ op: 'G', family, payload: '' }, out.gauge);
  push({ op: 'T', family, payload: '' }, out.stamped);
  push({ op: 'H', family, payload: '' }, out.hist);
  push({ op: 'E', family, payload: '' }, out.ex);
  if (window !== undefined) push({ op: 'Q', family, window, payload: '' }, out.quantiles);
  // After this family's X/D sections (pushed before): a re-created series gets a new time.
  push({ op: 'C', family, createdKey, payload: '' }, out.created);
}

async function encodeTaken(
  taken: Taken,
  metaOnly: readonly SeriesStore[],
  context: BatchContext,
): Promise<EncodedBatch[]> {
  const { keys, chunkUpdates } = context;
  const chunks: EncodedBatch[] = [];
  let chunk = openChunk();
  let sinceYield = 0;
  const close = (): void => {
    chunks.push(closeChunk(chunk, chunks.length === 0 ? metaOnly : [], context));
    chunk = openChunk();
  };

  for (const { store, changes } of taken) {
    const { name, kind, expireSeconds } = store.meta;
    if (store.conflicted) {
      for (const cell of changes.cells)
        if (current(cell, changes)) drain(cell, emptySections(), false, false);
      continue;
    }
    const expire = expireSeconds === undefined ? '' : String(expireSeconds);
    const perProcess = kind === 'gauge';
    const created = hasCreated(kind);
    const family = name;
    // Creation times live in a hash of their own (read only for OpenMetrics): reset and remove it too.
    const createdKey = created ? keys.created(name) : '';
    // A summary's quantile window lives in time-slot keys of its own: wiped and pruned alike.
    const window = store.meta.percentiles === undefined ? undefined : quantileSectionConfig(keys, store.meta);
    chunk.families.add(store);
    if (changes.reset) {
      chunk.sections.push({ op: perProcess ? 'x' : 'X', family, payload: '' });
      if (created) chunk.sections.push({ op: 'Z', family, createdKey, payload: '' });
      if (window !== undefined) chunk.sections.push({ op: 'W', family, window, payload: '' });
      chunk.updates += 3;
    }
    // Common gauges: what this process set is kept, and written again (N) after Redis lost it,
    // before this flush's own changes so a newer value wins.
    const lastValues = kind === 'common_gauge' ? context.lastValues : undefined;
    if (lastValues !== undefined) {
      lastValues.removed(store, changes.removed, changes.reset);
      const restore = lastValues.takeDue(store);
      if (restore !== undefined) {
        chunk.sections.push({ op: 'N', family, expireSeconds: expire, payload: payloadOf(restore) });
        chunk.updates += countLines(restore) / 2;
      }
    }
    // Removed series: every field of each in one chunk, as many series per chunk as fit.
    let removed: string[] = [];
    let fields: string[] = [];
    const pushRemoved = (): void => {
      if (removed.length === 0) return;
      const payload = `${fields.join('\n')}\n`;
      const labelKeys = `${removed.join('\n')}\n`;
      if (perProcess) chunk.sections.push({ op: 'd', family, payload });
      else chunk.sections.push({ op: 'D', family, expireSeconds: expire, payload });
      if (created) chunk.sections.push({ op: 'K', family, createdKey, payload: labelKeys });
      if (window !== undefined) chunk.sections.push({ op: 'R', family, window, payload: labelKeys });
      removed = [];
      fields = [];
    };
    for (const key of changes.removed) {
      const own = seriesFields(store.meta, key);
      removed.push(key);
      fields.push(...own);
      chunk.updates += own.length * (expire === '' ? 1 : 2) + (created ? 1 : 0);
      if (chunk.updates >= chunkUpdates) {
        pushRemoved();
        close();
        chunk.families.add(store);
      }
    }
    pushRemoved();
    let out = emptySections();
    const emit = (): void => {
      pushRecords(chunk.sections, out, family, expire, window, createdKey);
      out = emptySections();
    };
    for (const cell of changes.cells) {
      // Removed during a yield (and perhaps written again, for the next take): not this flush's.
      if (!current(cell, changes)) continue;
      lastValues?.record(store, cell);
      chunk.updates += drain(cell, out, created, expire !== '');
      chunk.series++;
      const full = chunk.updates >= chunkUpdates;
      const slice = ++sinceYield >= CELLS_PER_SLICE;
      if (full || slice || charsOf(out) >= SECTION_CHARS) emit();
      if (full) {
        close();
        chunk.families.add(store);
      }
      if (slice) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
    emit();
  }
  if (chunks.length === 0 || chunk.sections.length > 0) close();
  return chunks;
}

/** The arguments of a filled chunk: the metadata of every family it writes (the first chunk also `metaOnly`'s). */
function closeChunk(chunk: OpenChunk, metaOnly: readonly SeriesStore[], context: BatchContext): EncodedBatch {
  const metaStores = new Set<SeriesStore>([...metaOnly, ...chunk.families]);
  const metadata: FlushMetadata[] = [];
  for (const store of metaStores) {
    // A family in conflict is never written; its entry is not sent either.
    if (store.conflicted) metaStores.delete(store);
    else
      metadata.push({
        name: store.meta.name,
        encoded: encodeMeta(store.meta),
        samples: context.samples === false ? [] : sampleNames(store.meta),
      });
  }
  const seq = context.nextSeq();
  const args = flushArgs({
    keys: context.keys,
    processId: context.processId,
    seq,
    processTtlSeconds: context.tokenTtlSeconds,
    gaugeIndex: context.index ?? (context.gaugeFamilies.length > 0 ? '1' : '0'),
    leaseTtlSeconds: context.expireSeconds,
    gaugeFamilies: context.gaugeFamilies,
    metadata,
    sections: chunk.sections,
  });
  return { seq, args, series: chunk.series, metaStores: [...metaStores] };
}

/**
 * `shardBy: "metric"`: take every change from `stores` and encode one chain of chunks per
 * family, for the family's own group (its keys, its meta for the shape check, its process
 * sequence). Sample-name clashes are checked in the control group instead. A gauge family's
 * index argument is left for the flusher to set per attempt (`withFlushAttempt`).
 */
export async function encodeGroups(
  stores: readonly SeriesStore[],
  context: BatchContext,
): Promise<Map<string, EncodedBatch[]>> {
  const groups = new Map<string, EncodedBatch[]>();
  let sinceYield = 0;
  // Taken at once, as for a whole flush: a change made while an earlier family is being
  // encoded belongs to the next flush, whichever family it is in.
  for (const one of takeAll(stores)) {
    const { name, kind } = one.store.meta;
    const chunks = await encodeTaken([one], [], {
      ...context,
      keys: context.keys.group(name),
      gaugeFamilies: kind === 'gauge' ? [name] : [],
      index: kind === 'gauge' ? '=' : '0',
      samples: false,
    });
    // A conflicted family's changes were dropped: nothing to send.
    if (!one.store.conflicted) groups.set(name, chunks);
    sinceYield += one.changes.cells.length;
    if (sinceYield >= CELLS_PER_SLICE) {
      sinceYield = 0;
      await yieldToEventLoop();
    }
  }
  return groups;
}
