/**
 * What Redis refuses when a registry's own connection opens: a database it does not have (ioredis
 * 6 only emits the SELECT error and goes on, on database 0) is a configuration error that
 * flush() and metrics() reject with, writing nothing anywhere; a wrong password's reason is in
 * the rejection, not only in onError.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Counter,
  Registry,
  RedisConfigurationError,
  RedisUnavailableError,
  type RegistryOptions,
} from '../../src/index.js';
import { randomPrefix, sample, until } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
const open: Registry[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
  for (const c of clients.splice(0)) c.disconnect();
});

function url(path: string, credentials = ''): string {
  return `redis://${credentials}127.0.0.1:${server.port}${path}`;
}

function registryAt(redis: string, errors: Error[], options: RegistryOptions = {}): Registry {
  const registry = new Registry({
    redis,
    prefix: randomPrefix('conn'),
    flushIntervalMs: 60_000,
    flushTimeoutMs: 1000,
    selfMetrics: false,
    onError: (e) => errors.push(e),
    ...options,
  });
  open.push(registry);
  return registry;
}

function admin(db = 0): Redis {
  const client = new Redis({ port: server.port, host: '127.0.0.1', db });
  client.on('error', () => {});
  clients.push(client);
  return client;
}

describe('a database Redis does not have', () => {
  it('is refused: flush() and metrics() reject naming it and the reason, and nothing is written anywhere', async () => {
    const errors: Error[] = [];
    // A short interval: the background flushes must not write either.
    const registry = registryAt(url('/99'), errors, { flushIntervalMs: 20, maxBackoffMs: 40 });
    new Counter({ name: 'jobs', help: 'jobs', registry }).inc(3);

    const flushed = registry.flush();
    await expect(flushed).rejects.toBeInstanceOf(RedisConfigurationError);
    await expect(flushed).rejects.toThrow(
      /database 99 \(the Redis URL's \/99\): ERR DB index is out of range/,
    );
    await expect(registry.metrics()).rejects.toBeInstanceOf(RedisConfigurationError);
    await until(
      () => registry.flushStats.failed,
      (n) => n >= 5,
      'background flushes to be refused',
    );

    expect(await admin().info('keyspace')).not.toMatch(/^db\d+:/m);
    expect(errors.some((e) => e instanceof RedisConfigurationError)).toBe(true);
  });

  it('a database Redis has is used, and only it', async () => {
    const errors: Error[] = [];
    const registry = registryAt(url('/3'), errors);
    new Counter({ name: 'jobs', help: 'jobs', registry }).inc(3);
    expect(sample(await registry.metrics(), 'jobs_total')).toBe(3);
    expect(await admin(3).dbsize()).toBeGreaterThan(0);
    expect(await admin(0).dbsize()).toBe(0);
    expect(errors).toEqual([]);
  });
});

describe('a wrong password', () => {
  it("makes flush() reject with Redis's reason (WRONGPASS) in the message and as the cause", async () => {
    const errors: Error[] = [];
    // A user Redis does not know: AUTH fails with WRONGPASS, and ioredis keeps reconnecting.
    const registry = registryAt(url('', 'nobody:wrong-pw@'), errors, { flushTimeoutMs: 500 });
    new Counter({ name: 'jobs', help: 'jobs', registry }).inc();
    const error = await registry.flush().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(error?.message).toMatch(/not reachable .* after 500 ms: WRONGPASS/);
    expect((error?.cause as Error | undefined)?.message).toMatch(/^WRONGPASS/);
  });
});
