/**
 * A Redis wipe (#14 item 9): FLUSHALL, FLUSHDB or a restart without persistence under a running
 * process. It is detected (the process key vanished within its TTL), reported once, and what the
 * process owns comes back: metadata, its per-process gauges, the common-gauge values it set
 * (unless another process wrote them since). Counters restart from the wipe.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommonGauge, Counter, Gauge, Histogram, Registry, RedisStateLostError } from '../../src/index.js';
import { randomPrefix, sample } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
const open: Registry[] = [];
beforeAll(async () => {
  server = await startRedisServer();
});
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});
afterAll(async () => {
  await server.stop();
});

function make(
  prefix: string,
  options: {
    tokenTtlSeconds?: number;
    expireSeconds?: number;
    flushIntervalMs?: number;
    shardBy?: 'registry' | 'metric';
  } = {},
) {
  const errors: Error[] = [];
  const registry = new Registry({
    redis: `redis://127.0.0.1:${server.port}`,
    prefix,
    flushIntervalMs: 60_000,
    selfMetrics: false,
    onError: (e) => errors.push(e),
    ...options,
  });
  open.push(registry);
  const lost = (): RedisStateLostError[] =>
    errors.filter((e): e is RedisStateLostError => e instanceof RedisStateLostError);
  return { registry, errors, lost };
}

describe.each(['registry', 'metric'] as const)('shardBy %s: after Redis lost every key', (shardBy) => {
  it('reports it once and writes back metadata, gauges and the common gauges it set', async () => {
    const prefix = randomPrefix('wipe');
    const { registry, lost, errors } = make(prefix, { shardBy });
    const info = new CommonGauge({ name: 'build_info', help: 'b', labelNames: ['version'], registry });
    const level = new CommonGauge({ name: 'level', help: 'l', registry });
    const moved = new CommonGauge({ name: 'moved', help: 'only inc', registry });
    const temp = new Gauge({ name: 'temp', help: 't', registry });
    const jobs = new Counter({ name: 'jobs', help: 'j', registry });
    new Histogram({ name: 'lat', help: 'h', buckets: [1], registry }).observe(0.5);
    info.set({ version: '1.2.3' }, 1);
    level.set(10);
    level.inc(5);
    moved.inc(3);
    temp.set(7);
    jobs.inc(4);
    await registry.flush();
    level.inc(1); // after a flush: the value kept follows this process's own changes
    await registry.flush();

    await server.client().flushall();
    jobs.inc();
    await registry.flush();
    const text = await registry.metrics();
    expect(lost()).toHaveLength(1);
    expect(lost()[0]!.message).toMatch(new RegExp(`Redis lost the keys of prefix "${prefix}"`));
    expect(sample(text, 'build_info{version="1.2.3"}')).toBe(1);
    expect(sample(text, 'level')).toBe(16);
    // Moved only by inc(): a sum over processes, lost like a counter.
    expect(sample(text, 'moved')).toBeUndefined();
    expect(text).toMatch(/^temp\{gauge_index="\d+"\} 7$/m);
    expect(sample(text, 'jobs_total')).toBe(1);
    // Every family's metadata is back (the histogram's, untouched since, included).
    for (const family of ['build_info', 'level', 'temp', 'jobs', 'lat'])
      expect(text).toContain(`# TYPE ${family}`);
    expect(errors.filter((e) => !(e instanceof RedisStateLostError))).toEqual([]);

    // Later flushes are ordinary: not reported again.
    jobs.inc();
    await registry.flush();
    await registry.flush();
    expect(lost()).toHaveLength(1);
  });
});

describe('after a wipe', () => {
  it('leaves a common gauge another process wrote since', async () => {
    const prefix = randomPrefix('wipe');
    const a = make(prefix);
    const b = make(prefix);
    const infoA = new CommonGauge({ name: 'build_info', help: 'b', registry: a.registry });
    const infoB = new CommonGauge({ name: 'build_info', help: 'b', registry: b.registry });
    const jobsA = new Counter({ name: 'jobs', help: 'j', registry: a.registry });
    infoA.set(1);
    await a.registry.flush();
    await b.registry.flush(); // b knows the registry too
    await server.client().flushdb();
    infoB.set(2);
    await b.registry.flush();
    jobsA.inc();
    await a.registry.flush();
    expect(a.lost()).toHaveLength(1);
    expect(sample(await a.registry.metrics(), 'build_info')).toBe(2);
  });

  it('comes back for an idle process that only set a common gauge (build_info), on its heartbeat', async () => {
    const prefix = randomPrefix('wipe');
    const { registry, lost } = make(prefix, { expireSeconds: 2, flushIntervalMs: 100 });
    const info = new CommonGauge({ name: 'build_info', help: 'b', labelNames: ['version'], registry });
    info.set({ version: '9.9' }, 1);
    await registry.flush();
    const admin = server.client();
    await admin.flushall();
    const field = 'version="9.9"';
    const deadline = Date.now() + 5000;
    while ((await admin.hget(`{${prefix}}:f:build_info`, field)) === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await admin.hget(`{${prefix}}:f:build_info`, field)).toBe('1');
    expect(lost()).toHaveLength(1);
  });

  it('is not reported for a process key that expired (idle past tokenTtlSeconds)', async () => {
    const { registry, lost } = make(randomPrefix('wipe'), { tokenTtlSeconds: 1, expireSeconds: 1 });
    const c = new Counter({ name: 'c', help: 'h', registry });
    c.inc();
    await registry.flush();
    await new Promise((r) => setTimeout(r, 1500));
    c.inc();
    await registry.flush();
    expect(lost()).toEqual([]);
    expect(sample(await registry.metrics(), 'c_total')).toBe(2);
  });
});
