/**
 * Exactly once per chunk: a flush bigger than `flushChunkUpdates` goes as a chain of calls, each
 * with its own sequence number, the first alone and the others after their predecessors with a
 * window in flight. Lost replies of any chunk, connection resets mid-window (ioredis resends what
 * was in flight, the flusher resends what was not acknowledged) and an outage in the middle of a
 * chain leave exact totals and untorn histograms. Ordering is argued in docs/architecture.md.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from '../../src/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { randomPrefix, samples, settle } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
let proxy: FaultProxy;
const open: Registry[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  proxy.heal();
  for (const r of open.splice(0)) await r.close();
  for (const c of clients.splice(0)) c.disconnect();
  await proxy.close();
});

const SERIES = 600;

/**
 * `resend`: ioredis's default, which sends again on reconnect what was in flight; without it
 * (`autoResendUnfulfilledCommands: false`, a user's client) those calls fail and the flusher's
 * own resend of the unacknowledged chunks is all there is.
 */
type Client = 'resend' | 'no-resend';

async function setup(client: Client) {
  proxy = await FaultProxy.start(server.port);
  let redis: string | Redis = proxy.url;
  if (client === 'no-resend') {
    redis = new Redis(proxy.url, { autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    clients.push(redis);
  }
  const errors: Error[] = [];
  const prefix = randomPrefix('chunk');
  const registry = new Registry({
    redis,
    prefix,
    flushIntervalMs: 60_000,
    flushTimeoutMs: 1000,
    maxBackoffMs: 100,
    // 600 counter series and 600 histogram series of 4 fields: about 3,000 updates, 30 chunks.
    flushChunkUpdates: 100,
    flushWindow: 3,
    selfMetrics: false,
    onError: (e) => errors.push(e),
  });
  const reader = new Registry({ redis: server.url, prefix, selfMetrics: false, flushIntervalMs: 60_000 });
  open.push(registry, reader);
  const jobs = new Counter({ name: 'jobs_total', help: 'j', labelNames: ['id'], registry });
  const latency = new Histogram({ name: 'lat', help: 'l', labelNames: ['id'], buckets: [1, 2], registry });
  const level = new Gauge({ name: 'level', help: 'g', labelNames: ['id'], aggregate: 'sum', registry });
  const expected = { jobs: new Map<string, number>(), count: new Map<string, number>() };
  /** One round of recording: every series changes. */
  const record = (round: number): void => {
    for (let i = 0; i < SERIES; i++) {
      const id = `s${i}`;
      const n = 1 + ((i + round) % 3);
      jobs.inc({ id }, n);
      expected.jobs.set(id, (expected.jobs.get(id) ?? 0) + n);
      latency.observe({ id }, (i % 3) + 0.5);
      expected.count.set(id, (expected.count.get(id) ?? 0) + 1);
      level.set({ id }, round);
    }
  };
  /** Everything in Redis is exactly what was recorded; no histogram series is torn. */
  const check = async (round: number): Promise<void> => {
    const text = await reader.metrics();
    const got = samples(text);
    for (let i = 0; i < SERIES; i++) {
      const id = `s${i}`;
      expect(got.get(`jobs_total{id="${id}"}`), id).toBe(expected.jobs.get(id));
      expect(got.get(`lat_count{id="${id}"}`), id).toBe(expected.count.get(id));
      expect(got.get(`lat_bucket{id="${id}",le="+Inf"}`), id).toBe(expected.count.get(id));
      expect(got.get(`level{id="${id}"}`), id).toBe(round);
    }
  };
  return { registry, reader, errors, record, check };
}

describe.each(['resend', 'no-resend'] as const)(
  'a flush in chunks, exactly once per chunk (%s)',
  (client) => {
    it('goes as several calls when it is bigger than flushChunkUpdates, and one call when it is not', async () => {
      const { registry, record, check } = await setup(client);
      await registry.flush();
      const calls = async (): Promise<number> => {
        const info = await server.client().info('commandstats');
        const line = info.split('\n').find((l) => l.startsWith('cmdstat_evalsha:'));
        return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
      };
      const before = await calls();
      record(1);
      await registry.flush();
      const big = (await calls()) - before;
      // About 3,600 field updates (600 × (1 + 4 + 1) plus creation times) at 100 per chunk.
      expect(big).toBeGreaterThanOrEqual(30);
      await check(1);
      const small = await calls();
      const one = new Counter({ name: 'one_total', help: 'o', registry: registry });
      one.inc();
      await registry.flush();
      expect((await calls()) - small).toBe(1);
    });

    for (const where of ['first', 'middle', 'last'] as const) {
      it(`applies every chunk once when the reply of the ${where} chunk is lost`, async () => {
        const { registry, record, check, errors } = await setup(client);
        await registry.flush();
        record(1);
        // The first chunk (the counters come first), one in the middle, the last (gauges last).
        const pattern = {
          first: /id="s0"/,
          middle: /id="s300"/,
          last: /\r\nG\r\n\$5\r\nlevel\r\n[\s\S]*id="s599"/,
        }[where];
        proxy.loseNextReply(pattern);
        await registry.flush().catch(() => {});
        record(2);
        await settle(registry);
        expect(proxy.injected.lostReplies).toBe(1);
        await check(2);
        expect(registry.flushStats.duplicates + registry.flushStats.retries).toBeGreaterThan(0);
        // What onError heard is about the lost reply only, never about lost or doubled data.
        for (const e of errors) expect(e.message).not.toMatch(/conflict|write\(s\)/);
      });
    }

    it('stays exact through connection resets in the middle of the window, round after round', async () => {
      const { registry, record, check } = await setup(client);
      await registry.flush();
      for (let round = 1; round <= 8; round++) {
        record(round);
        const flushing = registry.flush().catch(() => {});
        // Reset while the chain is in flight: some chunks applied, some in the socket, some unsent.
        await new Promise((r) => setTimeout(r, 2 + round * 3));
        proxy.resetAll();
        await flushing;
      }
      await settle(registry);
      expect(proxy.injected.resets).toBeGreaterThan(0);
      await check(8);
    });

    it('stays exact when Redis goes silent part-way through a chain and comes back', async () => {
      const { registry, record, check } = await setup(client);
      await registry.flush();
      record(1);
      const flushing = registry.flush().catch(() => {});
      await new Promise((r) => setTimeout(r, 5));
      proxy.blackhole = true;
      await flushing; // times out: the unacknowledged chunks stay queued
      record(2);
      await new Promise((r) => setTimeout(r, 300));
      proxy.heal();
      await settle(registry);
      await check(2);
      expect(registry.undeliveredSeries).toBe(0);
    });
  },
);
