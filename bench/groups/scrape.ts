/**
 * scrape: `registry.metrics()` reading N series from Redis and formatting them, beside
 * prom-client's `registry.metrics()` formatting the same series from memory, alternating rounds
 * in this process. The library's reader is a separate registry without metrics of its own (a
 * standalone exporter), so it measures the read and the formatting only.
 */
import * as prom from 'prom-client';
import type { Redis } from 'ioredis';
import { Counter, Histogram, Registry } from '../../src/index.js';
import { Keys } from '../../src/redis/keys.js';
import type { GroupContext, GroupResult } from '../lib/group.js';
import { Latencies, distributionRow, measure, median, type Measured } from '../lib/measure.js';
import { benchPrefix, connect, deleteKeys, prefixPattern, scriptUsec } from '../lib/redis.js';
import type { Row, Table } from '../lib/table.js';
import { LABEL_NAMES, labelSet, THREE_OBSERVATIONS } from '../lib/workload.js';

type Kind = 'counter' | 'histogram';

interface Prepared {
  readonly reader: Registry;
  readonly peer: prom.Registry;
  readonly prefix: string;
  /** Sample lines each output must have (checked every round). */
  readonly samples: number;
}

async function prepare(context: GroupContext, kind: Kind, size: number): Promise<Prepared> {
  const prefix = benchPrefix('scrape');
  const writer = new Registry({
    redis: context.redisUrl,
    prefix,
    flushIntervalMs: 3_600_000,
    flushThreshold: 1_000_000_000,
    maxSeriesPerMetric: size,
    selfMetrics: false,
  });
  const peer = new prom.Registry();
  const labelNames = [...LABEL_NAMES];
  let samples: number;
  if (kind === 'counter') {
    const lib = new Counter({
      name: 'bench_scrape_total',
      help: 'Scrape benchmark.',
      labelNames,
      registry: writer,
    });
    const other = new prom.Counter({
      name: 'bench_scrape_total',
      help: 'Scrape benchmark.',
      labelNames,
      registers: [peer],
    });
    for (let i = 0; i < size; i++) {
      const labels = labelSet(i);
      lib.inc(labels, i + 1);
      other.inc(labels, i + 1);
    }
    samples = size;
  } else {
    // Default buckets (11 bounds + Inf) on both sides: 14 samples per series.
    const lib = new Histogram({
      name: 'bench_scrape_seconds',
      help: 'Scrape benchmark.',
      labelNames,
      registry: writer,
    });
    const other = new prom.Histogram({
      name: 'bench_scrape_seconds',
      help: 'Scrape benchmark.',
      labelNames,
      registers: [peer],
    });
    for (let i = 0; i < size; i++) {
      const labels = labelSet(i);
      for (const v of THREE_OBSERVATIONS) {
        lib.observe(labels, v);
        other.observe(labels, v);
      }
    }
    samples = size * (11 + 3);
  }
  await writer.close();
  const reader = new Registry({
    redis: context.redisUrl,
    prefix,
    selfMetrics: false,
    flushIntervalMs: 3_600_000,
  });
  return { reader, peer, prefix, samples };
}

function sampleLines(text: string): number {
  let lines = 0;
  let comments = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  for (let i = text.indexOf('# '); i >= 0; i = text.indexOf('\n# ', i + 1)) comments++;
  return lines - comments;
}

interface SizeResult {
  readonly kind: Kind;
  readonly size: number;
  readonly lib: readonly Measured<string>[];
  readonly peer: readonly Measured<string>[];
  readonly libBytes: number;
  readonly peerBytes: number;
  /** Server-side time of the read script per scrape (INFO commandstats), ms. */
  readonly redisMs: number;
  /** The floor: the family hash's fields moved to Node by bare HSCAN pages, nothing parsed. */
  readonly floor: readonly Measured<number>[];
}

/** Pages of the floor's HSCAN (the library's page size for counters). */
const FLOOR_COUNT = 500;

