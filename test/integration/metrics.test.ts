/**
 * Every metric type end to end against a real Redis: record in one or more registries (each one
 * behaves as a separate process), flush explicitly, and read the merged exposition back.
 */
import type { Redis } from 'ioredis';
import { Histogram as PromHistogram, Registry as PromRegistry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CommonGauge,
  Counter,
  DEFAULT_BUCKETS,
  Gauge,
  Histogram,
  OPENMETRICS_CONTENT_TYPE,
  Summary,
  TEXT_CONTENT_TYPE,
  type RegistryOptions,
} from '../../src/index.js';
import { randomPrefix, samples, testRegistry, until, useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();
/** A registry on the shared server, closed (and its keys purged) after the test. */
const make = registries.make;
let redis: Redis;
beforeAll(() => {
  redis = registries.redis;
});

/** `n` registries sharing one prefix: `n` processes of one application. */
function processes(n: number, options: RegistryOptions = {}): Array<ReturnType<typeof testRegistry>> {
  const prefix = options.prefix ?? randomPrefix('m');
  return Array.from({ length: n }, () => make({ ...options, prefix }));
}

/** The lines of one family (HELP, TYPE and samples) in a text-format exposition. */
function family(text: string, name: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(lines.find((l) => l.startsWith(`# HELP ${name} `)) ?? '\u0000');
  if (start < 0) return '';
  let end = start + 1;
  while (end < lines.length && !lines[end]!.startsWith('# HELP ') && lines[end] !== '') end++;
  return `${lines.slice(start, end).join('\n')}\n`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Counter', () => {
  it('exports a counter without labels as 0 after the first flush, then its total', async () => {
    const { registry, errors } = make();
    const c = new Counter({ name: 'jobs_total', help: 'Jobs done', registry });
    expect(c.name).toBe('jobs');
    await registry.flush();
    expect(await registry.metrics()).toBe(
      '# HELP jobs_total Jobs done\n# TYPE jobs_total counter\njobs_total 0\n',
    );
    c.inc();
    c.inc(2.5);
    await registry.flush();
    expect(await registry.metrics()).toBe(
      '# HELP jobs_total Jobs done\n# TYPE jobs_total counter\njobs_total 3.5\n',
    );
    expect(errors).toEqual([]);
  });

  it('names `x` and `x_total` the same family, in one registry and across processes', async () => {
    const [a, b] = processes(2);
    const cx = new Counter({ name: 'hits', help: 'Hits', registry: a!.registry });
    expect(() => new Counter({ name: 'hits_total', help: 'Hits', registry: a!.registry })).toThrow(TypeError);
    const cxTotal = new Counter({ name: 'hits_total', help: 'Hits', registry: b!.registry });
    expect(a!.registry.getMetricNames()).toEqual(['hits']);
    expect(b!.registry.getMetricNames()).toEqual(['hits']);
    cx.inc(1);
    cxTotal.inc(2);
    await a!.registry.flush();
    await b!.registry.flush();
    expect(await a!.registry.metrics()).toBe(
      '# HELP hits_total Hits\n# TYPE hits_total counter\nhits_total 3\n',
    );
    expect([...a!.errors, ...b!.errors]).toEqual([]);
  });

  it('exports every child created by labels() as 0 and sorts series by label set', async () => {
    const { registry, errors } = make();
    const c = new Counter({ name: 'req_total', help: 'Requests', labelNames: ['method', 'code'], registry });
    c.inc({ method: 'POST', code: '500' }, 2);
    c.labels('GET', 200);
    c.labels({ method: 'GET', code: '404' }).inc();
    await registry.flush();
    expect(await registry.metrics()).toBe(
      [
        '# HELP req_total Requests',
        '# TYPE req_total counter',
        'req_total{method="GET",code="200"} 0',
        'req_total{method="GET",code="404"} 1',
        'req_total{method="POST",code="500"} 2',
        '',
      ].join('\n'),
    );
    expect(errors).toEqual([]);
  });

  it('sums increments from every process exactly', async () => {
    const procs = processes(3);
    for (const [i, { registry }] of procs.entries()) {
      const c = new Counter({ name: 'ops_total', help: 'Ops', labelNames: ['kind'], registry });
      const child = c.labels('bound');
      for (let n = 0; n < 10_000; n++) {
        child.inc();
        c.inc({ kind: 'inline' }, 0.5);
      }
      c.inc({ kind: `only-${i}` }, i + 1);
      // Flush in the middle too: several batches per process.
      await registry.flush();
      child.inc(10);
      await registry.flush();
    }
    const s = samples(await procs[0]!.registry.metrics());
    expect(s.get('ops_total{kind="bound"}')).toBe(30_030);
    expect(s.get('ops_total{kind="inline"}')).toBe(15_000);
    expect(s.get('ops_total{kind="only-2"}')).toBe(3);
    expect(procs.flatMap((p) => p.errors)).toEqual([]);
  });

  it('set(v) overwrites the total for every process; the last flush wins', async () => {
    const [a, b] = processes(2);
    const ca = new Counter({ name: 'total', help: 't', labelNames: ['k'], registry: a!.registry });
    const cb = new Counter({ name: 'total', help: 't', labelNames: ['k'], registry: b!.registry });
    ca.inc({ k: 'x' }, 10);
    await a!.registry.flush();
    cb.set({ k: 'x' }, 3);
    await b!.registry.flush();
    expect(samples(await a!.registry.metrics()).get('total_total{k="x"}')).toBe(3);
    ca.inc({ k: 'x' }, 1);
    await a!.registry.flush();
    expect(samples(await a!.registry.metrics()).get('total_total{k="x"}')).toBe(4);
    // Increments recorded after a set() in the same interval are added on top of it.
    const child = cb.labels('x');
    child.set(7);
    child.inc(2);
    await b!.registry.flush();
    expect(samples(await a!.registry.metrics()).get('total_total{k="x"}')).toBe(9);
  });

  it('remove(labels) deletes the series for every process at the next flush', async () => {
    const [a, b] = processes(2);
    const ca = new Counter({ name: 'q', help: 'q', labelNames: ['queue'], registry: a!.registry });
    const cb = new Counter({ name: 'q', help: 'q', labelNames: ['queue'], registry: b!.registry });
    ca.inc({ queue: 'a' }, 5);
    cb.inc({ queue: 'a' }, 2);
    cb.inc({ queue: 'b' }, 1);
    await a!.registry.flush();
    await b!.registry.flush();
    ca.remove({ queue: 'a' });
    await a!.registry.flush();
    let s = samples(await b!.registry.metrics());
    expect(s.has('q_total{queue="a"}')).toBe(false);
    expect(s.get('q_total{queue="b"}')).toBe(1);
    // A process that still records into the series starts it again from its new deltas.
    cb.inc({ queue: 'a' }, 1);
    await b!.registry.flush();
    s = samples(await a!.registry.metrics());
    expect(s.get('q_total{queue="a"}')).toBe(1);
    // A bound child of a removed series keeps working: its next write re-creates the series.
    const child = ca.labels('c');
    child.inc(4);
    await a!.registry.flush();
    ca.remove({ queue: 'c' });
    child.inc(2);
    await a!.registry.flush();
    expect(samples(await b!.registry.metrics()).get('q_total{queue="c"}')).toBe(2);
    // Positional remove works too.
    cb.remove('b');
    await b!.registry.flush();
    expect(samples(await a!.registry.metrics()).has('q_total{queue="b"}')).toBe(false);
  });

  it('reset() deletes every series of the family; an unlabelled counter restarts at 0', async () => {
    const [a, b] = processes(2);
    const la = new Counter({ name: 'labelled', help: 'l', labelNames: ['k'], registry: a!.registry });
    const lb = new Counter({ name: 'labelled', help: 'l', labelNames: ['k'], registry: b!.registry });
    const ua = new Counter({ name: 'plain', help: 'p', registry: a!.registry });
    la.inc({ k: '1' });
    lb.inc({ k: '2' });
    ua.inc(5);
    await a!.registry.flush();
    await b!.registry.flush();
    la.reset();
    ua.reset();
    await a!.registry.flush();
    const text = await b!.registry.metrics();
    expect(family(text, 'labelled_total')).toBe('# HELP labelled_total l\n# TYPE labelled_total counter\n');
    expect(samples(text).get('plain_total')).toBe(0);
  });

  it('rejects misuse at the call, synchronously', () => {
    const { registry } = make();
    const c = new Counter({ name: 'strict', help: 's', labelNames: ['a'], registry });
    const plain = new Counter({ name: 'strict_plain', help: 's', registry });
    expect(() => plain.inc(-1)).toThrow(RangeError);
    expect(() => plain.inc(NaN)).toThrow(RangeError);
    expect(() => plain.inc(Infinity)).toThrow(RangeError);
    expect(() => plain.set(-1)).toThrow(RangeError);
    expect(() => c.inc()).toThrow(TypeError);
    expect(() => c.inc({ b: 'x' } as unknown as { a: string })).toThrow(TypeError);
    expect(() => c.inc({ a: 'x', b: 'y' } as unknown as { a: string })).toThrow(TypeError);
    expect(() => c.labels()).toThrow(TypeError);
    expect(() => c.labels('x').inc(-2)).toThrow(RangeError);
  });

  it('renders OpenMetrics with `_total` samples and `# EOF`', async () => {
    const { registry } = make();
    const c = new Counter({ name: 'events_total', help: 'Events "seen"', registry });
    c.inc(2);
    await registry.flush();
    // `_created`: when the series was first flushed, by the server's clock (seconds, ms decimals).
    expect(await registry.metrics({ format: 'openmetrics' })).toMatch(
      /^# TYPE events counter\n# HELP events Events \\"seen\\"\nevents_total 2\nevents_created \d+(\.\d{1,3})?\n# EOF\n$/,
    );
    expect(registry.contentType).toBe(TEXT_CONTENT_TYPE);
    expect(registry.contentTypeFor('openmetrics')).toBe(OPENMETRICS_CONTENT_TYPE);
  });
});

