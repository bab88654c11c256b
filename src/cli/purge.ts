/** `purge`: delete a prefix, one family, or the series of a family matching label filters. */

import { parseLabels } from '../core/escape.js';
import type { RedisClient } from '../redis/connection.js';

import { decodeMeta, typeOf, type FamilyMeta } from '../core/family.js';
import { labelKeyOf } from '../redis/fields.js';
import { Keys } from '../redis/keys.js';
import { isLabelName, isMetricName } from '../core/validate.js';

import {
  UsageError,
  write,
  print,
  parse,
  text,
  common,
  scan,
  inSlices,
  unlinkAll,
  help,
  hashEntries,
  setMembers,
  timeoutOf,
} from './shared.js';
import { withRedis } from './connect.js';

function parseMatch(raw: readonly string[]): Array<[string, string]> {
  return raw.map((m) => {
    const eq = m.indexOf('=');
    if (eq < 1 || !isLabelName(m.slice(0, eq))) {
      throw new UsageError(`--match expects LABEL=VALUE, got ${JSON.stringify(m)}`);
    }
    return [m.slice(0, eq), m.slice(eq + 1)];
  });
}

/** Print at most 20 items of a list, then how many more. */
function list(items: readonly string[]): void {
  print(items.slice(0, 20).map((item) => `  ${item}`));
  if (items.length > 20) write(`  ... and ${items.length - 20} more`);
}

function dryRun(): number {
  write('Nothing was deleted: add --yes to delete.');
  return 2;
}

interface Target {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly yes: boolean;
}

/**
 * The families with a group of their own (`shardBy: "metric"`), by the registry's metadata; a
 * family whose metadata this version cannot decode may have one too.
 */
async function groupedFamilies({ redis, keys }: Target): Promise<Set<string>> {
  const grouped = new Set<string>();
  for (const [name, encoded] of await hashEntries(redis, keys.meta)) {
    try {
      if (decodeMeta(name, encoded).shard === 'metric') grouped.add(name);
    } catch {
      grouped.add(name);
    }
  }
  return grouped;
}

/**
 * Every key the library's layout defines under the prefix, and nothing else there: the keys of
 * the registry's own slot, by name (a user's `{prefix}:anything` is left), and the groups of the
 * families the metadata says have one (a user's `prefix:{prefix:...}` keys look like groups),
 * looked for only when it names one.
 */
async function prefixKeys(target: Target): Promise<string[]> {
  const { redis, keys } = target;
  const own = (await scan(redis, keys.pattern)).filter((key) => keys.defines(key));
  const grouped = await groupedFamilies(target);
  if (grouped.size === 0) return own;
  const groups = (await scan(redis, keys.groupsPattern)).filter((key) => {
    const family = keys.groupFamilyOf(key);
    if (family === undefined) return false;
    const group = keys.group(family);
    // A family purged on its own left its group's process keys (see findFamily): ours too.
    return group.defines(key) && (grouped.has(family) || key.startsWith(group.processPrefix));
  });
  return [...groups, ...own].sort();
}

async function purgePrefix(target: Target): Promise<number> {
  const { redis, keys, yes } = target;
  const found = await prefixKeys(target);
  write(`${yes ? 'Deleting' : 'Would delete'} ${found.length} keys under prefix "${keys.prefix}":`);
  list(found);
  if (!yes) return dryRun();
  // The metadata last: a family is never listed while its data is gone.
  const last = new Set([keys.meta, keys.samples, keys.gaugeIndexSet]);
  await unlinkAll(redis, [...found.filter((key) => !last.has(key)), ...found.filter((key) => last.has(key))]);
  write(`Deleted ${found.length} keys.`);
  return 0;
}

interface FamilyTarget extends Target {
  readonly name: string;
  readonly meta: FamilyMeta | undefined;
  readonly stored: boolean;
  /** The keys holding the family's data: the registry's own, or its group's (`shardBy: "metric"`). */
  readonly data: Keys;
  /** The family's data keys that exist. */
  readonly present: readonly string[];
}

async function findFamily(target: Target, family: string): Promise<FamilyTarget> {
  const { redis, keys } = target;
  let name = family;
  let stored = await redis.hget(keys.meta, name);
  if (stored === null && name.endsWith('_total')) {
    stored = await redis.hget(keys.meta, name.slice(0, -6));
    if (stored !== null) name = name.slice(0, -6);
  }
  let meta: FamilyMeta | undefined;
  try {
    meta = stored === null ? undefined : decodeMeta(name, stored);
  } catch {
    meta = undefined; // a foreign layout can still be deleted, by key
  }
  // A group of its own (shardBy "metric"; looked for too when the metadata is gone).
  const group = keys.group(name);
  const grouped =
    meta?.shard === 'metric' || stored === null
      ? (await scan(redis, group.pattern)).filter((key) => group.defines(key))
      : [];
  if (meta?.shard === 'metric' || grouped.length > 0) {
    // Every key in it is the family's, but for the processes' sequence numbers, kept so that a
    // batch applied just before the purge is never applied again.
    const present = grouped.filter((k) => !k.startsWith(group.processPrefix));
    return { ...target, name, meta, stored: stored !== null, data: group, present };
  }
  const indexes = await setMembers(redis, keys.gaugeIndexSet);
  const candidates = [
    keys.family(name),
    keys.expiry(name),
    keys.created(name),
    ...indexes.map((i) => keys.gauge(name, Number(i))),
  ];
  const exists = await Promise.all(candidates.map((key) => redis.exists(key)));
  const windows = (await scan(redis, keys.quantilePattern(name))).filter((k) => keys.isQuantileKey(name, k));
  const present = [...candidates.filter((_, i) => exists[i] === 1), ...windows];
  if (stored === null && present.length === 0) {
    throw new Error(`no family named "${family}" under prefix "${keys.prefix}"`);
  }
  return { ...target, name, meta, stored: stored !== null, data: keys, present };
}

