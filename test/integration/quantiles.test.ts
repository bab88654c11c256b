/**
 * Summary quantiles merged across processes, against a real Redis: several registries (each its
 * own process identity) and a real child process observe five distributions; every reported
 * quantile is within 1% relative error (the sketch promises 0.5%) of the exact quantile of the
 * union of all their observations — the value at rank ceil(q·n), at least 1, in ascending order
 * (`quantileRank`), which is how the sketch defines it. Then: the sliding window drops old time
 * slots, `remove()`/`reset()` clear the window, and a different quantile configuration under the
 * same name is a metadata conflict.
 */
import { spawnSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { RELATIVE_ACCURACY } from '../../src/core/sketch-mapping.js';
import { quantileRank } from '../../src/export/quantiles.js';
import { Keys } from '../../src/redis/keys.js';
import { MetadataConflictError, Summary, type Registry } from '../../src/index.js';
import { DISTRIBUTIONS, observations, QUANTILE_SUMMARY } from '../fixtures/quantile-workload.js';
import { randomPrefix, redisUrl, useTestRegistries } from '../support/helpers.js';
import { checkOpenMetrics, maybeValueOf, parseText, valueOf, type Exposition } from '../system/exposition.js';
import { describeChild, pollUntil, runTs } from '../system/processes.js';

const registries = useTestRegistries();
const make = registries.make;
let redis: Redis;
beforeAll(() => {
  redis = registries.redis;
});

const relativeError = (reported: number, exact: number): number =>
  exact === 0 ? Math.abs(reported) : Math.abs(reported - exact) / Math.abs(exact);

/** Observations per distribution per process. */
const COUNT = 4000;
/** In-process registries; one more process is a real child process. */
const IN_PROCESS = 3;

describe('Summary quantiles across processes', () => {
  it('reports every quantile within 1% of the exact quantile of the union of all observations', async () => {
    const prefix = randomPrefix('quant');
    const childProc = IN_PROCESS;
    const childRun = runTs(
      'test/fixtures/quantile-worker.ts',
      [redisUrl(), prefix, String(childProc), String(COUNT)],
      { timeoutMs: 30_000 },
    );
    const writers = Array.from({ length: IN_PROCESS }, () => make({ prefix }));
    for (const [proc, { registry }] of writers.entries()) {
      const summary = new Summary({ ...QUANTILE_SUMMARY, registry });
      for (const dist of DISTRIBUTIONS) {
        const child = summary.labels(dist);
        for (const [i, v] of observations(dist, proc, COUNT).entries()) {
          if (i % 3 === 0) summary.observe({ dist }, v);
          else child.observe(v);
          // Several flushes per process: buckets also merge across flushes of one process.
          if (i % 1500 === 1499) await registry.flush();
        }
      }
      await registry.flush();
    }
    const result = await childRun;
    expect(result.code, describeChild(result)).toBe(0);

    const reader = make({ prefix });
    const text = await reader.registry.metrics();
    const exposition = parseText(text);
    expect(checkOpenMetrics(await reader.registry.metrics({ format: 'openmetrics' }))).toEqual([]);
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // promtool (when installed) accepts the quantile lines: parse errors exit 1, lint problems 3.
    if (promtool.error === undefined) expect(promtool.status, `${promtool.stdout}${promtool.stderr}`).toBe(0);

    let worst = 0;
    for (const dist of DISTRIBUTIONS) {
      const union = Array.from({ length: IN_PROCESS + 1 }, (_, proc) =>
        observations(dist, proc, COUNT),
      ).flat();
      const sorted = union.sort((a, b) => a - b);
      const n = sorted.length;
      expect(valueOf(exposition, 'q_values_count', { dist })).toBe(n);
      const exactSum = sorted.reduce((a, b) => a + b, 0);
      expect(relativeError(valueOf(exposition, 'q_values_sum', { dist }), exactSum)).toBeLessThan(1e-9);
      for (const q of QUANTILE_SUMMARY.percentiles) {
        const exact = sorted[quantileRank(q, n) - 1]!;
        const reported = valueOf(exposition, 'q_values', { dist, quantile: String(q) });
        const error = relativeError(reported, exact);
        worst = Math.max(worst, error);
        expect(error, `${dist} q=${q}: reported ${reported}, exact ${exact}`).toBeLessThanOrEqual(0.01);
        // The sketch's own bound (with room for floating-point rounding).
        expect(error, `${dist} q=${q}`).toBeLessThanOrEqual(RELATIVE_ACCURACY * (1 + 1e-9));
      }
    }
    // The measured worst case over every distribution and quantile (reported by the test run).
    console.log(
      `quantiles: worst relative error ${(worst * 100).toFixed(4)}% over ${DISTRIBUTIONS.length} distributions`,
    );
  });
});

describe('sliding window', () => {
  /** The p50 and p99 of the series and its all-time count, from one scrape. */
  async function read(registry: Registry): Promise<{ p50: number; p99: number; count: number }> {
    const exposition: Exposition = parseText(await registry.metrics());
    return {
      p50: valueOf(exposition, 'win_seconds', { quantile: '0.5' }),
      p99: valueOf(exposition, 'win_seconds', { quantile: '0.99' }),
      count: valueOf(exposition, 'win_seconds_count'),
    };
  }

  it('observations leave the quantiles once their slot is outside the window; _sum and _count stay all-time', async () => {
    const prefix = randomPrefix('win');
    const { registry } = make({ prefix });
    const other = make({ prefix }).registry;
    // 3 s in 3 slots of 1 s.
    const config = {
      name: 'win_seconds',
      help: 'w',
      percentiles: [0.5, 0.99],
      maxAgeSeconds: 3,
      ageBuckets: 3,
    };
    const summary = new Summary({ ...config, registry });
    const otherSummary = new Summary({ ...config, registry: other });
    for (let i = 0; i < 100; i++) summary.observe(1000);
    await registry.flush();
    const first = await read(registry);
    expect(relativeError(first.p50, 1000)).toBeLessThanOrEqual(0.01);

    // Keep observing small values from another process until the old slot has left the window.
    let recent = 0;
    const moved = await pollUntil(
      async () => {
        otherSummary.observe(1);
        recent++;
        await other.flush();
        return read(registry);
      },
      (r) => r.p99 < 2,
      { timeoutMs: 15_000, intervalMs: 100, what: 'the 1000s leaving the window' },
    );
    expect(relativeError(moved.p50, 1)).toBeLessThanOrEqual(0.01);
    expect(moved.count).toBe(100 + recent);

    // With nothing new, the window empties: NaN quantiles, all-time _sum and _count unchanged.
    const empty = await pollUntil(
      () => read(registry),
      (r) => Number.isNaN(r.p50),
      { timeoutMs: 15_000, intervalMs: 100, what: 'an empty window' },
    );
    expect(Number.isNaN(empty.p99)).toBe(true);
    expect(empty.count).toBe(100 + recent);
    const text = await registry.metrics();
    expect(valueOf(parseText(text), 'win_seconds_sum')).toBe(100 * 1000 + recent);
    expect(text).toContain('win_seconds{quantile="0.5"} NaN\n');

    // The slot keys expire by themselves (no HEXPIRE needed): nothing is left of the window.
    const keys = new Keys(prefix);
    await pollUntil(
      () => redis.keys(`${keys.quantileWindow('win_seconds')}*`),
      (found) => found.length === 0,
      { timeoutMs: 15_000, intervalMs: 200, what: 'the slot keys expiring' },
    );
  });
});

describe('remove, reset and metadata', () => {
  const config = { name: 'rm_seconds', help: 'r', labelNames: ['r'], percentiles: [0.5, 0.9] } as const;

  it('remove() deletes a series from the window in every slot; reset() deletes the window', async () => {
    const prefix = randomPrefix('qrm');
    const { registry } = make({ prefix });
    const summary = new Summary({ ...config, registry });
    summary.observe({ r: 'a' }, 3);
    summary.observe({ r: 'b' }, 5);
    await registry.flush();
    const keys = new Keys(prefix);
    const slotKeys = (): Promise<string[]> => redis.keys(`${keys.quantileWindow(config.name)}*`);
    expect((await slotKeys()).length).toBeGreaterThan(0);

    summary.remove({ r: 'a' });
    await registry.flush();
    let exposition = parseText(await registry.metrics());
    expect(maybeValueOf(exposition, 'rm_seconds', { r: 'a', quantile: '0.5' })).toBeUndefined();
    expect(relativeError(valueOf(exposition, 'rm_seconds', { r: 'b', quantile: '0.5' }), 5)).toBeLessThan(
      0.01,
    );
    for (const key of await slotKeys()) {
      expect((await redis.hkeys(key)).filter((f) => f.startsWith('r="a"|'))).toEqual([]);
    }

    summary.reset();
    await registry.flush();
    expect(await slotKeys()).toEqual([]);
    summary.observe({ r: 'c' }, 7);
    await registry.flush();
    exposition = parseText(await registry.metrics());
    expect(maybeValueOf(exposition, 'rm_seconds', { r: 'b', quantile: '0.5' })).toBeUndefined();
    expect(relativeError(valueOf(exposition, 'rm_seconds', { r: 'c', quantile: '0.9' }), 7)).toBeLessThan(
      0.01,
    );
  });

  it.each([
    ['other percentiles', { percentiles: [0.5, 0.99] }],
    ['another window', { maxAgeSeconds: 60 }],
    ['other age buckets', { ageBuckets: 10 }],
    ['no percentiles', { percentiles: undefined }],
  ])('a summary registered with %s under the same name is a MetadataConflictError', async (_what, change) => {
    const prefix = randomPrefix('qmc');
    const a = make({ prefix });
    const b = make({ prefix });
    new Summary({ ...config, registry: a.registry }).observe({ r: 'a' }, 1);
    await a.registry.flush();
    const before = await a.registry.metrics();

    new Summary({ ...config, ...change, registry: b.registry }).observe({ r: 'a' }, 100);
    await expect(b.registry.flush()).rejects.toBeInstanceOf(MetadataConflictError);
    expect(b.errors.some((e) => e instanceof MetadataConflictError)).toBe(true);
    // The conflicting writes are dropped: the stored family is untouched.
    expect(await a.registry.metrics()).toBe(before);
  });
});
