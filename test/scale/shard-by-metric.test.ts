/**
 * `shardBy: "metric"` on a single Redis: the same exposition as the default layout, each family's
 * data in a group of its own, exactly-once per group, and a re-claimed gauge index emptied in
 * every gauge family's group. The cluster behaviour is in cluster.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CommonGauge,
  Counter,
  Gauge,
  Histogram,
  MetadataConflictError,
  Registry,
  Summary,
  type RegistryOptions,
} from '../../src/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { randomPrefix, sample, settle, useTestRegistries } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const t = useTestRegistries();

/** Record the same things of every kind, with removals and resets, and return both expositions. */
async function recordEverything(options: RegistryOptions): Promise<{ text: string; open: string }> {
  const { registry, errors, prefix } = t.make(options);
  const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
  const temp = new Gauge({ name: 'temp', help: 'per process', labelNames: ['room'], registry });
  const newest = new Gauge({ name: 'newest', help: 'last write wins', aggregate: 'last', registry });
  const shared = new CommonGauge({ name: 'shared', help: 'shared', labelNames: ['k'], registry });
  const lat = new Histogram({ name: 'lat', help: 'latency', buckets: [0.1, 1], labelNames: ['r'], registry });
  const size = new Summary({ name: 'size', help: 'sizes', percentiles: [0.5, 0.99], registry });
  const plain = new Summary({ name: 'plain', help: 'no quantiles', registry });
  new Counter({ name: 'never', help: 'registered, never recorded', registry });
  jobs.inc({ q: 'a' }, 3);
  jobs.inc({ q: 'b' }, 0.5);
  jobs.inc({ q: 'gone' });
  temp.set({ room: 'x' }, 21.5);
  temp.set({ room: 'y' }, 19);
  newest.set(7);
  shared.set({ k: 'a' }, 4);
  shared.inc({ k: 'b' }, 2);
  lat.observe({ r: '/' }, 0.05, { traceId: 'abc' });
  lat.observe({ r: '/x' }, 3);
  for (let i = 1; i <= 100; i++) size.observe(i);
  plain.observe(2);
  await registry.flush();
  jobs.remove({ q: 'gone' });
  jobs.inc({ q: 'a' }, 2);
  temp.remove({ room: 'y' });
  shared.reset();
  shared.set({ k: 'c' }, 1);
  lat.observe({ r: '/' }, 0.5);
  await registry.flush();
  const text = (await registry.metrics()).replaceAll(prefix, 'P');
  const open = (await registry.metrics({ format: 'openmetrics' })).replaceAll(prefix, 'P');
  expect(errors).toEqual([]);
  return { text, open };
}

