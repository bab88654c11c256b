/** `inspect`: families, series counts and live processes under a prefix. */

import { PROCESS_FIELDS } from '../redis/fields.js';
import { readFamilies } from '../export/read.js';
import type { FamilyData } from '../export/text-format.js';
import { typeOf } from '../core/family.js';
import { Keys } from '../redis/keys.js';
import type { RedisClient } from '../redis/connection.js';

import {
  write,
  print,
  parse,
  common,
  redact,
  table,
  plural,
  ago,
  details,
  scan,
  help,
  timeoutOf,
} from './shared.js';
import { withRedis } from './connect.js';

/** A family's series count: its rows, or what the read counted when it prerendered them (no rows). */
function seriesOf(family: FamilyData): number {
  return ('series' in family ? family.series : undefined) ?? family.rows.length;
}

interface ProcessRow {
  readonly id: string;
  readonly index: string;
  readonly lease: string;
  readonly lastFlushMs: number;
}

async function processes(redis: RedisClient, keys: Keys): Promise<ProcessRow[]> {
  const rows = await Promise.all(
    // Only keys named as the library names process keys: a user's look-alike is not listed.
    (await scan(redis, keys.processPattern))
      .filter((key) => keys.defines(key))
      .map(async (key): Promise<ProcessRow> => {
        const id = keys.processIdOf(key);
        const [index, t] = await redis.hmget(key, PROCESS_FIELDS.gaugeIndex, PROCESS_FIELDS.lastFlushMs);
        if (index === null || index === undefined)
          return { id, index: '-', lease: '-', lastFlushMs: Number(t ?? 0) };
        const owner = await redis.get(keys.lease(Number(index)));
        return { id, index, lease: owner === id ? 'held' : 'lapsed', lastFlushMs: Number(t ?? 0) };
      }),
  );
  return rows.sort((a, b) => b.lastFlushMs - a.lastFlushMs);
}

export async function inspect(args: string[]): Promise<number> {
  const values = parse(args, {
    redis: { type: 'string' },
    prefix: { type: 'string' },
    cluster: { type: 'boolean' },
    'timeout-ms': { type: 'string' },
  });
  if (values.help === true) return help('inspect');
  const target = common(values);
  const { url, prefix } = target;
  return withRedis(target, timeoutOf(values), async (redis) => {
    const keys = new Keys(prefix);
    const { families, unreadable } = await readFamilies(redis, keys);
    const procs = await processes(redis, keys);
    const [seconds, micros] = await redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const count = families.length + unreadable.length;
    const held = procs.filter((p) => p.lease === 'held').length;
    write(
      `Prefix "${prefix}" on ${redact(url)}: ${plural(count, 'family', 'families')}, ` +
        `${plural(procs.length, 'process', 'processes')} (${plural(held, 'gauge lease', 'gauge leases')} held)\n`,
    );
    const rows = [['FAMILY', 'TYPE', 'SERIES', 'DETAILS']];
    for (const family of families) {
      const { meta } = family;
      rows.push([meta.name, typeOf(meta.kind), String(seriesOf(family)), details(meta)]);
    }
    for (const u of unreadable) rows.push([u.name, '?', '?', `unreadable: ${u.error.message}`]);
    print(count === 0 ? ['No metric families under this prefix.'] : table(rows, [2]));
    write('');
    const lines = [['PROCESS', 'GAUGE INDEX', 'LEASE', 'LAST FLUSH']];
    for (const p of procs) {
      const last =
        p.lastFlushMs === 0 ? '-' : `${new Date(p.lastFlushMs).toISOString()} (${ago(now - p.lastFlushMs)})`;
      lines.push([p.id, p.index, p.lease, last]);
    }
    print(procs.length === 0 ? ['No process has flushed into this prefix.'] : table(lines));
    return 0;
  });
}