/**
 * Every field and value of `key` brought to this process by HSCAN pages of FLOOR_COUNT, as
 * Buffers (no string decoding, no parsing): what reading the family from Redis costs at the
 * least through ioredis, whatever is done with it after. Resolves with the fields seen.
 */
async function bareScan(redis: Redis, key: string): Promise<number> {
  let cursor = '0';
  let fields = 0;
  do {
    const [next, flat] = await redis.hscanBuffer(key, cursor, 'COUNT', FLOOR_COUNT);
    cursor = next.toString();
    fields += flat.length / 2;
  } while (cursor !== '0');
  return fields;
}

async function measureSize(
  context: GroupContext,
  kind: Kind,
  size: number,
  rounds: number,
): Promise<SizeResult> {
  const { reader, peer, prefix, samples } = await prepare(context, kind, size);
  const check = (who: string, text: string): void => {
    const found = sampleLines(text);
    if (found !== samples) throw new Error(`scrape: ${who} output has ${found} samples, expected ${samples}`);
  };
  // Warm-up round of each, unmeasured.
  check('library', await reader.metrics());
  check('prom-client', await peer.metrics());
  const lib: Measured<string>[] = [];
  const other: Measured<string>[] = [];
  const floor: Measured<number>[] = [];
  const admin = connect(context.redisUrl);
  const familyKey = new Keys(prefix).family(kind === 'counter' ? 'bench_scrape' : 'bench_scrape_seconds');
  if ((await bareScan(admin, familyKey)) < samples / (kind === 'counter' ? 1 : 14)) {
    throw new Error(`scrape: the floor's key ${familyKey} does not hold the family`);
  }
  let redisUsec = 0;
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always runs right after the other's garbage.
    const pair = [
      async () => {
        const before = await scriptUsec(admin);
        lib.push(await measure(() => reader.metrics()));
        redisUsec += (await scriptUsec(admin)) - before;
      },
      async () => other.push(await measure(() => peer.metrics())),
      async () => floor.push(await measure(() => bareScan(admin, familyKey))),
    ];
    // Rotate which goes first, so none always runs right after another's garbage.
    for (let i = 0; i < r % 3; i++) pair.push(pair.shift()!);
    for (const step of pair) await step();
  }
  for (const m of lib) check('library', m.value);
  for (const m of other) check('prom-client', m.value);
  const libBytes = Buffer.byteLength(lib[0]!.value);
  const peerBytes = Buffer.byteLength(other[0]!.value);
  await reader.close();
  await deleteKeys(admin, prefixPattern(prefix));
  admin.disconnect();
  return { kind, size, lib, peer: other, libBytes, peerBytes, redisMs: redisUsec / 1000 / rounds, floor };
}