describe('shardBy "metric" on one Redis', () => {
  it('exposes exactly what the default layout exposes, for every kind of metric', async () => {
    const single = await recordEverything({});
    const sharded = await recordEverything({ shardBy: 'metric' });
    expect(sharded.text).toBe(single.text);
    // Creation times and exemplar timestamps differ between the two runs: compare the rest.
    const stable = (s: string): string =>
      s.replace(/_created(\{[^}]*\})? [\d.]+/g, '_created$1 T').replace(/# \{[^}]*\} [\d.]+ [\d.]+/g, '# E');
    expect(stable(sharded.open)).toBe(stable(single.open));
    expect(sample(sharded.text, 'jobs_total{q="a"}')).toBe(5);
    expect(sharded.text).toContain('# TYPE never_total counter');
  });

  it('keeps each family in a group of its own and only registry-wide keys in the registry slot', async () => {
    const { registry, prefix } = t.make({ shardBy: 'metric' });
    new Counter({ name: 'jobs_total', help: 'jobs', registry }).inc();
    new Gauge({ name: 'temp', help: 'temp', registry }).set(1);
    await registry.flush();
    const control = (await t.redis.keys(`{${prefix}}:*`)).map((k) => k.slice(prefix.length + 3)).sort();
    expect(control).toEqual(['gi:0', 'gidx', 'meta', `proc:${registry.processId}`, 'samples']);
    const group = (family: string): Promise<string[]> => t.redis.keys(`${prefix}:{${prefix}:${family}}:*`);
    expect((await group('jobs')).sort()).toEqual(
      [`cr:jobs`, `f:jobs`, 'meta', `proc:${registry.processId}`].map(
        (k) => `${prefix}:{${prefix}:jobs}:${k}`,
      ),
    );
    expect(await t.redis.hget(`${prefix}:{${prefix}:jobs}:f:jobs`, '')).toBe('1');
    expect(await t.redis.hget(`${prefix}:{${prefix}:temp}:g:temp:0`, '')).toBe('1');
  });

  it('refuses to mix layouts under one prefix: the second one gets a MetadataConflictError', async () => {
    const { registry: plain, prefix } = t.make();
    new Counter({ name: 'jobs_total', help: 'jobs', registry: plain }).inc(2);
    await plain.flush();
    const { registry: sharded, errors } = t.make({ prefix, shardBy: 'metric' });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry: sharded });
    jobs.inc(40);
    await expect(sharded.flush()).rejects.toBeInstanceOf(MetadataConflictError);
    jobs.inc(1);
    await sharded.flush();
    expect(errors.filter((e) => e instanceof MetadataConflictError)).toHaveLength(1);
    expect(sample(await plain.metrics(), 'jobs_total')).toBe(2);
    expect(await t.redis.exists(`${prefix}:{${prefix}:jobs}:f:jobs`)).toBe(0);
  });

  it('empties a re-claimed gauge index in every gauge family, recorded or not', async () => {
    const { registry: dead, prefix } = t.make({ shardBy: 'metric', closeTimeoutMs: 100 });
    new Gauge({ name: 'temp', help: 'temp', labelNames: ['room'], registry: dead }).set({ room: 'old' }, 1);
    new Gauge({ name: 'idle', help: 'idle', labelNames: ['k'], registry: dead }).set({ k: 'z' }, 5);
    await dead.flush();
    expect(dead.gaugeIndex).toBe(0);
    // The process dies: its lease and process key expire (deleted here instead of waited for).
    await t.redis.del(`{${prefix}}:gi:0`, `{${prefix}}:proc:${dead.processId}`);
    dead.setRedis('redis://127.0.0.1:1'); // never flushes again
    const { registry } = t.make({ prefix, shardBy: 'metric' });
    new Gauge({ name: 'temp', help: 'temp', labelNames: ['room'], registry }).set({ room: 'new' }, 2);
    new Gauge({ name: 'idle', help: 'idle', labelNames: ['k'], registry }); // no series: emptied all the same
    await registry.flush();
    expect(registry.gaugeIndex).toBe(0);
    const text = await registry.metrics();
    expect(sample(text, 'temp{room="new",gauge_index="0"}')).toBe(2);
    expect(text).not.toContain('room="old"');
    expect(text).not.toMatch(/^idle\{/m);
    expect(await t.redis.exists(`${prefix}:{${prefix}:idle}:g:idle:0`)).toBe(0);
  });

  it("keeps the library's own metrics in the registry slot, riding along with the control call", async () => {
    const { registry, prefix } = t.make({ shardBy: 'metric', selfMetrics: true });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry });
    jobs.inc();
    await registry.flush();
    jobs.inc();
    await registry.flush(); // carries the first flush's own figures
    const text = await registry.metrics();
    expect(sample(text, 'jobs_total')).toBe(2);
    expect(sample(text, 'prometheus_redis_client_flushes_total{outcome="success"}')).toBeGreaterThanOrEqual(
      1,
    );
    expect(text).toMatch(/^prometheus_redis_client_buffered_series\{gauge_index="0"\} \d+$/m);
    const own = await t.redis.keys(`{${prefix}}:*prometheus_redis_client_*`);
    expect(own).toContain(`{${prefix}}:f:prometheus_redis_client_flushes`);
    expect(own).toContain(`{${prefix}}:g:prometheus_redis_client_buffered_series:0`);
    expect(await t.redis.keys(`${prefix}:{${prefix}:prometheus_redis_client_*`)).toEqual([]);
  });

  it('keeps the other families and the gauge lease going while one family cannot be written', async () => {
    const { registry, prefix } = t.make({ shardBy: 'metric', expireSeconds: 1, maxBackoffMs: 50 });
    const broken = new Counter({ name: 'broken', help: 'its group refuses writes', registry });
    const fine = new Counter({ name: 'fine', help: 'keeps flushing', registry });
    const temp = new Gauge({ name: 'temp', help: 'per process', registry });
    broken.inc();
    fine.inc();
    temp.set(5);
    await registry.flush();
    // A key of the wrong type where the family's sequence lives: every call to its group fails.
    const proc = `${prefix}:{${prefix}:broken}:proc:${registry.processId}`;
    await t.redis.del(proc);
    await t.redis.set(proc, 'not a hash');
    let recorded = 1;
    const until = Date.now() + 2500; // longer than expireSeconds: the lease must be refreshed
    while (Date.now() < until) {
      broken.inc();
      fine.inc();
      recorded++;
      await expect(registry.flush()).rejects.toThrow(
        /Flush refused: Redis key \S+:proc:\S+ holds a string, not the hash/,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    const text = await registry.metrics(); // its own flush fails again; the read goes on
    expect(sample(text, 'fine_total')).toBe(recorded);
    expect(sample(text, 'broken_total')).toBe(1);
    expect(sample(text, 'temp{gauge_index="0"}')).toBe(5);
    await t.redis.del(proc);
    await settle(registry);
    expect(sample(await registry.metrics(), 'broken_total')).toBe(recorded);
  });

  it("rewrites a gauge family whose group lost this process's values while the lease lived", async () => {
    const { registry, prefix } = t.make({ shardBy: 'metric' });
    const temp = new Gauge({ name: 'temp', help: 'per process', labelNames: ['room'], registry });
    temp.set({ room: 'a' }, 1);
    temp.set({ room: 'b' }, 2);
    await registry.flush();
    await registry.flush(); // the rewrite that follows claiming an index
    await t.redis.del(`${prefix}:{${prefix}:temp}:g:temp:0`); // e.g. a failed-over node that missed it
    temp.set({ room: 'a' }, 3);
    await registry.flush(); // the group says its hash was gone
    await registry.flush(); // every series of the family again
    const text = await registry.metrics();
    expect(sample(text, 'temp{room="a",gauge_index="0"}')).toBe(3);
    expect(sample(text, 'temp{room="b",gauge_index="0"}')).toBe(2);
  });

  it('applies reset() and remove() of a labelled family, with what follows them, once', async () => {
    const { registry } = t.make({ shardBy: 'metric' });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
    jobs.inc({ q: 'old' }, 5);
    await registry.flush();
    // A change, then reset() in the same interval: the family must be listed for the flush once.
    jobs.inc({ q: 'old' });
    jobs.reset();
    jobs.inc({ q: 'new' }, 2);
    await registry.flush();
    let text = await registry.metrics();
    expect(sample(text, 'jobs_total{q="new"}')).toBe(2);
    expect(text).not.toContain('q="old"');
    expect(sample(text, 'jobs_total{q="gone"}')).toBeUndefined();
    // Likewise a change, then remove() of that series.
    jobs.inc({ q: 'gone' });
    await registry.flush();
    jobs.inc({ q: 'gone' });
    jobs.remove({ q: 'gone' });
    await registry.flush();
    text = await registry.metrics();
    expect(text).not.toContain('q="gone"');
    expect(sample(text, 'jobs_total{q="new"}')).toBe(2);
  });

  it("delivers a family's changes that waited behind its retried batch in the same flush()", async () => {
    const { registry, prefix } = t.make({ shardBy: 'metric', maxBackoffMs: 50 });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
    jobs.inc({ q: 'a' });
    await registry.flush();
    const proc = `${prefix}:{${prefix}:jobs}:proc:${registry.processId}`;
    await t.redis.del(proc);
    await t.redis.set(proc, 'not a hash');
    jobs.inc({ q: 'a' }, 2);
    await expect(registry.flush()).rejects.toThrow(
      /Flush refused: Redis key \S+:proc:\S+ holds a string, not the hash/,
    );
    await t.redis.del(proc);
    jobs.inc({ q: 'a' }, 10); // waits behind the batch of 2, which is still pending
    jobs.remove({ q: 'b' }); // a remove alone counts as a change too
    expect(registry.undeliveredSeries).toBeGreaterThan(0);
    await registry.flush();
    expect(registry.undeliveredSeries).toBe(0);
    expect(sample(await registry.metrics(), 'jobs_total{q="a"}')).toBe(13);
  });

  it('validates the option', () => {
    expect(() => new Registry({ shardBy: 'family' as never })).toThrow(
      'Expected `shardBy` to be "registry" or "metric", got "family"',
    );
  });
});

