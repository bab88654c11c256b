/** Regression tests for bugs found in review: each failed before its fix. */
import { afterEach, describe, expect, it } from 'vitest';
import { CommonGauge, Counter, Gauge, Histogram, Registry } from '../../src/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { randomPrefix, redisClient, redisUrl, sample, testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) p.heal();
  for (const r of open.splice(0)) await r.close();
  for (const p of proxies.splice(0)) await p.close();
});

function make(options: Parameters<typeof testRegistry>[0] = {}) {
  const made = testRegistry(options);
  open.push(made.registry);
  return made;
}

describe('remove() and reset() with a held child', () => {
  it('a second remove() deletes what the held child wrote after the first', async () => {
    const { registry } = make();
    const c = new Counter({ name: 'c1', help: 'h', labelNames: ['a'], registry });
    const child = c.labels('x');
    child.inc(5);
    await registry.flush();
    c.remove('x');
    child.inc(2);
    c.remove('x');
    await registry.flush();
    expect(sample(await registry.metrics(), 'c1_total{a="x"}')).toBeUndefined();
  });

  it('reset() zeroes what a held child of a removed series wrote', async () => {
    const { registry } = make();
    const c = new Counter({ name: 'c2', help: 'h', labelNames: ['a'], registry });
    const child = c.labels('x');
    child.inc(5);
    await registry.flush();
    c.remove('x');
    child.inc(2);
    c.reset();
    child.inc(1);
    await registry.flush();
    expect(sample(await registry.metrics(), 'c2_total{a="x"}')).toBe(1);
  });
});

describe('common gauges with expireSeconds', () => {
  it('an increment after expiry starts from zero, not from the expired value', async () => {
    const { registry } = make();
    const g = new CommonGauge({ name: 'cg', help: 'h', labelNames: ['a'], expireSeconds: 1, registry });
    g.inc({ a: 'x' }, 5);
    await registry.flush();
    expect(sample(await registry.metrics(), 'cg{a="x"}')).toBe(5);
    const deadline = Date.now() + 10_000;
    while (sample(await registry.metrics(), 'cg{a="x"}') !== undefined) {
      if (Date.now() > deadline) throw new Error('did not expire');
      await new Promise((r) => setTimeout(r, 200));
    }
    g.inc({ a: 'x' }, 1);
    await registry.flush();
    expect(sample(await registry.metrics(), 'cg{a="x"}')).toBe(1);
  });
});

describe('overflowing increments', () => {
  it('are refused at the call with a RangeError, keeping what was recorded', async () => {
    const { registry } = make();
    const g = new CommonGauge({ name: 'cg2', help: 'h', registry });
    const c = new Counter({ name: 'cc2', help: 'h', registry });
    g.inc(Number.MAX_VALUE);
    c.inc(Number.MAX_VALUE);
    expect(() => g.inc(Number.MAX_VALUE)).toThrow(RangeError);
    expect(() => c.inc(Number.MAX_VALUE)).toThrow(/overflow/);
    expect(() => c.labels().inc(Number.MAX_VALUE)).toThrow(/overflow/);
    await registry.flush();
    const text = await registry.metrics();
    expect(sample(text, 'cc2_total')).toBe(Number.MAX_VALUE);
    expect(sample(text, 'cg2')).toBe(Number.MAX_VALUE);
  });
});

describe('exemplars', () => {
  it('reject a label given twice through traceId and trace_id', () => {
    const { registry } = make();
    const h = new Histogram({ name: 'hx', help: 'h', buckets: [1], registry });
    expect(() => h.observe(0.5, { traceId: 'a', trace_id: 'b' })).toThrow(/trace_id.*twice/);
  });
});

describe('gauges after a lost reply', () => {
  it('are rewritten when the reply of the flush that re-claimed the gauge index was lost', async () => {
    const proxy = await FaultProxy.start(Number(new URL(redisUrl()).port));
    proxies.push(proxy);
    const prefix = randomPrefix('rg');
    const registry = new Registry({
      redis: proxy.url,
      prefix,
      flushTimeoutMs: 1000,
      flushIntervalMs: 60_000,
      selfMetrics: false,
    });
    open.push(registry);
    const g = new Gauge({ name: 'g', help: 'h', registry });
    const c = new Counter({ name: 'c', help: 'h', registry });
    g.set(7);
    await registry.flush();
    c.inc();
    await registry.flush();
    const admin = redisClient();
    // The lease lapsed (a stall past expireSeconds, or Redis lost it).
    await admin.del(`{${prefix}}:gi:${registry.gaugeIndex}`, `{${prefix}}:g:g:${registry.gaugeIndex}`);
    c.inc();
    proxy.loseNextReply(/evalsha/i);
    await registry.flush().catch(() => {});
    await registry.flush().catch(() => {});
    await registry.flush();
    expect(sample(await registry.metrics(), `g{gauge_index="${registry.gaugeIndex}"}`)).toBe(7);
    admin.disconnect();
  });
});

