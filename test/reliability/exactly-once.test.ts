import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Counter, FlushTimeoutError, Histogram, Registry } from '../../src/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { randomPrefix, sample, settle, until } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
let proxy: FaultProxy;
const open: Registry[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  proxy.heal();
  for (const r of open.splice(0)) await r.close();
  await proxy.close();
});

async function setup(options: { flushTimeoutMs?: number } = {}) {
  proxy = await FaultProxy.start(server.port);
  const errors: Error[] = [];
  const prefix = randomPrefix('eo');
  const registry = new Registry({
    redis: proxy.url,
    prefix,
    flushIntervalMs: 100,
    flushTimeoutMs: options.flushTimeoutMs ?? 1000,
    maxBackoffMs: 200,
    selfMetrics: false,
    onError: (e) => errors.push(e),
  });
  open.push(registry);
  const reader = new Registry({ redis: server.url, prefix, selfMetrics: false, flushIntervalMs: 60_000 });
  open.push(reader);
  return { registry, reader, errors, prefix };
}

describe('exactly-once flushes through a faulty network', () => {
  it('applies a batch once when its reply is lost after Redis executed it', async () => {
    const { registry, reader } = await setup();
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
    const latency = new Histogram({ name: 'lat', help: 'lat', buckets: [1], registry });
    await registry.flush(); // script loaded, connection warm
    jobs.inc({ q: 'a' }, 5);
    latency.observe(0.5);
    proxy.loseNextReply(/evalsha/i);
    await registry.flush().catch(() => {}); // outcome unknown to the client
    jobs.inc({ q: 'a' }, 2);
    await settle(registry);
    const text = await reader.metrics();
    expect(proxy.injected.lostReplies).toBe(1);
    expect(sample(text, 'jobs_total{q="a"}')).toBe(7);
    expect(sample(text, 'lat_count')).toBe(1);
    // The lost batch was re-sent (by us or by ioredis after reconnecting) and recognised.
    expect(registry.flushStats.duplicates + registry.flushStats.retries).toBeGreaterThan(0);
  });

  it('retries a timed-out flush without doubling it when the late request lands after all', async () => {
    const { registry, reader, errors } = await setup({ flushTimeoutMs: 300 });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry });
    await registry.flush();
    jobs.inc(10);
    proxy.delayMs = 800;
    await expect(registry.flush()).rejects.toBeInstanceOf(FlushTimeoutError);
    proxy.delayMs = 0;
    jobs.inc(1);
    await settle(registry);
    // Let the delayed original request reach Redis too, then check nothing doubled.
    await new Promise((r) => setTimeout(r, 1000));
    await settle(registry);
    expect(sample(await reader.metrics(), 'jobs_total')).toBe(11);
    expect(errors.some((e) => e instanceof FlushTimeoutError) || registry.flushStats.failed > 0).toBe(true);
  });

  it('keeps recording through a black hole and delivers everything after it heals', async () => {
    const { registry, reader, errors } = await setup({ flushTimeoutMs: 300 });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
    const child = jobs.labels('a');
    await registry.flush();
    proxy.blackhole = true;
    for (let i = 0; i < 100_000; i++) child.inc();
    jobs.inc({ q: 'b' }, 3);
    // Background flushes fail into the black hole (each bounded by flushTimeoutMs) and are reported.
    await until(
      () => registry.flushStats.failed > 0 && errors.length > 0,
      Boolean,
      'a failed background flush, reported',
    );
    expect(registry.flushStats.failed).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThan(0);
    proxy.resetAll();
    proxy.heal();
    await settle(registry);
    const text = await reader.metrics();
    expect(sample(text, 'jobs_total{q="a"}')).toBe(100_000);
    expect(sample(text, 'jobs_total{q="b"}')).toBe(3);
  });

  it('survives a reconnect storm with exact totals', async () => {
    const { registry, reader } = await setup({ flushTimeoutMs: 300 });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['w'], registry });
    const children = [jobs.labels('0'), jobs.labels('1'), jobs.labels('2')];
    let expected = 0;
    const storm = setInterval(() => proxy.resetAll(), 70);
    const end = Date.now() + 2500;
    while (Date.now() < end) {
      for (const c of children) c.inc();
      expected += 1;
      if (expected % 50 === 0) await registry.flush().catch(() => {});
      await new Promise((r) => setImmediate(r));
    }
    clearInterval(storm);
    await settle(registry);
    const text = await reader.metrics();
    expect(proxy.injected.resets).toBeGreaterThan(5);
    for (const w of ['0', '1', '2']) expect(sample(text, `jobs_total{w="${w}"}`)).toBe(expected);
  });
});