describe('shardBy "metric" through a faulty network', () => {
  let server: RedisServer;
  let proxy: FaultProxy;
  const open: Registry[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await FaultProxy.start(server.port);
  });
  afterEach(async () => {
    proxy.heal();
    for (const r of open.splice(0)) await r.close();
  });
  afterAll(async () => {
    await proxy.close();
    await server.stop();
  });

  /** A sharded registry writing through the proxy, and a reader straight on the server. */
  function throughProxy(timing: { flushIntervalMs: number; flushTimeoutMs: number; maxBackoffMs: number }) {
    const prefix = randomPrefix('sh');
    const registry = new Registry({
      redis: proxy.url,
      prefix,
      shardBy: 'metric',
      selfMetrics: false,
      ...timing,
    });
    const reader = new Registry({ redis: server.url, prefix, flushIntervalMs: 60_000, selfMetrics: false });
    open.push(registry, reader);
    return { registry, reader };
  }

  it('applies a family batch once when its reply is lost, and the other families once too', async () => {
    const { registry, reader } = throughProxy({
      flushIntervalMs: 100,
      flushTimeoutMs: 1000,
      maxBackoffMs: 200,
    });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry });
    const lat = new Histogram({ name: 'lat', help: 'lat', buckets: [1], registry });
    const temp = new Gauge({ name: 'temp', help: 'temp', registry });
    await registry.flush();
    jobs.inc(5);
    lat.observe(0.5);
    temp.set(3);
    // The request carrying the counter's group call reaches Redis; the connection then drops.
    proxy.loseNextReply(/:jobs\}:proc:/);
    await registry.flush().catch(() => {});
    jobs.inc(2);
    lat.observe(2);
    await settle(registry);
    const text = await reader.metrics();
    expect(proxy.injected.lostReplies).toBe(1);
    expect(sample(text, 'jobs_total')).toBe(7);
    expect(sample(text, 'lat_count')).toBe(2);
    expect(sample(text, 'temp{gauge_index="0"}')).toBe(3);
    expect(registry.flushStats.duplicates + registry.flushStats.retries).toBeGreaterThan(0);
  });

  it('keeps every family through an outage and delivers each once after it', async () => {
    const { registry, reader } = throughProxy({
      flushIntervalMs: 50,
      flushTimeoutMs: 300,
      maxBackoffMs: 100,
    });
    const counters = ['a', 'b', 'c', 'd'].map((n) => new Counter({ name: `c_${n}`, help: n, registry }));
    await registry.flush();
    proxy.blackhole = true;
    for (let i = 0; i < 100; i++) for (const c of counters) c.inc();
    await new Promise((r) => setTimeout(r, 700));
    for (let i = 0; i < 50; i++) for (const c of counters) c.inc();
    proxy.heal();
    await settle(registry);
    const text = await reader.metrics();
    for (const n of ['a', 'b', 'c', 'd']) expect(sample(text, `c_${n}_total`)).toBe(150);
  });
});
