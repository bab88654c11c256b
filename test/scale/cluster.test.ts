import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from '../../src/index.js';
import { flushUnderLoad, randomPrefix, sample, settle } from '../support/helpers.js';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.js';

let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster(3, 1);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe('Redis Cluster (default: one hash tag, one slot per registry)', () => {
  it('merges exact totals from several processes through an ioredis Cluster client', async () => {
    const prefix = randomPrefix('cl');
    const registries = [0, 1, 2].map(
      () => new Registry({ redis: cluster.client(), prefix, flushIntervalMs: 60_000, selfMetrics: false }),
    );
    registries.forEach((registry, i) => {
      const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
      const lat = new Histogram({ name: 'lat', help: 'lat', buckets: [1], registry });
      const up = new Gauge({ name: 'up', help: 'up', registry });
      for (let n = 0; n < 1000; n++) jobs.inc({ q: String(n % 10) });
      lat.observe(i);
      up.set(i + 1);
    });
    await Promise.all(registries.map((r) => r.flush()));
    const reader = new Registry({
      redis: cluster.client(),
      prefix,
      flushIntervalMs: 60_000,
      selfMetrics: false,
    });
    const text = await reader.metrics();
    for (let q = 0; q < 10; q++) expect(sample(text, `jobs_total{q="${q}"}`)).toBe(300);
    expect(sample(text, 'lat_count')).toBe(3);
    expect(sample(text, 'lat_bucket{le="1"}')).toBe(2);
    const gauges = text.split('\n').filter((l) => l.startsWith('up{'));
    expect(gauges).toHaveLength(3);
    for (const r of [...registries, reader]) await r.close();
  });
});

interface NodeInfo {
  id: string;
  port: number;
  master: boolean;
  slots: Array<[number, number]>;
}

function parseNodes(text: string): NodeInfo[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const parts = line.split(' ');
      const port = Number(parts[1]!.split('@')[0]!.split(':')[1]);
      const slots = parts.slice(8).flatMap((range): Array<[number, number]> => {
        if (range.startsWith('[')) return [];
        const [a, b] = range.split('-');
        return [[Number(a), Number(b ?? a)]];
      });
      return { id: parts[0]!, port, master: parts[2]!.includes('master'), slots };
    });
}

describe('Redis Cluster resharding', () => {
  it('keeps exact totals while the registry slot migrates to another primary during heavy flushing', async () => {
    const prefix = randomPrefix('rs');
    const admin = cluster.client();
    const slot = (await admin.call('CLUSTER', 'KEYSLOT', `{${prefix}}`)) as number;
    const nodes = parseNodes((await admin.call('CLUSTER', 'NODES')) as string);
    const source = nodes.find((n) => n.master && n.slots.some(([a, b]) => slot >= a && slot <= b))!;
    // Primaries are the nodes serving slots (a fresh replica may still be listed as a master).
    const target = nodes.find((n) => n.master && n.slots.length > 0 && n.id !== source.id)!;
    const direct = (port: number) => cluster.nodes.find((n) => n.port === port)!.client();
    const src = direct(source.port);
    const dst = direct(target.port);

    const registries = [0, 1, 2].map(
      () =>
        new Registry({
          redis: cluster.client(),
          prefix,
          flushIntervalMs: 60_000,
          flushTimeoutMs: 2000,
          maxBackoffMs: 100,
          selfMetrics: false,
        }),
    );
    const counters = registries.map((registry) =>
      new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry }).labels('a'),
    );
    const load = flushUnderLoad(counters, registries);

    await new Promise((r) => setTimeout(r, 300));
    await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
    await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
    for (;;) {
      const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, 2)) as string[];
      if (keys.length === 0) break;
      await src.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
      await new Promise((r) => setTimeout(r, 50)); // flushes run against a half-moved slot
    }
    for (const n of nodes.filter((x) => x.master && x.slots.length > 0)) {
      await direct(n.port).call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    }
    await new Promise((r) => setTimeout(r, 300));
    const recorded = await load.stop();
    for (const r of registries) await settle(r, 15_000);
    const reader = new Registry({
      redis: cluster.client(),
      prefix,
      flushIntervalMs: 60_000,
      selfMetrics: false,
    });
    expect(sample(await reader.metrics(), 'jobs_total{q="a"}')).toBe(recorded);
    const owner = parseNodes((await admin.call('CLUSTER', 'NODES')) as string).find((n) =>
      n.slots.some(([a, b]) => slot >= a && slot <= b),
    );
    expect(owner?.id).toBe(target.id);
    for (const r of [...registries, reader]) await r.close();
  });
});

describe('Redis Cluster: a half-moved slot', () => {
  it('applies nothing while a written key has moved but the declared keys have not, then everything', async () => {
    const prefix = randomPrefix('hm');
    const errors: Error[] = [];
    const registry = new Registry({
      redis: cluster.client(),
      prefix,
      flushIntervalMs: 60_000,
      flushTimeoutMs: 3000,
      selfMetrics: false,
      onError: (e) => errors.push(e),
    });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry });
    new Gauge({ name: 'up', help: 'up', registry }).set(1); // so every declared key exists
    jobs.inc();
    await registry.flush();
    const admin = cluster.client();
    const slot = (await admin.call('CLUSTER', 'KEYSLOT', `{${prefix}}`)) as number;
    const nodes = parseNodes((await admin.call('CLUSTER', 'NODES')) as string);
    const source = nodes.find((n) => n.master && n.slots.some(([a, b]) => slot >= a && slot <= b))!;
    const target = nodes.find((n) => n.master && n.slots.length > 0 && n.id !== source.id)!;
    const src = cluster.nodes.find((n) => n.port === source.port)!.client();
    const dst = cluster.nodes.find((n) => n.port === target.port)!.client();
    await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
    await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
    // Move only the counter's hash: the script's declared keys stay behind on the source.
    await src.call('MIGRATE', '127.0.0.1', target.port, `{${prefix}}:f:jobs`, 0, 5000);
    jobs.inc(5);
    await expect(registry.flush()).rejects.toThrow(/Cluster slot moves/);
    // Nothing of the deferred batch reached the moved hash (read it on the target, which imports the slot).
    await dst.call('ASKING');
    expect(await dst.hget(`{${prefix}}:f:jobs`, '')).toBe('1');
    // Finish the migration; the kept batch is then applied once.
    for (;;) {
      const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      await src.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
    }
    for (const n of nodes.filter((x) => x.master && x.slots.length > 0)) {
      await cluster.nodes
        .find((x) => x.port === n.port)!
        .client()
        .call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    }
    await registry.flush();
    const reader = new Registry({
      redis: cluster.client(),
      prefix,
      flushIntervalMs: 60_000,
      selfMetrics: false,
    });
    expect(sample(await reader.metrics(), 'jobs_total')).toBe(6);
    for (const r of [registry, reader]) await r.close();
  });
});
