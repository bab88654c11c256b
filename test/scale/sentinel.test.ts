import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Registry } from '../../src/index.js';
import { flushUnderLoad, randomPrefix, sample, settle } from '../support/helpers.js';
import { startSentinelSetup, type SentinelSetup } from '../support/redis-sentinel.js';

let setup: SentinelSetup;
beforeAll(async () => {
  setup = await startSentinelSetup();
}, 60_000);
afterAll(async () => {
  await setup?.stop();
});

describe('Sentinel failover', () => {
  it('with durability (WAIT for the replica), keeps exact totals through a failover during heavy flushing', async () => {
    const prefix = randomPrefix('sn');
    const errors: Error[] = [];
    const registries = [0, 1].map(
      () =>
        new Registry({
          redis: setup.client(),
          prefix,
          flushIntervalMs: 60_000,
          flushTimeoutMs: 2000,
          maxBackoffMs: 200,
          selfMetrics: false,
          durability: { replicas: 1, timeoutMs: 500 },
          onError: (e) => errors.push(e),
        }),
    );
    const counters = registries.map((registry) =>
      new Counter({ name: 'jobs_total', help: 'jobs', registry }).labels(),
    );
    const load = flushUnderLoad(counters, registries);
    await new Promise((r) => setTimeout(r, 500));
    await setup.failover();
    await new Promise((r) => setTimeout(r, 1500)); // flushing goes on against the new primary
    const recorded = await load.stop();
    for (const r of registries) await settle(r, 30_000);
    const reader = new Registry({
      redis: setup.client(),
      prefix,
      flushIntervalMs: 60_000,
      selfMetrics: false,
    });
    expect(sample(await reader.metrics(), 'jobs_total')).toBe(recorded);
    for (const r of [...registries, reader]) await r.close();
  });

  it('rejects durability with a Redis Cluster client, naming the option', async () => {
    const { Cluster } = await import('ioredis');
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    expect(() => new Registry({ redis: cluster, durability: { replicas: 1 } })).toThrow(/durability/);
    cluster.disconnect();
  });

  it('rejects a malformed durability option naming the field and value', () => {
    expect(() => new Registry({ durability: { replicas: 0 } })).toThrow(/durability\.replicas.*0/);
  });
});
