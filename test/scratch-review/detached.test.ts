import { afterEach, expect, test } from 'vitest';
import { Counter, Gauge, Registry } from '../../src/index.js';
import { testRegistry, sample } from '../support/helpers.js';

const regs: Registry[] = [];
afterEach(async () => { for (const r of regs.splice(0)) await r.close(); });

test('remove, child write, remove again: second remove is ignored', async () => {
  const { registry } = testRegistry(); regs.push(registry);
  const c = new Counter({ name: 'c1', help: 'h', labelNames: ['a'], registry });
  const child = c.labels('x');
  child.inc(5);
  await registry.flush();
  c.remove('x');
  child.inc(2);
  c.remove('x');
  await registry.flush();
  const text = await registry.metrics();
  console.log(text);
  expect(sample(text, 'c1_total{a="x"}')).toBeUndefined();
});

test('remove, child write, reset: stale value survives reset', async () => {
  const { registry } = testRegistry(); regs.push(registry);
  const c = new Counter({ name: 'c2', help: 'h', labelNames: ['a'], registry });
  const child = c.labels('x');
  child.inc(5);
  await registry.flush();
  c.remove('x');
  child.inc(2);
  c.reset();
  child.inc(1);
  await registry.flush();
  const text = await registry.metrics();
  console.log(text);
  expect(sample(text, 'c2_total{a="x"}')).toBe(1);
});
