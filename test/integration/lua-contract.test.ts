/**
 * The Lua scripts' contracts (src/redis/lua/*.lua headers): each op of the flush script, its
 * DUP and metadata-conflict paths, the gauge index argument, the read and release scripts — each
 * called through its typed builder with hand-built arguments on a real Redis, checking exactly
 * what it wrote and replied. The MOVING path (a slot being resharded) needs a Redis Cluster: it
 * is covered by test/scale/cluster.test.ts ("Redis Cluster resharding").
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMeta, type FamilyMeta } from '../../src/core/family.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';
import { Keys } from '../../src/redis/keys.js';
import { quantileSectionConfig, quantileSlotMs } from '../../src/redis/quantile-window.js';
import {
  callFlush,
  callPage,
  callRelease,
  flushArgs,
  pageArgs,
  releaseArgs,
  withFlushAttempt,
  type FlushArgs,
  type FlushReply,
  type FlushSection,
} from '../../src/redis/scripts.js';
import { collectFamilyData, serverNowMs } from '../../src/export/scan.js';
import { purgePrefix, randomPrefix, redisClient } from '../support/helpers.js';

let redis: Redis;
const prefixes: string[] = [];
beforeAll(() => {
  redis = redisClient();
});
afterAll(async () => {
  for (const prefix of prefixes) await purgePrefix(redis, prefix);
  await redis.quit();
});

function freshKeys(): Keys {
  const prefix = randomPrefix('lua');
  prefixes.push(prefix);
  return new Keys(prefix);
}

type Call = Partial<Omit<FlushArgs, 'keys' | 'sections'>>;

/** One flush call with defaults for everything the test does not name (seq 1, no gauges). */
function flush(keys: Keys, sections: readonly FlushSection[], call: Call = {}): Promise<FlushReply> {
  return callFlush(
    redis,
    flushArgs({
      keys,
      processId: 'p1',
      seq: 1,
      processTtlSeconds: 60,
      gaugeIndex: '0',
      leaseTtlSeconds: 30,
      gaugeFamilies: [],
      metadata: [],
      sections,
      ...call,
    }),
  );
}

/** The server's clock in ms. */
async function serverMs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Delete a family's quantile window keys (family "s"). */
async function purgeWindow(keys: Keys): Promise<void> {
  const slots = (await keysOf(keys)).filter((k) => keys.isQuantileKey('s', k));
  if (slots.length > 0) await redis.del(...slots);
}

/** Every key of the registry, sorted (SCAN). */
async function keysOf(keys: Keys): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', keys.pattern, 'COUNT', 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

const ok = (gaugeIndex = '-1', fresh = '0'): FlushReply => [
  'OK',
  gaugeIndex,
  fresh,
  [],
  '0',
  '',
  '',
  [],
  expect.any(String) as string,
];
const k1 = 'q="a"';
const k2 = 'q="b"';

/** Summary `s` (label `q`, median) with the given quantile window. */
function summaryMeta(maxAgeSeconds: number, ageBuckets: number): FamilyMeta {
  return {
    v: LAYOUT_VERSION,
    name: 's',
    kind: 'summary',
    help: 'h',
    labelNames: ['q'],
    percentiles: [0.5],
    maxAgeSeconds,
    ageBuckets,
  };
}

