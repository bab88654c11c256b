/**
 * The summary quantile sketch without Redis: the bucket mapping's relative-error bound for any
 * double, exact merging of bucket counts in any order, the in-process table, the quantile
 * definition, validation of the options, the metadata shape and golden exposition lines.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketIndex, bucketValue, RELATIVE_ACCURACY } from '../../src/core/sketch-mapping.js';
import { SketchCounts } from '../../src/buffer/sketch.js';
import { MergedSketch, quantileRank } from '../../src/export/quantiles.js';
import { formatFamilies, type FamilyData } from '../../src/export/text-format.js';
import { decodeMeta, encodeMeta, shapeOf, type FamilyMeta } from '../../src/core/family.js';
import { Keys } from '../../src/redis/keys.js';
import type { SummaryCell } from '../../src/buffer/cells.js';
import { Summary } from '../../src/index.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';
import { localRegistry, storeOf } from './local.js';

/** Smallest positive normal double: below it, doubles themselves lose relative precision. */
const MIN_NORMAL = 2.2250738585072014e-308;
/** The mapping's bound, plus room for the rounding of `Math.log`/`Math.exp` (~1e-13 relative). */
const BOUND = RELATIVE_ACCURACY * (1 + 1e-9);

const relativeError = (reported: number, exact: number): number =>
  exact === 0 ? Math.abs(reported) : Math.abs(reported - exact) / Math.abs(exact);

/** What a bucket of `v` reports, as the reader does: sign, zero bucket, representative. */
function reported(v: number): number {
  if (v === 0) return 0;
  const value = bucketValue(bucketIndex(v));
  return v < 0 ? -value : value;
}

/** The flush payload of a set of values, recorded through the in-process table. */
function drained(values: readonly number[]): string {
  const counts = new SketchCounts();
  for (const v of values) counts.add(v);
  return counts.drain();
}

/** Merge flush payloads (`token:n,...`) as Redis and the reader do. */
function merge(specs: readonly string[]): MergedSketch {
  const merged = new MergedSketch();
  for (const spec of specs) {
    if (spec === '') continue;
    for (const pair of spec.split(',')) {
      const colon = pair.lastIndexOf(':');
      expect(merged.add(pair.slice(0, colon), Number(pair.slice(colon + 1)))).toBe(true);
    }
  }
  return merged;
}

/** The exact quantile as the sketch defines it: the value at rank ceil(q·n) (at least 1). */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[quantileRank(q, sorted.length) - 1]!;
}

const PERCENTILES = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

const normalDouble = fc
  .tuple(fc.double({ min: MIN_NORMAL, max: Number.MAX_VALUE, noNaN: true }), fc.boolean())
  .map(([v, negative]) => (negative ? -v : v));

describe('bucket mapping', () => {
  it('reports every normal double within the relative accuracy (0.5%)', () => {
    fc.assert(
      fc.property(normalDouble, (v) => relativeError(reported(v), v) <= BOUND),
      { numRuns: 20_000 },
    );
  });

  it('holds from 1e-6 to 1e6 in particular, and at the edges of the double range', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        (v) => relativeError(reported(v), v) <= BOUND,
      ),
      { numRuns: 20_000 },
    );
    for (const v of [MIN_NORMAL, 1e-300, 1e-6, 1, 1e6, 1e300, Number.MAX_VALUE, -Number.MAX_VALUE]) {
      expect(relativeError(reported(v), v)).toBeLessThanOrEqual(BOUND);
      expect(Number.isFinite(reported(v))).toBe(true);
    }
  });

  it('is monotone: a larger value never gets a smaller bucket', () => {
    fc.assert(
      fc.property(
        fc.double({ min: MIN_NORMAL, max: Number.MAX_VALUE, noNaN: true }),
        fc.double({ min: MIN_NORMAL, max: Number.MAX_VALUE, noNaN: true }),
        (a, b) => (a <= b ? bucketIndex(a) <= bucketIndex(b) : bucketIndex(a) >= bucketIndex(b)),
      ),
    );
  });

  it('buckets are ~230 per decade at α = 0.5% (the memory figure the README states)', () => {
    expect(bucketIndex(1e6) - bucketIndex(1e-6)).toBeGreaterThan(2760);
    expect(bucketIndex(1e6) - bucketIndex(1e-6)).toBeLessThan(2770);
  });
});

