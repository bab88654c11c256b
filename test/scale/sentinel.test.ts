import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcknowledgedDataLostError, Counter, Registry, type RegistryOptions } from '../../src/index.js';
import { flushUnderLoad, randomPrefix, sample, settle } from '../support/helpers.js';
import { startSentinelSetup, type SentinelSetup } from '../support/redis-sentinel.js';

let setup: SentinelSetup;
beforeAll(async () => {
  // Two replicas: in a Sentinel failover the one not promoted follows the old primary a little
  // longer, and acknowledges writes the new primary never gets (#15).
  setup = await startSentinelSetup(2);
}, 60_000);
afterAll(async () => {
  await setup?.stop();
});

/** Writers through the sentinels under heavy flushing, a fault, then the total as read back. */
async function throughFault(
  fault: () => Promise<unknown>,
  options: RegistryOptions,
  failoverDetector = false,
): Promise<{ recorded: number; total: number; errors: Error[] }> {
  const prefix = randomPrefix('sn');
  const errors: Error[] = [];
  const registries = [0, 1].map(
    () =>
      new Registry({
        redis: setup.client({ failoverDetector }),
        prefix,
        flushIntervalMs: 60_000,
        flushTimeoutMs: 2000,
        maxBackoffMs: 200,
        selfMetrics: false,
        onError: (e) => errors.push(e),
        ...options,
      }),
  );
  const counters = registries.map((registry) =>
    new Counter({ name: 'jobs_total', help: 'jobs', registry }).labels(),
  );
  const load = flushUnderLoad(counters, registries);
  await new Promise((r) => setTimeout(r, 500));
  await fault();
  await new Promise((r) => setTimeout(r, 1500)); // flushing goes on against the new primary
  const recorded = await load.stop();
  for (const r of registries) await settle(r, 30_000);
  const reader = new Registry({ redis: setup.client(), prefix, flushIntervalMs: 60_000, selfMetrics: false });
  const total = sample(await reader.metrics(), 'jobs_total') ?? 0;
  for (const r of [...registries, reader]) await r.close();
  return { recorded, total, errors };
}

describe('Sentinel failover with two replicas', () => {
  const durability = { replicas: 1, timeoutMs: 500 };

  it('SENTINEL FAILOVER with durability: exact (acknowledged batches the new primary missed go again)', async () => {
    const { recorded, total } = await throughFault(() => setup.failover(), { durability });
    expect(total).toBe(recorded);
  });

  it('kill -9 of the primary with durability: exact', async () => {
    const { recorded, total } = await throughFault(() => setup.killPrimary(), { durability });
    expect(total).toBe(recorded);
  });

  it('SENTINEL FAILOVER without durability, with failoverDetector: never doubled, the loss reported', async () => {
    const { recorded, total, errors } = await throughFault(() => setup.failover(), {}, true);
    console.log(
      `sentinel failover without durability, failoverDetector: ${recorded - total} of ${recorded} lost`,
    );
    expect(total).toBeLessThanOrEqual(recorded);
    if (total < recorded) expect(errors.some((e) => e instanceof AcknowledgedDataLostError)).toBe(true);
  });

  it('SENTINEL FAILOVER without durability nor failoverDetector: never doubled', async () => {
    // The writers stay on the old primary until Sentinel demotes it; what it acknowledged
    // meanwhile is lost, and a process that closed before moving never learns of it.
    const { recorded, total } = await throughFault(() => setup.failover(), {});
    console.log(
      `sentinel failover without durability nor failoverDetector: ${recorded - total} of ${recorded} lost`,
    );
    expect(total).toBeLessThanOrEqual(recorded);
  });
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
