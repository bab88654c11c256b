/**
 * close() on a hung Redis (redis-server SIGSTOPped: the connection stays open, nothing is
 * answered, as on a black-holed link): it resolves within closeTimeoutMs whatever Redis does,
 * and tells the series it never sent (UndeliveredDataError) from those it sent without an
 * answer (UnknownOutcomeError: Redis may apply them, and here does, when it resumes).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Registry, UndeliveredDataError, UnknownOutcomeError } from '../../src/index.js';
import { randomPrefix, samples } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const CLOSE_TIMEOUT_MS = 1000;
/** Only keeps a slow machine from failing the test: a close() that waits for Redis fails it. */
const ALLOWANCE_MS = 4000;

let server: RedisServer;
const open: Registry[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  server.resume();
  for (const r of open.splice(0)) await r.close();
});

/** A registry that owns its connection; every changed series is a chunk of its own, one in flight. */
function owning(prefix: string, errors: Error[], flushTimeoutMs: number): Registry {
  const registry = new Registry({
    redis: server.url,
    prefix,
    flushIntervalMs: 60_000,
    flushTimeoutMs,
    closeTimeoutMs: CLOSE_TIMEOUT_MS,
    flushChunkUpdates: 1,
    flushWindow: 1,
    selfMetrics: false,
    onError: (e) => errors.push(e),
  });
  open.push(registry);
  return registry;
}

/** `close()`, or 'hung' if it has not resolved after closeTimeoutMs and the allowance. */
async function closeBounded(registry: Registry): Promise<'closed' | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), CLOSE_TIMEOUT_MS + ALLOWANCE_MS);
  });
  const outcome = await Promise.race([registry.close().then(() => 'closed' as const), hung]);
  clearTimeout(timer);
  return outcome;
}

/** The jobs_total values in Redis, smallest first. */
async function totals(prefix: string): Promise<number[]> {
  const reader = new Registry({ redis: server.url, prefix, flushIntervalMs: 60_000, selfMetrics: false });
  open.push(reader);
  const found = [...samples(await reader.metrics())].filter(([line]) => line.startsWith('jobs_total{'));
  return found.map(([, value]) => value).sort((a, b) => a - b);
}

describe('close() on a hung Redis', () => {
  for (const [flushTimeoutMs, when] of [
    [10_000, 'still in flight at closeTimeoutMs'],
    [300, 'timed out before closeTimeoutMs'],
  ] as const) {
    it(`resolves within closeTimeoutMs; the chunk sent is reported as unknown outcome, the unsent ones undelivered (${when})`, async () => {
      const prefix = randomPrefix('hung');
      const errors: Error[] = [];
      const registry = owning(prefix, errors, flushTimeoutMs);
      const jobs = new Counter({ name: 'jobs', help: 'jobs', labelNames: ['q'], registry });
      for (const q of ['a', 'b', 'c']) jobs.inc({ q });
      await registry.flush();

      server.pause();
      // Three chunks: the first is sent alone and never answered; the others wait for its reply.
      for (const q of ['a', 'b', 'c']) jobs.inc({ q });
      expect(await closeBounded(registry)).toBe('closed');

      const messages = errors.map((e) => e.message).join('\n');
      const unknown = errors.filter((e): e is UnknownOutcomeError => e instanceof UnknownOutcomeError);
      const undelivered = errors.filter((e): e is UndeliveredDataError => e instanceof UndeliveredDataError);
      expect(
        unknown.map((e) => e.series),
        messages,
      ).toEqual([1]);
      expect(
        undelivered.map((e) => e.series),
        messages,
      ).toEqual([2]);
      expect(unknown[0]!.message).toMatch(/may or may not have been applied/);

      // Redis resumes: the two never sent did not apply; the one sent may have (here it does).
      server.resume();
      const [first, second, third] = await totals(prefix);
      expect([first, second]).toEqual([1, 1]);
      expect([1, 2]).toContain(third);
    });
  }

  it('changes nothing with a healthy Redis: everything delivered, nothing reported, the connection QUIT', async () => {
    const prefix = randomPrefix('hung');
    const errors: Error[] = [];
    const registry = owning(prefix, errors, 10_000);
    const jobs = new Counter({ name: 'jobs', help: 'jobs', labelNames: ['q'], registry });
    for (const q of ['a', 'b', 'c']) jobs.inc({ q }, 2);
    const admin = server.client();
    const quits = async (): Promise<number> =>
      Number(/cmdstat_quit:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const before = await quits();
    expect(await closeBounded(registry)).toBe('closed');
    expect(errors).toEqual([]);
    expect(await totals(prefix)).toEqual([2, 2, 2]);
    expect(await quits()).toBe(before + 1);
  });
});
