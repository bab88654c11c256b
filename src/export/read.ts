/**
 * The read side of a scrape: reads the families' metadata, then each family's data in bounded
 * pages (scan.ts), two families at a time, handing them on in name order as parse.ts turns them
 * into rows or, for a big counter or common-gauge family, a stream of rendered text.
 */

import { decodeMeta, type FamilyMeta } from '../core/family.js';
import type { RedisClient } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { byKey, FamilyBuilder } from './parse.js';
import { readFamilyData, serverNowMs, UnreadableData } from './scan.js';
import type { ExpositionFormat, FamilyData } from './text-format.js';

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

/** How a read's families will be rendered, which decides what is read. */
export interface RenderOptions {
  readonly format: ExpositionFormat;
  /** OpenMetrics `_created` lines (read only for OpenMetrics); default true. */
  readonly created?: boolean;
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
  render: RenderOptions,
  unreadable: (family: UnreadableFamily) => void,
): AsyncGenerator<FamilyData> {
  const { format } = render;
  const openMetrics = format === 'openmetrics';
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
  /** Start reading a family; `done` settles when its read does (an Error: unreadable). */
  const read = (meta: FamilyMeta): { builder: FamilyBuilder; done: Promise<Error | undefined> } => {
    const builder = new FamilyBuilder(meta, format);
    const done = readFamilyData(
      redis,
      {
        meta,
        // shardBy "metric": the family's data lives in its own group (its own slot of a cluster).
        keys: meta.shard === 'metric' ? keys.group(meta.name) : keys,
        live,
        withCreated: openMetrics && render.created !== false,
        withExemplars: openMetrics,
        nowMs,
      },
      (chunk, index) => builder.add(chunk, index),
    ).then(
      () => {
        builder.end();
        return undefined;
      },
      (error: unknown) => {
        builder.end(error);
        if (!(error instanceof UnreadableData)) throw error;
        return new TypeError(`Metric "${meta.name}": cannot read its data (${error.message})`);
      },
    );
    // A failure of a read ahead surfaces when its turn comes, never as an unhandled rejection.
    done.catch(() => {});
    return { builder, done };
  };
  const reads: Array<ReturnType<typeof read> | undefined> = [];
  try {
    for (let i = 0; i < metas.length; i++) {
      while (reads.length < Math.min(metas.length, i + FAMILIES_IN_FLIGHT))
        reads.push(read(metas[reads.length]!));
      const { builder, done } = reads[i]!;
      // A big counter or common-gauge family streams as it is read; the others come whole.
      await Promise.race([builder.streaming, done]);
      const streamed = builder.streamed;
      if (streamed !== undefined) {
        yield streamed;
        await done;
      } else {
        const failed = await done;
        if (failed !== undefined) unreadable({ name: metas[i]!.name, error: failed });
        else yield await builder.finish();
      }
      // Kept until now so that `finally` also lets a family stopped mid-stream run out.
      reads[i] = undefined;
    }
  } finally {
    // Stopped early (the client went away, or a read failed): let the reads in flight run out.
    for (const ahead of reads) ahead?.builder.cancel();
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
  for await (const family of streamFamilies(redis, keys, names, { format }, (u) => unreadable.push(u))) {
    if (!('streamed' in family) || family.streamed === undefined) {
      families.push(family);
      continue;
    }
    // Held whole here (the caller wants them all): one line per series in a streamed family.
    const prerendered: string[] = [];
    let series = 0;
    for await (const text of family.streamed) {
      prerendered.push(text);
      for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) series++;
    }
    families.push({ meta: family.meta, rows: [], prerendered, series });
  }
  return { families, unreadable };
}
