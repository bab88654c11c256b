/**
 * Metric metadata in Redis: stored at registration so any process can render any family, and
 * guarded so that two processes disagreeing on a family's shape never corrupt each other's data.
 */
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CommonGauge,
  Counter,
  Gauge,
  Histogram,
  MetadataConflictError,
  Registry,
  Summary,
} from '../../src/index.js';
import { randomPrefix, redisUrl, samples, useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();
/** A registry on the shared server, closed (and its keys purged) after the test. */
const make = registries.make;
let redis: Redis;
beforeAll(() => {
  redis = registries.redis;
});

/** The lines of one family (from its HELP line to the next family) in a text exposition. */
function family(text: string, name: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`# HELP ${name} `));
  if (start < 0) return '';
  let end = start + 1;
  while (end < lines.length && !lines[end]!.startsWith('# HELP ') && lines[end] !== '') end++;
  return `${lines.slice(start, end).join('\n')}\n`;
}

const metaKey = (prefix: string): string => `{${prefix}}:meta`;

describe('metadata in Redis', () => {
  it('is stored at the first flush, even for a metric that records nothing', async () => {
    const { registry, prefix, errors } = make();
    new Counter({ name: 'idle_total', help: 'Never used', labelNames: ['a', 'b'], registry });
    new Histogram({ name: 'idle_seconds', help: 'Never used', buckets: [1, 0.5], unit: 'seconds', registry });
    await registry.flush();
    const stored = await redis.hget(metaKey(prefix), 'idle');
    expect(stored).not.toBeNull();
    expect(JSON.parse(stored!.slice(stored!.indexOf('\n') + 1))).toMatchObject({
      v: 1,
      name: 'idle',
      kind: 'counter',
      help: 'Never used',
      labelNames: ['a', 'b'],
    });
    const hist = await redis.hget(metaKey(prefix), 'idle_seconds');
    expect(JSON.parse(hist!.slice(hist!.indexOf('\n') + 1))).toMatchObject({
      kind: 'histogram',
      buckets: [0.5, 1],
      unit: 'seconds',
    });
    const reader = make({ prefix });
    expect(await reader.registry.metrics()).toBe(
      [
        '# HELP idle_total Never used',
        '# TYPE idle_total counter',
        '# HELP idle_seconds Never used',
        '# TYPE idle_seconds histogram',
        'idle_seconds_bucket{le="0.5"} 0',
        'idle_seconds_bucket{le="1"} 0',
        'idle_seconds_bucket{le="+Inf"} 0',
        'idle_seconds_sum 0',
        'idle_seconds_count 0',
        '',
      ].join('\n'),
    );
    expect(errors).toEqual([]);
  });

  it('lets a standalone reader without the application’s code render every family, and it writes nothing', async () => {
    const writer = make();
    const { registry } = writer;
    new Counter({ name: 'c_total', help: 'C', labelNames: ['k'], registry }).inc({ k: 'v' }, 3);
    new Gauge({ name: 'g', help: 'G', labelNames: ['k'], registry }).set({ k: 'v' }, 4);
    new CommonGauge({ name: 'cg', help: 'CG', expireSeconds: 300, registry }).set(5);
    new Histogram({ name: 'h_seconds', help: 'H', buckets: [0.1, 1], unit: 'seconds', registry }).observe(
      0.5,
    );
    new Summary({ name: 's', help: 'S', labelNames: ['k'], registry }).observe({ k: 'v' }, 6);
    await registry.flush();
    const text = await registry.metrics();
    const openMetrics = await registry.metrics({ format: 'openmetrics' });
    await registry.close({ keepGauges: true }); // the reader below renders its gauge too

    const keysBefore = (await redis.keys(`{${writer.prefix}}:*`)).sort();
    const metaBefore = await redis.hgetall(metaKey(writer.prefix));
    // Exactly how an exporter process would be set up: only a connection and the prefix.
    const reader = new Registry({ redis: redisUrl(), prefix: writer.prefix });
    registries.track(reader, writer.prefix);
    // It defines nothing but the library's own self-metrics (on by default).
    expect(reader.getMetricNames().filter((n) => !n.startsWith('prometheus_redis_client_'))).toEqual([]);
    expect(await reader.metrics()).toBe(text);
    expect(await reader.metrics({ format: 'openmetrics' })).toBe(openMetrics);
    expect(text).toContain('c_total{k="v"} 3\n');
    expect(text).toContain('g{k="v",gauge_index="0"} 4\n');
    expect(text).toContain('cg 5\n');
    expect(text).toContain('h_seconds_bucket{le="1"} 1\n');
    expect(text).toContain('s_count{k="v"} 1\n');
    expect(openMetrics).toContain('# UNIT h_seconds seconds\n');
    await reader.flush();
    expect((await redis.keys(`{${writer.prefix}}:*`)).sort()).toEqual(keysBefore);
    expect(await redis.hgetall(metaKey(writer.prefix))).toEqual(metaBefore);
  });

  it('lets a registry with different code read everything, including its own families', async () => {
    const prefix = randomPrefix('md');
    const a = make({ prefix });
    const b = make({ prefix });
    new Counter({ name: 'only_a_total', help: 'a', registry: a.registry }).inc();
    new Gauge({ name: 'only_b', help: 'b', registry: b.registry }).set(2);
    await a.registry.flush();
    const text = await b.registry.metrics();
    expect(samples(text)).toEqual(
      new Map([
        ['only_a_total', 1],
        ['only_b{gauge_index="0"}', 2],
      ]),
    );
  });

  it('takes the latest HELP text without a conflict (HELP may change between deployments)', async () => {
    const prefix = randomPrefix('md');
    const old = make({ prefix });
    const next = make({ prefix });
    new Counter({ name: 'deploys_total', help: 'Old help', registry: old.registry }).inc();
    await old.registry.flush();
    new Counter({ name: 'deploys_total', help: 'New help', registry: next.registry }).inc();
    await next.registry.flush();
    expect(await old.registry.metrics()).toBe(
      '# HELP deploys_total New help\n# TYPE deploys_total counter\ndeploys_total 2\n',
    );
    expect([...old.errors, ...next.errors]).toEqual([]);
  });

  it('keeps prefixes apart: the same name may have different shapes under two prefixes', async () => {
    const a = make();
    const b = make();
    new Counter({ name: 'x', help: 'x', registry: a.registry }).inc();
    new Gauge({ name: 'x', help: 'x', labelNames: ['k'], registry: b.registry }).set({ k: 'v' }, 1);
    await a.registry.flush();
    await b.registry.flush();
    expect(samples(await a.registry.metrics())).toEqual(new Map([['x_total', 1]]));
    expect(samples(await b.registry.metrics())).toEqual(new Map([['x{k="v",gauge_index="0"}', 1]]));
    expect([...a.errors, ...b.errors]).toEqual([]);
  });
});

