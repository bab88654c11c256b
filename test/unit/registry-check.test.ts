/**
 * The registry check of `metricsHandler` and `collectDefaultMetrics`: a registry made by another
 * copy of the library (as when an ESM and a CommonJS copy meet in one process) passes; anything
 * else is a TypeError naming the parameter and the value.
 */
import { describe, expect, it, vi } from 'vitest';
import { expectRegistry } from '../../src/core/registry-check.js';
import { collectDefaultMetrics, metricsHandler, Registry } from '../../src/index.js';

/** A Registry class from a second, separately evaluated copy of the library's modules. */
async function otherCopy(): Promise<typeof Registry> {
  vi.resetModules();
  const copy = await import('../../src/index.js');
  return copy.Registry;
}

describe('the registry check', () => {
  it('accepts a registry from another copy of the library', async () => {
    const OtherRegistry = await otherCopy();
    expect(OtherRegistry).not.toBe(Registry);
    const registry = new OtherRegistry({ selfMetrics: false });
    expect(registry instanceof Registry).toBe(false);

    expect(() => metricsHandler(registry)).not.toThrow();
    const stop = collectDefaultMetrics(registry, { intervalMs: 600_000 });
    stop();
    expect(registry.getMetricNames()).toContain('process_cpu_user_seconds');
    await registry.close();
  });

  it.each([
    [undefined, 'undefined'],
    [null, 'null'],
    [42, '42'],
    ['registry', '"registry"'],
    [{}, 'an object'],
    [{ metrics: () => '' }, 'an object'],
  ])('refuses %s, naming the parameter and the value', (value, shown) => {
    for (const call of [
      () => metricsHandler(value as unknown as Registry),
      () => collectDefaultMetrics(value as unknown as Registry),
    ]) {
      expect(call).toThrow(TypeError);
      expect(call).toThrow(`Expected \`registry\` to be a Registry, got ${shown}`);
    }
  });

  it('asks default metrics for a whole registry and the handler only for what it calls', () => {
    const scrapeOnly = { metrics: () => Promise.resolve(''), contentTypeFor: () => 'text/plain' };
    expect(() => metricsHandler(scrapeOnly)).not.toThrow();
    expect(() => collectDefaultMetrics(scrapeOnly as unknown as Registry)).toThrow(
      'Expected `registry` to be a Registry, got an object',
    );
    expect(() => expectRegistry('target', [], ['metrics'])).toThrow(
      'Expected `target` to be a Registry, got an array',
    );
  });
});
