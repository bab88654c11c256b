import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry, RedisUnavailableError } from '../../src/index.js';
import { randomPrefix, sample, settle } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
let dir: string;
const open: Registry[] = [];

beforeAll(async () => {
  // Persistence with fsync on every write: a SIGKILLed server keeps every acknowledged flush, so
  // exact totals are the right expectation across restarts.
  dir = mkdtempSync(join(tmpdir(), 'prc-aof-'));
  server = await startRedisServer(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]);
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

function registries() {
  const errors: Error[] = [];
  const prefix = randomPrefix('rf');
  const registry = new Registry({
    redis: server.url,
    prefix,
    flushIntervalMs: 50,
    flushTimeoutMs: 500,
    maxBackoffMs: 300,
    selfMetrics: false,
    onError: (e) => errors.push(e),
  });
  const reader = new Registry({ redis: server.url, prefix, flushIntervalMs: 60_000, selfMetrics: false });
  open.push(registry, reader);
  return { registry, reader, errors };
}

async function readWhenUp(reader: Registry): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await reader.metrics();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('Redis failures', () => {
  it('keeps exact totals when redis-server is killed and restarted during heavy recording', async () => {
    const { registry, reader, errors } = registries();
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
    const latency = new Histogram({ name: 'lat', help: 'lat', labelNames: ['q'], buckets: [0.5], registry });
    const a = jobs.labels('a');
    let n = 0;
    const restarts = [700, 1600];
    const started = Date.now();
    while (Date.now() - started < 2600) {
      for (let i = 0; i < 500; i++) {
        a.inc();
        latency.observe({ q: 'b' }, 0.25);
      }
      n += 500;
      const next = restarts[0];
      if (next !== undefined && Date.now() - started > next) {
        restarts.shift();
        await server.kill();
        await new Promise((r) => setTimeout(r, 200));
        await server.start();
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await settle(registry);
    const text = await readWhenUp(reader);
    expect(sample(text, 'jobs_total{q="a"}')).toBe(n);
    expect(sample(text, 'lat_count{q="b"}')).toBe(n);
    expect(sample(text, 'lat_bucket{q="b",le="0.5"}')).toBe(n);
    // The outage was seen (connection errors reported), and nothing was lost or doubled.
    expect(errors.some((e) => e instanceof RedisUnavailableError)).toBe(true);
  });

  it('does not double a flush whose reply is held up by CLIENT PAUSE past its timeout', async () => {
    const { registry, reader } = registries();
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry });
    await registry.flush();
    const admin = server.client();
    jobs.inc(42);
    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    await expect(registry.flush()).rejects.toThrow(/flushTimeoutMs/);
    jobs.inc(1);
    await new Promise((r) => setTimeout(r, 1600));
    await settle(registry);
    expect(sample(await reader.metrics(), 'jobs_total')).toBe(43);
    expect(registry.flushStats.duplicates + registry.flushStats.retries).toBeGreaterThan(0);
  });

  it('writes nothing while Redis refuses writes at maxmemory, and everything once it accepts them', async () => {
    const { registry, reader, errors } = registries();
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
    jobs.inc({ q: 'a' }, 1);
    await registry.flush();
    const admin = server.client();
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', String(used + 2_000_000));
    // Fill with ever smaller values until even a tiny write is refused.
    let i = 0;
    for (const size of [10_000, 1000, 100, 10]) {
      const filler = 'x'.repeat(size);
      for (let refused = false; !refused && i < 100_000; i++) {
        await admin.set(`filler:${i}`, filler).catch(() => (refused = true));
      }
    }
    // Even a tiny write is refused now.
    await expect(admin.set('tiny', '1')).rejects.toThrow(/OOM/);
    for (let i = 0; i < 1000; i++) jobs.inc({ q: String(i % 50) });
    await expect(registry.flush()).rejects.toThrow(/OOM|maxmemory/i);
    // Refused as a whole: no series of the batch reached Redis.
    expect(await admin.hlen(`{${registry.prefix}}:f:jobs`)).toBe(1);
    expect(errors.length).toBeGreaterThanOrEqual(0);
    await admin.config('SET', 'maxmemory', '0');
    await settle(registry);
    const text = await reader.metrics();
    expect(sample(text, 'jobs_total{q="a"}')).toBe(1);
    expect(sample(text, 'jobs_total{q="7"}')).toBe(20);
    let total = 0;
    for (let q = 0; q < 50; q++) total += sample(text, `jobs_total{q="${q}"}`) ?? 0;
    expect(total).toBe(1000);
    const keys = await admin.keys('filler:*');
    if (keys.length > 0) await admin.del(...keys);
  });
});