export async function run(context: GroupContext): Promise<GroupResult> {
  const { counters, histograms } = context.config.scrape;
  const results: SizeResult[] = [];
  for (const [kind, list] of [
    ['counter', counters],
    ['histogram', histograms],
  ] as const) {
    for (const { size, rounds } of list) {
      context.log(`scrape: ${size.toLocaleString('en-US')} ${kind} series × ${rounds} rounds`);
      results.push(await measureSize(context, kind, size, rounds));
    }
  }

  const figures: Record<string, number | boolean | null> = {};
  const rows: Row[] = [];
  const distribution: Row[] = [];
  for (const r of results) {
    const libMs = median(r.lib.map((m) => m.ms));
    const peerMs = median(r.peer.map((m) => m.ms));
    const libStall = Math.max(...r.lib.map((m) => m.stallMs));
    const peerStall = Math.max(...r.peer.map((m) => m.stallMs));
    const libCpu = median(r.lib.map((m) => m.cpuMs));
    const peerCpu = median(r.peer.map((m) => m.cpuMs));
    const floorMs = median(r.floor.map((m) => m.ms));
    rows.push({
      ratio: libMs / peerMs,
      kind: r.kind,
      series: r.size,
      libMs,
      peerMs,
      libCpu,
      peerCpu,
      libStall,
      peerStall,
      libBytes: r.libBytes,
      peerBytes: r.peerBytes,
      redisMs: r.redisMs,
      floorMs,
      floorRatio: floorMs / peerMs,
    });
    const latencies = new Latencies();
    for (const m of r.lib) latencies.recordMs(m.ms);
    distribution.push(distributionRow(r.kind, r.size, latencies));
    const id = `${r.kind}.${r.size}`;
    figures[`${id}.ratio`] = libMs / peerMs;
    figures[`${id}.lib_ms`] = libMs;
    figures[`${id}.peer_ms`] = peerMs;
    figures[`${id}.lib_cpu_ms`] = libCpu;
    figures[`${id}.peer_cpu_ms`] = peerCpu;
    figures[`${id}.stall_ms`] = libStall;
    figures[`${id}.peer_stall_ms`] = peerStall;
    figures[`${id}.lib_bytes`] = r.libBytes;
    figures[`${id}.redis_ms`] = r.redisMs;
    figures[`${id}.peer_bytes`] = r.peerBytes;
    figures[`${id}.floor_ms`] = floorMs;
    figures[`${id}.floor_ratio`] = floorMs / peerMs;
  }
  const main: Table = {
    id: 'scrape',
    title: "scrape — registry.metrics() from Redis vs prom-client's metrics() from memory",
    columns: [
      { key: 'ratio', header: 'ratio (lib/peer time)', format: 'ratio' },
      { key: 'kind', header: 'series kind', format: 'text' },
      { key: 'series', header: 'series', format: 'int' },
      { key: 'libMs', header: 'lib', format: 'ms' },
      { key: 'peerMs', header: 'prom-client', format: 'ms' },
      { key: 'libCpu', header: 'lib CPU', format: 'ms' },
      { key: 'peerCpu', header: 'prom-client CPU', format: 'ms' },
      { key: 'libStall', header: 'lib max stall', format: 'ms' },
      { key: 'peerStall', header: 'prom-client max stall', format: 'ms' },
      { key: 'libBytes', header: 'lib output', format: 'bytes' },
      { key: 'peerBytes', header: 'prom-client output', format: 'bytes' },
      { key: 'redisMs', header: 'Redis script time', format: 'ms' },
      { key: 'floorMs', header: 'bare HSCAN', format: 'ms' },
      { key: 'floorRatio', header: 'bare HSCAN/peer', format: 'ratio' },
    ],
    rows,
    notes: [
      'Medians of alternating rounds after one warm-up each; every output is checked for the expected number of samples.',
      `bare HSCAN = the floor of any scrape from Redis through ioredis: the family hash's fields brought to this process by HSCAN pages of ${FLOOR_COUNT} as Buffers, nothing decoded or parsed (measured in the same rotation). A ratio target below bare HSCAN/peer is out of reach for a reader of this layout.`,
      'Histograms use the default 11 buckets on both sides. CPU = Node CPU of this process during the call; Redis script time = server-side time of the page script calls of one scrape, all pages together (INFO commandstats).',
      'stall = longest event-loop gap during the call (monitorEventLoopDelay and a 1 ms interval, 1 ms resolution).',
      'A stall also counts time the OS gave both cores to other processes: compare the load average in the environment table.',
    ],
  };
  const dist: Table = {
    id: 'scrape-latency',
    title: 'scrape — duration distribution of the library scrape (HdrHistogram)',
    columns: [
      { key: 'kind', header: 'series kind', format: 'text' },
      { key: 'series', header: 'series', format: 'int' },
      { key: 'rounds', header: 'rounds', format: 'int' },
      { key: 'p50', header: 'p50', format: 'ms' },
      { key: 'p99', header: 'p99', format: 'ms' },
      { key: 'p999', header: 'p99.9', format: 'ms' },
      { key: 'max', header: 'max', format: 'ms' },
    ],
    rows: distribution,
  };
  return { group: 'scrape', tables: [main, dist], figures };
}