describe('Gauge (per process)', () => {
  it('exports each process’s series with gauge_index appended last', async () => {
    const [a, b] = processes(2);
    const ga = new Gauge({ name: 'pool_size', help: 'Pool', labelNames: ['pool'], registry: a!.registry });
    const gb = new Gauge({ name: 'pool_size', help: 'Pool', labelNames: ['pool'], registry: b!.registry });
    ga.set({ pool: 'db' }, 3);
    gb.labels('db').set(5);
    gb.inc({ pool: 'cache' }, 2);
    await a!.registry.flush();
    await b!.registry.flush();
    expect(a!.registry.gaugeIndex).toBe(0);
    expect(b!.registry.gaugeIndex).toBe(1);
    expect(await a!.registry.metrics()).toBe(
      [
        '# HELP pool_size Pool',
        '# TYPE pool_size gauge',
        'pool_size{pool="cache",gauge_index="1"} 2',
        'pool_size{pool="db",gauge_index="0"} 3',
        'pool_size{pool="db",gauge_index="1"} 5',
        '',
      ].join('\n'),
    );
    expect(
      () => new Gauge({ name: 'bad', help: 'b', labelNames: ['gauge_index'], registry: a!.registry }),
    ).toThrow(TypeError);
  });

  it('exports an unlabelled gauge as 0 after the first flush; set/inc/dec/setToCurrentTime/startTimer', async () => {
    const { registry, errors } = make();
    const g = new Gauge({ name: 'temp', help: 'Temperature', registry });
    await registry.flush();
    expect(await registry.metrics()).toBe(
      '# HELP temp Temperature\n# TYPE temp gauge\ntemp{gauge_index="0"} 0\n',
    );
    g.set(10);
    g.inc();
    g.inc(2.5);
    g.dec(0.5);
    await registry.flush();
    expect(samples(await registry.metrics()).get('temp{gauge_index="0"}')).toBe(13);
    const before = Date.now() / 1000;
    g.setToCurrentTime();
    const after = Date.now() / 1000;
    await registry.flush();
    const now = samples(await registry.metrics()).get('temp{gauge_index="0"}')!;
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(after);
    const end = g.startTimer();
    await sleep(5);
    const seconds = end();
    expect(seconds).toBeGreaterThan(0);
    await registry.flush();
    expect(samples(await registry.metrics()).get('temp{gauge_index="0"}')).toBe(seconds);
    expect(() => g.set(NaN)).toThrow(RangeError);
    expect(() => g.inc(Infinity)).toThrow(RangeError);
    expect(errors).toEqual([]);
  });

  it('startTimer takes labels at the start and at the end', async () => {
    const { registry } = make();
    const g = new Gauge({ name: 'last_run_seconds', help: 'l', labelNames: ['job', 'result'], registry });
    const end = g.startTimer({ job: 'sync' });
    const seconds = end({ result: 'ok' });
    await registry.flush();
    expect(
      samples(await registry.metrics()).get('last_run_seconds{job="sync",result="ok",gauge_index="0"}'),
    ).toBe(seconds);
  });

  it('gives live registries small distinct indexes; all gauges of one registry share one', async () => {
    const procs = processes(3);
    for (const { registry } of procs) {
      new Gauge({ name: 'g1', help: 'g', registry }).set(1);
      new Gauge({ name: 'g2', help: 'g', registry }).set(2);
      await registry.flush();
    }
    expect(procs.map((p) => p.registry.gaugeIndex).sort()).toEqual([0, 1, 2]);
    const s = samples(await procs[0]!.registry.metrics());
    for (const i of [0, 1, 2]) {
      expect(s.get(`g1{gauge_index="${i}"}`)).toBe(1);
      expect(s.get(`g2{gauge_index="${i}"}`)).toBe(2);
    }
  });

  it('stops exporting a dead registry’s series after its lease expires; live ones stay', async () => {
    const prefix = randomPrefix('gx');
    const short = { prefix, expireSeconds: 2, flushIntervalMs: 500 };
    const dead = make(short);
    const live = make(short);
    const reader = make({ prefix });
    new Gauge({ name: 'workers', help: 'w', registry: dead.registry }).set(1);
    new Gauge({ name: 'workers', help: 'w', registry: live.registry }).set(2);
    await dead.registry.flush();
    await live.registry.flush();
    expect(samples(await reader.registry.metrics()).get('workers{gauge_index="0"}')).toBe(1);
    await dead.registry.close();
    const text = await until(
      () => reader.registry.metrics(),
      (t) => !samples(t).has('workers{gauge_index="0"}'),
      'the dead registry’s gauge to expire',
    );
    expect(samples(text).get('workers{gauge_index="1"}')).toBe(2);
  });

  it('remove(labels) and reset() delete this process’s series', async () => {
    const { registry } = make();
    const g = new Gauge({ name: 'conns', help: 'c', labelNames: ['db'], registry });
    g.set({ db: 'a' }, 1);
    g.set({ db: 'b' }, 2);
    g.set({ db: 'c' }, 3);
    await registry.flush();
    g.remove({ db: 'a' });
    await registry.flush();
    let s = samples(await registry.metrics());
    expect([...s.keys()]).toEqual(['conns{db="b",gauge_index="0"}', 'conns{db="c",gauge_index="0"}']);
    g.reset();
    await registry.flush();
    s = samples(await registry.metrics());
    expect(s.size).toBe(0);
  });

  // Regression: a series removed while still on the dirty list (an unflushed set(), or
  // the rewrite every gauge gets after a fresh gauge index) used to come back as 0.
  it('remove(labels)/reset() right after a set() do not leave the series behind as 0', async () => {
    const { registry } = make();
    const g = new Gauge({ name: 'conns', help: 'c', labelNames: ['db'], registry });
    const other = new Gauge({ name: 'other', help: 'o', labelNames: ['db'], registry });
    g.set({ db: 'a' }, 1);
    g.set({ db: 'b' }, 2);
    other.set({ db: 'z' }, 1);
    await registry.flush();
    g.remove({ db: 'a' });
    g.set({ db: 'new' }, 7);
    g.remove({ db: 'new' });
    other.reset();
    await registry.flush();
    expect([...samples(await registry.metrics()).keys()]).toEqual(['conns{db="b",gauge_index="0"}']);
  });
});

