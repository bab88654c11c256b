import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { Registry, type RegistryOptions } from '../../src/index.js';

/** A random prefix so tests sharing one Redis never see each other's keys. */
export function randomPrefix(label = 't'): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

/** URL of the run's shared redis-server (global setup) or REDIS_URL. */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** A client of the shared server; the caller quits it. */
export function redisClient(url = redisUrl()): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 2 });
  client.on('error', () => {});
  return client;
}

/** Delete every key under a prefix. */
export async function purgePrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`{${prefix}}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

/**
 * A registry on the shared server with a random prefix, a long interval (tests flush
 * explicitly) and no self-metrics unless asked. Errors are collected in `errors`.
 */
export function testRegistry(options: RegistryOptions = {}): {
  registry: Registry;
  errors: Error[];
  prefix: string;
} {
  const errors: Error[] = [];
  const prefix = options.prefix ?? randomPrefix();
  const registry = new Registry({
    redis: redisUrl(),
    flushIntervalMs: 60_000,
    expireSeconds: 600,
    // Exact-output assertions should not see the library's own metrics; tests of those opt in.
    selfMetrics: false,
    onError: (e) => errors.push(e),
    ...options,
    prefix,
  });
  return { registry, errors, prefix };
}
