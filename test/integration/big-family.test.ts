import { afterEach, describe, expect, it } from 'vitest';
import { CommonGauge, Counter, type Registry } from '../../src/index.js';
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