describe('CommonGauge', () => {
  it('adds inc/dec across processes; set() overwrites; exported as a gauge without gauge_index', async () => {
    const [a, b] = processes(2);
    const ga = new CommonGauge({
      name: 'queue_depth',
      help: 'Depth',
      labelNames: ['q'],
      registry: a!.registry,
    });
    const gb = new CommonGauge({
      name: 'queue_depth',
      help: 'Depth',
      labelNames: ['q'],
      registry: b!.registry,
    });
    ga.inc({ q: 'x' }, 5);
    gb.dec({ q: 'x' }, 2);
    gb.labels('y');
    await a!.registry.flush();
    await b!.registry.flush();
    expect(await a!.registry.metrics()).toBe(
      '# HELP queue_depth Depth\n# TYPE queue_depth gauge\nqueue_depth{q="x"} 3\nqueue_depth{q="y"} 0\n',
    );
    gb.set({ q: 'x' }, 10);
    await b!.registry.flush();
    ga.inc({ q: 'x' });
    ga.labels('x').dec(0.25);
    await a!.registry.flush();
    expect(samples(await b!.registry.metrics()).get('queue_depth{q="x"}')).toBe(10.75);
    expect(() => ga.set({ q: 'x' }, NaN)).toThrow(RangeError);
  });

  it('times with startTimer (on it and its children, labels at the end) and timeit', async () => {
    const [a, b] = processes(2);
    const labelNames = ['job', 'result'];
    const ga = new CommonGauge({ name: 'job_seconds', help: 'j', labelNames, registry: a!.registry });
    const gb = new CommonGauge({ name: 'job_seconds', help: 'j', labelNames, registry: b!.registry });
    const started = ga.startTimer({ job: 'sync' });
    const child = ga.labels('import', 'pending').startTimer();
    const first = started({ result: 'ok' });
    // A child's end labels are merged over its own, as prom-client does.
    const second = child({ result: 'failed' });
    const wrapped = gb.timeit(async (): Promise<string> => Promise.resolve('done'), {
      job: 'x',
      result: 'ok',
    });
    await expect(wrapped()).resolves.toBe('done');
    await a!.registry.flush();
    await b!.registry.flush();
    const seen = samples(await b!.registry.metrics());
    expect(seen.get('job_seconds{job="sync",result="ok"}')).toBe(first);
    expect(seen.get('job_seconds{job="import",result="failed"}')).toBe(second);
    expect(seen.get('job_seconds{job="import",result="pending"}')).toBe(0);
    expect(seen.get('job_seconds{job="x",result="ok"}')).toBeGreaterThan(0);
  });

  it('drops a series from the exposition after expireSeconds without writes; a write brings it back', async () => {
    const { registry, errors } = make();
    const g = new CommonGauge({
      name: 'leader',
      help: 'l',
      labelNames: ['node'],
      expireSeconds: 1,
      registry,
    });
    const plain = new CommonGauge({ name: 'leader_forever', help: 'l', registry });
    g.set({ node: 'n1' }, 1);
    plain.set(1);
    await registry.flush();
    expect(samples(await registry.metrics()).get('leader{node="n1"}')).toBe(1);
    await until(
      () => registry.metrics(),
      (t) => !samples(t).has('leader{node="n1"}'),
      'the common gauge series to expire',
    );
    expect(samples(await registry.metrics()).get('leader_forever')).toBe(1);
    g.set({ node: 'n1' }, 2);
    await registry.flush();
    expect(samples(await registry.metrics()).get('leader{node="n1"}')).toBe(2);
    expect(errors).toEqual([]);
  });
});

