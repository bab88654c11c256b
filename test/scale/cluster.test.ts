import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry, type RegistryOptions } from '../../src/index.js';
import { callPage, pageArgs } from '../../src/redis/scripts.js';
import { flushUnderLoad, randomPrefix, sample, settle } from '../support/helpers.js';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.js';
import { startTs } from '../ecosystem/spawn.js';
import { describeChild, pollUntil, runTs } from '../system/processes.js';

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
  /** For a replica, its primary's id. */
  replicaOf: string | undefined;
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
      const replicaOf = parts[3] === '-' ? undefined : parts[3];
      return { id: parts[0]!, port, master: parts[2]!.includes('master'), replicaOf, slots };
    });
}

const owns = (node: NodeInfo, slot: number): boolean => node.slots.some(([a, b]) => slot >= a && slot <= b);

async function topology(): Promise<NodeInfo[]> {
  return parseNodes((await cluster.client().call('CLUSTER', 'NODES')) as string);
}

/** A plain connection to one node of the cluster. */
function direct(port: number) {
  return cluster.nodes.find((n) => n.port === port)!.client();
}

/** The primary serving `slot`, and another primary to move it to. */
async function slotOwners(slot: number): Promise<{ source: NodeInfo; target: NodeInfo; nodes: NodeInfo[] }> {
  // In port order: each node lists the cluster in its own order, and the choice must not change.
  const nodes = (await topology()).sort((a, b) => a.port - b.port);
  const source = nodes.find((n) => n.master && owns(n, slot))!;
  // Primaries are the nodes serving slots (a fresh replica may still be listed as a master).
  const target = nodes.find((n) => n.master && n.slots.length > 0 && n.id !== source.id)!;
  return { source, target, nodes };
}

/**
 * Move `slot` from its primary to another, a few keys at a time with a pause between steps (so
 * flushes run against a half-moved slot), as `redis-cli --cluster reshard` does.
 */
async function moveSlot(
  slot: number,
  { keysPerStep = 2, pauseMs = 50, reversed = false } = {},
): Promise<{ source: NodeInfo; target: NodeInfo }> {
  const { source, target, nodes } = await slotOwners(slot);
  const src = direct(source.port);
  await direct(target.port).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
  await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
  for (;;) {
    // In the order GETKEYSINSLOT lists the keys, or from the end of that list.
    const listed = (await src.call(
      'CLUSTER',
      'GETKEYSINSLOT',
      slot,
      reversed ? 100_000 : keysPerStep,
    )) as string[];
    const keys = reversed ? listed.slice(-keysPerStep) : listed;
    if (keys.length === 0) break;
    await src.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  for (const n of nodes.filter((x) => x.master && x.slots.length > 0)) {
    await direct(n.port).call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
  }
  return { source, target };
}

/** A registry on the cluster that retries fast (for flushes under faults). */
function clusterRegistry(prefix: string, options: RegistryOptions = {}): Registry {
  return new Registry({
    redis: cluster.client(),
    prefix,
    flushIntervalMs: 60_000,
    flushTimeoutMs: 2000,
    maxBackoffMs: 100,
    selfMetrics: false,
    ...options,
  });
}

/**
 * Stop the load, let every writer deliver what it holds, and expect the merged `jobs_total{q="a"}`
 * read by a fresh registry to be exactly what was recorded; closes them all.
 */
async function expectExactTotal(
  load: ReturnType<typeof flushUnderLoad>,
  registries: readonly Registry[],
  prefix: string,
): Promise<void> {
  const recorded = await load.stop();
  for (const r of registries) await settle(r, 15_000);
  const reader = clusterRegistry(prefix);
  expect(sample(await reader.metrics(), 'jobs_total{q="a"}')).toBe(recorded);
  for (const r of [...registries, reader]) await r.close();
}

describe('Redis Cluster resharding', () => {
  it('keeps exact totals while the registry slot migrates to another primary during heavy flushing', async () => {
    const prefix = randomPrefix('rs');
    const slot = (await cluster.client().call('CLUSTER', 'KEYSLOT', `{${prefix}}`)) as number;
    const registries = [0, 1, 2].map(() => clusterRegistry(prefix));
    const counters = registries.map((registry) =>
      new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry }).labels('a'),
    );
    const load = flushUnderLoad(counters, registries);
    await new Promise((r) => setTimeout(r, 300));
    const { target } = await moveSlot(slot);
    await new Promise((r) => setTimeout(r, 300));
    await expectExactTotal(load, registries, prefix);
    expect((await topology()).find((n) => owns(n, slot))?.id).toBe(target.id);
  });
});

