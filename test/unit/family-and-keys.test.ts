/**
 * Pure helpers a standalone reader depends on: family metadata (stored in Redis at registration),
 * the key layout (one hash tag per registry, so a flush lands in one cluster slot) and the
 * scripts' argument builders (KEYS from the key layout, ARGV in the Lua headers' order).
 */
import { describe, expect, it } from 'vitest';
import { decodeMeta, encodeMeta, sampleNames, shapeOf, type FamilyMeta } from '../../src/core/family.js';
import { Keys } from '../../src/redis/keys.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';
import {
  flushArgs,
  flushGaugeIndexOf,
  pageArgs,
  releaseArgs,
  withFlushAttempt,
} from '../../src/redis/scripts.js';
import { flushScript, pageScript, releaseScript } from '../../src/redis/scripts.generated.js';

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

  it('reads the gauge index back from a per-process gauge hash, and nothing from other keys', () => {
    const keys = new Keys('p');
    expect(keys.gaugeIndexOf(keys.gauge('a:1', 12))).toBe('12');
    expect(keys.gaugeIndexOf(keys.gauge('a', 0))).toBe('0');
    expect(keys.gaugeIndexOf(keys.family('a'))).toBeUndefined();
    expect(keys.gaugeIndexOf(keys.lease(3))).toBeUndefined();
  });

  it('escapes glob characters of the prefix in the SCAN pattern', () => {
    expect(new Keys('a*b?[c]\\d').pattern).toBe('{a\\*b\\?\\[c\\]\\\\d}:*');
    expect(new Keys('plain').pattern).toBe('{plain}:*');
  });
});

describe('script argument builders', () => {
  const keys = new Keys('app');

  it('flushArgs: the fixed keys first (KEYS[1..4]), then ARGV in flush-4.lua order, sections by op', () => {
    const args = flushArgs({
      keys,
      processId: 'p1',
      seq: 9,
      processTtlSeconds: 600,
      gaugeIndex: '1',
      leaseTtlSeconds: 30,
      gaugeFamilies: ['g', 'h'],
      metadata: [{ name: 'c', encoded: 'shape\n{}', samples: ['c', 'c_total'] }],
      sections: [
        { op: 'A', family: 'cg', expireSeconds: '30', payload: 'k\n1\n' },
        { op: 'Q', family: 's', window: '1000 5 base:', payload: 'k\n1:1\n' },
        { op: 'C', family: 'c', createdKey: keys.created('c'), payload: 'k\n' },
        { op: 'X', family: 'c', payload: '' },
      ],
    });
    expect(flushScript.numberOfKeys).toBe(4);
    expect([...args]).toEqual([
      keys.process('p1'),
      keys.meta,
      keys.gaugeIndexSet,
      keys.samples,
      'p1',
      '9',
      '600',
      '1',
      '30',
      keys.familyPrefix,
      keys.gaugePrefix,
      keys.leasePrefix,
      keys.expiryPrefix,
      'g\nh',
      '1',
      '',
      'c',
      'shape\n{}',
      'c\nc_total',
      ...['A', 'cg', '30', 'k\n1\n'],
      ...['Q', 's', '1000 5 base:', 'k\n1:1\n'],
      ...['C', 'c', keys.created('c'), 'k\n'],
      ...['X', 'c', '', ''],
    ]);
  });

  it('withFlushAttempt changes the gauge index, gauge families and after only', () => {
    const base = flushArgs({
      keys,
      processId: 'p1',
      seq: 7,
      after: 6,
      processTtlSeconds: 600,
      gaugeIndex: '=',
      leaseTtlSeconds: 30,
      gaugeFamilies: ['g'],
      metadata: [],
      sections: [{ op: 'G', family: 'g', payload: 'k\n1\n' }],
    });
    const set = withFlushAttempt(base, { gaugeIndex: '=3!' });
    expect(flushGaugeIndexOf(base)).toBe('=');
    expect(flushGaugeIndexOf(set)).toBe('=3!');
    expect(set.filter((arg, i) => arg !== base[i])).toEqual(['=3!']);
    const anchor = withFlushAttempt(base, { gaugeIndex: '1', gaugeFamilies: ['g', 'h'], after: null });
    expect(anchor.filter((arg, i) => arg !== base[i])).toEqual(['1', 'g\nh', '']);
    const follower = withFlushAttempt(base, { gaugeFamilies: [], after: 5 });
    expect(follower.filter((arg, i) => arg !== base[i])).toEqual(['', '5']);
    expect(base.length).toBe(set.length);
  });

  it('pageArgs: the hash and (mode x) the expiry zset as KEYS, then cursor, count, mode and suffixes', () => {
    expect(pageScript.numberOfKeys).toBe(2);
    const args = pageArgs({
      hash: keys.family('h'),
      expiry: keys.expiry('h'),
      cursor: '17',
      count: 1000,
      mode: 'g',
      suffixes: ['s', 'c', '0'],
    });
    // The zset is declared only where it is read: a missing declared key means TRYAGAIN while the slot moves.
    expect([...args]).toEqual([keys.family('h'), keys.family('h'), '17', '1000', 'g', 's', 'c', '0']);
    expect([...pageArgs({ hash: 'a', expiry: 'b', cursor: '0', count: 5, mode: 'x' })]).toEqual([
      'a',
      'b',
      '0',
      '5',
      'x',
    ]);
  });

  it('releaseArgs: the lease and process key as KEYS, then the process id and its gauge hashes', () => {
    expect(releaseScript.numberOfKeys).toBe(2);
    const args = releaseArgs({ keys, processId: 'p1', index: 2, gaugeHashes: [keys.gauge('g', 2)] });
    expect([...args]).toEqual([keys.lease(2), keys.process('p1'), 'p1', keys.gauge('g', 2)]);
  });
});
