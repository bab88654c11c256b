/**
 * Histogram exemplars: the latest per bucket per series, merged over processes by the time of
 * the observation (server clock), exposed only in OpenMetrics output.
 */
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { Histogram, type ExemplarLabels } from '../../src/index.js';
import { randomPrefix, useTestRegistries } from '../support/helpers.js';
import { checkOpenMetrics } from '../system/exposition.js';

const registries = useTestRegistries();
const make = registries.make;
let redis: Redis;
beforeAll(() => {
  redis = registries.redis;
});

/** A bucket sample with an OpenMetrics exemplar: labels, value and a timestamp in seconds. */
const EXEMPLAR_LINE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*_bucket)\{((?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*",)*le="[^"]+")\} (\d+) # \{([a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*")*)\} (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?) (\d+\.\d{3})$/;

interface SeenExemplar {
  readonly labels: string;
  readonly value: number;
  readonly seconds: number;
}

/** Exemplars of an OpenMetrics exposition by `name{labels}` of their bucket sample. */
function exemplarsOf(text: string): Map<string, SeenExemplar> {
  const out = new Map<string, SeenExemplar>();
  for (const line of text.split('\n')) {
    if (!line.includes(' # {')) continue;
    const m = EXEMPLAR_LINE.exec(line);
    if (m === null) throw new Error(`malformed exemplar line: ${JSON.stringify(line)}`);
    out.set(`${m[1]}{${m[2]}}`, { labels: m[4]!, value: Number(m[5]), seconds: Number(m[6]) });
  }
  return out;
}

/** The text with exemplars cut off, for the OpenMetrics checker (which does not parse them). */
function withoutExemplars(text: string): string {
  return text.replace(/ # \{.*$/gm, '');
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('histogram exemplars', () => {
  it('keeps the latest exemplar per bucket, across processes by observation time', async () => {
    const prefix = randomPrefix('ex');
    const a = make({ prefix });
    const b = make({ prefix });
    const options = {
      name: 'ex_latency_seconds',
      help: 'Latency.',
      labelNames: ['route'],
      buckets: [0.1, 1],
    };
    const ha = new Histogram({ ...options, registry: a.registry });
    const hb = new Histogram({ ...options, registry: b.registry });

    // In one process the later of two exemplars of a bucket wins.
    ha.observe({ route: '/a' }, 0.05, { traceId: 'a1' });
    ha.observe({ route: '/a' }, 0.07, { traceId: 'a2', spanId: 's2' });
    await a.registry.flush();
    // Across processes: observed later, flushed later.
    hb.labels('/a').observe(0.08, { traceId: 'b1' });
    await b.registry.flush();
    // Observed earlier but flushed later than another process's exemplar: it does not win.
    ha.observe({ route: '/a' }, 0.5, { traceId: 'a-old' });
    await pause(30);
    hb.observe({ route: '/a' }, 0.6, { traceId: 'b-new', user: 'x"y' });
    await b.registry.flush();
    await a.registry.flush();
    // +Inf bucket, and a plain observation that leaves exemplars alone.
    hb.observe({ route: '/a' }, 7, { traceId: 'b-inf' });
    hb.observe({ route: '/a' }, 0.09);
    await b.registry.flush();

    const before = Date.now() / 1000;
    const om = await a.registry.metrics({ format: 'openmetrics' });
    const seen = exemplarsOf(om);
    expect([...seen.keys()]).toEqual([
      'ex_latency_seconds_bucket{route="/a",le="0.1"}',
      'ex_latency_seconds_bucket{route="/a",le="1.0"}',
      'ex_latency_seconds_bucket{route="/a",le="+Inf"}',
    ]);
    expect(seen.get('ex_latency_seconds_bucket{route="/a",le="0.1"}')).toMatchObject({
      labels: 'trace_id="b1"',
      value: 0.08,
    });
    expect(seen.get('ex_latency_seconds_bucket{route="/a",le="1.0"}')).toMatchObject({
      labels: 'trace_id="b-new",user="x\\"y"',
      value: 0.6,
    });
    expect(seen.get('ex_latency_seconds_bucket{route="/a",le="+Inf"}')).toMatchObject({
      labels: 'trace_id="b-inf"',
      value: 7,
    });
    for (const exemplar of seen.values()) {
      expect(Math.abs(exemplar.seconds - before)).toBeLessThan(60);
    }
    // The exact line shape, as OpenMetrics writes it.
    expect(om).toMatch(
      /\nex_latency_seconds_bucket\{route="\/a",le="0\.1"\} 4 # \{trace_id="b1"\} 0\.08 \d{10}\.\d{3}\n/,
    );
    expect(checkOpenMetrics(withoutExemplars(om))).toEqual([]);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it('leaves the text format exactly as without exemplars', async () => {
    const withEx = make();
    const without = make();
    const buckets = [0.1, 1];
    const h1 = new Histogram({
      name: 'ex_plain',
      help: 'p',
      labelNames: ['k'],
      buckets,
      registry: withEx.registry,
    });
    const h2 = new Histogram({
      name: 'ex_plain',
      help: 'p',
      labelNames: ['k'],
      buckets,
      registry: without.registry,
    });
    const values = [0.05, 0.5, 3, 0.2];
    values.forEach((v, i) => {
      h1.observe({ k: 'v' }, v, { traceId: `t${i}` });
      h2.observe({ k: 'v' }, v);
    });
    h1.labels('w').observe(0.01, { traceId: 'w' });
    h2.labels('w').observe(0.01);
    const text = await withEx.registry.metrics();
    expect(text).toBe(await without.registry.metrics());
    expect(text).not.toContain('#  {');
    expect(text).not.toContain('trace_id');
    // Without exemplars, OpenMetrics output has none either.
    expect(await without.registry.metrics({ format: 'openmetrics' })).not.toContain(' # {');
  });

  it('validates exemplars: 128 characters at most, label names, string values; a rejected call records nothing', async () => {
    const { registry } = make();
    const h = new Histogram({ name: 'ex_checked', help: 'c', buckets: [1], registry });
    // trace_id (8) + 120 = 128 characters: the limit itself is fine; code points, not UTF-16 units.
    h.observe(0.5, { traceId: 'x'.repeat(120) });
    h.observe(0.5, { traceId: '🔥'.repeat(120) });
    expect(() => h.observe(0.5, { traceId: 'x'.repeat(121) })).toThrow(RangeError);
    expect(() => h.observe(0.5, { traceId: 'x'.repeat(60), spanId: 'y'.repeat(60) })).toThrow(/128/);
    expect(() => h.observe(0.5, { traceId: 't', 'bad-name': 'v' } as ExemplarLabels)).toThrow(
      /ex_checked.*exemplar label name "bad-name"/,
    );
    expect(() => h.observe(0.5, { traceId: 't', n: 1 } as unknown as ExemplarLabels)).toThrow(TypeError);
    expect(() => h.observe(0.5, {} as ExemplarLabels)).toThrow(/traceId/);
    expect(() => h.observe(0.5, 'abc' as unknown as ExemplarLabels)).toThrow(TypeError);
    expect(() => h.labels().observe(0.5, { traceId: '\uD800' })).toThrow(/well-formed/);
    const text = await registry.metrics();
    expect(text).toContain('ex_checked_count 2\n');
    const om = await registry.metrics({ format: 'openmetrics' });
    expect(exemplarsOf(om).get('ex_checked_bucket{le="1.0"}')?.labels).toBe(`trace_id="${'🔥'.repeat(120)}"`);
  });

  it('remove() and reset() delete a series exemplars with it', async () => {
    const { registry, prefix } = make();
    const h = new Histogram({ name: 'ex_removed', help: 'r', labelNames: ['k'], buckets: [1], registry });
    h.observe({ k: 'a' }, 0.5, { traceId: 'a' });
    h.observe({ k: 'b' }, 5, { traceId: 'b' });
    await registry.flush();
    const fields = async (): Promise<string[]> => (await redis.hkeys(`{${prefix}}:f:ex_removed`)).sort();
    expect((await fields()).filter((f) => /\|e\d+$/.test(f))).toEqual(['k="a"|e0', 'k="b"|e1']);
    h.remove({ k: 'a' });
    await registry.flush();
    expect((await fields()).some((f) => f.startsWith('k="a"'))).toBe(false);
    expect(exemplarsOf(await registry.metrics({ format: 'openmetrics' })).size).toBe(1);
    h.reset();
    await registry.flush();
    expect(await fields()).toEqual([]);
  });
});
