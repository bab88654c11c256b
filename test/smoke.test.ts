import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Histogram } from '../src/index.js';
import { testRegistry } from './support/helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('end to end', () => {
  it('merges a counter and a histogram through Redis', async () => {
    const { registry, errors } = testRegistry();
    cleanups.push(() => registry.close());
    const c = new Counter({ name: 'jobs_total', help: 'Jobs', labelNames: ['queue'], registry });
    const h = new Histogram({ name: 'job_seconds', help: 'Job time', buckets: [1, 2], registry });
    c.inc({ queue: 'a' }, 2);
    c.labels('a').inc();
    h.observe(1.5);
    await registry.flush();
    const text = await registry.metrics();
    expect(text).toContain('jobs_total{queue="a"} 3\n');
    expect(text).toContain(
      'job_seconds_bucket{le="1"} 0\njob_seconds_bucket{le="2"} 1\njob_seconds_bucket{le="+Inf"} 1\n',
    );
    expect(errors).toEqual([]);
  });
});
