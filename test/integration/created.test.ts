/**
 * OpenMetrics `_created` samples on a real Redis: a series' creation time is stamped by the first
 * flush that carries it (the server's clock, HSETNX: the earliest across processes is kept), lives
 * until the series is removed or its family reset, and is exposed only in OpenMetrics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CommonGauge, Counter, Gauge, Histogram, Summary, type Registry } from '../../src/index.js';
import { testRegistry } from '../support/helpers.js';
import { checkOpenMetrics, parseText, valueOf } from '../system/exposition.js';

const open: Registry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/** Clock differences between this process and the Redis server, in ms. */
const SLACK_MS = 5000;

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function registries(count: number): Registry[] {
  const first = testRegistry({ maxSeriesPerMetric: 50_000 });
  const all = [first.registry];
  for (let i = 1; i < count; i++) all.push(testRegistry({ prefix: first.prefix }).registry);
  open.push(...all);
  return all;
}

/** The value of `name{labels}` in an OpenMetrics exposition (parsed leniently: no `# EOF` handling needed). */
function omValue(text: string, name: string, labels: Record<string, string> = {}): number {
  return valueOf(parseText(text.replace(/# EOF\n$/, '')), name, labels);
}

/** Flush `registry`, returning the wall-clock bounds (seconds) around the flush. */
async function timedFlush(registry: Registry): Promise<[number, number]> {
  const before = Date.now();
  await registry.flush();
  const after = Date.now();
  return [(before - SLACK_MS) / 1000, (after + SLACK_MS) / 1000];
}

describe('OpenMetrics _created', () => {
  it('is stamped by the first flush of a series, for counters, histograms and summaries', async () => {
    const [registry] = registries(1) as [Registry];
    const c = new Counter({ name: 'cr_requests', help: 'r', labelNames: ['route'], registry });
    const h = new Histogram({ name: 'cr_latency_seconds', help: 'l', buckets: [0.1, 1], registry });
    const s = new Summary({ name: 'cr_rpc_seconds', help: 's', labelNames: ['svc'], registry });
    const q = new Summary({
      name: 'cr_window_seconds',
      help: 'w',
      percentiles: [0.5, 0.9],
      maxAgeSeconds: 60,
      ageBuckets: 3,
      registry,
    });
    c.inc({ route: '/a' });
    h.observe(0.5);
    s.observe({ svc: 'x' }, 2);
    q.observe(1);
    const [low, high] = await timedFlush(registry);

    const om = await registry.metrics({ format: 'openmetrics' });
    expect(checkOpenMetrics(om)).toEqual([]);
    for (const [name, labels] of [
      ['cr_requests_created', { route: '/a' }],
      ['cr_latency_seconds_created', {}],
      ['cr_rpc_seconds_created', { svc: 'x' }],
      ['cr_window_seconds_created', {}],
    ] as const) {
      const created = omValue(om, name, labels);
      expect(created, name).toBeGreaterThanOrEqual(low);
      expect(created, name).toBeLessThanOrEqual(high);
    }
    // After the family's other samples of that series.
    expect(om).toMatch(
      /cr_requests_total\{route="\/a"\} 1\ncr_requests_created\{route="\/a"\} \d+(\.\d+)?\n/,
    );
    expect(om).toMatch(/cr_latency_seconds_count 1\ncr_latency_seconds_created \d+(\.\d+)?\n/);
    expect(om).toMatch(/cr_rpc_seconds_count\{svc="x"\} 1\ncr_rpc_seconds_created\{svc="x"\} \d+(\.\d+)?\n/);

    // A later increment does not move it.
    const first = omValue(om, 'cr_requests_created', { route: '/a' });
    await pause(20);
    c.inc({ route: '/a' });
    await registry.flush();
    const again = await registry.metrics({ format: 'openmetrics' });
    expect(omValue(again, 'cr_requests_created', { route: '/a' })).toBe(first);
    expect(omValue(again, 'cr_requests_total', { route: '/a' })).toBe(2);
  });

  it('is absent from the text format, which is unchanged', async () => {
    const [registry] = registries(1) as [Registry];
    const c = new Counter({ name: 'tx_requests', help: 'r', labelNames: ['route'], registry });
    const h = new Histogram({ name: 'tx_seconds', help: 'h', buckets: [1], registry });
    c.inc({ route: '/a' }, 3);
    h.observe(2);
    await registry.flush();
    const text = await registry.metrics();
    expect(text).not.toContain('_created');
    expect(text).not.toContain('|created');
    expect(text).toBe(
      '# HELP tx_requests_total r\n' +
        '# TYPE tx_requests_total counter\n' +
        'tx_requests_total{route="/a"} 3\n' +
        '# HELP tx_seconds h\n' +
        '# TYPE tx_seconds histogram\n' +
        'tx_seconds_bucket{le="1"} 0\n' +
        'tx_seconds_bucket{le="+Inf"} 1\n' +
        'tx_seconds_sum 2\n' +
        'tx_seconds_count 1\n',
    );
  });

  it('keeps the earliest creation across processes', async () => {
    const [a, b] = registries(2) as [Registry, Registry];
    const ca = new Counter({ name: 'mp_jobs', help: 'j', labelNames: ['q'], registry: a });
    const cb = new Counter({ name: 'mp_jobs', help: 'j', labelNames: ['q'], registry: b });
    const ha = new Histogram({ name: 'mp_seconds', help: 's', buckets: [1], registry: a });
    const hb = new Histogram({ name: 'mp_seconds', help: 's', buckets: [1], registry: b });
    ca.inc({ q: 'x' });
    ha.observe(0.5);
    const [low, high] = await timedFlush(a);
    const om1 = await a.metrics({ format: 'openmetrics' });
    const first = omValue(om1, 'mp_jobs_created', { q: 'x' });
    const firstH = omValue(om1, 'mp_seconds_created');
    expect(first).toBeGreaterThanOrEqual(low);
    expect(first).toBeLessThanOrEqual(high);

    await pause(1100);
    // The second process creates the same series later (and a new one).
    cb.inc({ q: 'x' }, 2);
    cb.inc({ q: 'y' });
    hb.observe(3);
    await b.flush();
    for (const registry of [a, b]) {
      const om = await registry.metrics({ format: 'openmetrics' });
      expect(checkOpenMetrics(om)).toEqual([]);
      expect(omValue(om, 'mp_jobs_total', { q: 'x' })).toBe(3);
      expect(omValue(om, 'mp_jobs_created', { q: 'x' })).toBe(first);
      expect(omValue(om, 'mp_seconds_created')).toBe(firstH);
      expect(omValue(om, 'mp_jobs_created', { q: 'y' })).toBeGreaterThan(first);
    }
  });

  it('is renewed when a series is removed or its family reset, then re-created', async () => {
    const [registry] = registries(1) as [Registry];
    const c = new Counter({ name: 'rr_hits', help: 'h', labelNames: ['k'], registry });
    const h = new Histogram({ name: 'rr_seconds', help: 's', labelNames: ['k'], buckets: [1], registry });
    const s = new Summary({ name: 'rr_rpc_seconds', help: 'r', registry });
    c.inc({ k: 'a' });
    c.inc({ k: 'b' });
    h.observe({ k: 'a' }, 0.5);
    s.observe(1);
    await registry.flush();
    const om1 = await registry.metrics({ format: 'openmetrics' });
    const ca = omValue(om1, 'rr_hits_created', { k: 'a' });
    const cb = omValue(om1, 'rr_hits_created', { k: 'b' });
    const ha = omValue(om1, 'rr_seconds_created', { k: 'a' });
    const sa = omValue(om1, 'rr_rpc_seconds_created');

    await pause(1100);
    c.remove({ k: 'a' });
    h.remove({ k: 'a' });
    s.reset();
    await registry.flush();
    const gone = await registry.metrics({ format: 'openmetrics' });
    expect(gone).not.toContain('rr_hits_created{k="a"}');
    expect(gone).not.toContain('rr_seconds_created{k="a"}');
    expect(omValue(gone, 'rr_hits_created', { k: 'b' })).toBe(cb);
    // A family without labels always exports its one series: reset re-creates it.
    expect(omValue(gone, 'rr_rpc_seconds_created')).toBeGreaterThan(sa);

    c.inc({ k: 'a' });
    h.observe({ k: 'a' }, 2);
    const [low, high] = await timedFlush(registry);
    const om2 = await registry.metrics({ format: 'openmetrics' });
    expect(checkOpenMetrics(om2)).toEqual([]);
    for (const [name, before] of [
      ['rr_hits_created', ca],
      ['rr_seconds_created', ha],
    ] as const) {
      const renewed = omValue(om2, name, { k: 'a' });
      expect(renewed, name).toBeGreaterThan(before);
      expect(renewed, name).toBeGreaterThanOrEqual(low);
      expect(renewed, name).toBeLessThanOrEqual(high);
    }
    expect(omValue(om2, 'rr_hits_total', { k: 'a' })).toBe(1);
    expect(omValue(om2, 'rr_hits_created', { k: 'b' })).toBe(cb);

    // Removed and re-created between two flushes: the same batch deletes and re-stamps it.
    await pause(1100);
    c.remove({ k: 'b' });
    c.inc({ k: 'b' }, 5);
    await registry.flush();
    const om3 = await registry.metrics({ format: 'openmetrics' });
    expect(omValue(om3, 'rr_hits_total', { k: 'b' })).toBe(5);
    expect(omValue(om3, 'rr_hits_created', { k: 'b' })).toBeGreaterThan(cb);
  });

  it('passes the strict checker for every type, and gauges get none', async () => {
    const [registry] = registries(1) as [Registry];
    new Counter({ name: 'all_c', help: 'c', labelNames: ['a'], registry }).inc({ a: 'x"\\\ny' });
    new Counter({ name: 'all_bare', help: 'c', registry }).inc();
    new Histogram({ name: 'all_h', help: 'h', labelNames: ['a'], buckets: [1, 2], registry }).observe(
      { a: '1' },
      1.5,
    );
    new Summary({ name: 'all_s', help: 's', labelNames: ['a'], registry }).observe({ a: '1' }, 1);
    new Summary({ name: 'all_q', help: 'q', percentiles: [0.5], registry }).observe(1);
    new Gauge({ name: 'all_g', help: 'g', registry }).set(1);
    new CommonGauge({ name: 'all_cg', help: 'g', labelNames: ['a'], registry }).set({ a: '1' }, 2);
    await registry.flush();
    const om = await registry.metrics({ format: 'openmetrics' });
    expect(checkOpenMetrics(om)).toEqual([]);
    const created = om.split('\n').filter((l) => /^\w+_created[{ ]/.test(l));
    expect(created.map((l) => l.replace(/ \S+$/, ''))).toEqual([
      'all_bare_created',
      'all_c_created{a="x\\"\\\\\\ny"}',
      'all_h_created{a="1"}',
      'all_q_created',
      'all_s_created{a="1"}',
    ]);
    const text = await registry.metrics();
    expect(text).not.toContain('_created');
  });

  it('does not change which counter families are sorted: 5,000 series still come out in label order', async () => {
    const [registry] = registries(1) as [Registry];
    const c = new Counter({ name: 'mid', help: 'm', labelNames: ['id'], registry });
    const n = 5000;
    // Over 8,192 hash fields with the `|created` ones, but only 5,000 series.
    for (let i = 0; i < n; i++) c.inc({ id: String(i) });
    await registry.flush();
    for (const format of ['text', 'openmetrics'] as const) {
      const lines = (await registry.metrics({ format }))
        .split('\n')
        .filter((l) => l.startsWith('mid_total{'));
      expect(lines).toHaveLength(n);
      expect(lines).toEqual([...lines].sort());
    }
  });

  it('big counter families (rendered from chunks) carry one _created per series, in OpenMetrics only', async () => {
    const [registry] = registries(1) as [Registry];
    const c = new Counter({ name: 'bigc', help: 'b', labelNames: ['id'], registry });
    const g = new CommonGauge({ name: 'bigc_level', help: 'l', labelNames: ['id'], registry });
    const n = 12_000;
    for (let i = 0; i < n; i++) {
      c.inc({ id: String(i) }, i);
      g.set({ id: String(i) }, i);
    }
    const [low, high] = await timedFlush(registry);
    const text = await registry.metrics();
    const textLines = text.split('\n');
    expect(textLines.filter((l) => l.startsWith('bigc_total{')).length).toBe(n);
    expect(textLines.filter((l) => l.startsWith('bigc_level{')).length).toBe(n);
    expect(text).not.toContain('created');

    const om = await registry.metrics({ format: 'openmetrics' });
    expect(checkOpenMetrics(om)).toEqual([]);
    const lines = om.split('\n');
    const totals = new Map<string, number>();
    let createdCount = 0;
    for (let i = 0; i < lines.length; i++) {
      const m = /^bigc_total\{id="(\d+)"\} (\S+)$/.exec(lines[i]!);
      if (m === null) continue;
      expect(totals.has(m[1]!)).toBe(false);
      totals.set(m[1]!, Number(m[2]));
      // Each series' _created line follows its sample.
      const next = /^bigc_created\{id="(\d+)"\} (\S+)$/.exec(lines[i + 1]!);
      expect(next?.[1]).toBe(m[1]);
      const at = Number(next![2]);
      expect(at).toBeGreaterThanOrEqual(low);
      expect(at).toBeLessThanOrEqual(high);
    }
    for (const line of lines) if (line.startsWith('bigc_created{')) createdCount++;
    expect(totals.size).toBe(n);
    expect(createdCount).toBe(n);
    for (let i = 0; i < n; i += 997) expect(totals.get(String(i))).toBe(i);
    expect(lines.filter((l) => l.startsWith('bigc_level{')).length).toBe(n);
    expect(om).not.toContain('bigc_level_created');
  });
});