describe('flush-4.lua ops', () => {
  it('A adds float deltas (HINCRBYFLOAT)', async () => {
    const keys = freshKeys();
    const add: FlushSection = { op: 'A', family: 'c', expireSeconds: '', payload: `${k1}\n1.5\n${k2}\n-2\n` };
    expect(await flush(keys, [add])).toEqual(ok());
    expect(await flush(keys, [add], { seq: 2 })).toEqual(ok());
    expect(await redis.hgetall(keys.family('c'))).toEqual({ [k1]: '3', [k2]: '-4' });
    expect(await keysOf(keys)).toEqual([keys.family('c'), keys.process('p1')].sort());
  });

  it('I adds whole deltas (HINCRBY), falling back to HINCRBYFLOAT on a fraction', async () => {
    const keys = freshKeys();
    await redis.hset(keys.family('c'), k2, '0.5');
    const reply = await flush(keys, [
      { op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n7\n${k2}\n2\n` },
    ]);
    expect(reply).toEqual(ok());
    expect(await redis.hgetall(keys.family('c'))).toEqual({ [k1]: '7', [k2]: '2.5' });
  });

  it('S sets values (HSET)', async () => {
    const keys = freshKeys();
    await redis.hset(keys.family('g'), k1, '99');
    expect(
      await flush(keys, [{ op: 'S', family: 'g', expireSeconds: '', payload: `${k1}\n4\n${k2}\n5\n` }]),
    ).toEqual(ok());
    expect(await redis.hgetall(keys.family('g'))).toEqual({ [k1]: '4', [k2]: '5' });
    expect(await redis.exists(keys.expiry('g'))).toBe(0);
  });

  it.each(['A', 'I', 'S'] as const)(
    '%s with expireSeconds sets each field expiry, restarts an expired field and prunes expired ones',
    async (op) => {
      const keys = freshKeys();
      const stale = 'q="stale"';
      await redis.hset(keys.family('cg'), k1, '10', stale, '3');
      await redis.zadd(keys.expiry('cg'), 1, k1, 2, stale);
      const before = await serverMs();
      await flush(keys, [{ op, family: 'cg', expireSeconds: '30', payload: `${k1}\n2\n` }]);
      const after = await serverMs();
      // k1 was past its expiry: it restarts from zero (S sets it anyway); stale is pruned.
      expect(await redis.hgetall(keys.family('cg'))).toEqual({ [k1]: '2' });
      const zset = await redis.zrange(keys.expiry('cg'), '0', '-1', 'WITHSCORES');
      expect(zset[0]).toBe(k1);
      expect(Number(zset[1])).toBeGreaterThanOrEqual(before + 30_000);
      expect(Number(zset[1])).toBeLessThanOrEqual(after + 30_000);
      expect(zset).toHaveLength(2);
    },
  );

  it('H adds sums and sub-counts', async () => {
    const keys = freshKeys();
    const reply = await flush(keys, [{ op: 'H', family: 'h', payload: `${k1}\n2.5\n0:1,2:3,c:4\n` }]);
    expect(reply).toEqual(ok());
    expect(await redis.hgetall(keys.family('h'))).toEqual({
      [`${k1}|s`]: '2.5',
      [`${k1}|0`]: '1',
      [`${k1}|2`]: '3',
      [`${k1}|c`]: '4',
    });
  });

  it('H past a double: the counts apply, the sum is stored as Infinity and named once', async () => {
    const keys = freshKeys();
    const h = (seq: number, sum: string): Promise<FlushReply> =>
      flush(keys, [{ op: 'H', family: 'h', payload: `${k1}\n${sum}\nc:1\n` }], { seq });
    expect(await h(1, '1e308')).toEqual(ok());
    // 2e308: past a double (Redis's long double would keep it; readers could not).
    expect(await h(2, '1e308')).toEqual(['OK', '-1', '0', [], '0', '', '', ['h', `${k1}|s`], '1']);
    expect(await redis.hget(keys.family('h'), `${k1}|s`)).toBe('Infinity');
    // Stays infinite, counts still apply, not named again.
    expect(await h(3, '-5')).toEqual(ok());
    expect(await redis.hget(keys.family('h'), `${k1}|s`)).toBe('Infinity');
    // A process's own sum past a double arrives as Infinity: +Inf plus -Inf is NaN.
    expect(await h(4, '-Infinity')).toEqual(ok());
    expect(await redis.hget(keys.family('h'), `${k1}|s`)).toBe('NaN');
    expect(await redis.hget(keys.family('h'), `${k1}|c`)).toBe('4');
    // A new series whose first sum is already infinite.
    const [, , , , errors, , , named] = await flush(
      keys,
      [{ op: 'H', family: 'h', payload: `${k2}\n-Infinity\nc:2\n` }],
      { seq: 5 },
    );
    expect([errors, named]).toEqual(['0', ['h', `${k2}|s`]]);
    expect(await redis.hmget(keys.family('h'), `${k2}|s`, `${k2}|c`)).toEqual(['-Infinity', '2']);
  });

  it('A past a double stores Infinity and names the series', async () => {
    const keys = freshKeys();
    const add = (seq: number, delta: string): Promise<FlushReply> =>
      flush(keys, [{ op: 'A', family: 'c', expireSeconds: '', payload: `${k1}\n${delta}\n` }], { seq });
    expect(await add(1, '1.5e308')).toEqual(ok());
    expect(await add(2, '1.5e308')).toEqual(['OK', '-1', '0', [], '0', '', '', ['c', k1], '1']);
    expect(await redis.hget(keys.family('c'), k1)).toBe('Infinity');
  });

  it('N restores values unless present (another process wrote since), with their expiry', async () => {
    const keys = freshKeys();
    await redis.hset(keys.family('cg'), k2, '42');
    const reply = await flush(keys, [
      { op: 'N', family: 'cg', expireSeconds: '30', payload: `${k1}\n7\n${k2}\n9\n` },
    ]);
    expect(reply).toEqual(ok());
    expect(await redis.hgetall(keys.family('cg'))).toEqual({ [k1]: '7', [k2]: '42' });
    expect(await redis.zrange(keys.expiry('cg'), '0', '-1')).toEqual([k1]);
  });

  it('an anchor sent ">=n" applies when Redis has n, and answers BEHIND, applying nothing, when not', async () => {
    const keys = freshKeys();
    const add: FlushSection = { op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n1\n` };
    const at = (seq: number, atLeast: number): Promise<FlushReply> =>
      callFlush(
        redis,
        withFlushAttempt(
          flushArgs({
            keys,
            processId: 'p1',
            seq,
            processTtlSeconds: 60,
            gaugeIndex: '0',
            leaseTtlSeconds: 30,
            gaugeFamilies: [],
            metadata: [],
            sections: [add],
          }),
          { after: { atLeast } },
        ),
      );
    await flush(keys, [add], { seq: 3 });
    expect((await at(4, 3))[0]).toBe('OK');
    // Redis lost batch 4 (a failover): an anchor that knows 5 was acknowledged is refused.
    await redis.hset(keys.process('p1'), 'seq', '4');
    expect(await at(6, 5)).toEqual(['BEHIND', '-1', '0', [], '0', '', '', [], '4']);
    expect(await redis.hget(keys.family('c'), k1)).toBe('2');
    expect(await redis.hget(keys.process('p1'), 'seq')).toBe('4');
    // A duplicate is still a duplicate.
    expect((await at(4, 5))[0]).toBe('DUP');
  });

  it('an OK reply names the sequence number applied before, "0" when the process key is missing', async () => {
    const keys = freshKeys();
    const add: FlushSection = { op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n1\n` };
    expect((await flush(keys, [add], { seq: 1 }))[8]).toBe('0');
    expect((await flush(keys, [add], { seq: 5 }))[8]).toBe('1');
    await redis.del(keys.process('p1'));
    expect((await flush(keys, [add], { seq: 6 }))[8]).toBe('0');
  });

  it('G writes this process gauge hash under the index it claims ("1"), leased and kept alive', async () => {
    const keys = freshKeys();
    const call: Call = { gaugeIndex: '1', gaugeFamilies: ['g'], leaseTtlSeconds: 30 };
    expect(await flush(keys, [{ op: 'G', family: 'g', payload: `${k1}\n4\n` }], call)).toEqual(ok('0', '1'));
    expect(await redis.hgetall(keys.gauge('g', 0))).toEqual({ [k1]: '4' });
    expect(await redis.get(keys.lease(0))).toBe('p1');
    expect(await redis.smembers(keys.gaugeIndexSet)).toEqual(['0']);
    expect(await redis.hget(keys.process('p1'), 'idx')).toBe('0');
    for (const key of [keys.gauge('g', 0), keys.lease(0)]) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(25);
      expect(ttl).toBeLessThanOrEqual(30);
    }
    // The next flush keeps the index and the values.
    expect(await flush(keys, [], { ...call, seq: 2 })).toEqual(ok('0', '0'));
    expect(await redis.hgetall(keys.gauge('g', 0))).toEqual({ [k1]: '4' });
    // Another process gets the next free index.
    expect(await flush(keys, [], { ...call, processId: 'p2' })).toEqual(ok('1', '1'));
    expect((await redis.smembers(keys.gaugeIndexSet)).sort()).toEqual(['0', '1']);
  });

  it('"1" re-claims a lapsed free index fresh, empties its gauge hashes, or claims another one', async () => {
    const keys = freshKeys();
    const call: Call = { gaugeIndex: '1', gaugeFamilies: ['g'] };
    await flush(keys, [{ op: 'G', family: 'g', payload: `${k1}\n4\n` }], call);
    await redis.del(keys.lease(0));
    expect(await flush(keys, [], { ...call, seq: 2 })).toEqual(ok('0', '1'));
    expect(await redis.exists(keys.gauge('g', 0))).toBe(0);
    await redis.set(keys.lease(0), 'someone else');
    expect(await flush(keys, [], { ...call, seq: 3 })).toEqual(ok('1', '1'));
    expect(await redis.get(keys.lease(1))).toBe('p1');
  });

  it('T writes gauge values with their server write time, µs minus the age', async () => {
    const keys = freshKeys();
    const before = (await serverMs()) * 1000;
    await flush(keys, [{ op: 'T', family: 'g', payload: `${k1}\n4\n5000000\n` }], {
      gaugeIndex: '1',
      gaugeFamilies: ['g'],
    });
    const after = (await serverMs()) * 1000 + 1000;
    const hash = await redis.hgetall(keys.gauge('g', 0));
    expect(Object.keys(hash).sort()).toEqual([k1, `${k1}|t`]);
    expect(hash[k1]).toBe('4');
    expect(Number(hash[`${k1}|t`])).toBeGreaterThanOrEqual(before - 5_000_000);
    expect(Number(hash[`${k1}|t`])).toBeLessThanOrEqual(after - 5_000_000);
  });

  it('E keeps the most recent exemplar of a bucket', async () => {
    const keys = freshKeys();
    const field = `${k1}|e1`;
    await flush(keys, [{ op: 'E', family: 'h', payload: `${field}\n1000\n0.5 a="b"\n` }]);
    const first = (await redis.hget(keys.family('h'), field))!;
    expect(first).toMatch(/^\d+ 0\.5 a="b"$/);
    // Older (observed 10 s before): kept out; newer: replaces it.
    await flush(keys, [{ op: 'E', family: 'h', payload: `${field}\n10000000\n0.7 a="old"\n` }], { seq: 2 });
    expect(await redis.hget(keys.family('h'), field)).toBe(first);
    await flush(keys, [{ op: 'E', family: 'h', payload: `${field}\n0\n0.9 a="new"\n` }], { seq: 3 });
    expect(await redis.hget(keys.family('h'), field)).toMatch(/^\d+ 0\.9 a="new"$/);
  });

  // Slots of 1,000 s: the current one does not turn while a test runs.
  const summary = summaryMeta(3000, 3);

  it('Q adds sketch buckets to the current slot key, which expires after the window', async () => {
    const keys = freshKeys();
    const window = quantileSectionConfig(keys, summary);
    const width = quantileSlotMs(summary);
    expect(window).toBe(`${width} 3 ${keys.quantileWindow('s')}`);
    const before = await serverMs();
    await flush(keys, [{ op: 'Q', family: 's', window, payload: `${k1}\n3:2,n1:1,z:4\n` }]);
    const after = await serverMs();
    const slotKeys = (await keysOf(keys)).filter((k) => keys.isQuantileKey('s', k));
    expect(slotKeys).toHaveLength(1);
    const slot = Number(slotKeys[0]!.slice(keys.quantileWindow('s').length));
    expect(slot).toBeGreaterThanOrEqual(Math.floor(before / width));
    expect(slot).toBeLessThanOrEqual(Math.floor(after / width));
    expect(await redis.hgetall(keys.quantile('s', slot))).toEqual({
      [`${k1}|3`]: '2',
      [`${k1}|n1`]: '1',
      [`${k1}|z`]: '4',
    });
    // ageBuckets + 1 slot lengths after the slot began.
    const ttl = await redis.ttl(keys.quantile('s', slot));
    expect(ttl).toBeGreaterThan((3 * width) / 1000 - 2);
    expect(ttl).toBeLessThanOrEqual((4 * width) / 1000);
  });

  it('R removes the given series from every slot of the window; W deletes the window', async () => {
    const keys = freshKeys();
    const window = quantileSectionConfig(keys, summary);
    const slot = Math.floor((await serverMs()) / quantileSlotMs(summary));
    for (const s of [slot, slot - 1, slot - 3]) {
      await redis.hset(keys.quantile('s', s), `${k1}|1`, '1', `${k1}|z`, '2', `${k2}|1`, '3');
    }
    await redis.hset(keys.quantile('s', slot - 4), `${k1}|1`, '1');
    await flush(keys, [{ op: 'R', family: 's', window, payload: `${k1}\n` }]);
    for (const s of [slot, slot - 1, slot - 3]) {
      expect(await redis.hgetall(keys.quantile('s', s))).toEqual({ [`${k2}|1`]: '3' });
    }
    // Older than the window: left to expire.
    expect(await redis.hgetall(keys.quantile('s', slot - 4))).toEqual({ [`${k1}|1`]: '1' });
    await flush(keys, [{ op: 'W', family: 's', window, payload: '' }], { seq: 2 });
    expect((await keysOf(keys)).filter((k) => keys.isQuantileKey('s', k))).toEqual([
      keys.quantile('s', slot - 4),
    ]);
  });

  it('D removes fields from the family hash, and from its expiry zset with expireSeconds', async () => {
    const keys = freshKeys();
    await redis.hset(keys.family('c'), k1, '1', k2, '2');
    await redis.zadd(keys.expiry('c'), Date.now() + 60_000, k1, Date.now() + 60_000, k2);
    await flush(keys, [{ op: 'D', family: 'c', expireSeconds: '', payload: `${k1}\n` }]);
    expect(await redis.hgetall(keys.family('c'))).toEqual({ [k2]: '2' });
    expect(await redis.zrange(keys.expiry('c'), '0', '-1')).toEqual([k1, k2]);
    await flush(keys, [{ op: 'D', family: 'c', expireSeconds: '30', payload: `${k2}\n` }], { seq: 2 });
    expect(await redis.exists(keys.family('c'))).toBe(0);
    expect(await redis.zrange(keys.expiry('c'), '0', '-1')).toEqual([k1]);
  });

  it('d removes fields from this process gauge hash only; x deletes it', async () => {
    const keys = freshKeys();
    const call: Call = { gaugeIndex: '1', gaugeFamilies: ['g'] };
    await flush(keys, [{ op: 'G', family: 'g', payload: `${k1}\n1\n${k2}\n2\n` }], call);
    await redis.hset(keys.family('g'), k1, 'untouched');
    await redis.hset(keys.gauge('g', 1), k1, 'another index');
    await flush(keys, [{ op: 'd', family: 'g', payload: `${k1}\n` }], { ...call, seq: 2 });
    expect(await redis.hgetall(keys.gauge('g', 0))).toEqual({ [k2]: '2' });
    await flush(keys, [{ op: 'x', family: 'g', payload: '' }], { ...call, seq: 3 });
    expect(await redis.exists(keys.gauge('g', 0))).toBe(0);
    expect(await redis.hgetall(keys.family('g'))).toEqual({ [k1]: 'untouched' });
    expect(await redis.hgetall(keys.gauge('g', 1))).toEqual({ [k1]: 'another index' });
    // Without a gauge index, d and x write nothing.
    await flush(keys, [{ op: 'x', family: 'g', payload: '' }], { seq: 4 });
    expect(await redis.exists(keys.gauge('g', 1))).toBe(1);
  });

  it('X deletes the family hash and its expiry zset', async () => {
    const keys = freshKeys();
    await redis.hset(keys.family('c'), k1, '1');
    await redis.zadd(keys.expiry('c'), 1, k1);
    await redis.hset(keys.created('c'), k1, '1');
    await flush(keys, [{ op: 'X', family: 'c', payload: '' }]);
    expect(await keysOf(keys)).toEqual([keys.created('c'), keys.process('p1')].sort());
  });

  it('C stamps creation times by the server clock unless present; K removes them; Z deletes the hash', async () => {
    const keys = freshKeys();
    const createdKey = keys.created('c');
    await redis.hset(createdKey, k2, '12.345');
    const before = (await serverMs()) / 1000;
    await flush(keys, [{ op: 'C', family: 'c', createdKey, payload: `${k1}\n${k2}\n` }]);
    const after = (await serverMs()) / 1000;
    const stamped = await redis.hgetall(createdKey);
    expect(stamped[k2]).toBe('12.345');
    expect(stamped[k1]).toMatch(/^\d+\.\d{3}$/);
    expect(Number(stamped[k1])).toBeGreaterThanOrEqual(before - 0.001);
    expect(Number(stamped[k1])).toBeLessThanOrEqual(after + 0.001);
    await flush(keys, [{ op: 'K', family: 'c', createdKey, payload: `${k2}\n` }], { seq: 2 });
    expect(Object.keys(await redis.hgetall(createdKey))).toEqual([k1]);
    await flush(keys, [{ op: 'Z', family: 'c', createdKey, payload: '' }], { seq: 3 });
    expect(await redis.exists(createdKey)).toBe(0);
  });
});

describe('flush-4.lua sequence and metadata', () => {
  it('records seq and t in the process key, with its TTL', async () => {
    const keys = freshKeys();
    const before = await serverMs();
    await flush(keys, [], { seq: 7, processTtlSeconds: 100 });
    const proc = await redis.hgetall(keys.process('p1'));
    expect(proc.seq).toBe('7');
    expect(Number(proc.t)).toBeGreaterThanOrEqual(before);
    expect(await redis.ttl(keys.process('p1'))).toBeGreaterThan(95);
  });

  it('a retried batch (same or older seq) answers DUP and writes nothing but the process key TTL', async () => {
    const keys = freshKeys();
    const add: FlushSection = { op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n1\n` };
    await flush(keys, [add], { seq: 5 });
    await redis.expire(keys.process('p1'), 5);
    expect(await flush(keys, [add], { seq: 5 })).toEqual(['DUP', '-1', '0', [], '0', '', '', []]);
    expect(await flush(keys, [add], { seq: 4 })).toEqual(['DUP', '-1', '0', [], '0', '', '', []]);
    expect(await redis.hgetall(keys.family('c'))).toEqual({ [k1]: '1' });
    expect(await redis.hget(keys.process('p1'), 'seq')).toBe('5');
    expect(await redis.ttl(keys.process('p1'))).toBeGreaterThan(50);
    expect(await keysOf(keys)).toEqual([keys.family('c'), keys.process('p1')].sort());
  });

  it('a chunk sent "after" the last applied batch applies; one after an unapplied batch answers GAP', async () => {
    const keys = freshKeys();
    const add = (n: number): FlushSection => ({
      op: 'I',
      family: 'c',
      expireSeconds: '',
      payload: `${k1}\n${n}\n`,
    });
    expect(await flush(keys, [add(1)], { seq: 5 })).toEqual(ok('-1', '0'));
    // 6 follows 5, the last applied: it applies.
    expect(await flush(keys, [add(10)], { seq: 6, after: 5 })).toEqual(ok('-1', '0'));
    // 8 follows 7, which never arrived (refused, say): nothing applied, seq 8 stays unused.
    expect(await flush(keys, [add(100)], { seq: 8, after: 7 })).toEqual([
      'GAP',
      '-1',
      '0',
      [],
      '0',
      '',
      '',
      [],
    ]);
    expect(await redis.hgetall(keys.family('c'))).toEqual({ [k1]: '11' });
    expect(await redis.hget(keys.process('p1'), 'seq')).toBe('6');
    // 7 is resent as the anchor, then 8 after it: both apply, in order, once.
    expect(await flush(keys, [add(1000)], { seq: 7 })).toEqual(ok('-1', '0'));
    expect(await flush(keys, [add(100)], { seq: 8, after: 7 })).toEqual(ok('-1', '0'));
    expect(await flush(keys, [add(100)], { seq: 8, after: 7 })).toEqual([
      'DUP',
      '-1',
      '0',
      [],
      '0',
      '',
      '',
      [],
    ]);
    expect(await redis.hgetall(keys.family('c'))).toEqual({ [k1]: '1111' });
    expect(await keysOf(keys)).toEqual([keys.family('c'), keys.process('p1')].sort());
  });

  it('a GAP writes no metadata and claims no sample names', async () => {
    const keys = freshKeys();
    const metadata = [{ name: 'c', encoded: encodeMeta(counter), samples: ['c_total'] }];
    const reply = await flush(keys, [{ op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n1\n` }], {
      seq: 2,
      after: 1,
      metadata,
    });
    expect(reply[0]).toBe('GAP');
    expect(await keysOf(keys)).toEqual([]);
  });

  it('a DUP with gauge index "1" still names (and renews) the index it holds', async () => {
    const keys = freshKeys();
    const call: Call = { gaugeIndex: '1', gaugeFamilies: ['g'], seq: 3 };
    await flush(keys, [{ op: 'G', family: 'g', payload: `${k1}\n1\n` }], call);
    await redis.expire(keys.lease(0), 5);
    expect(await flush(keys, [{ op: 'G', family: 'g', payload: `${k1}\n2\n` }], call)).toEqual([
      'DUP',
      '0',
      '0',
      [],
      '0',
      '',
      '',
      [],
    ]);
    expect(await redis.hgetall(keys.gauge('g', 0))).toEqual({ [k1]: '1' });
    expect(await redis.ttl(keys.lease(0))).toBeGreaterThan(25);
  });

  it('"=<i>" writes under index i without touching leases; a missing gauge hash answers fresh', async () => {
    const keys = freshKeys();
    const call: Call = { gaugeIndex: '=4', gaugeFamilies: ['g'] };
    expect(await flush(keys, [{ op: 'G', family: 'g', payload: `${k1}\n1\n` }], call)).toEqual(ok('4', '1'));
    expect(await redis.hgetall(keys.gauge('g', 4))).toEqual({ [k1]: '1' });
    expect(await flush(keys, [], { ...call, seq: 2 })).toEqual(ok('4', '0'));
    expect(await redis.exists(keys.lease(4))).toBe(0);
    expect(await redis.scard(keys.gaugeIndexSet)).toBe(0);
  });

  it('"=<i>!" empties the gauge hashes of index i before writing the batch', async () => {
    const keys = freshKeys();
    await redis.hset(keys.gauge('g', 2), 'q="dead"', '9');
    const reply = await flush(keys, [{ op: 'G', family: 'g', payload: `${k1}\n1\n` }], {
      gaugeIndex: '=2!',
      gaugeFamilies: ['g'],
    });
    expect(reply).toEqual(ok('2', '0'));
    expect(await redis.hgetall(keys.gauge('g', 2))).toEqual({ [k1]: '1' });
  });

  it('a retried "=<i>!" batch answers DUP and keeps the values its applied attempt wrote', async () => {
    // Before the fix the retry's reset ran ahead of the sequence check: it emptied the gauge
    // hash the applied attempt had just rewritten and answered DUP with freshIndex "0".
    const keys = freshKeys();
    const call: Call = { gaugeIndex: '=2!', gaugeFamilies: ['g'], seq: 6 };
    const write: FlushSection = { op: 'G', family: 'g', payload: `${k1}\n1\n` };
    expect(await flush(keys, [write], call)).toEqual(ok('2', '0'));
    expect(await flush(keys, [write], call)).toEqual(['DUP', '2', '0', [], '0', '', '', []]);
    expect(await redis.hgetall(keys.gauge('g', 2))).toEqual({ [k1]: '1' });
    expect(await redis.hgetall(keys.process('p1'))).toMatchObject({ seq: '6', idx: '2!' });
  });

  it('a DUP "=<i>!" whose applied attempt was plain "=<i>" empties index i and answers fresh', async () => {
    // The reset became due after the applied attempt (its lease was retaken fresh): values of
    // another process may sit in index i, so the retry empties it and asks for a full rewrite.
    const keys = freshKeys();
    const write: FlushSection = { op: 'G', family: 'g', payload: `${k1}\n1\n` };
    await flush(keys, [write], { gaugeIndex: '=2', gaugeFamilies: ['g'], seq: 6 });
    expect(await redis.hgetall(keys.process('p1'))).toMatchObject({ seq: '6', idx: '2' });
    await redis.hset(keys.gauge('g', 2), 'q="dead"', '9');
    const reply = await flush(keys, [write], { gaugeIndex: '=2!', gaugeFamilies: ['g'], seq: 6 });
    expect(reply).toEqual(['DUP', '2', '1', [], '0', '', '', []]);
    expect(await redis.exists(keys.gauge('g', 2))).toBe(0);
  });

  it('a DUP whose applied attempt wrote under another index empties index i and answers fresh', async () => {
    const keys = freshKeys();
    const write: FlushSection = { op: 'G', family: 'g', payload: `${k1}\n1\n` };
    await flush(keys, [write], { gaugeIndex: '=1', gaugeFamilies: ['g'], seq: 6 });
    await redis.hset(keys.gauge('g', 3), 'q="dead"', '9');
    const args = flushArgs({
      keys,
      processId: 'p1',
      seq: 6,
      processTtlSeconds: 60,
      gaugeIndex: '=1',
      leaseTtlSeconds: 30,
      gaugeFamilies: ['g'],
      metadata: [],
      sections: [write],
    });
    expect(await callFlush(redis, withFlushAttempt(args, { gaugeIndex: '=3!' }))).toEqual([
      'DUP',
      '3',
      '1',
      [],
      '0',
      '',
      '',
      [],
    ]);
    expect(await redis.exists(keys.gauge('g', 3))).toBe(0);
    expect(await redis.hgetall(keys.gauge('g', 1))).toEqual({ [k1]: '1' });
  });

  const counter: FamilyMeta = { v: LAYOUT_VERSION, name: 'c', kind: 'counter', help: 'h', labelNames: ['q'] };

  it('stores new metadata and sample names, updates a changed HELP, refuses another shape', async () => {
    const keys = freshKeys();
    const samples = ['c', 'c_total', 'c_created'];
    await flush(keys, [], { metadata: [{ name: 'c', encoded: encodeMeta(counter), samples }] });
    expect(await redis.hget(keys.meta, 'c')).toBe(encodeMeta(counter));
    expect(await redis.hgetall(keys.samples)).toEqual({ c: 'c', c_total: 'c', c_created: 'c' });
    const helped = encodeMeta({ ...counter, help: 'new help' });
    await flush(keys, [], { seq: 2, metadata: [{ name: 'c', encoded: helped, samples }] });
    expect(await redis.hget(keys.meta, 'c')).toBe(helped);

    const other = encodeMeta({ ...counter, labelNames: ['other'] });
    const add: FlushSection = { op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n1\n` };
    const reply = await flush(keys, [add], { seq: 3, metadata: [{ name: 'c', encoded: other, samples }] });
    expect(reply).toEqual([
      'OK',
      '-1',
      '0',
      ['c', helped.slice(0, helped.indexOf('\n'))],
      '0',
      '',
      '',
      [],
      '2',
    ]);
    expect(await redis.hget(keys.meta, 'c')).toBe(helped);
    expect(await redis.exists(keys.family('c'))).toBe(0);
  });

  it('refuses a new family whose sample name another family produces', async () => {
    const keys = freshKeys();
    await redis.hset(keys.samples, 'x_count', 'x_count');
    const meta: FamilyMeta = { ...counter, name: 'x', kind: 'summary' };
    const reply = await flush(keys, [{ op: 'H', family: 'x', payload: `${k1}\n1\nc:1\n` }], {
      metadata: [{ name: 'x', encoded: encodeMeta(meta), samples: ['x', 'x_sum', 'x_count', 'x_created'] }],
    });
    expect(reply[3]).toEqual(['x', 'family "x_count", which already exposes x_count']);
    expect(await redis.hexists(keys.meta, 'x')).toBe(0);
    expect(await redis.exists(keys.family('x'))).toBe(0);
    expect(await redis.hgetall(keys.samples)).toEqual({ x_count: 'x_count' });
  });

  it('refuses a batch writing a family key of the wrong type: nothing applied, the seq unused', async () => {
    const keys = freshKeys();
    await redis.set(keys.family('bad'), 'a string');
    const sections: FlushSection[] = [
      { op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n1\n` },
      { op: 'I', family: 'bad', expireSeconds: '', payload: `${k1}\n1\n` },
    ];
    expect(await flush(keys, sections, { seq: 1 })).toEqual([
      'WRONGTYPE',
      '-1',
      '0',
      [],
      '0',
      `key ${keys.family('bad')} holds a string, not the hash the library writes there`,
      'bad',
      [],
    ]);
    expect(await keysOf(keys)).toEqual([keys.family('bad')]);
    // The same sequence number without that family applies.
    expect(await flush(keys, sections.slice(0, 1), { seq: 1 })).toEqual(ok());
    expect(await redis.hgetall(keys.family('c'))).toEqual({ [k1]: '1' });
  });

  it('answers DUP, not WRONGTYPE, for a batch already applied', async () => {
    const keys = freshKeys();
    const sections: FlushSection[] = [{ op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n1\n` }];
    expect(await flush(keys, sections, { seq: 1 })).toEqual(ok());
    await redis.del(keys.family('c'));
    await redis.set(keys.family('c'), 'now a string');
    expect((await flush(keys, sections, { seq: 1 }))[0]).toBe('DUP');
  });

  it.each([
    ['the process key', (keys: Keys) => keys.process('p1')],
    ['the meta key', (keys: Keys) => keys.meta],
    ['the gauge index set', (keys: Keys) => keys.gaugeIndexSet],
  ])('refuses the whole batch when %s has the wrong type, writing nothing', async (_, keyOf) => {
    const keys = freshKeys();
    await redis.rpush(keyOf(keys), 'x');
    const reply = await flush(keys, [{ op: 'I', family: 'c', expireSeconds: '', payload: `${k1}\n1\n` }]);
    expect(reply.slice(0, 1).concat(reply.slice(5, 7) as string[])).toEqual([
      'WRONGTYPE',
      `key ${keyOf(keys)} holds a list, not the ${keyOf(keys) === keys.gaugeIndexSet ? 'set' : 'hash'} the library writes there`,
      '',
    ]);
    expect(await keysOf(keys)).toEqual([keyOf(keys)]);
  });

  it('a key of the wrong type only dropped (a reset) does not refuse the batch', async () => {
    const keys = freshKeys();
    await redis.set(keys.family('c'), 'a string');
    expect(await flush(keys, [{ op: 'X', family: 'c', payload: '' }])).toEqual(ok());
    expect(await redis.exists(keys.family('c'))).toBe(0);
  });
});

describe('page-2.lua', () => {
  /** A page's cursor and data (the node it came from is checked once, below). */
  const page = async (args: Parameters<typeof pageArgs>[0]): Promise<[string, string]> => {
    const [cursor, packed] = await callPage(redis, pageArgs(args));
    return [cursor, packed];
  };
  const pairs = (packed: string): Array<[string, string]> => {
    const parts = packed === '' ? [] : packed.split('\n');
    const out: Array<[string, string]> = [];
    for (let i = 0; i + 1 < parts.length; i += 2) out.push([parts[i]!, parts[i + 1]!]);
    return out;
  };
  const byField = (a: readonly string[], b: readonly string[]) =>
    a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0;

  it('f: a small hash in one page, cursor 0; x: expired common-gauge fields left out', async () => {
    const keys = freshKeys();
    await redis.hset(keys.family('cg'), k1, '5', k2, '6');
    await redis.zadd(keys.expiry('cg'), 1, k1, Date.now() + 60_000, k2);
    const at = { hash: keys.family('cg'), expiry: keys.expiry('cg'), cursor: '0', count: 10 };
    const all = await page({ ...at, mode: 'f' });
    expect(all[0]).toBe('0');
    expect(pairs(all[1]).sort(byField)).toEqual(
      [
        [k1, '5'],
        [k2, '6'],
      ].sort(byField),
    );
    expect(await page({ ...at, mode: 'x' })).toEqual(['0', `${k2}\n6`]);
  });

  it('t: a label key with its write time, a time field never alone', async () => {
    const keys = freshKeys();
    await redis.hset(keys.gauge('g', 0), k1, '7', `${k1}|t`, '123', k2, '8');
    const reply = await page({
      hash: keys.gauge('g', 0),
      expiry: keys.expiry('g'),
      cursor: '0',
      count: 10,
      mode: 't',
    });
    expect(pairs(reply[1]).sort(byField)).toEqual(
      [
        [k1, '7'],
        [`${k1}|t`, '123'],
        [k2, '8'],
      ].sort(byField),
    );
  });

  it('g: pages of a big hash hold whole series, and every series comes back', async () => {
    const keys = freshKeys();
    const suffixes = ['s', 'c', '0', '1', 'e0', 'e1'];
    const n = 500;
    const fields: string[] = [];
    for (let i = 0; i < n; i++) fields.push(`id="${i}"|s`, String(i), `id="${i}"|0`, '1', `id="${i}"|1`, '2');
    await redis.hset(keys.family('h'), ...fields);
    const seen = new Map<string, Map<string, string>>();
    let cursor = '0';
    let pages = 0;
    do {
      const [next, packed] = await page({
        hash: keys.family('h'),
        expiry: keys.expiry('h'),
        cursor,
        count: 50,
        mode: 'g',
        suffixes,
      });
      pages++;
      const inPage = new Map<string, Map<string, string>>();
      for (const [field, value] of pairs(packed)) {
        const bar = field.lastIndexOf('|');
        const entry = inPage.get(field.slice(0, bar)) ?? new Map<string, string>();
        entry.set(field.slice(bar + 1), value);
        inPage.set(field.slice(0, bar), entry);
      }
      // Every series of the page has all its fields, from this one call.
      for (const [key, entry] of inPage) {
        expect([...entry.keys()].sort(), key).toEqual(['0', '1', 's']);
        seen.set(key, entry);
      }
      cursor = next;
    } while (cursor !== '0');
    expect(pages).toBeGreaterThan(5);
    expect(seen.size).toBe(n);
    expect(seen.get('id="42"')!.get('s')).toBe('42');
  });

  it('answers an error marker for a key it cannot read', async () => {
    const keys = freshKeys();
    await redis.set(keys.family('c'), 'a string');
    const reply = await page({
      hash: keys.family('c'),
      expiry: keys.expiry('c'),
      cursor: '0',
      count: 10,
      mode: 'f',
    });
    expect(reply[0]).toBe('0');
    expect(reply[1]).toMatch(/^\0.*WRONGTYPE/);
  });

  it("names the node every page came from (the server's run_id): a cursor is only good there", async () => {
    const keys = freshKeys();
    await redis.hset(keys.family('c'), k1, '1');
    const runId = /run_id:(\w+)/.exec(await redis.info('server'))![1];
    const reply = await callPage(
      redis,
      pageArgs({ hash: keys.family('c'), expiry: keys.expiry('c'), cursor: '0', count: 10, mode: 'f' }),
    );
    expect(reply).toEqual(['0', `${k1}\n1`, runId]);
  });

  it('a summary window is summed over the slots the flush script writes (one slot rule)', async () => {
    for (const [maxAgeSeconds, ageBuckets] of [
      [10, 3],
      [1, 1],
      [100, 100],
      [7, 6],
    ] as const) {
      const keys = freshKeys();
      const meta = summaryMeta(maxAgeSeconds, ageBuckets);
      const window = quantileSectionConfig(keys, meta);
      const width = quantileSlotMs(meta);
      // Retried while the slot turns between the flush and the read (slots of 1 s and up).
      for (let attempt = 0; ; attempt++) {
        await purgeWindow(keys);
        const before = Math.floor((await serverMs()) / width);
        await flush(keys, [{ op: 'Q', family: 's', window, payload: `${k1}\n3:2\n` }], { seq: attempt + 1 });
        // The oldest slot inside the window, and the one just outside it.
        await redis.hincrby(keys.quantile('s', before - ageBuckets + 1), `${k1}|3`, 5);
        await redis.hincrby(keys.quantile('s', before - ageBuckets), `${k1}|3`, 1000);
        const nowMs = await serverNowMs(redis);
        const data = await collectFamilyData(redis, {
          meta,
          keys,
          live: [],
          withCreated: false,
          withExemplars: false,
          nowMs,
        });
        if (Math.floor((await serverMs()) / width) !== before && attempt < 5) continue;
        expect(data).toEqual([`${k1}|3\n7`]);
        break;
      }
    }
  });
});

describe('release-2.lua', () => {
  it('gives up a lease this process holds: its gauge hashes, the lease and the process idx go', async () => {
    const keys = freshKeys();
    await flush(keys, [{ op: 'G', family: 'g', payload: `${k1}\n1\n` }], {
      gaugeIndex: '1',
      gaugeFamilies: ['g'],
    });
    const args = releaseArgs({ keys, processId: 'p1', index: 0, gaugeHashes: [keys.gauge('g', 0)] });
    expect(await callRelease(redis, args)).toBe(1);
    expect(await redis.exists(keys.gauge('g', 0), keys.lease(0))).toBe(0);
    expect(await redis.hget(keys.process('p1'), 'idx')).toBeNull();
    expect(await redis.hget(keys.process('p1'), 'seq')).toBe('1');
  });

  it('does nothing when the lease is another process', async () => {
    const keys = freshKeys();
    await redis.set(keys.lease(0), 'p2');
    await redis.hset(keys.gauge('g', 0), k1, '1');
    await redis.hset(keys.process('p1'), 'idx', '0');
    const args = releaseArgs({ keys, processId: 'p1', index: 0, gaugeHashes: [keys.gauge('g', 0)] });
    expect(await callRelease(redis, args)).toBe(0);
    expect(await redis.exists(keys.gauge('g', 0), keys.lease(0))).toBe(2);
    expect(await redis.hget(keys.process('p1'), 'idx')).toBe('0');
  });
});

describe('scripts/gen-lua.mjs', () => {
  it('fails on an unknown include, naming the script, the line and the missing file', () => {
    const root = mkdtempSync(join(tmpdir(), 'gen-lua-'));
    try {
      mkdirSync(join(root, 'scripts'));
      mkdirSync(join(root, 'src/redis/lua/include'), { recursive: true });
      cpSync(new URL('../../scripts/gen-lua.mjs', import.meta.url), join(root, 'scripts/gen-lua.mjs'));
      writeFileSync(join(root, 'src/redis/lua/bad-1.lua'), '#!lua\n-- bad\n--@include nowhere\nreturn 1\n');
      let message = '';
      try {
        execFileSync(process.execPath, [join(root, 'scripts/gen-lua.mjs')], { stdio: 'pipe' });
      } catch (error) {
        message = String((error as { stderr: Buffer }).stderr);
      }
      expect(message).toMatch(
        /bad-1\.lua:3: unknown include "nowhere" \(expected src\/redis\/lua\/include\/nowhere\.lua\)/,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