describe('metadata conflicts between processes', () => {
  type Define = (registry: Registry) => () => void;
  const cases: Array<{ what: string; first: Define; second: Define }> = [
    {
      what: 'a different type',
      first: (registry) => {
        const c = new Counter({ name: 'x', help: 'x', registry });
        return () => c.inc(2);
      },
      second: (registry) => {
        const g = new Gauge({ name: 'x', help: 'x', registry });
        return () => g.set(99);
      },
    },
    {
      what: 'different label names',
      first: (registry) => {
        const c = new Counter({ name: 'x', help: 'x', labelNames: ['a'], registry });
        return () => c.inc({ a: '1' });
      },
      second: (registry) => {
        const c = new Counter({ name: 'x', help: 'x', labelNames: ['b'], registry });
        return () => c.inc({ b: '1' }, 50);
      },
    },
    {
      what: 'the same label names in another order',
      first: (registry) => {
        const c = new Counter({ name: 'x', help: 'x', labelNames: ['a', 'b'], registry });
        return () => c.inc({ a: '1', b: '2' });
      },
      second: (registry) => {
        const c = new Counter({ name: 'x', help: 'x', labelNames: ['b', 'a'], registry });
        return () => c.inc({ a: '1', b: '2' }, 50);
      },
    },
    {
      what: 'different buckets',
      first: (registry) => {
        const h = new Histogram({ name: 'x', help: 'x', buckets: [1, 2], registry });
        return () => h.observe(1.5);
      },
      second: (registry) => {
        const h = new Histogram({ name: 'x', help: 'x', buckets: [1, 3], registry });
        return () => h.observe(2.5);
      },
    },
    {
      what: 'a summary instead of a histogram',
      first: (registry) => {
        const h = new Histogram({ name: 'x', help: 'x', buckets: [1], registry });
        return () => h.observe(0.5);
      },
      second: (registry) => {
        const s = new Summary({ name: 'x', help: 'x', registry });
        return () => s.observe(7);
      },
    },
    {
      what: 'a different CommonGauge expiry',
      first: (registry) => {
        const g = new CommonGauge({ name: 'x', help: 'x', expireSeconds: 100, registry });
        return () => g.inc();
      },
      second: (registry) => {
        const g = new CommonGauge({ name: 'x', help: 'x', expireSeconds: 200, registry });
        return () => g.set(42);
      },
    },
  ];

  it.each(cases)(
    'registering "x" with $what reports a MetadataConflictError and drops only those writes',
    async ({ first, second }) => {
      const prefix = randomPrefix('mc');
      const a = make({ prefix });
      const b = make({ prefix });
      const reader = make({ prefix });
      const recordA = first(a.registry);
      recordA();
      await a.registry.flush();
      const xFamily = (text: string): string => family(text, 'x') + family(text, 'x_total');
      const before = xFamily(await reader.registry.metrics());
      expect(before).not.toBe('');

      const other = new Counter({ name: 'unrelated_total', help: 'u', registry: b.registry });
      const recordB = second(b.registry);
      other.inc(4);
      recordB();
      const rejection = await b.registry.flush().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(rejection).toBeInstanceOf(MetadataConflictError);
      const conflicts = b.errors.filter((e) => e instanceof MetadataConflictError);
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]).toMatchObject({ metric: 'x' });
      expect(conflicts[0]!.stored).not.toBe(conflicts[0]!.wanted);
      expect(conflicts[0]!.message).toContain('"x"');

      let text = await reader.registry.metrics();
      expect(xFamily(text)).toBe(before);
      expect(samples(text).get('unrelated_total')).toBe(4);

      // Later writes of the conflicting family stay dropped; other families keep flowing.
      recordB();
      other.inc();
      await b.registry.flush().catch(() => undefined);
      text = await reader.registry.metrics();
      expect(xFamily(text)).toBe(before);
      expect(samples(text).get('unrelated_total')).toBe(5);

      // The first process is unaffected.
      recordA();
      await a.registry.flush();
      expect(xFamily(await reader.registry.metrics())).not.toBe(before);
      expect(a.errors).toEqual([]);
    },
  );

  it('does not overwrite a foreign metadata entry of the same name', async () => {
    const { registry, prefix, errors } = make();
    await redis.hset(metaKey(prefix), 'x', 'not ours');
    const c = new Counter({ name: 'x', help: 'x', registry });
    new Counter({ name: 'y', help: 'y', registry }).inc();
    c.inc();
    await expect(registry.flush()).rejects.toBeInstanceOf(MetadataConflictError);
    expect(errors.some((e) => e instanceof MetadataConflictError)).toBe(true);
    expect(await redis.hget(metaKey(prefix), 'x')).toBe('not ours');
    expect(await redis.exists(`{${prefix}}:f:x`)).toBe(0);
    expect(samples(await registry.metrics()).get('y_total')).toBe(1);
  });

  it('rejects a family whose sample names clash with another process’s family (x vs x_count)', async () => {
    const prefix = randomPrefix('mc');
    const a = make({ prefix });
    const b = make({ prefix });
    new Summary({ name: 'x', help: 's', registry: a.registry }).observe(1);
    await a.registry.flush();
    new Gauge({ name: 'x_count', help: 'g', registry: b.registry }).set(7);
    await expect(b.registry.flush()).rejects.toBeInstanceOf(MetadataConflictError);
    const lines = (await a.registry.metrics()).split('\n').filter((l) => /^x_count[ {]/.test(l));
    expect(lines).toEqual(['x_count 1']);
  });
});

