/**
 * Problems Redis reports inside a flush (a write it refuses): each flush is counted with its real
 * outcome, and a problem that keeps recurring is reported again at a bounded rate, never only
 * once for the life of the process.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Counter, type Registry } from '../../src/index.js';
import { REPORT_AGAIN_MS } from '../../src/flush/reply.js';
import { Keys } from '../../src/redis/keys.js';
import { redisClient, sample, testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const r of open.splice(0)) await r.close();
});

describe('a write Redis refuses on every flush', () => {
  it('counts each such flush as partial and reports the refusal again once a minute, saying how often it recurred', async () => {
    // Only Date is faked: sockets and timers stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    const made = testRegistry({ selfMetrics: true });
    open.push(made.registry);
    const { registry, errors, prefix } = made;
    const bad = new Counter({ name: 'bad', help: 'h', labelNames: ['a'], registry });
    const good = new Counter({ name: 'good', help: 'h', registry });
    bad.inc({ a: 'x' }, 0.5);
    good.inc();
    await registry.flush();
    const admin = redisClient();
    // The series' field holds no number: Redis refuses every HINCRBYFLOAT on it.
    await admin.hset(new Keys(prefix).family('bad'), 'a="x"', 'not a number');
    admin.disconnect();
    const refusals = (): Error[] => errors.filter((e) => /not a( valid)? float/i.test(e.message));

    for (let i = 0; i < 3; i++) {
      bad.inc({ a: 'x' }, 0.5);
      good.inc();
      await registry.flush().catch(() => {});
    }
    expect(refusals()).toHaveLength(1);
    expect(refusals()[0]!.message).not.toMatch(/recurred/);

    vi.setSystemTime(Date.now() + REPORT_AGAIN_MS + 1000);
    bad.inc({ a: 'x' }, 0.5);
    good.inc();
    await registry.flush().catch(() => {});
    expect(refusals()).toHaveLength(2);
    expect(refusals()[1]!.message).toMatch(
      /recurred 2 more time\(s\) in the 61 s since it was last reported/,
    );

    // Everything else applied; the four refusing flushes are counted as partial, none as success.
    const text = await registry.metrics();
    expect(sample(text, 'good_total')).toBe(5);
    expect(sample(text, 'prometheus_redis_client_flushes_total{outcome="partial"}')).toBeGreaterThanOrEqual(
      3,
    );
    expect(sample(text, 'prometheus_redis_client_flushes_total{outcome="success"}')).toBe(1);
  });
});
