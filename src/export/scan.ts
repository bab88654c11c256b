/**
 * A scrape's reads from Redis, every one bounded: each hash of a family is read in pages of
 * about `PAGE_FIELDS` fields (page-2.lua, HSCAN), whole series per page, the next page asked for
 * before this one is parsed, so Redis works while Node parses. A family's data comes back as
 * packed `field\nvalue\n...` chunks (index and chunk pairs for per-process gauges).
 */
import type { FamilyMeta } from '../core/family.js';
import type { RedisClient } from '../redis/connection.js';
import { COUNT, exemplarSuffix, SUM } from '../redis/fields.js';
import type { Keys } from '../redis/keys.js';
import { quantileSlotMs } from '../redis/quantile-window.js';
import { callPage, pageArgs, type PageMode } from '../redis/scripts.js';

/**
 * Fields HSCAN visits per page: about 1 ms of Redis time here for counters (docs/scaling.md).
 * Histogram and summary pages visit a quarter as many: each series found is read whole beside
 * them (an HMGET of its sum and buckets).
 */
export const PAGE_FIELDS = 500;

/** A family's data could not be read (a key of the wrong type): the reason, for the scrape's report. */
export class UnreadableData extends Error {}

/**
 * A hash moved to another Redis Cluster node while its pages were read (a slot migration): a
 * cursor is only good on the node that gave it, so what was read may miss series. The scrape
 * fails rather than serve the family incomplete (Prometheus would record false drops).
 */
export class MovedDuringRead extends Error {}

/**
 * Every page of one hash, each handed to `onPage` while the next is being read. A page starting
 * with `\0` is an error from Redis (the key cannot be read).
 */
async function scanHash(
  redis: RedisClient,
  hash: string,
  expiry: string,
  mode: PageMode,
  suffixes: readonly string[] | undefined,
  onPage: (packed: string) => Promise<void> | undefined | void,
): Promise<void> {
  // Mode g visits COUNT fields but reads only whole series, a dozen fields each, by HMGET.
  const count = mode === 'g' ? PAGE_FIELDS / 2 : PAGE_FIELDS;
  const page = (cursor: string) => callPage(redis, pageArgs({ hash, expiry, cursor, count, mode, suffixes }));
  let reply = await page('0');
  const node = reply[2];
  for (;;) {
    const [cursor, packed, from] = reply;
    if (from !== node) {
      throw new MovedDuringRead(
        `${hash} moved to another Redis node while it was being read (a Redis Cluster slot migration): ` +
          `the scrape fails rather than serve it incomplete; the next one reads it whole`,
      );
    }
    if (packed.startsWith('\0')) throw new UnreadableData(packed.slice(1));
    // Ask for the next page first: Redis reads it while this one is handed on.
    const next = cursor === '0' ? undefined : page(cursor);
    // Keep a rejection of `next` from going unhandled while `onPage` runs.
    next?.catch(() => {});
    // A consumer that is behind makes the read wait (the next page is already on its way).
    if (packed !== '') await onPage(packed);
    if (next === undefined) return;
    reply = await next;
  }
}

/**
 * Drops the second copy of a series HSCAN returned twice (it may, when a hash shrinks during a
 * scan). Only families read in more than one page need it.
 */
class FirstCopies {
  readonly #seen = new Set<string>();

  /** `packed` without the pairs whose field was seen before (scalar families: one field per series). */
  scalar(packed: string): string {
    const parts = packed.split('\n');
    let dropped = false;
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const field = parts[i]!;
      if (this.#seen.has(field)) {
        parts[i] = '\0';
        dropped = true;
      } else this.#seen.add(field);
    }
    if (!dropped) return packed;
    const kept: string[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] !== '\0') kept.push(parts[i]!, parts[i + 1]!);
    return kept.join('\n');
  }
}

