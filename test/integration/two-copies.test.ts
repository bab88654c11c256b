/**
 * Two copies of the library in one process (an ESM and a CommonJS copy of the package, say):
 * metrics of one copy record into a registry of the other and are flushed and scraped exactly as
 * their own would be. The second copy is a separate evaluation of the same modules.
 */
import { describe, expect, it, vi } from 'vitest';
import * as here from '../../src/index.js';
import { randomPrefix, sample, useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();

/** The library's exports from a second, separately evaluated copy of its modules. */
async function otherCopy(): Promise<typeof here> {
  vi.resetModules();
  return import('../../src/index.js');
}

describe('metrics of one copy in a registry of another', () => {
  it('are flushed, scraped, removed and reset as the registry’s own', async () => {
    const other = await otherCopy();
    expect(other.Registry).not.toBe(here.Registry);
    const prefix = randomPrefix('copies');
    const registry = new other.Registry({ prefix, selfMetrics: false });
    registries.track(registry, prefix);
    registry.setRedis(registries.redis);

    const counter = new here.Counter({ name: 'jobs_total', help: 'j', labelNames: ['q'], registry });
    const gauge = new here.Gauge({ name: 'depth', help: 'd', registry });
    const common = new here.CommonGauge({ name: 'limit', help: 'l', registry });
    const histogram = new here.Histogram({ name: 'wait_seconds', help: 'w', buckets: [1], registry });
    const summary = new here.Summary({ name: 'size_bytes', help: 's', registry });
    counter.inc({ q: 'a' }, 5);
    counter.inc({ q: 'b' }, 2);
    gauge.set(7);
    common.set(3);
    histogram.observe(0.5);
    histogram.observe(2);
    summary.observe(10);
    await registry.flush();
    let text = await registry.metrics();
    expect(sample(text, 'jobs_total{q="a"}')).toBe(5);
    expect(sample(text, 'jobs_total{q="b"}')).toBe(2);
    expect(sample(text, 'depth{gauge_index="0"}')).toBe(7);
    expect(sample(text, 'limit')).toBe(3);
    expect(sample(text, 'wait_seconds_bucket{le="1"}')).toBe(1);
    expect(sample(text, 'wait_seconds_count')).toBe(2);
    expect(sample(text, 'wait_seconds_sum')).toBe(2.5);
    expect(sample(text, 'size_bytes_count')).toBe(1);
    expect(sample(text, 'size_bytes_sum')).toBe(10);

    // remove() and reset() zero the cells they detach: a held child's next write starts from 0.
    const b = counter.labels({ q: 'b' });
    counter.remove({ q: 'b' });
    b.inc();
    histogram.reset();
    histogram.observe(0.1);
    await registry.flush();
    text = await registry.metrics();
    expect(sample(text, 'jobs_total{q="b"}')).toBe(1);
    expect(sample(text, 'wait_seconds_count')).toBe(1);
    expect(sample(text, 'wait_seconds_sum')).toBe(0.1);
  });

  it('include the default metrics collected into it', async () => {
    const other = await otherCopy();
    const prefix = randomPrefix('copies');
    const registry = new other.Registry({ prefix, selfMetrics: false });
    registries.track(registry, prefix);
    registry.setRedis(registries.redis);
    const stop = here.collectDefaultMetrics(registry, { intervalMs: 600_000 });
    stop();
    await registry.flush();
    const text = await registry.metrics();
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_heap_size_used_bytes{gauge_index="0"}')).toBeGreaterThan(0);
  });
});
