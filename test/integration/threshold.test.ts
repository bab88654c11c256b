/**
 * `flushThreshold` bounds a batch: a flush starts once that many series changed, also while
 * another flush is running (it queues behind it), so no batch carries more than the threshold
 * plus what arrives during one flush. Issue #13 measured batches of 5,005, 43,605 and 49,955
 * series under a threshold of 5,000 before: the trigger fired only at exactly the threshold and
 * was dropped while a flush was in flight.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Counter, type Registry } from '../../src/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { samples, testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
let proxy: FaultProxy | undefined;
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
  await proxy?.close();
  proxy = undefined;
});

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('flushThreshold under a stream of new series', () => {
  it('keeps every batch near the threshold while flushes overlap the stream, and loses nothing', async () => {
    const threshold = 1000;
    const burst = 500; // new series per 10 ms: about 50k per second
    const bursts = 60;
    // Every reply 40 ms late: a flush is in flight whenever the next thousand series arrive.
    const port = Number(new URL(inject('redisUrl')).port);
    proxy = await FaultProxy.start(port);
    proxy.delayMs = 40;
    const { registry, errors } = testRegistry({
      redis: proxy.url,
      flushThreshold: threshold,
      maxSeriesPerMetric: 100_000,
    });
    open.push(registry);
    const c = new Counter({ name: 'stream_total', help: 's', labelNames: ['id'], registry });
    // Connected before the stream starts: the first batch should not also carry the connect time.
    await registry.flush();
    const batches: number[] = [];
    let slowest = 0;
    let seen = 0;
    const observe = () => {
      const stats = registry.flushStats;
      if (stats.ok !== seen) {
        seen = stats.ok;
        batches.push(stats.lastSeries);
        slowest = Math.max(slowest, stats.lastDurationMs);
      }
    };
    for (let b = 0; b < bursts; b++) {
      for (let i = 0; i < burst; i++) c.inc({ id: `${b}-${i}` });
      await tick();
      observe();
    }
    await registry.flush();
    observe();
    expect(errors).toEqual([]);
    // Flushes happened during the stream, not just the final one.
    expect(registry.flushStats.ok).toBeGreaterThan(2);
    // The threshold plus what arrives during one flush (the slowest seen), with three ticks of
    // slack for a loaded machine's scheduling. The old trigger, dropped while a flush was in
    // flight, left most of the stream (22,500 of 30,000 series) to one batch.
    const bound = threshold + burst * Math.ceil(slowest / 10 + 3);
    expect(Math.max(...batches), `batches ${batches.join(', ')}; slowest ${slowest} ms`).toBeLessThanOrEqual(
      bound,
    );
    // Read straight from Redis: through the 40 ms proxy a scrape pays 40 ms per bounded page.
    const { registry: reader } = testRegistry({ prefix: registry.prefix });
    open.push(reader);
    const text = await reader.metrics();
    let total = 0;
    for (const [line, value] of samples(text)) if (line.startsWith('stream_total{')) total += value;
    expect(total).toBe(bursts * burst);
  });
});
