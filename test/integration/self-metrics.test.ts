/**
 * The library's own metrics (`prometheus_redis_client_*`) as a scrape and a reader see them: the
 * families, their HELP, TYPE, labels and samples, and the metadata stored for a standalone
 * reader. Values that depend on the clock (durations, timestamps) are masked.
 */
import { describe, expect, it } from 'vitest';
import { Counter } from '../../src/index.js';
import { useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();

/** The self-metric lines of an exposition, clock-dependent values masked. */
function ownLines(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.includes('prometheus_redis_client_'))
    .map((line) =>
      /^prometheus_redis_client_(flush_duration_seconds_(bucket|sum)|last_flush_timestamp_seconds)/.test(line)
        ? line.replace(/ [^ ]+$/, ' X')
        : line,
    )
    .join('\n');
}

describe('self-metrics', () => {
  it('keep their families, HELP, TYPE, labels and samples', async () => {
    const { registry } = registries.make({ selfMetrics: true, maxSeriesPerMetric: 1 });
    const capped = new Counter({ name: 'capped_total', help: 'c', labelNames: ['id'], registry });
    capped.inc({ id: 'a' });
    capped.inc({ id: 'b' });
    capped.inc({ id: 'c' });
    await registry.flush();
    capped.inc({ id: 'a' });
    // Delivers what the first flush recorded about itself (its own record waits for a flush that
    // user metrics cause: the scrape's flush has nothing of theirs to send).
    await registry.flush();
    expect(ownLines(await registry.metrics())).toBe(
      [
        '# HELP prometheus_redis_client_buffered_series Series recorded in this process and not yet acknowledged by Redis.',
        '# TYPE prometheus_redis_client_buffered_series gauge',
        'prometheus_redis_client_buffered_series{gauge_index="0"} 1',
        '# HELP prometheus_redis_client_dropped_series_total Label sets refused by maxSeriesPerMetric, by metric.',
        '# TYPE prometheus_redis_client_dropped_series_total counter',
        'prometheus_redis_client_dropped_series_total{metric="capped"} 2',
        '# HELP prometheus_redis_client_flush_duration_seconds Duration of acknowledged flushes (one round trip each).',
        '# TYPE prometheus_redis_client_flush_duration_seconds histogram',
        ...[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, '+Inf'].map(
          (le) => `prometheus_redis_client_flush_duration_seconds_bucket{le="${le}"} X`,
        ),
        'prometheus_redis_client_flush_duration_seconds_sum X',
        'prometheus_redis_client_flush_duration_seconds_count 1',
        '# HELP prometheus_redis_client_flush_retries_total Batches sent again after an unknown outcome (same token).',
        '# TYPE prometheus_redis_client_flush_retries_total counter',
        'prometheus_redis_client_flush_retries_total 0',
        '# HELP prometheus_redis_client_flush_series Series carried by each acknowledged flush.',
        '# TYPE prometheus_redis_client_flush_series histogram',
        'prometheus_redis_client_flush_series_bucket{le="1"} 0',
        'prometheus_redis_client_flush_series_bucket{le="10"} 1',
        'prometheus_redis_client_flush_series_bucket{le="100"} 1',
        'prometheus_redis_client_flush_series_bucket{le="1000"} 1',
        'prometheus_redis_client_flush_series_bucket{le="10000"} 1',
        'prometheus_redis_client_flush_series_bucket{le="100000"} 1',
        'prometheus_redis_client_flush_series_bucket{le="+Inf"} 1',
        // The first flush: the capped series, five self-metric series without labels, one dropped count.
        'prometheus_redis_client_flush_series_sum 7',
        'prometheus_redis_client_flush_series_count 1',
        '# HELP prometheus_redis_client_flushes_total Flush attempts by outcome (success, duplicate, partial, error, timeout, unavailable).',
        '# TYPE prometheus_redis_client_flushes_total counter',
        'prometheus_redis_client_flushes_total{outcome="success"} 1',
        '# HELP prometheus_redis_client_last_flush_timestamp_seconds Unix time of the last acknowledged flush of this process.',
        '# TYPE prometheus_redis_client_last_flush_timestamp_seconds gauge',
        'prometheus_redis_client_last_flush_timestamp_seconds{gauge_index="0"} X',
      ].join('\n'),
    );
  });

  it('store the same metadata for a standalone reader', async () => {
    const { registry, prefix } = registries.make({ selfMetrics: true, maxSeriesPerMetric: 1 });
    // Self-metrics never cause a flush: an application metric does (one label set dropped).
    const work = new Counter({ name: 'work_total', help: 'w', labelNames: ['id'], registry });
    work.inc({ id: 'a' });
    work.inc({ id: 'b' });
    await registry.flush();
    work.inc({ id: 'a' });
    await registry.flush();
    const stored = await registries.redis.hgetall(`{${prefix}}:meta`);
    const own = Object.fromEntries(
      Object.entries(stored)
        .filter(([name]) => name.startsWith('prometheus_redis_client_'))
        .sort(([a], [b]) => a.localeCompare(b)),
    );
    expect(own).toMatchInlineSnapshot(`
      {
        "prometheus_redis_client_buffered_series": "v1|gauge|||
      {"v":1,"name":"prometheus_redis_client_buffered_series","kind":"gauge","help":"Series recorded in this process and not yet acknowledged by Redis.","labelNames":[]}",
        "prometheus_redis_client_dropped_series": "v1|counter|metric||
      {"v":1,"name":"prometheus_redis_client_dropped_series","kind":"counter","help":"Label sets refused by maxSeriesPerMetric, by metric.","labelNames":["metric"]}",
        "prometheus_redis_client_flush_duration_seconds": "v1|histogram||0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5|
      {"v":1,"name":"prometheus_redis_client_flush_duration_seconds","kind":"histogram","help":"Duration of acknowledged flushes (one round trip each).","labelNames":[],"buckets":[0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5]}",
        "prometheus_redis_client_flush_retries": "v1|counter|||
      {"v":1,"name":"prometheus_redis_client_flush_retries","kind":"counter","help":"Batches sent again after an unknown outcome (same token).","labelNames":[]}",
        "prometheus_redis_client_flush_series": "v1|histogram||1,10,100,1000,10000,100000|
      {"v":1,"name":"prometheus_redis_client_flush_series","kind":"histogram","help":"Series carried by each acknowledged flush.","labelNames":[],"buckets":[1,10,100,1000,10000,100000]}",
        "prometheus_redis_client_flushes": "v1|counter|outcome||
      {"v":1,"name":"prometheus_redis_client_flushes","kind":"counter","help":"Flush attempts by outcome (success, duplicate, partial, error, timeout, unavailable).","labelNames":["outcome"]}",
        "prometheus_redis_client_last_flush_timestamp_seconds": "v1|gauge|||
      {"v":1,"name":"prometheus_redis_client_last_flush_timestamp_seconds","kind":"gauge","help":"Unix time of the last acknowledged flush of this process.","labelNames":[]}",
      }
    `);
  });
});