/** The server's clock in ms (a summary's window is cut by it, as the flush script does). */
export async function serverNowMs(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Where and how one family is read. */
export interface FamilyRead {
  readonly meta: FamilyMeta;
  /** The keys of the family's slot (the registry's, or its own group's with shardBy "metric"). */
  readonly keys: Keys;
  /** The live gauge indexes (per-process gauges). */
  readonly live: readonly string[];
  /** Also read creation times (OpenMetrics). */
  readonly withCreated: boolean;
  /** Also read histograms' exemplars (OpenMetrics). */
  readonly withExemplars: boolean;
  /** The server's clock, ms (summaries with quantiles). */
  readonly nowMs: number;
}

/**
 * Receives a family's chunks as they are read (`gaugeIndex` for a per-process gauge's); a
 * promise it returns makes the read wait for it.
 */
export type ChunkSink = (chunk: string, gaugeIndex: string | undefined) => Promise<void> | undefined | void;

/**
 * Read one family's data in bounded pages, handing each packed `field\nvalue\n...` chunk to
 * `sink` as it arrives (while the next page is read). Throws UnreadableData when a key cannot be
 * read.
 */
export async function readFamilyData(redis: RedisClient, read: FamilyRead, sink: ChunkSink): Promise<void> {
  const { meta, keys, live } = read;
  const { name, kind } = meta;
  const expiry = keys.expiry(name);
  if (kind === 'gauge') {
    const mode = meta.aggregate === 'last' ? 't' : 'f';
    for (const index of live) {
      await scanHash(redis, keys.gauge(name, Number(index)), expiry, mode, undefined, (packed) =>
        sink(packed, index),
      );
    }
    return;
  }
  if (kind === 'histogram' || kind === 'summary') {
    // Sum and buckets (a histogram) or sum and count (a summary); a histogram's exemplars too
    // where they are shown (OpenMetrics).
    const slots = (meta.buckets?.length ?? 0) + 1;
    const suffixes =
      kind === 'histogram'
        ? [
            SUM,
            ...Array.from({ length: slots }, (_, slot) => String(slot)),
            ...(read.withExemplars ? Array.from({ length: slots }, (_, slot) => exemplarSuffix(slot)) : []),
          ]
        : [SUM, COUNT];
    await scanHash(redis, keys.family(name), expiry, 'g', suffixes, (packed) => sink(packed, undefined));
  } else {
    const mode = kind === 'common_gauge' && meta.expireSeconds !== undefined ? 'x' : 'f';
    const firsts = new FirstCopies();
    let first: string | undefined;
    let pages = 0;
    await scanHash(redis, keys.family(name), expiry, mode, undefined, (packed) => {
      // The first page is held back until the second comes (or none does): a family read in
      // one page holds no second copies and needs no Set.
      if (++pages === 1) {
        first = packed;
        return undefined;
      }
      if (pages === 2) void sink(firsts.scalar(first!), undefined);
      return sink(firsts.scalar(packed), undefined);
    });
    if (pages === 1) await sink(first!, undefined);
  }
  if (kind === 'summary' && meta.percentiles !== undefined) {
    for (const chunk of await readWindow(redis, read)) await sink(chunk, undefined);
  }
  if (read.withCreated && (kind === 'counter' || kind === 'histogram' || kind === 'summary')) {
    await scanHash(redis, keys.created(name), expiry, 'f', undefined, (packed) => {
      // "labelkey|created\nseconds": the creation-time fields as scrapes parse them.
      const parts = packed.split('\n');
      for (let i = 0; i < parts.length; i += 2) parts[i] = `${parts[i]!}|created`;
      return sink(parts.join('\n'), undefined);
    });
  }
}

/** `readFamilyData`'s chunks, collected (index and chunk pairs for per-process gauges). */
export async function collectFamilyData(redis: RedisClient, read: FamilyRead): Promise<string[]> {
  const data: string[] = [];
  await readFamilyData(redis, read, (chunk, index) => {
    if (index !== undefined) data.push(index);
    data.push(chunk);
  });
  return data;
}

/**
 * A summary's quantile window: the sketch buckets of the slots still inside it (the current slot
 * by the server's clock and the ageBuckets - 1 before it), summed per field, as
 * `field|bucket\ncount` chunks.
 */
async function readWindow(redis: RedisClient, read: FamilyRead): Promise<string[]> {
  const { meta, keys } = read;
  const width = quantileSlotMs(meta);
  const slots = meta.ageBuckets ?? 5;
  const slot = Math.floor(read.nowMs / width);
  const sums = new Map<string, number>();
  for (let s = slot - slots + 1; s <= slot; s++) {
    await scanHash(redis, keys.quantile(meta.name, s), keys.expiry(meta.name), 'f', undefined, (packed) => {
      const parts = packed.split('\n');
      for (let i = 0; i + 1 < parts.length; i += 2) {
        const field = parts[i]!;
        sums.set(field, (sums.get(field) ?? 0) + (Number(parts[i + 1]) || 0));
      }
    });
  }
  const chunks: string[] = [];
  let chunk: string[] = [];
  for (const [field, n] of sums) {
    chunk.push(field, String(n));
    if (chunk.length >= 2 * PAGE_FIELDS) {
      chunks.push(chunk.join('\n'));
      chunk = [];
    }
  }
  if (chunk.length > 0) chunks.push(chunk.join('\n'));
  return chunks;
}
