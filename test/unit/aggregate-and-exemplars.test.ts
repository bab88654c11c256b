/**
 * Pure parts of gauge aggregation and exemplars: merging per-process hashes, parsing and
 * rendering stored exemplars, and the exposition of a histogram with exemplars in both formats.
 */
import { describe, expect, it } from 'vitest';
import { parseStoredExemplar, renderExemplar } from '../../src/export/exemplar-format.js';
import { GaugeMerger } from '../../src/export/gauge-merge.js';
import { formatFamilies, type FamilyData } from '../../src/export/text-format.js';
import { renderExemplarLabels } from '../../src/metrics/exemplar.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';

describe('GaugeMerger', () => {
  const chunks: Array<[string, string[]]> = [
    ['0', ['k="a"', '5', 'k="b"', '1']],
    ['1', ['k="a"', '40']],
    ['2', ['k="a"', '15', 'k="b"', '-3']],
  ];
  const merged = (mode: 'sum' | 'min' | 'max' | 'avg'): unknown[] => {
    const m = new GaugeMerger(mode);
    for (const [index, parts] of chunks) m.add(parts, index);
    return m.rows();
  };

  it('sums, takes the minimum, the maximum and the mean over the processes holding a series', () => {
    expect(merged('sum')).toEqual([
      ['k="a"', 60],
      ['k="b"', -2],
    ]);
    expect(merged('min')).toEqual([
      ['k="a"', 5],
      ['k="b"', -3],
    ]);
    expect(merged('max')).toEqual([
      ['k="a"', 40],
      ['k="b"', 1],
    ]);
    expect(merged('avg')).toEqual([
      ['k="a"', 20],
      ['k="b"', -1],
    ]);
  });

  it('last: the newest write time wins, values and times may arrive in separate chunks', () => {
    const m = new GaugeMerger('last');
    m.add(['', '1', 'k="x"', '7'], '0');
    m.add(['|t', '2000', 'k="x"|t', '10'], '0');
    m.add(['|t', '3000'], '1');
    m.add(['', '2', 'k="x"', '8', 'k="x"|t', '9'], '1');
    // Equal times go to the higher index; a value without a time is the oldest.
    m.add(['k="y"', '1', 'k="y"|t', '5'], '3');
    m.add(['k="y"', '2', 'k="y"|t', '5'], '4');
    m.add(['k="z"', '1'], '0');
    m.add(['k="z"', '2', 'k="z"|t', '1'], '1');
    // A time without a value (never written by this library) is ignored.
    m.add(['k="w"|t', '99'], '0');
    expect(m.rows()).toEqual([
      ['', 2],
      ['k="x"', 7],
      ['k="y"', 2],
      ['k="z"', 2],
    ]);
  });
});

describe('exemplar storage and rendering', () => {
  it('parses what the flush script stores, and ignores anything else', () => {
    expect(parseStoredExemplar('1700000000123456 0.043 trace_id="a b",x="1"')).toEqual({
      timestampMs: 1700000000123.456,
      value: 0.043,
      labels: 'trace_id="a b",x="1"',
    });
    for (const bad of ['', '123', '123 4', 'x 1 trace_id="a"', '1 NaN trace_id="a"']) {
      expect(parseStoredExemplar(bad), bad).toBeUndefined();
    }
  });

  it('renders the OpenMetrics suffix with a millisecond timestamp', () => {
    expect(renderExemplar({ labels: 'trace_id="a"', value: 0.043, timestampMs: 1700000000123.456 })).toBe(
      ' # {trace_id="a"} 0.043 1700000000.123',
    );
    expect(renderExemplar(undefined)).toBe('');
  });

  it('renames traceId and spanId, escapes values and counts characters as code points', () => {
    expect(renderExemplarLabels('m', { traceId: 'a"b', spanId: 's', tenant: 'x\ny' })).toBe(
      'trace_id="a\\"b",span_id="s",tenant="x\\ny"',
    );
    expect(() => renderExemplarLabels('m', { traceId: 'é'.repeat(120) })).not.toThrow();
    expect(() => renderExemplarLabels('m', { traceId: 'é'.repeat(121) })).toThrow(RangeError);
  });
});

describe('histogram exposition with exemplars', () => {
  const family: FamilyData = {
    meta: {
      v: LAYOUT_VERSION,
      name: 'lat',
      kind: 'histogram',
      help: 'L',
      labelNames: ['r'],
      buckets: [0.1, 1],
    },
    rows: [
      {
        key: 'r="a"',
        counts: [2, 0, 1],
        sum: 3.1,
        exemplars: [
          { labels: 'trace_id="t1"', value: 0.05, timestampMs: 1700000000500 },
          undefined,
          {
            labels: 'trace_id="t3"',
            value: 3,
            timestampMs: 1700000001000,
          },
        ],
      },
    ],
  };

  it('shows exemplars in OpenMetrics only', () => {
    expect(formatFamilies([family], 'openmetrics')).toBe(
      [
        '# TYPE lat histogram',
        '# HELP lat L',
        'lat_bucket{r="a",le="0.1"} 2 # {trace_id="t1"} 0.05 1700000000.500',
        'lat_bucket{r="a",le="1.0"} 2',
        'lat_bucket{r="a",le="+Inf"} 3 # {trace_id="t3"} 3 1700000001.000',
        'lat_sum{r="a"} 3.1',
        'lat_count{r="a"} 3',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(formatFamilies([family], 'text')).toBe(
      [
        '# HELP lat L',
        '# TYPE lat histogram',
        'lat_bucket{r="a",le="0.1"} 2',
        'lat_bucket{r="a",le="1"} 2',
        'lat_bucket{r="a",le="+Inf"} 3',
        'lat_sum{r="a"} 3.1',
        'lat_count{r="a"} 3',
        '',
      ].join('\n'),
    );
  });
});