describe('Histogram', () => {
  it('uses prom-client’s default buckets and renders exactly what prom-client renders', async () => {
    const { registry } = make();
    const h = new Histogram({ name: 'latency_seconds', help: 'Latency', registry });
    const promRegistry = new PromRegistry();
    const p = new PromHistogram({ name: 'latency_seconds', help: 'Latency', registers: [promRegistry] });
    expect(h.buckets).toEqual(DEFAULT_BUCKETS);
    for (const v of [0.003, 0.005, 0.3, 1, 3, 30, 0.07]) {
      h.observe(v);
      p.observe(v);
    }
    await registry.flush();
    expect(await registry.metrics()).toBe(`${await promRegistry.metrics()}`.replace(/\n*$/, '\n'));
  });

  it('renders cumulative buckets in numeric order with +Inf, _sum and _count', async () => {
    const { registry } = make();
    const h = new Histogram({ name: 'size_bytes', help: 'Size', buckets: [10, 2.5, 1, 0.5], registry });
    await registry.flush();
    expect(samples(await registry.metrics()).get('size_bytes_count')).toBe(0);
    for (const v of [0.1, 1, 1, 2, 7, 100, -3]) h.observe(v);
    await registry.flush();
    expect(await registry.metrics()).toBe(
      [
        '# HELP size_bytes Size',
        '# TYPE size_bytes histogram',
        'size_bytes_bucket{le="0.5"} 2',
        'size_bytes_bucket{le="1"} 4',
        'size_bytes_bucket{le="2.5"} 5',
        'size_bytes_bucket{le="10"} 6',
        'size_bytes_bucket{le="+Inf"} 7',
        'size_bytes_sum 108.1',
        'size_bytes_count 7',
        '',
      ].join('\n'),
    );
    expect(await registry.metrics({ format: 'openmetrics' })).toContain(
      'size_bytes_bucket{le="1.0"} 4\nsize_bytes_bucket{le="2.5"} 5\nsize_bytes_bucket{le="10.0"} 6\nsize_bytes_bucket{le="+Inf"} 7\n',
    );
  });

  it('merges buckets, sums and counts across processes, per label set', async () => {
    const [a, b] = processes(2);
    const opts = { name: 'rt', help: 'rt', labelNames: ['route'] as const, buckets: [1, 5] };
    const ha = new Histogram({ ...opts, registry: a!.registry });
    const hb = new Histogram({ ...opts, registry: b!.registry });
    ha.observe({ route: '/a' }, 0.5);
    ha.labels('/a').observe(3);
    hb.observe({ route: '/a' }, 10);
    hb.labels({ route: '/b' });
    await a!.registry.flush();
    await b!.registry.flush();
    expect(await b!.registry.metrics()).toBe(
      [
        '# HELP rt rt',
        '# TYPE rt histogram',
        'rt_bucket{route="/a",le="1"} 1',
        'rt_bucket{route="/a",le="5"} 2',
        'rt_bucket{route="/a",le="+Inf"} 3',
        'rt_sum{route="/a"} 13.5',
        'rt_count{route="/a"} 3',
        'rt_bucket{route="/b",le="1"} 0',
        'rt_bucket{route="/b",le="5"} 0',
        'rt_bucket{route="/b",le="+Inf"} 0',
        'rt_sum{route="/b"} 0',
        'rt_count{route="/b"} 0',
        '',
      ].join('\n'),
    );
  });

  it('reset() deletes buckets, sums and counts for everyone', async () => {
    const [a, b] = processes(2);
    const opts = { name: 'rs', help: 'rs', labelNames: ['k'] as const, buckets: [1] };
    const ha = new Histogram({ ...opts, registry: a!.registry });
    const hb = new Histogram({ ...opts, registry: b!.registry });
    ha.observe({ k: 'x' }, 0.5);
    hb.observe({ k: 'y' }, 2);
    await a!.registry.flush();
    await b!.registry.flush();
    hb.reset();
    await b!.registry.flush();
    expect(await a!.registry.metrics()).toBe('# HELP rs rs\n# TYPE rs histogram\n');
    expect(await redis.exists(`{${a!.prefix}}:f:rs`)).toBe(0);
  });

  it('remove(labels) deletes a histogram series’ buckets, sum and count for everyone', async () => {
    const [a, b] = processes(2);
    const opts = { name: 'rm', help: 'rm', labelNames: ['k'] as const, buckets: [1] };
    const ha = new Histogram({ ...opts, registry: a!.registry });
    const hb = new Histogram({ ...opts, registry: b!.registry });
    ha.observe({ k: 'x' }, 0.5);
    hb.observe({ k: 'x' }, 2);
    hb.observe({ k: 'y' }, 2);
    await a!.registry.flush();
    await b!.registry.flush();
    ha.remove('x');
    await a!.registry.flush();
    expect([...samples(await b!.registry.metrics()).keys()].filter((k) => k.includes('"x"'))).toEqual([]);
    expect((await redis.hkeys(`{${a!.prefix}}:f:rm`)).sort()).toEqual(['k="y"|1', 'k="y"|s']);
    expect(await redis.hkeys(`{${a!.prefix}}:cr:rm`)).toEqual(['k="y"']);
  });

  it('times with startTimer (labels at either end) and timeit (sync, async, throwing)', async () => {
    const { registry } = make();
    const h = new Histogram({ name: 'op_seconds', help: 'o', labelNames: ['op', 'ok'], registry });
    const end = h.startTimer({ op: 'a' });
    await sleep(2);
    const s1 = end({ ok: 'yes' });
    const sync = h.timeit((x: number) => x + 1, { op: 'sync', ok: 'yes' });
    expect(sync(1)).toBe(2);
    const asyncFn = h.timeit(
      async function (this: { base: number }, x: number) {
        await sleep(2);
        return this.base + x;
      },
      { op: 'async', ok: 'yes' },
    );
    expect(await asyncFn.call({ base: 40 }, 2)).toBe(42);
    const rejecting = h.timeit(() => Promise.reject(new Error('nope')), { op: 'async', ok: 'no' });
    await expect(rejecting()).rejects.toThrow('nope');
    const throwing = h.timeit(
      () => {
        throw new Error('boom');
      },
      { op: 'sync', ok: 'no' },
    );
    expect(() => throwing()).toThrow('boom');
    await registry.flush();
    const s = samples(await registry.metrics());
    // HINCRBYFLOAT keeps 17 digits after the point: compare closely, not bit for bit.
    expect(s.get('op_seconds_sum{op="a",ok="yes"}')).toBeCloseTo(s1, 15);
    for (const labels of [
      'op="a",ok="yes"',
      'op="sync",ok="yes"',
      'op="async",ok="yes"',
      'op="async",ok="no"',
    ]) {
      expect(s.get(`op_seconds_count{${labels}}`)).toBe(1);
    }
    expect(s.get('op_seconds_count{op="sync",ok="no"}')).toBe(1);
    expect(s.get('op_seconds_sum{op="async",ok="yes"}')).toBeGreaterThan(0);
  });

  it('rejects non-finite observations and invalid buckets', () => {
    const { registry } = make();
    const h = new Histogram({ name: 'h_strict', help: 'h', registry });
    expect(() => h.observe(NaN)).toThrow(RangeError);
    expect(() => h.observe(Infinity)).toThrow(RangeError);
    expect(() => h.observe('1' as unknown as number)).toThrow(TypeError);
    expect(() => new Histogram({ name: 'h_dup', help: 'h', buckets: [1, 1], registry })).toThrow(RangeError);
    expect(() => new Histogram({ name: 'h_nan', help: 'h', buckets: [NaN], registry })).toThrow(RangeError);
    expect(() => new Histogram({ name: 'h_le', help: 'h', labelNames: ['le'], registry })).toThrow(TypeError);
  });

  it('an overflowing sum never leaves _count and _sum inconsistent', async () => {
    const { registry } = make();
    const h = new Histogram({ name: 'huge', help: 'h', buckets: [1], registry });
    h.observe(1e308);
    h.observe(1e308);
    await registry.flush().catch(() => undefined);
    const s = samples(await registry.metrics());
    const count = s.get('huge_count');
    const sum = s.get('huge_sum');
    // Either the overflowing observations were refused as a whole (no series, or an empty one),
    // or the sum says Infinity: never counts without their sum.
    expect(count === undefined ? sum === undefined : count === 0 ? sum === 0 : sum === Infinity).toBe(true);
  });
});

