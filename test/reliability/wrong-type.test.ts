/**
 * A key the library writes holding another type (#14 item 1): a batch is applied whole or not at
 * all. A family's key: that family is held (its changes kept in memory and retried) while the
 * others flow; the registry's own keys: the whole batch is kept and retried. Either way nothing
 * is lost once the key is fixed, and the error names the key and the family.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, WrongKeyTypeError, type Registry } from '../../src/index.js';
import { Keys } from '../../src/redis/keys.js';
import { redisClient, sample, testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

const wrongType = (errors: Error[]): WrongKeyTypeError[] =>
  errors.filter((e): e is WrongKeyTypeError => e instanceof WrongKeyTypeError);

describe.each(['registry', 'metric'] as const)('shardBy %s: a key of the wrong type', (shardBy) => {
  it('of one family holds that family (kept, retried, exact once fixed) while the others flow', async () => {
    const made = testRegistry({ shardBy, selfMetrics: true });
    open.push(made.registry);
    const { registry, errors, prefix } = made;
    const bad = new Counter({ name: 'bad', help: 'h', labelNames: ['i'], registry });
    const good = new Counter({ name: 'good', help: 'h', registry });
    const hist = new Histogram({ name: 'lat', help: 'h', buckets: [1], registry });
    const keys = new Keys(prefix);
    const badKey = shardBy === 'metric' ? keys.group('bad').family('bad') : keys.family('bad');
    const admin = redisClient();
    await admin.set(badKey, "a user's string");

    let expected = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) bad.inc({ i: String(i) }, 2);
      good.inc(3);
      hist.observe(0.5);
      expected += 2;
      const flushed = registry.flush();
      await expect(flushed).rejects.toThrow(WrongKeyTypeError);
      const error = (await flushed.catch((e: unknown) => e)) as WrongKeyTypeError;
      expect(error.key).toBe(badKey);
      expect(error.metric).toBe('bad');
      expect(error.message).toMatch(/Metric "bad" is not written: Redis key .* holds a string, not the hash/);
    }
    let text = await registry.metrics();
    expect(sample(text, 'good_total')).toBe(9);
    expect(sample(text, 'lat_count')).toBe(3);
    expect(text).not.toMatch(/^bad_total/m);
    expect(registry.undeliveredSeries).toBeGreaterThanOrEqual(50);
    // Reported once (again at most once a minute), not once per flush.
    expect(wrongType(errors)).toHaveLength(1);
    expect(await admin.get(badKey)).toBe("a user's string");

    await admin.del(badKey);
    for (let i = 0; i < 50; i++) bad.inc({ i: String(i) }, 2);
    expected += 2;
    await registry.flush();
    await registry.flush();
    text = await registry.metrics();
    for (let i = 0; i < 50; i++) expect(sample(text, `bad_total{i="${i}"}`)).toBe(expected);
    expect(sample(text, 'good_total')).toBe(9);
    expect(registry.undeliveredSeries).toBe(0);
    expect(sample(text, 'prometheus_redis_client_flushes_total{outcome="partial"}')).toBeGreaterThanOrEqual(
      3,
    );
    admin.disconnect();
  });

  it('of the registry keeps and retries the whole batch, naming the key; exact once fixed', async () => {
    const made = testRegistry({ shardBy, selfMetrics: true });
    open.push(made.registry);
    const { registry, errors, prefix } = made;
    const c = new Counter({ name: 'c', help: 'h', registry });
    const g = new Gauge({ name: 'g', help: 'h', registry });
    const keys = new Keys(prefix);
    const admin = redisClient();
    c.inc();
    await registry.flush();
    // The metadata hash replaced by a string: before, the batch was recorded as applied, then lost.
    await admin.del(keys.meta);
    await admin.set(keys.meta, 'x');
    for (let i = 0; i < 1000; i++) c.inc();
    g.set(5);
    await expect(registry.flush()).rejects.toThrow(
      new RegExp(
        `Flush refused: Redis key ${keys.meta.replace(/[{}]/g, '\\$&')} holds a string, not the hash`,
      ),
    );
    await expect(registry.flush()).rejects.toThrow(WrongKeyTypeError);
    expect(errors.filter((e) => e instanceof WrongKeyTypeError)).toEqual([]);
    await admin.del(keys.meta);
    await registry.flush();
    const text = await registry.metrics();
    expect(sample(text, 'c_total')).toBe(1001);
    expect(text).toMatch(/^g\{gauge_index="\d+"\} 5$/m);
    // The failures' own self-metrics were not lost with the batch (they ride with the next changes).
    c.inc();
    await registry.flush();
    const after = await registry.metrics();
    expect(sample(after, 'c_total')).toBe(1002);
    expect(sample(after, 'prometheus_redis_client_flushes_total{outcome="error"}')).toBeGreaterThanOrEqual(2);
    admin.disconnect();
  });
});

describe('a chunked flush (registry layout) with one family of the wrong type', () => {
  it('applies every other chunk, in order, and the family once fixed: exact', async () => {
    const made = testRegistry({ flushChunkUpdates: 40, flushWindow: 4 });
    open.push(made.registry);
    const { registry, prefix } = made;
    const names = ['a', 'b', 'bad', 'd', 'e'];
    const counters = names.map((name) => new Counter({ name, help: 'h', labelNames: ['i'], registry }));
    const admin = redisClient();
    await admin.hset(new Keys(prefix).family('bad'), 'x', '1');
    await admin.del(new Keys(prefix).family('bad'));
    await admin.sadd(new Keys(prefix).family('bad'), 'member');
    for (const counter of counters) for (let i = 0; i < 60; i++) counter.inc({ i: String(i) });
    await expect(registry.flush()).rejects.toThrow(/Metric "bad" is not written: .* holds a set/);
    let text = await registry.metrics();
    for (const name of ['a', 'b', 'd', 'e']) {
      for (let i = 0; i < 60; i++) expect(sample(text, `${name}_total{i="${i}"}`), `${name} ${i}`).toBe(1);
    }
    await admin.del(new Keys(prefix).family('bad'));
    await registry.flush();
    text = await registry.metrics();
    for (let i = 0; i < 60; i++) expect(sample(text, `bad_total{i="${i}"}`)).toBe(1);
    expect(registry.undeliveredSeries).toBe(0);
    admin.disconnect();
  });
});