describe('merging bucket counts', () => {
  const values = fc.array(
    fc.oneof(
      normalDouble,
      // Subnormal doubles (below MIN_NORMAL) cannot themselves hold 0.5% relative precision.
      fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter((v) => v === 0 || Math.abs(v) >= MIN_NORMAL),
      fc.constantFrom(0, -0, 1e-6, 1e6, -1e-6),
    ),
    { minLength: 1, maxLength: 300 },
  );

  it('gives identical quantiles in any order and any split over processes, each within α of the exact one', () => {
    fc.assert(
      fc.property(
        values,
        fc.array(fc.nat(7), { minLength: 300, maxLength: 300 }),
        fc.infiniteStream(fc.nat()),
        (all, owner, shuffle) => {
          // Split the observations over up to 8 "processes", each flushing its own sketch.
          const parts: number[][] = Array.from({ length: 8 }, () => []);
          all.forEach((v, i) => parts[owner[i]!]!.push(v));
          const specs = parts.map(drained);
          const shuffled = [...specs];
          const it = shuffle[Symbol.iterator]();
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          const inOrder = merge(specs).quantiles(PERCENTILES);
          expect(merge(shuffled).quantiles(PERCENTILES)).toEqual(inOrder);
          expect(merge([...specs].reverse()).quantiles(PERCENTILES)).toEqual(inOrder);
          expect(merge([drained(all)]).quantiles(PERCENTILES)).toEqual(inOrder);

          const sorted = [...all].sort((a, b) => a - b);
          PERCENTILES.forEach((q, i) => {
            expect(relativeError(inOrder[i]!, exactQuantile(sorted, q))).toBeLessThanOrEqual(BOUND);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an empty window gives NaN for every quantile', () => {
    expect(new MergedSketch().quantiles([0.5, 0.99])).toEqual([NaN, NaN]);
  });

  it('rejects tokens that are not buckets', () => {
    const merged = new MergedSketch();
    for (const token of ['', 'n', 'x1', '1.5', 'nz', 's']) expect(merged.add(token, 1)).toBe(false);
    expect(merged.count).toBe(0);
  });
});

describe('SketchCounts', () => {
  it('keeps exact counts through growth, and drains to an empty table that is reused', () => {
    const counts = new SketchCounts();
    const expected = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const v = (i % 3 === 0 ? -1 : 1) * 1.0001 ** (i * 37) * (i % 11 === 0 ? 0 : 1);
      counts.add(v);
      const token = v === 0 ? 'z' : `${v < 0 ? 'n' : ''}${bucketIndex(v)}`;
      expected.set(token, (expected.get(token) ?? 0) + 1);
    }
    const spec = counts.drain();
    const got = new Map(
      spec.split(',').map((pair) => {
        const colon = pair.lastIndexOf(':');
        return [pair.slice(0, colon), Number(pair.slice(colon + 1))] as const;
      }),
    );
    expect(got).toEqual(expected);
    expect(counts.empty).toBe(true);
    expect(counts.drain()).toBe('');
    counts.add(2);
    counts.add(2);
    expect(counts.drain()).toBe(`${bucketIndex(2)}:2`);
  });
});

describe('quantile rank', () => {
  it('is ceil(q·n), at least 1: q = 0 is the minimum and q = 1 the maximum', () => {
    expect(quantileRank(0, 10)).toBe(1);
    expect(quantileRank(0.5, 10)).toBe(5);
    expect(quantileRank(0.55, 10)).toBe(6);
    expect(quantileRank(0.99, 100)).toBe(99);
    expect(quantileRank(1, 10)).toBe(10);
    expect(quantileRank(0.5, 1)).toBe(1);
  });
});

describe('Summary options', () => {
  const { registry } = localRegistry();
  let n = 0;
  const make = (extra: Record<string, unknown>): Summary =>
    new Summary({ name: `s_${n++}`, help: 'h', registry, ...extra });
  const metaOf = (summary: Summary): FamilyMeta => storeOf(summary).meta;

  it.each([
    [{ percentiles: [1.5] }, /percentile.*from 0 to 1.*1\.5/],
    [{ percentiles: [-0.1] }, /percentile.*from 0 to 1/],
    [{ percentiles: [NaN] }, /percentile.*from 0 to 1.*NaN/],
    [{ percentiles: ['0.5'] }, /percentile.*from 0 to 1.*"0\.5"/],
    [{ percentiles: [0.5, 0.5] }, /percentile 0\.5 appears twice/],
    [{ percentiles: 0.5 }, /`percentiles`.*array.*0\.5/],
    [{ percentiles: [0.5], maxAgeSeconds: 0 }, /`maxAgeSeconds`.*integer from 1.*0/],
    [{ percentiles: [0.5], maxAgeSeconds: 1.5 }, /`maxAgeSeconds`.*1\.5/],
    [{ percentiles: [0.5], ageBuckets: 0 }, /`ageBuckets`.*from 1 to 100.*0/],
    [{ percentiles: [0.5], maxAgeSeconds: 3, ageBuckets: 4 }, /`ageBuckets`.*from 1 to 3.*4/],
    [{ percentiles: [0.5], ageBuckets: 101, maxAgeSeconds: 1000 }, /`ageBuckets`.*101/],
  ])('rejects %j at construction, naming the option and the value', (options, message) => {
    expect(() => make(options)).toThrow(message);
  });

  it('stores percentiles sorted, with the window defaults (600 s in 5 slots)', () => {
    expect(metaOf(make({ percentiles: [0.99, 0.5, 0.9] }))).toMatchObject({
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 600,
      ageBuckets: 5,
    });
    expect(metaOf(make({}))).not.toHaveProperty('percentiles');
    expect(metaOf(make({ percentiles: [] }))).not.toHaveProperty('percentiles');
  });

  it('records into the sketch only with percentiles; a plain summary keeps no sketch', () => {
    const plain = make({});
    plain.observe(1);
    expect(storeOf<SummaryCell>(plain).single.q).toBeUndefined();
    const quantiles = make({ percentiles: [0.5] });
    quantiles.observe(2);
    quantiles.observe(0);
    expect(storeOf<SummaryCell>(quantiles).single.q!.drain()).toBe(`z:1,${bucketIndex(2)}:1`);
  });
});

describe('metadata and keys', () => {
  const plain: FamilyMeta = { v: LAYOUT_VERSION, name: 'lat', kind: 'summary', help: 'h', labelNames: ['r'] };
  const quantiles: FamilyMeta = {
    ...plain,
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 600,
    ageBuckets: 5,
  };

  it('leaves the shape of a summary without quantiles as it always was', () => {
    expect(shapeOf(plain)).toBe(`v${LAYOUT_VERSION}|summary|r||`);
  });

  it('makes percentiles, the window and the mapping part of the shape', () => {
    const shape = shapeOf(quantiles);
    expect(shape).toContain('ddsketch-log-0.005');
    expect(shapeOf({ ...quantiles, help: 'other' })).toBe(shape);
    for (const changed of [
      plain,
      { ...quantiles, percentiles: [0.5, 0.9] },
      { ...quantiles, maxAgeSeconds: 60 },
      { ...quantiles, ageBuckets: 4 },
    ]) {
      expect(shapeOf(changed)).not.toBe(shape);
    }
  });

  it('round-trips through Redis metadata and rejects malformed quantile settings', () => {
    expect(decodeMeta('lat', encodeMeta(quantiles))).toEqual(quantiles);
    for (const bad of [
      { ...quantiles, percentiles: [0.9, 0.5] },
      { ...quantiles, percentiles: [] },
      { ...quantiles, ageBuckets: 0 },
      { ...quantiles, maxAgeSeconds: 2, ageBuckets: 3 },
      { ...quantiles, kind: 'histogram', buckets: [1] },
    ] as FamilyMeta[]) {
      expect(() => decodeMeta('lat', encodeMeta(bad))).toThrow(/malformed/);
    }
  });

  it('builds the time-slot keys under the registry hash tag', () => {
    const keys = new Keys('app');
    expect(keys.quantileWindow('lat')).toBe('{app}:q:lat:');
    expect(keys.quantile('lat', 123)).toBe('{app}:q:lat:123');
    expect(keys.quantile('a:1', 2)).not.toBe(keys.quantile('a', 12));
  });
});

describe('exposition', () => {
  const family: FamilyData = {
    meta: {
      v: LAYOUT_VERSION,
      name: 'rpc_seconds',
      kind: 'summary',
      help: 'RPC latency.',
      labelNames: ['m'],
      percentiles: [0, 0.5, 0.99, 1],
      maxAgeSeconds: 600,
      ageBuckets: 5,
    },
    rows: [
      { key: 'm="get"', count: 4, sum: 1.5, quantiles: [0.1, 0.25, 0.75, 0.75] },
      { key: 'm="idle"', count: 2, sum: 3, quantiles: [NaN, NaN, NaN, NaN] },
    ],
  };

  it('writes quantile lines before _sum and _count (text 0.0.4)', () => {
    expect(formatFamilies([family], 'text')).toBe(
      [
        '# HELP rpc_seconds RPC latency.',
        '# TYPE rpc_seconds summary',
        'rpc_seconds{m="get",quantile="0"} 0.1',
        'rpc_seconds{m="get",quantile="0.5"} 0.25',
        'rpc_seconds{m="get",quantile="0.99"} 0.75',
        'rpc_seconds{m="get",quantile="1"} 0.75',
        'rpc_seconds_sum{m="get"} 1.5',
        'rpc_seconds_count{m="get"} 4',
        'rpc_seconds{m="idle",quantile="0"} NaN',
        'rpc_seconds{m="idle",quantile="0.5"} NaN',
        'rpc_seconds{m="idle",quantile="0.99"} NaN',
        'rpc_seconds{m="idle",quantile="1"} NaN',
        'rpc_seconds_sum{m="idle"} 3',
        'rpc_seconds_count{m="idle"} 2',
        '',
      ].join('\n'),
    );
  });

  it('uses canonical quantile values in OpenMetrics', () => {
    const text = formatFamilies([{ ...family, rows: family.rows.slice(0, 1) }], 'openmetrics');
    expect(text).toBe(
      [
        '# TYPE rpc_seconds summary',
        '# HELP rpc_seconds RPC latency.',
        'rpc_seconds{m="get",quantile="0.0"} 0.1',
        'rpc_seconds{m="get",quantile="0.5"} 0.25',
        'rpc_seconds{m="get",quantile="0.99"} 0.75',
        'rpc_seconds{m="get",quantile="1.0"} 0.75',
        'rpc_seconds_sum{m="get"} 1.5',
        'rpc_seconds_count{m="get"} 4',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('a summary without percentiles is unchanged: _sum and _count only', () => {
    const { percentiles: _p, maxAgeSeconds: _m, ageBuckets: _a, ...meta } = family.meta;
    const text = formatFamilies([
      { meta: { ...meta, kind: 'summary' }, rows: [{ key: '', count: 1, sum: 2 }] },
    ]);
    expect(text).toBe(
      '# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds summary\nrpc_seconds_sum 2\nrpc_seconds_count 1\n',
    );
  });
});