describe('Summary', () => {
  it('merges _sum and _count across processes, without quantiles', async () => {
    const [a, b] = processes(2);
    const sa = new Summary({
      name: 'payload_bytes',
      help: 'Payload',
      labelNames: ['dir'],
      registry: a!.registry,
    });
    const sb = new Summary({
      name: 'payload_bytes',
      help: 'Payload',
      labelNames: ['dir'],
      registry: b!.registry,
    });
    const plain = new Summary({ name: 'plain_summary', help: 'p', registry: a!.registry });
    sa.observe({ dir: 'in' }, 100);
    sa.labels('in').observe(50);
    sb.observe({ dir: 'in' }, 0.5);
    sb.labels('out');
    await a!.registry.flush();
    await b!.registry.flush();
    expect(await a!.registry.metrics()).toBe(
      [
        '# HELP payload_bytes Payload',
        '# TYPE payload_bytes summary',
        'payload_bytes_sum{dir="in"} 150.5',
        'payload_bytes_count{dir="in"} 3',
        'payload_bytes_sum{dir="out"} 0',
        'payload_bytes_count{dir="out"} 0',
        '# HELP plain_summary p',
        '# TYPE plain_summary summary',
        'plain_summary_sum 0',
        'plain_summary_count 0',
        '',
      ].join('\n'),
    );
    plain.observe(-2);
    await a!.registry.flush();
    expect(samples(await b!.registry.metrics()).get('plain_summary_sum')).toBe(-2);
    expect(() => plain.observe(NaN)).toThrow(RangeError);
    expect(
      () => new Summary({ name: 'sq', help: 's', labelNames: ['quantile'], registry: a!.registry }),
    ).toThrow(TypeError);
  });

  it('times with startTimer and timeit', async () => {
    const { registry } = make();
    const s = new Summary({ name: 'task_seconds', help: 't', labelNames: ['task'], registry });
    const end = s.startTimer({ task: 'a' });
    const elapsed = end();
    const wrapped = s.timeit(async () => sleep(2), { task: 'b' });
    await wrapped();
    await wrapped();
    const child = s.labels('c');
    child.timeit((x: string) => x.length)('abc');
    child.startTimer()();
    await registry.flush();
    const out = samples(await registry.metrics());
    expect(out.get('task_seconds_sum{task="a"}')).toBeCloseTo(elapsed, 15);
    expect(out.get('task_seconds_count{task="a"}')).toBe(1);
    expect(out.get('task_seconds_count{task="b"}')).toBe(2);
    expect(out.get('task_seconds_sum{task="b"}')).toBeGreaterThan(0);
    expect(out.get('task_seconds_count{task="c"}')).toBe(2);
  });

  it('remove(labels) deletes a summary series for everyone', async () => {
    const [a, b] = processes(2);
    const sa = new Summary({ name: 'srm', help: 's', labelNames: ['k'], registry: a!.registry });
    const sb = new Summary({ name: 'srm', help: 's', labelNames: ['k'], registry: b!.registry });
    sa.observe({ k: 'x' }, 1);
    sb.observe({ k: 'y' }, 1);
    await a!.registry.flush();
    await b!.registry.flush();
    sb.remove({ k: 'x' });
    await b!.registry.flush();
    expect([...samples(await a!.registry.metrics()).keys()]).toEqual(['srm_sum{k="y"}', 'srm_count{k="y"}']);
  });

  it('an overflowing sum never leaves _count and _sum inconsistent', async () => {
    const { registry } = make();
    const s = new Summary({ name: 'huge_summary', help: 'h', registry });
    s.observe(1e308);
    s.observe(1e308);
    await registry.flush().catch(() => undefined);
    const out = samples(await registry.metrics());
    const count = out.get('huge_summary_count');
    const sum = out.get('huge_summary_sum');
    // Either the overflowing observations were refused as a whole (no series, or an empty one),
    // or the sum says Infinity: never counts without their sum.
    expect(count === undefined ? sum === undefined : count === 0 ? sum === 0 : sum === Infinity).toBe(true);
  });
});

describe('exposition order', () => {
  it('sorts families by name across types and processes, and series by label set', async () => {
    const [a, b] = processes(2);
    new Summary({ name: 'zeta', help: 'z', registry: a!.registry });
    new Gauge({ name: 'alpha', help: 'a', registry: b!.registry });
    const m = new CommonGauge({ name: 'mid', help: 'm', labelNames: ['k'], registry: b!.registry });
    new Counter({ name: 'beta_total', help: 'b', registry: a!.registry });
    new Histogram({ name: 'gamma', help: 'g', buckets: [1], registry: a!.registry });
    for (const k of ['b', 'a', 'c', 'aa', 'B']) m.set({ k }, 1);
    await a!.registry.flush();
    await b!.registry.flush();
    const text = await a!.registry.metrics();
    const types = text
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.split(' ')[2]);
    expect(types).toEqual(['alpha', 'beta_total', 'gamma', 'mid', 'zeta']);
    expect([...samples(text).keys()].filter((k) => k.startsWith('mid'))).toEqual([
      'mid{k="B"}',
      'mid{k="a"}',
      'mid{k="aa"}',
      'mid{k="b"}',
      'mid{k="c"}',
    ]);
  });
});
