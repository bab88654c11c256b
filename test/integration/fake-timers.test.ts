/**
 * Tests written for prom-client under fake timers: @sinonjs/fake-timers, the implementation jest 30's
 * `useFakeTimers()` installs, with jest's default (everything faked) and with the documented
 * `doNotFake: ['nextTick', 'queueMicrotask']`. With the documented setting, flushes and scrapes
 * work and timers follow the fake clock; with everything faked, they fail at once saying what to
 * keep real, instead of never settling and wedging the registry.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { setTimeout as realDelay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, RedisUnavailableError } from '../../src/index.js';
import { samples, useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();

/** What jest 30 fakes by default (its `toFake` list), less `without`. */
const JEST_DEFAULT = [
  'Date',
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

let clock: FakeTimers.Clock | undefined;
afterEach(() => {
  clock?.uninstall();
  clock = undefined;
});

function fake(without: ReadonlyArray<(typeof JEST_DEFAULT)[number]> = []): FakeTimers.Clock {
  clock = FakeTimers.install({
    toFake: JEST_DEFAULT.filter((name) => !without.includes(name)),
    shouldClearNativeTimers: true,
  });
  return clock;
}

describe("under jest's fake timers", () => {
  it("with doNotFake: ['nextTick', 'queueMicrotask'], flushes and scrapes work and timers follow the fake clock", async () => {
    const { registry } = registries.make({ flushIntervalMs: 1000 });
    const latency = new Histogram({ name: 'fake_seconds', help: 'f', buckets: [1, 2], registry });
    const jobs = new Counter({ name: 'fake_jobs_total', help: 'j', registry });
    const up = new Gauge({ name: 'fake_up', help: 'u', registry });
    const time = fake(['nextTick', 'queueMicrotask']);

    const end = latency.startTimer();
    time.tick(1500);
    expect(end()).toBe(1.5);
    const timed = latency.timeit(() => time.tick(250));
    timed();
    jobs.inc(3);
    up.setToCurrentTime();
    // A second metrics() too: the one that never settled under jest's defaults.
    await registry.metrics();
    const text = await registry.metrics();
    expect(samples(text).get('fake_seconds_bucket{le="1"}')).toBe(1);
    expect(samples(text).get('fake_seconds_bucket{le="2"}')).toBe(2);
    expect(samples(text).get('fake_seconds_sum')).toBe(1.75);
    expect(samples(text).get('fake_jobs_total')).toBe(3);
    expect(samples(text).get('fake_up{gauge_index="0"}')).toBe(Date.now() / 1000);

    // A registry made under the fake timers flushes on their interval: when the test moves the
    // clock, not before. (node:timers/promises is not faked: it waits in real time.)
    const { registry: later } = registries.make({ flushIntervalMs: 1000 });
    const late = new Counter({ name: 'fake_late_total', help: 'l', registry: later });
    await later.flush();
    late.inc();
    await time.tickAsync(999);
    await realDelay(100);
    expect(later.undeliveredSeries).toBe(1);
    await time.tickAsync(1);
    for (let i = 0; i < 100 && later.undeliveredSeries > 0; i++) await realDelay(20);
    expect(later.undeliveredSeries).toBe(0);
  });

  it('with everything faked (jest’s default), flush() and metrics() fail at once saying what to keep real', async () => {
    const { registry } = registries.make();
    const jobs = new Counter({ name: 'wedge_total', help: 'w', registry });
    jobs.inc();
    fake();
    const flushed = registry.flush();
    const scraped = registry.metrics();
    clock!.uninstall();
    clock = undefined;
    for (const attempt of [flushed, scraped]) {
      await expect(attempt).rejects.toThrow(RedisUnavailableError);
      await expect(attempt).rejects.toThrow(
        "Fake timers replaced nextTick and queueMicrotask, which Redis I/O runs on: this call would never settle. Keep them real: jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] })",
      );
    }
    // Nothing was queued or lost: back on real timers, the registry is not wedged.
    expect(samples(await registry.metrics()).get('wedge_total')).toBe(1);
  });
});