async function purgeFamily(t: FamilyTarget): Promise<number> {
  const { redis, keys, name } = t;
  const samples = [...(await hashEntries(redis, keys.samples))]
    .filter(([, owner]) => owner === name)
    .map(([sample]) => sample);
  const type = t.meta === undefined ? '' : ` (${typeOf(t.meta.kind)})`;
  write(`${t.yes ? 'Deleting' : 'Would delete'} family "${name}"${type} under prefix "${keys.prefix}":`);
  list([
    ...t.present,
    ...(t.stored ? [`its metadata (field "${name}" of ${keys.meta})`] : []),
    ...(samples.length === 0 ? [] : [`its sample names (${samples.join(', ')}) in ${keys.samples}`]),
  ]);
  if (!t.yes) return dryRun();
  // Data first, then the metadata (one slot, one transaction): a family is never left listed
  // without its data being on the way out, whatever slots the data keys live in.
  await unlinkAll(redis, t.present);
  const tx = redis.multi();
  tx.hdel(keys.meta, name);
  if (samples.length > 0) tx.hdel(keys.samples, ...samples);
  await tx.exec();
  write(`Deleted family "${name}".`);
  return 0;
}

async function purgeSeries(t: FamilyTarget, pairs: ReadonlyArray<[string, string]>): Promise<number> {
  const { redis, data: keys, name, meta } = t;
  if (meta === undefined)
    throw new Error(`family "${name}" has no readable metadata: purge it without --match`);
  const known = [...meta.labelNames, ...(meta.kind === 'gauge' ? ['gauge_index'] : [])];
  for (const [label] of pairs) {
    if (!known.includes(label)) {
      const labels = known.length === 0 ? 'it has no labels' : `its labels: ${known.join(', ')}`;
      throw new UsageError(`family "${name}" has no label "${label}" (${labels})`);
    }
  }
  const parsed = new Map<string, Map<string, string> | undefined>();
  const labelsOf = (seriesKey: string): Map<string, string> | undefined => {
    if (!parsed.has(seriesKey)) {
      try {
        parsed.set(seriesKey, new Map(parseLabels(seriesKey)));
      } catch {
        parsed.set(seriesKey, undefined); // not a label set this library wrote: never matched
      }
    }
    return parsed.get(seriesKey);
  };
  const series = new Set<string>();
  const doomed = new Map<string, string[]>();
  for (const key of t.present) {
    if (key === keys.expiry(name)) continue;
    // Only value hashes hold series (not a group's meta copy or process sequences).
    if (!keys.holdsSeries(name, key)) continue;
    // Per-process gauge hashes end in their gauge index; quantile windows (summaries) in a slot.
    const index = keys.gaugeIndexOf(key);
    const fields = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(key, cursor, 'COUNT', 1000);
      for (let i = 0; i < flat.length; i += 2) {
        const seriesKey = labelKeyOf(flat[i]!);
        const labels = labelsOf(seriesKey);
        if (labels === undefined) continue;
        if (!pairs.every(([l, v]) => (l === 'gauge_index' ? index : labels.get(l)) === v)) continue;
        fields.add(flat[i]!);
        series.add(index === undefined ? `{${seriesKey}}` : `{${seriesKey}} (gauge_index ${index})`);
      }
      cursor = next;
    } while (cursor !== '0');
    if (fields.size > 0) doomed.set(key, [...fields]);
  }
  const fieldCount = [...doomed.values()].reduce((n, f) => n + f.length, 0);
  write(`${t.yes ? 'Deleting' : 'Would delete'} ${series.size} series of "${name}" (${fieldCount} fields):`);
  list([...series].sort());
  if (!t.yes) return dryRun();
  for (const [key, fields] of doomed) {
    await inSlices(fields, (slice) => redis.hdel(key, ...slice));
    if (key === keys.family(name) && meta.kind === 'common_gauge') {
      await inSlices([...new Set(fields.map(labelKeyOf))], (slice) =>
        redis.zrem(keys.expiry(name), ...slice),
      );
    }
  }
  write(`Deleted ${series.size} series.`);
  return 0;
}

export async function purge(args: string[]): Promise<number> {
  const values = parse(args, {
    redis: { type: 'string' },
    prefix: { type: 'string' },
    cluster: { type: 'boolean' },
    family: { type: 'string' },
    match: { type: 'string', multiple: true },
    yes: { type: 'boolean' },
    'timeout-ms': { type: 'string' },
  });
  if (values.help === true) return help('purge');
  const options = common(values);
  const timeoutMs = timeoutOf(values);
  const family = text(values, 'family');
  const pairs = parseMatch(Array.isArray(values.match) ? values.match : []);
  if (pairs.length > 0 && family === undefined) throw new UsageError('--match needs --family');
  if (family !== undefined && !isMetricName(family)) {
    throw new UsageError(`--family must be a metric name, got ${JSON.stringify(family)}`);
  }
  return withRedis(options, timeoutMs, async (redis) => {
    const target: Target = { redis, keys: new Keys(options.prefix), yes: values.yes === true };
    if (family === undefined) return purgePrefix(target);
    const found = await findFamily(target, family);
    return pairs.length === 0 ? purgeFamily(found) : purgeSeries(found, pairs);
  });
}