describe('write errors after the batch is marked applied', () => {
  it('are reported while the rest of the batch still applies', async () => {
    const { registry, errors, prefix } = make();
    const cg = new CommonGauge({ name: 'cg', help: 'h', expireSeconds: 60, registry });
    const b = new Counter({ name: 'b', help: 'h', registry });
    await registry.flush();
    const admin = redisClient();
    await admin.set(`{${prefix}}:x:cg`, 'not a zset'); // a key of the wrong type under the prefix
    cg.inc(1);
    b.inc(5);
    await registry.flush().catch(() => {});
    expect(sample(await registry.metrics(), 'b_total')).toBe(5);
    expect(errors.some((e) => /WRONGTYPE/.test(e.message))).toBe(true);
    admin.disconnect();
  });
});

describe('metrics() when Redis stops answering', () => {
  it('rejects within about flushTimeoutMs instead of hanging', async () => {
    const proxy = await FaultProxy.start(Number(new URL(redisUrl()).port));
    proxies.push(proxy);
    const registry = new Registry({
      redis: proxy.url,
      prefix: randomPrefix('bh'),
      flushTimeoutMs: 500,
      selfMetrics: false,
    });
    open.push(registry);
    const c = new Counter({ name: 'bh', help: 'h', registry });
    c.inc();
    await registry.flush();
    proxy.blackhole = true;
    c.inc();
    const outcome = await Promise.race([
      registry.metrics().then(
        () => 'resolved',
        () => 'rejected',
      ),
      new Promise((r) => setTimeout(() => r('still pending'), 8000)),
    ]);
    expect(outcome).toBe('rejected');
    proxy.resetAll();
  });
});

describe('a series re-created by a held child after remove()', () => {
  it('gets a new _created time and its value, and nothing of the old one', async () => {
    const { registry } = make();
    const c = new Counter({ name: 'rc', help: 'h', labelNames: ['a'], registry });
    const child = c.labels('x');
    child.inc(5);
    await registry.flush();
    c.remove('x');
    await registry.flush();
    const before = Date.now() / 1000;
    child.inc(2);
    await registry.flush();
    const text = await registry.metrics({ format: 'openmetrics' });
    expect(sample(text, 'rc_total{a="x"}')).toBe(2);
    expect(sample(text, 'rc_created{a="x"}')).toBeGreaterThanOrEqual(before - 5);
  });
});

describe('a series removed and written again while a big flush is being encoded', () => {
  for (const shardBy of ['registry', 'metric'] as const) {
    it(`keeps what was written after the remove() or reset() (shardBy "${shardBy}")`, async () => {
      const { registry } = make({ shardBy });
      const c = new Counter({ name: 'big', help: 'h', labelNames: ['i'], registry });
      const single = new Counter({ name: 'single', help: 'h', registry });
      for (let i = 0; i < 5000; i++) c.inc({ i: String(i) });
      single.inc(3);
      const flushing = registry.flush();
      // The encoder yields every 2048 series: change the family under it.
      await new Promise((r) => setImmediate(r));
      c.remove({ i: '4999' });
      c.inc({ i: '4999' }, 5);
      single.reset();
      single.inc(2);
      await flushing;
      await registry.flush();
      const text = await registry.metrics();
      expect(sample(text, 'big_total{i="4999"}')).toBe(5);
      expect(sample(text, 'big_total{i="0"}')).toBe(1);
      expect(sample(text, 'single_total')).toBe(2);

      for (let i = 0; i < 5000; i++) c.inc({ i: String(i) });
      const again = registry.flush();
      await new Promise((r) => setImmediate(r));
      c.reset();
      c.inc({ i: '4999' }, 7);
      await again;
      await registry.flush();
      const after = await registry.metrics();
      expect(sample(after, 'big_total{i="4999"}')).toBe(7);
      expect(sample(after, 'big_total{i="0"}')).toBeUndefined();
    });
  }
});