describe('Redis Cluster: a slot moved key by key in either order, and back, under continuous flushing', () => {
  for (const shardBy of ['registry', 'metric'] as const) {
    for (const reversed of [false, true]) {
      it(`exact totals, no BUSYKEY (shardBy "${shardBy}", keys ${reversed ? 'from the end' : 'as listed'})`, async () => {
        const prefix = randomPrefix('mo');
        const registries = [0, 1, 2].map(() => clusterRegistry(prefix, { shardBy, selfMetrics: true }));
        const counters = registries.map((registry) =>
          new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry }).labels('a'),
        );
        for (const registry of registries) new Gauge({ name: 'up', help: 'up', registry }).set(1);
        const load = flushUnderLoad(counters, registries);
        await new Promise((r) => setTimeout(r, 300));
        // The control slot ({prefix}) and, with shardBy "metric", the family's own group.
        const key = shardBy === 'registry' ? `{${prefix}}:f:jobs` : `${prefix}:{${prefix}:jobs}:f:jobs`;
        const slots = [
          (await cluster.client().call('CLUSTER', 'KEYSLOT', `{${prefix}}`)) as number,
          ...(shardBy === 'metric'
            ? [(await cluster.client().call('CLUSTER', 'KEYSLOT', key)) as number]
            : []),
        ];
        // Scrapes meanwhile: each one whole (every family, never lower than an earlier one), or failed.
        const scraper = clusterRegistry(prefix);
        let scraping = true;
        let highest = 0;
        let whole = 0;
        const scrapes = (async () => {
          while (scraping) {
            const text = await scraper.metrics().catch(() => undefined);
            if (text === undefined) continue;
            const total = sample(text, 'jobs_total{q="a"}');
            expect(total).toBeDefined();
            expect(total!).toBeGreaterThanOrEqual(highest);
            expect(text.split('\n').filter((l) => l.startsWith('up{'))).toHaveLength(3);
            highest = total!;
            whole++;
          }
        })();
        for (const slot of slots) {
          await moveSlot(slot, { keysPerStep: 1, pauseMs: 20, reversed });
          await moveSlot(slot, { keysPerStep: 1, pauseMs: 20, reversed }); // and back (or on)
        }
        scraping = false;
        await scrapes;
        await scraper.close();
        expect(whole).toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, 300));
        await expectExactTotal(load, registries, prefix);
      });
    }
  }
});

