/**
 * Redis going back in time under a running process (#15): a failover to a replica that missed
 * acknowledged flushes, simulated on one server by restoring the registry's keys as they were
 * before the last flushes. The next flush notices (the anchor expects the last acknowledged
 * batch) and says so: without `durability` the loss is reported, never silent, never doubled.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AcknowledgedDataLostError, Counter, type Registry } from '../../src/index.js';
import { Keys } from '../../src/redis/keys.js';
import { redisClient, sample, testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

describe('Redis behind acknowledged flushes', () => {
  it('is reported as AcknowledgedDataLostError, and the process goes on from what Redis has', async () => {
    const made = testRegistry();
    open.push(made.registry);
    const { registry, errors, prefix } = made;
    const jobs = new Counter({ name: 'jobs', help: 'h', registry });
    jobs.inc();
    await registry.flush();
    const admin = redisClient();
    const keys = new Keys(prefix);
    const saved = [keys.process(registry.processId), keys.family('jobs')];
    const dumps = await Promise.all(saved.map((key) => admin.dumpBuffer(key)));
    jobs.inc(10);
    await registry.flush(); // acknowledged, then lost: Redis goes back to the dumps
    for (let i = 0; i < saved.length; i++) await admin.restore(saved[i]!, 0, dumps[i]!, 'REPLACE');

    jobs.inc(100);
    await registry.flush();
    const lost = errors.filter((e): e is AcknowledgedDataLostError => e instanceof AcknowledgedDataLostError);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toMatch(/Redis lost flushes this process had acknowledged .* up to 1\): 0 kept/);
    // The batch of 10 is gone with the rollback; nothing is doubled; later flushes apply.
    expect(sample(await registry.metrics(), 'jobs_total')).toBe(101);
    jobs.inc();
    await registry.flush();
    expect(sample(await registry.metrics(), 'jobs_total')).toBe(102);
    admin.disconnect();
  });
});
