import { afterEach, describe, expect, it } from 'vitest';
import { CommonGauge, Counter, type Registry } from '../../src/index.js';
import { redisClient, testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

describe('whole and fractional increments on one series', () => {
  it('adds exactly whichever way the field was first written (HINCRBY with HINCRBYFLOAT fallback)', async () => {
    const { registry, prefix } = testRegistry();
    open.push(registry);
    const c = new Counter({ name: 'mixed_total', help: 'm', labelNames: ['k'], registry });
    const g = new CommonGauge({ name: 'level', help: 'l', registry });
    c.inc({ k: 'a' }, 0.5); // stored as a float first
    c.inc({ k: 'b' }, 3); // stored as an integer first
    g.inc(2);
    await registry.flush();
    c.inc({ k: 'a' }, 2); // whole delta onto a fractional field: falls back to HINCRBYFLOAT
    c.inc({ k: 'b' }, 0.25); // fractional delta onto an integer field
    g.dec(5);
    await registry.flush();
    c.inc({ k: 'a' }, 1);
    c.inc({ k: 'b' }, 1);
    await registry.flush();
    const text = await registry.metrics();
    expect(text).toContain('mixed_total{k="a"} 3.5\n');
    expect(text).toContain('mixed_total{k="b"} 4.25\n');
    expect(text).toContain('level -3\n');
    const redis = redisClient();
    expect(await redis.hget(`{${prefix}}:f:mixed`, 'k="b"')).toBe('4.25');
    redis.disconnect();
  });
});
