/**
 * SIGKILL in the middle of a chain of chunks: what Redis holds is every acknowledged flush, plus
 * a prefix of the chunks of the one in flight, never a chunk without the ones before it, never
 * anything twice. Each round adds 1 to 2,000 series in the same order and flushes them as about
 * 100 chunks, so after the kill the series read, in that order, r+1 … r+1 then r … r, with one
 * boundary, where r is at least the last acknowledged round.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { randomPrefix, redisUrl, samples, until } from '../support/helpers.js';

const SERIES = 2000;
const open: Registry[] = [];
afterAll(async () => {
  for (const r of open.splice(0)) await r.close();
});

describe('SIGKILL part-way through a chunked flush', () => {
  it('leaves the acknowledged rounds and an in-order prefix of the next, nothing twice', async () => {
    let midChain = 0;
    for (const [attempt, delayMs] of [0, 7, 23].entries()) {
      const prefix = randomPrefix(`ck${attempt}`);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/fixtures/chunk-kill-worker.ts', redisUrl(), prefix],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let round = 0;
      let acked = 0;
      const errors: string[] = [];
      createInterface({ input: child.stdout }).on('line', (line) => {
        const [word, n] = line.split(' ');
        if (word === 'round') round = Number(n);
        else if (word === 'acked') acked = Number(n);
        else if (word === 'error') errors.push(line);
      });
      await until(
        () => acked,
        (n) => n >= 3,
        'the worker to flush three rounds',
        30_000,
      );
      // Into the middle of the next flush's chain.
      await until(() => round > acked, Boolean, 'a flush to start', 10_000, 1);
      await new Promise((r) => setTimeout(r, delayMs));
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      const reader = new Registry({ redis: redisUrl(), prefix, selfMetrics: false, flushIntervalMs: 60_000 });
      open.push(reader);
      const got = samples(await reader.metrics());
      const values = Array.from(
        { length: SERIES },
        (_, i) => got.get(`jobs_total{id="${String(i).padStart(5, '0')}"}`) ?? 0,
      );
      const low = Math.min(...values);
      const high = Math.max(...values);
      expect(errors).toEqual([]);
      // Nothing acknowledged is lost, nothing beyond what was recorded arrived.
      expect(low).toBeGreaterThanOrEqual(acked);
      expect(high).toBeLessThanOrEqual(round);
      expect(high - low).toBeLessThanOrEqual(1);
      // In order: once a series shows the lower value, every later one does.
      const boundary = values.indexOf(low);
      if (high > low) midChain++;
      expect(
        values.slice(boundary).every((v) => v === low),
        `values ${values.slice(0, 5).join(',')} … boundary ${boundary}`,
      ).toBe(true);
      expect(values.slice(0, boundary).every((v) => v === high)).toBe(true);
    }
    // The kills landed inside chains (a flush is about 100 calls, ~50 ms here), not only between.
    expect(midChain).toBeGreaterThan(0);
  }, 120_000);
});
