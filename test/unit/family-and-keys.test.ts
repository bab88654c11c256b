/**
 * Pure helpers a standalone reader depends on: family metadata (stored in Redis at registration)
 * and the key layout (one hash tag per registry, so a flush lands in one cluster slot).
 */
import { describe, expect, it } from 'vitest';
import { decodeMeta, encodeMeta, sampleNames, shapeOf, type FamilyMeta } from '../../src/core/family.js';
import { Keys } from '../../src/redis/keys.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';

const base: FamilyMeta = {
  v: LAYOUT_VERSION,
  name: 'job_seconds',
  kind: 'histogram',
  help: 'Job "time"\nin seconds \\ wall clock',
  labelNames: ['queue', 'status'],
  buckets: [0.1, 1, 10],
};

describe('family metadata', () => {
  it('decodeMeta(encodeMeta(meta)) round-trips, HELP with awkward characters included', () => {
    expect(decodeMeta(base.name, encodeMeta(base))).toEqual(base);
    const gauge: FamilyMeta = {
      v: LAYOUT_VERSION,
      name: 'g',
      kind: 'common_gauge',
      help: '',
      labelNames: [],
      expireSeconds: 30,
      unit: 'bytes',
    };
    expect(decodeMeta('g', encodeMeta(gauge))).toEqual(gauge);
  });

  it('the shape ignores HELP (it may change between deployments) but not type, labels, buckets or expiry', () => {
    const shape = shapeOf(base);
    expect(shapeOf({ ...base, help: 'other' })).toBe(shape);
    expect(shapeOf({ ...base, kind: 'summary' })).not.toBe(shape);
    expect(shapeOf({ ...base, labelNames: ['queue'] })).not.toBe(shape);
    expect(shapeOf({ ...base, labelNames: ['status', 'queue'] })).not.toBe(shape);
    expect(shapeOf({ ...base, buckets: [0.1, 1] })).not.toBe(shape);
    expect(shapeOf({ ...base, expireSeconds: 5 })).not.toBe(shape);
    expect(shapeOf({ ...base, v: LAYOUT_VERSION + 1 })).not.toBe(shape);
  });

  it('rejects metadata of another layout version, naming the metric and both versions', () => {
    const stored = encodeMeta({ ...base, v: LAYOUT_VERSION + 1 });
    expect(() => decodeMeta('job_seconds', stored)).toThrow(
      new RegExp(`Metric "job_seconds".*v${LAYOUT_VERSION + 1}.*v${LAYOUT_VERSION}`),
    );
  });

  it.each(['', 'plain text', 'shape\nnot json', 'shape\n42', 'shape\nnull'])(
    'rejects metadata not in this format (%j), naming the metric',
    (stored) => {
      expect(() => decodeMeta('m', stored)).toThrow(/Metric "m"/);
    },
  );

  it('lists the sample names each kind exposes', () => {
    expect(sampleNames({ name: 'x', kind: 'counter' })).toEqual(['x', 'x_total', 'x_created']);
    expect(sampleNames({ name: 'x', kind: 'gauge' })).toEqual(['x']);
    expect(sampleNames({ name: 'x', kind: 'common_gauge' })).toEqual(['x']);
    expect(sampleNames({ name: 'x', kind: 'histogram' })).toEqual([
      'x',
      'x_bucket',
      'x_sum',
      'x_count',
      'x_created',
    ]);
    expect(sampleNames({ name: 'x', kind: 'summary' })).toEqual(['x', 'x_sum', 'x_count', 'x_created']);
  });
});

describe('key layout', () => {
  it('puts every key of a registry under one hash tag', () => {
    const keys = new Keys('app');
    const all = [
      keys.meta,
      keys.gaugeIndexSet,
      keys.family('a'),
      keys.expiry('a'),
      keys.gauge('a', 3),
      keys.lease(3),
      keys.process('host-1-ab'),
    ];
    for (const key of all) expect(key.startsWith('{app}:')).toBe(true);
    expect(new Set(all).size).toBe(all.length);
  });

  it('keeps the keys of different families and gauge indexes apart (names may contain ":")', () => {
    const keys = new Keys('p');
    expect(keys.family('a')).not.toBe(keys.family('a:b'));
    expect(keys.gauge('a', 1)).not.toBe(keys.gauge('a:1', 0));
    expect(keys.gauge('a:1', 2)).not.toBe(keys.gauge('a', 12));
    expect(keys.family('x')).not.toBe(keys.gauge('x', 0));
  });

  it('escapes glob characters of the prefix in the SCAN pattern', () => {
    expect(new Keys('a*b?[c]\\d').pattern).toBe('{a\\*b\\?\\[c\\]\\\\d}:*');
    expect(new Keys('plain').pattern).toBe('{plain}:*');
  });
});