describe('unreadable metadata', () => {
  it('reports a corrupt or newer-layout entry through onError and renders the other families', async () => {
    const { registry, prefix, errors } = make();
    new Counter({ name: 'fine_total', help: 'f', registry }).inc(3);
    await registry.flush();
    await redis.hset(metaKey(prefix), 'garbage', 'garbage');
    await redis.hset(metaKey(prefix), 'nojson', 'v1|counter|||\n{not json');
    await redis.hset(
      metaKey(prefix),
      'future',
      'v2|counter|||\n{"v":2,"name":"future","kind":"counter","help":"f","labelNames":[]}',
    );
    await redis.hset(`{${prefix}}:f:future`, '', '1');
    const text = await registry.metrics();
    expect(text).toBe('# HELP fine_total f\n# TYPE fine_total counter\nfine_total 3\n');
    const messages = errors.map((e) => e.message).join('\n');
    expect(messages).toContain('"garbage"');
    expect(messages).toContain('"nojson"');
    expect(messages).toContain('"future"');
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    // A reader process gets the same result.
    const reader = make({ prefix });
    expect(await reader.registry.metrics()).toBe(text);
    expect(reader.errors).toHaveLength(3);
  });

  it('reports and skips an entry of the right version but the wrong structure', async () => {
    const { registry, prefix, errors } = make();
    new Counter({ name: 'fine_total', help: 'f', registry }).inc(3);
    await registry.flush();
    await redis.hset(metaKey(prefix), 'weird', 'v1|counter|||\n{"v":1}');
    const text = await registry.metrics();
    expect(text).toBe('# HELP fine_total f\n# TYPE fine_total counter\nfine_total 3\n');
    expect(errors.map((e) => e.message).join('\n')).toContain('"weird"');
  });

  it('serves the other families when one family key holds the wrong type', async () => {
    const { registry, prefix, errors } = make();
    new Counter({ name: 'fine_total', help: 'f', registry }).inc(3);
    new Counter({ name: 'broken_total', help: 'b', registry }).inc(1);
    await registry.flush();
    await redis.del(`{${prefix}}:f:broken`);
    await redis.set(`{${prefix}}:f:broken`, 'not a hash');
    const text = await registry.metrics();
    expect(samples(text).get('fine_total')).toBe(3);
    expect(errors.map((e) => e.message).join('\n')).toContain('WRONGTYPE');
  });
});
