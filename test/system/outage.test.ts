/**
 * A Redis outage, with a private redis-server that is really stopped and started again (no
 * persistence: what Redis held before the stop is gone, as after a crash). Recording never throws
 * or waits; background failures go to onError, never to an unhandled rejection; memory grows with
 * series, not operations; everything recorded during the outage arrives exactly once after the
 * restart; and close() during an outage gives up within its bound and reports what it could
 * not deliver.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Counter, Histogram, PrometheusRedisError, Registry, UndeliveredDataError } from '../../src/index.js';
import { randomPrefix } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { maybeValueOf, parseText, type Exposition } from './exposition.js';
import { pollUntil } from './processes.js';

const CLOSE_TIMEOUT_MS = 1000;

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

const cleanups: Array<() => Promise<unknown> | void> = [];
const rejections: unknown[] = [];
const onRejection = (reason: unknown): void => {
  rejections.push(reason);
};
beforeEach(async () => {
  await server.start(); // idempotent: a test that failed mid-outage leaves it stopped
  rejections.length = 0;
  process.on('unhandledRejection', onRejection);
});
afterEach(async () => {
  process.off('unhandledRejection', onRejection);
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function outageRegistry(prefix: string, errors: Error[]): Registry {
  const registry = new Registry({
    redis: server.url,
    prefix,
    flushIntervalMs: 100,
    flushTimeoutMs: 500,
    maxBackoffMs: 1000,
    closeTimeoutMs: CLOSE_TIMEOUT_MS,
    onError: (error) => errors.push(error),
  });
  cleanups.push(() => registry.close());
  return registry;
}

describe('a Redis outage', () => {
  it('changes nothing for recording, and what was buffered arrives exactly once after the restart', async () => {
    const prefix = randomPrefix('outage');
    const errors: Error[] = [];
    const registry = outageRegistry(prefix, errors);
    const jobs = new Counter({
      name: 'out_jobs_total',
      help: 'Jobs.',
      labelNames: ['phase', 'kind'],
      registry,
    });
    const sizes = new Histogram({ name: 'out_size_bytes', help: 'Sizes.', buckets: [10, 100], registry });
    const reader = new Registry({ redis: server.url, prefix, selfMetrics: false });
    cleanups.push(() => reader.close());
    const read = async (): Promise<Exposition> => parseText(await reader.metrics());

    jobs.labels('before', 'bound').inc(5);
    jobs.inc({ phase: 'before', kind: 'inline' }, 2);
    await registry.flush();
    expect(maybeValueOf(await read(), 'out_jobs_total', { phase: 'before', kind: 'bound' })).toBe(5);

    await server.stop();

    const during = jobs.labels('during', 'bound');
    expect(() => {
      for (let i = 0; i < 1_000_000; i++) during.inc();
      for (let i = 0; i < 1000; i++) jobs.inc({ phase: 'during', kind: `inline${i % 10}` }, 0.5);
      for (let i = 0; i < 1000; i++) sizes.observe(i % 200);
    }).not.toThrow();

    // Let background flushes fail for a while (by count of failures, not by a fixed sleep).
    await pollUntil(
      () => registry.flushStats.failed,
      (failed) => failed >= 3,
      { timeoutMs: 15_000, what: 'three failed background flushes' },
    );
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error).toBeInstanceOf(PrometheusRedisError);
    // Deltas merged per series: a million increments are one series, not a million entries.
    expect(registry.undeliveredSeries).toBeGreaterThan(0);
    expect(registry.undeliveredSeries).toBeLessThan(100);
    // flush() itself rejects (with a library error) while Redis is away; it does not hang.
    await expect(registry.flush()).rejects.toBeInstanceOf(PrometheusRedisError);

    await server.start();

    const expectDuring = (e: Exposition): boolean =>
      maybeValueOf(e, 'out_jobs_total', { phase: 'during', kind: 'bound' }) === 1_000_000 &&
      maybeValueOf(e, 'out_size_bytes_count') === 1000;
    await pollUntil(read, expectDuring, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'outage deltas in Redis',
    });

    // Nothing applied twice — not even by a request resent after the reconnect and arriving late:
    // flush again, read again, still exact.
    await registry.flush();
    const after = await read();
    expect(maybeValueOf(after, 'out_jobs_total', { phase: 'during', kind: 'bound' })).toBe(1_000_000);
    for (let k = 0; k < 10; k++) {
      expect(maybeValueOf(after, 'out_jobs_total', { phase: 'during', kind: `inline${k}` })).toBe(50);
    }
    expect(maybeValueOf(after, 'out_size_bytes_bucket', { le: '10' })).toBe(55);
    expect(maybeValueOf(after, 'out_size_bytes_bucket', { le: '100' })).toBe(505);
    expect(maybeValueOf(after, 'out_size_bytes_bucket', { le: '+Inf' })).toBe(1000);
    let sum = 0;
    for (let i = 0; i < 1000; i++) sum += i % 200;
    expect(maybeValueOf(after, 'out_size_bytes_sum')).toBe(sum);
    // The server lost its data in the restart; what the registry had delivered before is not re-sent
    // (and certainly not doubled).
    expect([undefined, 5]).toContain(
      maybeValueOf(after, 'out_jobs_total', { phase: 'before', kind: 'bound' }),
    );
    expect(registry.undeliveredSeries).toBe(0);
    expect(rejections).toEqual([]);
  });

  it('close() during an outage resolves within closeTimeoutMs and reports the undelivered series', async () => {
    const prefix = randomPrefix('outage');
    const errors: Error[] = [];
    const registry = outageRegistry(prefix, errors);
    const jobs = new Counter({ name: 'out_close_total', help: 'Jobs.', labelNames: ['kind'], registry });
    jobs.inc({ kind: 'a' });
    await registry.flush();

    await server.stop();
    for (let i = 0; i < 100; i++) jobs.inc({ kind: `k${i}` });
    expect(registry.undeliveredSeries).toBeGreaterThanOrEqual(100);

    // The bound is closeTimeoutMs; the extra allowance only keeps a slow machine from failing the
    // test — a close() that never gives up fails it.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), CLOSE_TIMEOUT_MS + 10_000);
    });
    const outcome = await Promise.race([registry.close().then(() => 'closed' as const), hung]);
    clearTimeout(timer);
    expect(outcome).toBe('closed');

    const undelivered = errors.filter((e): e is UndeliveredDataError => e instanceof UndeliveredDataError);
    expect(undelivered, errors.map((e) => e.message).join('\n')).toHaveLength(1);
    expect(undelivered[0]!.series).toBeGreaterThanOrEqual(100);
    // A second close() is harmless and reports nothing new.
    await registry.close();
    expect(errors.filter((e) => e instanceof UndeliveredDataError)).toHaveLength(1);
    // Recording after close does not throw either (the data just has nowhere to go).
    expect(() => jobs.inc({ kind: 'late' })).not.toThrow();
    expect(rejections).toEqual([]);
  });
});
