import { afterEach, describe, expect, it } from 'vitest';
import { CommonGauge, Counter, Histogram, Summary, type Registry } from '../../src/index.js';
import { testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

describe('a family too big to sort (rendered straight from Redis chunks)', () => {
  it('exports every series once with its exact value, in both formats', async () => {
    const { registry } = testRegistry({ maxSeriesPerMetric: 50_000 });
    open.push(registry);
    const c = new Counter({ name: 'big_total', help: 'b', labelNames: ['id', 'v'], registry });
    const g = new CommonGauge({ name: 'big_level', help: 'l', labelNames: ['id'], registry });
    const n = 15_000;
    for (let i = 0; i < n; i++) {
      c.inc({ id: String(i), v: 'a"\\\nb' }, i % 7 === 0 ? 0.5 : i);
      g.set({ id: String(i) }, -i);
    }
    await registry.flush();
    for (const format of ['text', 'openmetrics'] as const) {
      const text = await registry.metrics({ format });
      const counters = new Map<string, number>();
      const levels = new Map<string, number>();
      for (const line of text.split('\n')) {
        const m = /^big_total\{id="(\d+)",v="a\\"\\\\\\nb"\} (\S+)$/.exec(line);
        if (m) counters.set(m[1]!, Number(m[2]));
        const l = /^big_level\{id="(\d+)"\} (\S+)$/.exec(line);
        if (l) levels.set(l[1]!, Number(l[2]));
      }
      expect(counters.size).toBe(n);
      expect(levels.size).toBe(n);
      for (let i = 0; i < n; i += 997) {
        expect(counters.get(String(i))).toBe(i % 7 === 0 ? 0.5 : i);
        expect(levels.get(String(i))).toBe(i === 0 ? 0 : -i);
      }
      expect(text.split('\n').filter((l) => l.startsWith('# TYPE big')).length).toBe(2);
      if (format === 'openmetrics') expect(text.endsWith('# EOF\n')).toBe(true);
    }
  });
});

describe('a family big enough to be sorted in slices (more than 1,000 series)', () => {
  it('comes out in label order, every series once and whole (histograms and summaries)', async () => {
    const { registry } = testRegistry({ maxSeriesPerMetric: 50_000 });
    open.push(registry);
    const h = new Histogram({
      name: 'mid_seconds',
      help: 'm',
      labelNames: ['id'],
      buckets: [1, 2],
      registry,
    });
    const s = new Summary({ name: 'mid_size', help: 'm', labelNames: ['id'], registry });
    // 3,333 series: three runs of 1,000 and an odd, short one to merge.
    const n = 3333;
    for (let i = 0; i < n; i++) {
      // Ids written in an order unrelated to both HSCAN's and the label order.
      const id = String((i * 7919) % n);
      h.observe({ id }, i % 3);
      s.observe({ id }, i);
    }
    await registry.flush();
    const text = await registry.metrics();
    const lines = text.split('\n');
    const infs = lines.filter((l) => l.startsWith('mid_seconds_bucket{') && l.includes('le="+Inf"'));
    expect(infs).toHaveLength(n);
    const keys = infs.map((l) => /id="(\d+)"/.exec(l)![1]!);
    expect(keys).toEqual([...keys].sort((a, b) => (`id="${a}"` < `id="${b}"` ? -1 : 1)));
    expect(new Set(keys).size).toBe(n);
    const counts = lines.filter((l) => l.startsWith('mid_size_count{'));
    expect(counts.map((l) => /id="(\d+)"/.exec(l)![1]!)).toEqual(keys);
    // Each series' lines stay together: its +Inf bucket, then its _sum and _count.
    const at = lines.indexOf(infs[100]!);
    expect(lines[at + 1]).toMatch(new RegExp(`^mid_seconds_sum\\{id="${keys[100]}"\\} `));
    expect(lines[at + 2]).toBe(`mid_seconds_count{id="${keys[100]}"} 1`);
  });
});
