/**
 * `npm run demo` (scripts/demo.ts), run as a newcomer would: no REDIS_URL, so it starts its own
 * redis-server; it must print the /metrics URL (which serves the workers' merged metrics while it
 * runs), print summary lines, account for every request at the end, stop the server it started
 * and exit 0. Without redis-server on the PATH it must say how to get one, and exit 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseText, samplesOf } from '../system/exposition.js';
import { describeChild, pollUntil } from '../system/processes.js';
import { childEnv, get, startTs } from './spawn.js';

/** Whether something answers PING at this URL (no retries). */
async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

describe('npm run demo', () => {
  it('starts redis-server, serves the merged /metrics, prints a summary, cleans up, exits 0', async () => {
    const demo = startTs('scripts/demo.ts', [], {
      env: childEnv({ DEMO_SECONDS: '3', DEMO_RATE: '5000' }, ['REDIS_URL']),
      timeoutMs: 40_000,
    });
    const metricsUrl = await pollUntil(
      () => /merged metrics of all workers: (http:\/\/\S+\/metrics)/.exec(demo.stdout())?.[1],
      (url) => url !== undefined,
      { timeoutMs: 30_000, what: 'the demo printing its /metrics URL' },
    );
    // While it runs, the URL serves every worker's series (one in-flight gauge per process).
    const served = await pollUntil(
      async () => parseText((await get(metricsUrl!)).body),
      (e) => samplesOf(e, 'demo_in_flight').length === 3 && samplesOf(e, 'demo_requests_total').length > 0,
      { timeoutMs: 10_000, what: 'the three workers in /metrics' },
    );
    expect(samplesOf(served, 'demo_request_duration_seconds_count').length).toBe(4);

    const result = await demo.exited;
    expect(result.code, describeChild(result)).toBe(0);
    expect(result.stdout).toMatch(/summary t=\d+s ops\/s=\d+ flushes=\d+ series=\d+ lag=(\d+ms|n\/a)/);
    expect(result.stdout).toMatch(
      /stopped: [\d,]+ requests recorded by 3 processes, [\d,]+ in Redis — every one/,
    );
    const redisUrl = /Redis (redis:\/\/\S+)/.exec(result.stdout)?.[1];
    expect(redisUrl).toBeDefined();
    expect(await redisAnswers(redisUrl!), 'the redis-server the demo started is still running').toBe(false);
  });

  it('explains how to get Redis when redis-server is not on the PATH, and exits 1', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'prc-no-redis-'));
    try {
      const demo = startTs('scripts/demo.ts', [], { env: childEnv({ PATH: empty }, ['REDIS_URL']) });
      const result = await demo.exited;
      expect(result.code, describeChild(result)).toBe(1);
      expect(result.stderr).toContain('no `redis-server` was found on the PATH');
      expect(result.stderr).toContain('apt-get install redis-server');
      expect(result.stderr).toContain('brew install redis');
      expect(result.stderr).toContain('REDIS_URL=redis://');
      expect(result.stdout).toBe('');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
