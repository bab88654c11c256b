/**
 * cluster: flushing into the local 3-primary Redis Cluster with `shardBy: "registry"` (every key
 * of the registry in one slot, one script call per flush) beside `shardBy: "metric"` (one slot
 * per family: a control call, then one call per family, all at once). Starts its own cluster.
 *
 * On a 2-core machine the three Redis primaries and this Node process share the same cores, so
 * wall time says little about what a cluster of real machines sustains. The figure that carries
 * over is the CPU time of the busiest primary per flush (INFO cpu on each node; not script wall
 * time, which counts the time a primary waits for a core): a cluster's flush capacity is bounded
 * by its busiest primary's one thread.
 */
import type { Redis } from 'ioredis';
import { Counter, Registry } from '../../src/index.js';
import { startRedisCluster, type RedisClusterHandle } from '../../test/support/redis-cluster.js';
import type { GroupContext, GroupResult } from '../lib/group.js';
import { measure, median, type Measured } from '../lib/measure.js';
import { benchPrefix } from '../lib/redis.js';
import type { Row, Table } from '../lib/table.js';
import { LABEL_NAMES, labelSet } from '../lib/workload.js';

type ShardBy = 'registry' | 'metric';

/** CPU time (µs, user + system) and script calls of every primary so far. */
async function primaryStats(nodes: readonly Redis[]): Promise<Array<{ usec: number; calls: number }>> {
  return Promise.all(
    nodes.map(async (node) => {
      const info = await node.info('all');
      let calls = 0;
      for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(m[1]);
      const cpu = (field: string): number => Number(new RegExp(`${field}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
      return { usec: (cpu('used_cpu_user') + cpu('used_cpu_sys')) * 1e6, calls };
    }),
  );
}

/** The primaries (nodes serving slots), each as a direct connection. */
async function primaries(cluster: RedisClusterHandle): Promise<Redis[]> {
  const nodes: Redis[] = [];
  for (const node of cluster.nodes) {
    const client = node.client();
    const role = (await client.call('ROLE')) as [string, ...unknown[]];
    if (role[0] === 'master') nodes.push(client);
  }
  return nodes;
}

interface Run {
  readonly shardBy: ShardBy;
  readonly families: number;
  readonly series: number;
  readonly measured: readonly Measured<void>[];
  /** CPU ms per flush on each primary. */
  readonly perNodeMs: readonly number[];
  readonly callsPerFlush: number;
}

async function measureRun(
  cluster: RedisClusterHandle,
  nodes: readonly Redis[],
  shardBy: ShardBy,
  families: number,
  perFamily: number,
  rounds: number,
): Promise<Run> {
  const errors: Error[] = [];
  const registry = new Registry({
    redis: cluster.client(),
    prefix: benchPrefix('cluster'),
    shardBy,
    flushIntervalMs: 3_600_000,
    flushThreshold: 1_000_000_000,
    selfMetrics: false,
    onError: (error) => errors.push(error),
  });
  const children = Array.from({ length: families }, (_, f) => {
    const counter = new Counter({
      name: `bench_cluster_${f}_total`,
      help: 'Cluster benchmark.',
      labelNames: [...LABEL_NAMES],
      registry,
    });
    return Array.from({ length: perFamily }, (_, i) => counter.labels(labelSet(i)));
  }).flat();
  const dirty = (): void => {
    for (const child of children) child.inc();
  };
  // Warm-up: metadata, every field created, scripts loaded on every primary, encoder optimized.
  dirty();
  await registry.flush();
  dirty();
  await registry.flush();
  const before = await primaryStats(nodes);
  const measured: Measured<void>[] = [];
  for (let r = 0; r < rounds; r++) {
    dirty();
    measured.push(await measure(() => registry.flush()));
    if (registry.flushStats.lastSeries < children.length) {
      throw new Error(`flush carried ${registry.flushStats.lastSeries} series, expected ${children.length}`);
    }
  }
  const after = await primaryStats(nodes);
  await registry.close();
  if (errors.length > 0) throw errors[0]!;
  const calls = after.reduce((n, s, i) => n + s.calls - before[i]!.calls, 0);
  return {
    shardBy,
    families,
    series: children.length,
    measured,
    perNodeMs: after.map((s, i) => (s.usec - before[i]!.usec) / 1000 / rounds),
    callsPerFlush: calls / rounds,
  };
}

export async function run(context: GroupContext): Promise<GroupResult> {
  const { workloads } = context.config.cluster;
  context.log('cluster: starting a 3-primary Redis Cluster');
  const cluster = await startRedisCluster(3, 0);
  const rows: Row[] = [];
  const figures: Record<string, number | boolean | null> = {};
  try {
    const nodes = await primaries(cluster);
    for (const { families, seriesPerFamily, rounds } of workloads) {
      const byMode = new Map<ShardBy, Run>();
      for (const shardBy of ['registry', 'metric'] as const) {
        context.log(
          `cluster: shardBy ${shardBy}, ${families} families × ${seriesPerFamily.toLocaleString('en-US')} series × ${rounds} rounds`,
        );
        byMode.set(shardBy, await measureRun(cluster, nodes, shardBy, families, seriesPerFamily, rounds));
      }
      for (const r of byMode.values()) {
        const ms = median(r.measured.map((m) => m.ms));
        const busiest = Math.max(...r.perNodeMs);
        const total = r.perNodeMs.reduce((a, b) => a + b, 0);
        const capacity = r.series / (busiest / 1000);
        const single = byMode.get('registry')!;
        const singleCapacity = single.series / (Math.max(...single.perNodeMs) / 1000);
        const id = `${r.shardBy}.${r.families}x${r.series / r.families}`;
        rows.push({
          shardBy: r.shardBy,
          families: r.families,
          series: r.series,
          calls: r.callsPerFlush,
          flushMs: ms,
          seriesPerS: r.series / (ms / 1000),
          cpuUs: (median(r.measured.map((m) => m.cpuMs)) * 1000) / r.series,
          totalMs: total,
          busiestMs: busiest,
          share: busiest / total,
          capacity,
          vsSingle: capacity / singleCapacity,
        });
        figures[`${id}.flush_ms`] = ms;
        figures[`${id}.series_per_s`] = r.series / (ms / 1000);
        figures[`${id}.calls_per_flush`] = r.callsPerFlush;
        figures[`${id}.redis_cpu_total_ms`] = total;
        figures[`${id}.redis_cpu_busiest_ms`] = busiest;
        figures[`${id}.capacity_series_per_s`] = capacity;
        figures[`${id}.capacity_vs_single_slot`] = capacity / singleCapacity;
      }
    }
    for (const node of nodes) node.disconnect();
  } finally {
    await cluster.stop();
  }
  const table: Table = {
    id: 'cluster',
    title:
      'cluster — flushing into a local 3-primary Redis Cluster: one slot per registry vs one slot per family',
    columns: [
      { key: 'vsSingle', header: 'capacity vs one slot', format: 'ratio' },
      { key: 'shardBy', header: 'shardBy', format: 'text' },
      { key: 'families', header: 'families', format: 'int' },
      { key: 'series', header: 'series', format: 'int' },
      { key: 'calls', header: 'script calls/flush', format: 'int' },
      { key: 'flushMs', header: 'flush (wall)', format: 'ms' },
      { key: 'seriesPerS', header: 'series/s (wall)', format: 'rate' },
      { key: 'cpuUs', header: 'Node CPU/series', format: 'us' },
      { key: 'totalMs', header: 'Redis CPU, all primaries', format: 'ms' },
      { key: 'busiestMs', header: 'Redis CPU, busiest primary', format: 'ms' },
      { key: 'share', header: 'busiest share', format: 'pct' },
      { key: 'capacity', header: 'cluster capacity, series/s', format: 'rate' },
    ],
    rows,
    notes: [
      'Every round increments every series (counters with 3 labels) and calls flush(); figures are per flush (median wall time, mean Redis CPU).',
      'Redis CPU = used_cpu_user + used_cpu_sys (INFO cpu) of each primary over the measured rounds, per flush: scripts, parsing and networking, not time spent waiting for a core.',
      'cluster capacity = series per flush ÷ the busiest primary’s CPU per flush: the series/s at which that primary’s one thread would be saturated. capacity vs one slot compares it with shardBy "registry" on the same workload.',
      'Wall time and Node CPU are of one process on 2 cores shared with all three primaries: they show the cost of more round trips, not what a cluster of real machines sustains.',
      'How families spread depends on their names’ hash slots: with few families one primary can get more than its third (busiest share).',
    ],
  };
  return { group: 'cluster', tables: [table], figures };
}
