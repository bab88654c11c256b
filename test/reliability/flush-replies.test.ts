/**
 * A flush reply means the same in both layouts: a DUP (an earlier attempt applied the batch and
 * its reply was lost) re-checks the batch's metadata, whose conflicts only the lost reply named,
 * and counts as a `duplicate` flush outcome — with `shardBy: "registry"` and `"metric"` alike.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Counter, MetadataConflictError, Registry, type RegistryOptions } from '../../src/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { randomPrefix, sample } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
let proxy: FaultProxy;
const open: Registry[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterEach(async () => {
  proxy.heal();
  for (const r of open.splice(0)) await r.close();
  await proxy.close();
});
afterAll(async () => {
  await server.stop();
});

/** A registry writing through a new proxy (errors collected), and a reader straight on the server. */
async function throughProxy(options: RegistryOptions = {}) {
  proxy = await FaultProxy.start(server.port);
  const errors: Error[] = [];
  const prefix = randomPrefix('rp');
  const registry = new Registry({
    redis: proxy.url,
    prefix,
    flushIntervalMs: 100,
    flushTimeoutMs: 1000,
    maxBackoffMs: 200,
    selfMetrics: false,
    onError: (e) => errors.push(e),
    ...options,
  });
  const reader = new Registry({ redis: server.url, prefix, flushIntervalMs: 60_000, selfMetrics: false });
  open.push(registry, reader);
  return { registry, reader, errors, prefix };
}

/** Flush `registry` until `done()` holds (flush failures are expected), or fail after `ms`. */
async function flushUntil(
  registry: Registry,
  done: () => boolean | Promise<boolean>,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await registry.flush().catch(() => {});
    if (await done()) return;
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms: ${done.toString()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const conflictOn = (errors: readonly Error[], name: string): boolean =>
  errors.some((e) => e instanceof MetadataConflictError && e.message.includes(`"${name}"`));

describe('a DUP reply', () => {
  for (const shardBy of ['registry', 'metric'] as const) {
    it(`re-checks the duplicated batch's metadata, so a conflict only the lost reply named is reported (shardBy "${shardBy}")`, async () => {
      const { registry, errors, prefix } = await throughProxy({ shardBy });
      // Another process stored family "x" with other label names.
      const other = new Registry({
        redis: server.url,
        prefix,
        shardBy,
        flushIntervalMs: 60_000,
        selfMetrics: false,
      });
      open.push(other);
      new Counter({ name: 'x', help: 'x', labelNames: ['a'], registry: other }).inc({ a: '1' });
      await other.flush();
      new Counter({ name: 'warm', help: 'warm', registry }).inc();
      await registry.flush(); // script loaded, connection warm
      // Registered and never recorded: only its metadata entry travels, in the batch whose reply is lost.
      new Counter({ name: 'x', help: 'x', labelNames: ['b'], registry });
      proxy.loseNextReply(/evalsha/i);
      await registry.flush().catch(() => {});
      expect(proxy.injected.lostReplies).toBe(1);
      await flushUntil(registry, () => registry.flushStats.duplicates > 0 && conflictOn(errors, 'x'));
      expect(sample(await other.metrics(), 'x_total{a="1"}')).toBe(1);
    });
  }

  it('counts as a "duplicate" flush outcome with shardBy "metric", as with shardBy "registry"', async () => {
    const { registry } = await throughProxy({ shardBy: 'metric', selfMetrics: true });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry });
    await registry.flush(); // script loaded, connection warm
    jobs.inc(5);
    // The request carrying the counter's group call reaches Redis; the connection then drops.
    proxy.loseNextReply(/:jobs\}:proc:/);
    await registry.flush().catch(() => {});
    expect(proxy.injected.lostReplies).toBe(1);
    const line = 'prometheus_redis_client_flushes_total{outcome="duplicate"}';
    // The outcome is recorded by the flush that got the DUP, and the library's own metrics ride
    // along with a later flush that carries changes of the application's.
    let recorded = 5;
    await flushUntil(registry, async () => {
      jobs.inc();
      recorded++;
      await registry.flush();
      return (sample(await registry.metrics(), line) ?? 0) >= 1;
    });
    expect(registry.flushStats.duplicates).toBeGreaterThan(0);
    expect(sample(await registry.metrics(), 'jobs_total')).toBe(recorded);
  });
});