describe('Redis Cluster: redis-cli --cluster reshard under continuous flushing', () => {
  it.each(['registry', 'metric'] as const)(
    'shardBy %s: the stock tool moves the slot, no "Target key exists", exact totals',
    async (shardBy) => {
      const nodes = (await topology())
        .filter((n) => n.master && n.slots.length > 0)
        .sort((a, b) => a.port - b.port);
      const source = nodes[0]!;
      const target = nodes[1]!;
      const first = Math.min(...source.slots.map(([a]) => a));
      // A prefix whose slot is the first the tool takes from the source (it moves the lowest first).
      const admin = cluster.client();
      let prefix: string | undefined;
      // 1 in 16384 matches: look until one does (500,000 candidates miss with odds of e^-30).
      for (let round = 0; prefix === undefined && round < 100; round++) {
        const candidates = Array.from({ length: 5000 }, () => randomPrefix('rc'));
        // The slot written to: the registry's, or with shardBy "metric" the family group's.
        const slotKey = (c: string): string =>
          shardBy === 'registry' ? `{${c}}` : `${c}:{${c}:jobs}:f:jobs`;
        const slots = await Promise.all(
          candidates.map((c) => admin.call('CLUSTER', 'KEYSLOT', slotKey(c)) as Promise<number>),
        );
        prefix = candidates.find((_, i) => slots[i] === first);
      }
      expect(prefix).toBeDefined();
      const registries = [0, 1, 2].map(() => clusterRegistry(prefix!, { shardBy }));
      const counters = registries.map((registry) =>
        new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry }).labels('a'),
      );
      for (const registry of registries) new Gauge({ name: 'up', help: 'up', registry }).set(1);
      const load = flushUnderLoad(counters, registries);
      await new Promise((r) => setTimeout(r, 300));
      // The tool refuses to start while the nodes disagree about slots (just after earlier moves).
      await pollUntil(
        () =>
          spawnSync('redis-cli', ['--cluster', 'check', `127.0.0.1:${source.port}`], { encoding: 'utf8' }),
        (check) => check.status === 0 && check.stdout.includes('All nodes agree about slots configuration'),
        { timeoutMs: 15_000, what: 'the cluster nodes agreeing about slots' },
      );
      const tool = spawnSync(
        'redis-cli',
        [
          '--cluster',
          'reshard',
          `127.0.0.1:${source.port}`,
          '--cluster-from',
          source.id,
          '--cluster-to',
          target.id,
          '--cluster-slots',
          '1',
          '--cluster-yes',
          '--cluster-pipeline',
          '1',
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(tool.status, `${tool.stdout}\n${tool.stderr}`).toBe(0);
      expect(tool.stdout).not.toMatch(/Target key exists|BUSYKEY/);
      await new Promise((r) => setTimeout(r, 300));
      await expectExactTotal(load, registries, prefix!);
      expect((await topology()).find((n) => owns(n, first))?.id).toBe(target.id);
    },
  );
});

/**
 * A registry under `prefix` with a counter `jobs_total` at 1 and a gauge (so every declared key
 * exists), its slot marked as moving from its primary to another, no key moved yet.
 */
async function halfMoving(prefix: string) {
  const registry = clusterRegistry(prefix, { flushTimeoutMs: 3000 });
  const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry });
  new Gauge({ name: 'up', help: 'up', registry }).set(1);
  jobs.inc();
  await registry.flush();
  const slot = (await cluster.client().call('CLUSTER', 'KEYSLOT', `{${prefix}}`)) as number;
  const { source, target } = await slotOwners(slot);
  const src = direct(source.port);
  const dst = direct(target.port);
  await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
  await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
  return { registry, jobs, slot, target, src, dst };
}

