import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';

describe('bounded memory during an outage', () => {
  it('keeps the heap flat over 10 million increments on 100 series while Redis is unreachable', async () => {
    const port = await freePort(); // nothing listens there: every flush attempt fails
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'test/fixtures/reliability-heap.ts', `redis://127.0.0.1:${port}`],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      growth: number;
      undelivered: number;
      failed: number;
      failures: number;
    };
    // 9 million more operations may not grow the heap: the buffer holds 100 series, not operations.
    expect(result.growth).toBeLessThan(1_000_000);
    expect(result.undelivered).toBeGreaterThanOrEqual(100);
    expect(result.undelivered).toBeLessThanOrEqual(110);
    expect(result.failed).toBeGreaterThan(0);
    expect(result.failures).toBeGreaterThan(0);
  });
});
