/**
 * A closed registry: scrapes say it is closed, and a value recorded after close() that can
 * never be delivered (the registry's own connection is gone, or it never had one) is reported
 * once per metric — never thrown. With a connection the caller owns, flush() still delivers.
 */
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, RecordedAfterCloseError, Registry } from '../../src/index.js';
import { randomPrefix, redisClient, sample, useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();

describe('a closed registry', () => {
  it('metrics() and metricsStream() reject saying it is closed', async () => {
    const { registry } = registries.make();
    await registry.close();
    await expect(registry.metrics()).rejects.toThrow(/^This registry is closed/);
    const stream = registry.metricsStream()[Symbol.asyncIterator]();
    await expect(stream.next()).rejects.toThrow(/^This registry is closed/);
  });

  for (const connection of ['its own connection', 'no connection'] as const) {
    it(`reports a value recorded after close() once per metric, naming it, and never throws (${connection})`, async () => {
      const errors: Error[] = [];
      const registry =
        connection === 'no connection'
          ? new Registry({ prefix: randomPrefix(), selfMetrics: false, onError: (e) => errors.push(e) })
          : registries.make({ onError: (e) => errors.push(e) }).registry;
      const jobs = new Counter({ name: 'jobs', help: 'jobs', labelNames: ['q'], registry });
      const up = new Gauge({ name: 'up', help: 'up', labelNames: ['host'], registry });
      // Without a connection, this series is still waiting at close(): its UndeliveredDataError
      // covers it, later values included.
      jobs.inc({ q: 'a' });
      await registry.close();
      errors.length = 0;
      expect(() => {
        for (let i = 0; i < 1000; i++) {
          jobs.inc({ q: i % 2 === 0 ? 'a' : 'b' });
          jobs.labels('held').inc();
          up.set({ host: 'h' }, i);
        }
      }).not.toThrow();
      expect(errors.every((e) => e instanceof RecordedAfterCloseError)).toBe(true);
      expect(errors.map((e) => (e as RecordedAfterCloseError).metric).sort()).toEqual(['jobs', 'up']);
      expect(errors[0]!.message).toMatch(/after close\(\).*never delivered/);
    });
  }

  it('with a connection the caller owns, delivers a value recorded after close() at flush(), and reports nothing', async () => {
    const redis = redisClient();
    const prefix = randomPrefix();
    const errors: Error[] = [];
    const registry = new Registry({ redis, prefix, selfMetrics: false, onError: (e) => errors.push(e) });
    registries.track(registry, prefix);
    const jobs = new Counter({ name: 'jobs', help: 'jobs', registry });
    jobs.inc();
    await registry.close();
    jobs.inc(2);
    await registry.flush();
    expect(sample(await registry.metrics(), 'jobs_total')).toBe(3);
    expect(errors).toEqual([]);
    redis.disconnect();
  });
});