describe('Redis Cluster: a half-moved slot', () => {
  it('applies nothing while a written key has moved but the declared keys have not, then everything', async () => {
    const prefix = randomPrefix('hm');
    const { registry, jobs, slot, target, src, dst } = await halfMoving(prefix);
    // Move only the counter's hash: the script's declared keys stay behind on the source.
    await src.call('MIGRATE', '127.0.0.1', target.port, `{${prefix}}:f:jobs`, 0, 5000);
    jobs.inc(5);
    await expect(registry.flush()).rejects.toThrow(/Cluster slot moves/);
    // Nothing of the deferred batch reached the moved hash (read it on the target, which imports the slot).
    await dst.call('ASKING');
    expect(await dst.hget(`{${prefix}}:f:jobs`, '')).toBe('1');
    // Finish the migration; the kept batch is then applied once.
    await moveSlot(slot, { keysPerStep: 100, pauseMs: 0 });
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

describe('Redis Cluster: scrapes while the slot moves', () => {
  it('each scrape is complete and exact, or fails saying so, through moves both ways', async () => {
    const prefix = randomPrefix('sc');
    const writer = clusterRegistry(prefix);
    const families = ['a', 'b', 'c'].map(
      (name) => new Counter({ name, help: name, labelNames: ['i'], registry: writer }),
    );
    const temp = new Gauge({ name: 'temp', help: 't', registry: writer });
    // Several pages per family (500 fields a page), so a key can move between two of them.
    for (const counter of families) for (let i = 0; i < 3000; i++) counter.inc({ i: String(i) }, 2);
    temp.set(4);
    await writer.flush();
    await writer.close({ keepGauges: true });
    const slot = (await cluster.client().call('CLUSTER', 'KEYSLOT', `{${prefix}}`)) as number;
    const reader = clusterRegistry(prefix);
    let complete = 0;
    const failures: string[] = [];
    let moving = true;
    const scrapes = (async () => {
      while (moving) {
        try {
          const text = await reader.metrics();
          const lines = text.split('\n').filter((l) => /^[abc]_total\{/.test(l));
          expect(lines).toHaveLength(9000);
          for (const line of lines) expect(line.endsWith(' 2')).toBe(true);
          expect(text).toMatch(/^temp\{gauge_index="\d+"\} 4$/m);
          complete++;
        } catch (error) {
          if ((error as Error).name === 'AssertionError') throw error;
          failures.push((error as Error).message);
        }
      }
    })();
    await moveSlot(slot, { keysPerStep: 1, pauseMs: 250 });
    await moveSlot(slot, { keysPerStep: 1, pauseMs: 250 });
    moving = false;
    await scrapes;
    console.log(
      `scrapes during the moves: ${complete} complete and exact, ${failures.length} failed`,
      failures.slice(0, 3),
    );
    expect(complete).toBeGreaterThan(0);
    // After the moves, a scrape is whole again.
    const text = await reader.metrics();
    expect(text.split('\n').filter((l) => /^[abc]_total\{/.test(l))).toHaveLength(9000);
    await reader.close();
  });
});

describe('Redis Cluster: a hash moving between two pages of its scan', () => {
  it('is noticed: the page after the move names another node, and the scrape fails saying so', async () => {
    const prefix = randomPrefix('pg');
    const writer = clusterRegistry(prefix);
    const c = new Counter({ name: 'c', help: 'c', labelNames: ['i'], registry: writer });
    for (let i = 0; i < 3000; i++) c.inc({ i: String(i) });
    await writer.flush();
    await writer.close();
    const hash = `{${prefix}}:f:c`;
    const client = cluster.client();
    const first = await callPage(client, pageArgs({ hash, expiry: '', cursor: '0', count: 100, mode: 'f' }));
    expect(first[0]).not.toBe('0');
    const slot = (await client.call('CLUSTER', 'KEYSLOT', hash)) as number;
    const { source, target } = await slotOwners(slot);
    await direct(target.port).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
    await direct(source.port).call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
    await direct(source.port).call('MIGRATE', '127.0.0.1', target.port, hash, 0, 5000);
    // The next page is asked of the target (ASK): its cursor meant a place in the source's table.
    const second = await callPage(
      client,
      pageArgs({ hash, expiry: '', cursor: first[0], count: 100, mode: 'f' }),
    );
    expect(second[2]).not.toBe(first[2]);
    const reader = clusterRegistry(prefix);
    // A whole read from the start is served by one node: complete.
    const text = await reader.metrics();
    expect(text.split('\n').filter((l) => l.startsWith('c_total{'))).toHaveLength(3000);
    await moveSlot(slot, { keysPerStep: 100, pauseMs: 0 });
    await reader.close();
  });
});

describe('Redis Cluster: the declared keys moved first', () => {
  it('a flush ASKed to the importing node writes no copy of a hash still on the source; no BUSYKEY; exact', async () => {
    const prefix = randomPrefix('dk');
    const { registry, jobs, slot, target, src, dst } = await halfMoving(prefix);
    // Every key but the counter's hash leaves first (the order GETKEYSINSLOT may well list).
    const hash = `{${prefix}}:f:jobs`;
    const others = ((await src.call('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[]).filter(
      (k) => k !== hash,
    );
    await src.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...others);
    jobs.inc(5);
    await expect(registry.flush()).rejects.toThrow(/Cluster slot moves/);
    await dst.call('ASKING');
    expect(await dst.exists(hash)).toBe(0);
    // The hash moves without BUSYKEY; the kept batch then applies once.
    await src.call('MIGRATE', '127.0.0.1', target.port, hash, 0, 5000);
    await moveSlot(slot, { keysPerStep: 100, pauseMs: 0 });
    await registry.flush();
    const reader = clusterRegistry(prefix);
    expect(sample(await reader.metrics(), 'jobs_total')).toBe(6);
    for (const r of [registry, reader]) await r.close();
  });
});

/** Families spread over the cluster: the slot of each family group (shardBy "metric"). */
async function groupSlots(prefix: string, families: readonly string[]): Promise<number[]> {
  const admin = cluster.client();
  return Promise.all(
    families.map(
      async (f) => (await admin.call('CLUSTER', 'KEYSLOT', `${prefix}:{${prefix}:${f}}:f:${f}`)) as number,
    ),
  );
}

describe('Redis Cluster with shardBy "metric"', () => {
  it('merges exact totals from several processes, with the families spread over the primaries', async () => {
    const prefix = randomPrefix('sm');
    const families = ['a', 'b', 'c', 'd', 'e', 'f'];
    const registries = [0, 1, 2].map(() => clusterRegistry(prefix, { shardBy: 'metric' }));
    registries.forEach((registry, i) => {
      const counters = families.map((f) => new Counter({ name: f, help: f, labelNames: ['q'], registry }));
      const lat = new Histogram({ name: 'lat', help: 'lat', buckets: [1], registry });
      const up = new Gauge({ name: 'up', help: 'up', registry });
      for (let n = 0; n < 500; n++) for (const c of counters) c.inc({ q: String(n % 5) });
      lat.observe(i);
      up.set(i + 1);
    });
    await Promise.all(registries.map((r) => r.flush()));
    const reader = clusterRegistry(prefix);
    const text = await reader.metrics();
    for (const f of families)
      for (let q = 0; q < 5; q++) expect(sample(text, `${f}_total{q="${q}"}`)).toBe(300);
    expect(sample(text, 'lat_count')).toBe(3);
    expect(sample(text, 'lat_bucket{le="1"}')).toBe(2);
    expect(text.split('\n').filter((l) => l.startsWith('up{'))).toHaveLength(3);
    // The write load really is spread: the families' groups live on more than one primary.
    const nodes = await topology();
    const owners = new Set(
      (await groupSlots(prefix, families)).map((slot) => nodes.find((n) => n.master && owns(n, slot))!.id),
    );
    expect(owners.size).toBeGreaterThan(1);
    for (const r of [...registries, reader]) await r.close();
  });

  it('keeps exact totals while one family group migrates during heavy flushing', async () => {
    const prefix = randomPrefix('smr');
    const registries = [0, 1, 2].map(() => clusterRegistry(prefix, { shardBy: 'metric' }));
    const children = registries.flatMap((registry) => [
      new Counter({ name: 'moving', help: 'moves', labelNames: ['q'], registry }).labels('a'),
      new Counter({ name: 'staying', help: 'stays', labelNames: ['q'], registry }).labels('a'),
    ]);
    const load = flushUnderLoad(children, registries);
    await new Promise((r) => setTimeout(r, 300));
    const [slot] = await groupSlots(prefix, ['moving']);
    const { target } = await moveSlot(slot!);
    await new Promise((r) => setTimeout(r, 300));
    const recorded = await load.stop();
    for (const r of registries) await settle(r, 15_000);
    const reader = clusterRegistry(prefix);
    const text = await reader.metrics();
    expect(sample(text, 'moving_total{q="a"}')).toBe(recorded / 2);
    expect(sample(text, 'staying_total{q="a"}')).toBe(recorded / 2);
    expect((await topology()).find((n) => owns(n, slot!))?.id).toBe(target.id);
    for (const r of [...registries, reader]) await r.close();
  });
});

describe('Redis Cluster primary failover', () => {
  for (const shardBy of ['registry', 'metric'] as const) {
    it(`keeps exact totals when a replica takes over during heavy flushing (shardBy "${shardBy}")`, async () => {
      const prefix = randomPrefix('fo');
      const registries = [0, 1, 2].map(() => clusterRegistry(prefix, { shardBy }));
      const children = registries.map((registry) =>
        new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry }).labels('a'),
      );
      const load = flushUnderLoad(children, registries);
      await new Promise((r) => setTimeout(r, 300));
      const key = shardBy === 'registry' ? `{${prefix}}:f:jobs` : `${prefix}:{${prefix}:jobs}:f:jobs`;
      const slot = (await cluster.client().call('CLUSTER', 'KEYSLOT', key)) as number;
      // After an earlier failover the old primary rejoins as a replica: wait for the view to settle.
      const replica = await pollUntil(
        async () => {
          const nodes = await topology();
          const primary = nodes.find((n) => n.master && owns(n, slot));
          return nodes.find((n) => primary !== undefined && n.replicaOf === primary.id);
        },
        (found) => found !== undefined,
        { timeoutMs: 15_000, what: 'a replica of the primary serving the slot' },
      ).then((found) => found!);
      // A coordinated failover (the replica catches up with the primary first), as an operator
      // does for maintenance; ioredis follows the MOVED replies to the new primary.
      await direct(replica.port).call('CLUSTER', 'FAILOVER');
      let asked = Date.now();
      const deadline = asked + 40_000;
      while (!(await topology()).some((n) => n.id === replica.id && n.master && owns(n, slot))) {
        if (Date.now() > deadline) throw new Error('the replica did not take over');
        // A manual failover that timed out (the replica was still catching up) is asked again.
        if (Date.now() - asked > 8000) {
          await direct(replica.port).call('CLUSTER', 'FAILOVER');
          asked = Date.now();
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 300));
      await expectExactTotal(load, registries, prefix);
    });
  }
});

describe('the CLI against a Redis Cluster (--cluster)', () => {
  const cli = (...args: string[]) => runTs('src/cli.ts', args, { timeoutMs: 20_000 });

  it('inspects, serves and purges a shardBy "metric" prefix spread over the primaries', async () => {
    const prefix = randomPrefix('cli');
    const registry = clusterRegistry(prefix, { shardBy: 'metric' });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['q'], registry });
    new Gauge({ name: 'up', help: 'up', registry }).set(1);
    new Histogram({ name: 'lat', help: 'lat', buckets: [1], registry }).observe(0.5);
    jobs.inc({ q: 'a' }, 3);
    jobs.inc({ q: 'b' });
    await registry.flush();
    await registry.close({ keepGauges: true }); // its gauge is served below
    const node = `redis://127.0.0.1:${cluster.nodes[0]!.port}`;
    const flags = ['--redis', node, '--prefix', prefix, '--cluster'];

    const inspected = await cli('inspect', ...flags);
    expect(inspected.code, describeChild(inspected)).toBe(0);
    expect(inspected.stdout).toContain('3 families, 1 process');
    expect(inspected.stdout).toMatch(/^jobs\s+counter\s+2\s+labels q$/m);

    const exporter = startTs('src/cli.ts', ['serve', ...flags, '--port', '0']);
    try {
      const url = await pollUntil(
        () => /http:\/\/127\.0\.0\.1:\d+\/metrics/.exec(exporter.stderr())?.[0],
        (found) => found !== undefined,
        { timeoutMs: 15_000, what: 'the exporter announcing its URL' },
      );
      const body = await (await fetch(url!)).text();
      expect(sample(body, 'jobs_total{q="a"}')).toBe(3);
      expect(sample(body, 'lat_count')).toBe(1);
      expect(sample(body, 'up{gauge_index="0"}')).toBe(1);
    } finally {
      const stopped = await exporter.stop();
      expect(stopped.code, describeChild(stopped)).toBe(0);
    }

    const family = await cli('purge', ...flags, '--family', 'jobs', '--yes');
    expect(family.code, describeChild(family)).toBe(0);
    const all = await cli('purge', ...flags);
    expect(all.code, describeChild(all)).toBe(2);
    expect(all.stdout).not.toContain(':jobs}:f:');
    expect(all.stdout).toContain(`${prefix}:{${prefix}:lat}:f:lat`);
    const purged = await cli('purge', ...flags, '--yes');
    expect(purged.code, describeChild(purged)).toBe(0);
    const left = await Promise.all(cluster.nodes.map((n) => n.client().keys(`*${prefix}*`)));
    expect(left.flat()).toEqual([]);
  });
});
