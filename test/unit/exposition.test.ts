/**
 * Golden strings for the pure exposition formatter: text format 0.0.4 and OpenMetrics 1.0.
 * FamilyData is built by hand as the reader produces it: rendered label keys, per-process gauge
 * keys already carrying `gauge_index`, and non-cumulative histogram counts with `+Inf` last.
 */
import { describe, expect, it } from 'vitest';
import { formatCanonical, formatValue, renderLabels } from '../../src/core/escape.js';
import {
  collectCreated,
  countCreated,
  formatFamilies,
  renderStream,
  renderFamily,
  renderScalarChunk,
  type FamilyData,
  type HistogramRow,
  type ScalarRow,
} from '../../src/export/text-format.js';
import type { FamilyKind, FamilyMeta } from '../../src/core/family.js';
import { OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE } from '../../src/index.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';

function meta(name: string, kind: FamilyKind, help: string, more: Partial<FamilyMeta> = {}): FamilyMeta {
  return { v: LAYOUT_VERSION, name, kind, help, labelNames: [], ...more };
}

function histogram(
  name: string,
  help: string,
  buckets: readonly number[],
  rows: readonly HistogramRow[],
  more: Partial<FamilyMeta> = {},
): FamilyData {
  return { meta: { ...meta(name, 'histogram', help, more), kind: 'histogram', buckets }, rows };
}

const counter: FamilyData = {
  meta: meta('http_requests', 'counter', 'Requests served.', { labelNames: ['code', 'method'] }),
  rows: [
    ['code="200",method="GET"', 3],
    ['code="500",method="POST"', 1.5],
  ],
};

const gauge: FamilyData = {
  meta: meta('queue_depth', 'gauge', 'Jobs waiting.', { labelNames: ['queue'] }),
  rows: [
    ['queue="a",gauge_index="0"', 7],
    ['queue="a",gauge_index="1"', -2],
  ],
};

const unlabelledGauge: FamilyData = {
  meta: meta('temperature', 'gauge', 'Degrees.'),
  rows: [['gauge_index="0"', 21.5]],
};

const commonGauge: FamilyData = {
  meta: meta('workers', 'common_gauge', 'Workers alive.'),
  rows: [['', 4]],
};

const hist = histogram(
  'job_seconds',
  'Job duration.',
  [0.1, 1, 10],
  [
    { key: '', counts: [1, 0, 2, 1], sum: 25.5 },
    { key: 'queue="b"', counts: [0, 0, 0, 0], sum: 0 },
  ],
);

const summary: FamilyData = {
  meta: { ...meta('rpc_seconds', 'summary', 'RPC time.', { labelNames: ['svc'] }), kind: 'summary' },
  rows: [
    { key: 'svc="a"', count: 2, sum: 3.5 },
    { key: 'svc="b"', count: 0, sum: 0 },
  ],
};

describe('text format 0.0.4', () => {
  it('renders a counter as <name>_total, with HELP and TYPE on <name>_total', () => {
    expect(formatFamilies([counter], 'text')).toBe(
      '# HELP http_requests_total Requests served.\n' +
        '# TYPE http_requests_total counter\n' +
        'http_requests_total{code="200",method="GET"} 3\n' +
        'http_requests_total{code="500",method="POST"} 1.5\n',
    );
  });

  it('renders a per-process gauge with the gauge_index already in its key', () => {
    expect(formatFamilies([gauge, unlabelledGauge], 'text')).toBe(
      '# HELP queue_depth Jobs waiting.\n' +
        '# TYPE queue_depth gauge\n' +
        'queue_depth{queue="a",gauge_index="0"} 7\n' +
        'queue_depth{queue="a",gauge_index="1"} -2\n' +
        '# HELP temperature Degrees.\n' +
        '# TYPE temperature gauge\n' +
        'temperature{gauge_index="0"} 21.5\n',
    );
  });

  it('renders a common gauge as a gauge without braces when it has no labels', () => {
    expect(formatFamilies([commonGauge], 'text')).toBe(
      '# HELP workers Workers alive.\n# TYPE workers gauge\nworkers 4\n',
    );
  });

  it('renders histogram buckets cumulative, in numeric order, +Inf last, then _sum and _count', () => {
    expect(formatFamilies([hist], 'text')).toBe(
      '# HELP job_seconds Job duration.\n' +
        '# TYPE job_seconds histogram\n' +
        'job_seconds_bucket{le="0.1"} 1\n' +
        'job_seconds_bucket{le="1"} 1\n' +
        'job_seconds_bucket{le="10"} 3\n' +
        'job_seconds_bucket{le="+Inf"} 4\n' +
        'job_seconds_sum 25.5\n' +
        'job_seconds_count 4\n' +
        'job_seconds_bucket{queue="b",le="0.1"} 0\n' +
        'job_seconds_bucket{queue="b",le="1"} 0\n' +
        'job_seconds_bucket{queue="b",le="10"} 0\n' +
        'job_seconds_bucket{queue="b",le="+Inf"} 0\n' +
        'job_seconds_sum{queue="b"} 0\n' +
        'job_seconds_count{queue="b"} 0\n',
    );
  });

  it('puts bucket 10 after 2.5 (numeric, not string, order)', () => {
    const h = histogram('h', 'h', [2.5, 10], [{ key: '', counts: [1, 1, 0], sum: 5 }]);
    const text = formatFamilies([h], 'text');
    expect(text.indexOf('le="2.5"')).toBeLessThan(text.indexOf('le="10"'));
    expect(text).toContain('h_bucket{le="2.5"} 1\nh_bucket{le="10"} 2\nh_bucket{le="+Inf"} 2\n');
  });

  it('renders a summary as _sum and _count only (no merged quantiles)', () => {
    expect(formatFamilies([summary], 'text')).toBe(
      '# HELP rpc_seconds RPC time.\n' +
        '# TYPE rpc_seconds summary\n' +
        'rpc_seconds_sum{svc="a"} 3.5\n' +
        'rpc_seconds_count{svc="a"} 2\n' +
        'rpc_seconds_sum{svc="b"} 0\n' +
        'rpc_seconds_count{svc="b"} 0\n',
    );
  });

  it('prints only the header of a family without series', () => {
    const empty: FamilyData = { meta: meta('idle', 'counter', 'Nothing yet.'), rows: [] };
    expect(formatFamilies([empty], 'text')).toBe(
      '# HELP idle_total Nothing yet.\n# TYPE idle_total counter\n',
    );
  });

  it('prints nothing for no families', () => {
    expect(formatFamilies([], 'text')).toBe('');
  });

  it('prints HELP and TYPE once per family, in the order given, and ends with a newline', () => {
    const text = formatFamilies([counter, gauge, hist, summary, commonGauge], 'text');
    for (const name of ['http_requests_total', 'queue_depth', 'job_seconds', 'rpc_seconds', 'workers']) {
      expect(text.split(`# HELP ${name} `)).toHaveLength(2);
      expect(text.split(`# TYPE ${name} `)).toHaveLength(2);
    }
    const order = ['http_requests_total', 'queue_depth', 'job_seconds', 'rpc_seconds', 'workers'].map((n) =>
      text.indexOf(`# HELP ${n} `),
    );
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(text.endsWith('\n')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(false);
  });

  it('prints HELP and TYPE once even when a family spans several render slices', () => {
    const rows: ScalarRow[] = Array.from({ length: 5000 }, (_, i) => [`id="${i}"`, i] as const);
    const text = formatFamilies([{ meta: meta('big', 'gauge', 'Big.'), rows }], 'text');
    expect(text.split('# HELP ')).toHaveLength(2);
    expect(text.split('# TYPE ')).toHaveLength(2);
    expect(text.split('\n')).toHaveLength(5000 + 2 + 1);
  });

  it('escapes backslash and newline in HELP, but not double quotes', () => {
    const family: FamilyData = { meta: meta('g', 'gauge', 'a\\b\nc "d"'), rows: [] };
    expect(formatFamilies([family], 'text')).toBe('# HELP g a\\\\b\\nc "d"\n# TYPE g gauge\n');
  });

  it('renders special values as +Inf, -Inf and NaN', () => {
    const family: FamilyData = {
      meta: meta('g', 'gauge', 'h', { labelNames: ['v'] }),
      rows: [
        ['v="a"', Number.POSITIVE_INFINITY],
        ['v="b"', Number.NEGATIVE_INFINITY],
        ['v="c"', Number.NaN],
        ['v="d"', 1e21],
        ['v="e"', 1e-7],
      ],
    };
    expect(formatFamilies([family], 'text')).toBe(
      '# HELP g h\n# TYPE g gauge\n' +
        'g{v="a"} +Inf\ng{v="b"} -Inf\ng{v="c"} NaN\ng{v="d"} 1e+21\ng{v="e"} 1e-7\n',
    );
  });

  it('renders a histogram sum that is not finite as +Inf/-Inf/NaN', () => {
    const h = histogram('h', 'h', [1], [{ key: '', counts: [1, 0], sum: Number.POSITIVE_INFINITY }]);
    expect(formatFamilies([h], 'text')).toContain('h_sum +Inf\n');
  });

  it('defaults to the text format', () => {
    expect(formatFamilies([counter])).toBe(formatFamilies([counter], 'text'));
  });

  it('has the 0.0.4 content type', () => {
    expect(TEXT_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});

describe('OpenMetrics 1.0', () => {
  it('renders a counter with TYPE and HELP on the bare family name and samples as _total', () => {
    expect(formatFamilies([counter], 'openmetrics')).toBe(
      '# TYPE http_requests counter\n' +
        '# HELP http_requests Requests served.\n' +
        'http_requests_total{code="200",method="GET"} 3\n' +
        'http_requests_total{code="500",method="POST"} 1.5\n' +
        '# EOF\n',
    );
  });

  it('renders gauges and common gauges as gauges', () => {
    expect(formatFamilies([gauge, commonGauge], 'openmetrics')).toBe(
      '# TYPE queue_depth gauge\n' +
        '# HELP queue_depth Jobs waiting.\n' +
        'queue_depth{queue="a",gauge_index="0"} 7\n' +
        'queue_depth{queue="a",gauge_index="1"} -2\n' +
        '# TYPE workers gauge\n' +
        '# HELP workers Workers alive.\n' +
        'workers 4\n' +
        '# EOF\n',
    );
  });

  it('renders histogram bounds in canonical form (1.0, 0.1, +Inf)', () => {
    const h = histogram(
      'job_seconds',
      'Job duration.',
      [0.1, 1, 10],
      [{ key: 'queue="a"', counts: [1, 0, 2, 1], sum: 25.5 }],
    );
    expect(formatFamilies([h], 'openmetrics')).toBe(
      '# TYPE job_seconds histogram\n' +
        '# HELP job_seconds Job duration.\n' +
        'job_seconds_bucket{queue="a",le="0.1"} 1\n' +
        'job_seconds_bucket{queue="a",le="1.0"} 1\n' +
        'job_seconds_bucket{queue="a",le="10.0"} 3\n' +
        'job_seconds_bucket{queue="a",le="+Inf"} 4\n' +
        'job_seconds_sum{queue="a"} 25.5\n' +
        'job_seconds_count{queue="a"} 4\n' +
        '# EOF\n',
    );
  });

  it('renders a summary as _sum and _count', () => {
    expect(formatFamilies([summary], 'openmetrics')).toBe(
      '# TYPE rpc_seconds summary\n' +
        '# HELP rpc_seconds RPC time.\n' +
        'rpc_seconds_sum{svc="a"} 3.5\n' +
        'rpc_seconds_count{svc="a"} 2\n' +
        'rpc_seconds_sum{svc="b"} 0\n' +
        'rpc_seconds_count{svc="b"} 0\n' +
        '# EOF\n',
    );
  });

  it('declares the unit after TYPE', () => {
    const family: FamilyData = {
      meta: meta('wait_seconds', 'gauge', 'Wait.', { unit: 'seconds' }),
      rows: [],
    };
    expect(formatFamilies([family], 'openmetrics')).toBe(
      '# TYPE wait_seconds gauge\n# UNIT wait_seconds seconds\n# HELP wait_seconds Wait.\n# EOF\n',
    );
    expect(formatFamilies([family], 'text')).not.toContain('# UNIT');
  });

  it('escapes backslash, newline and double quote in HELP', () => {
    const family: FamilyData = { meta: meta('g', 'gauge', 'a\\b\nc "d"'), rows: [] };
    expect(formatFamilies([family], 'openmetrics')).toBe(
      '# TYPE g gauge\n# HELP g a\\\\b\\nc \\"d\\"\n# EOF\n',
    );
  });

  it('prints only the header of a family without series, then # EOF', () => {
    const empty: FamilyData = { meta: meta('idle', 'counter', 'Nothing yet.'), rows: [] };
    expect(formatFamilies([empty], 'openmetrics')).toBe(
      '# TYPE idle counter\n# HELP idle Nothing yet.\n# EOF\n',
    );
  });

  it('prints only # EOF for no families', () => {
    expect(formatFamilies([], 'openmetrics')).toBe('# EOF\n');
  });

  it('has the OpenMetrics 1.0 content type', () => {
    expect(OPENMETRICS_CONTENT_TYPE).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
  });
});

describe('OpenMetrics _created', () => {
  const T = 1712345678.123;
  const createdCounter: FamilyData = {
    meta: counter.meta,
    rows: [
      ['code="200",method="GET"', 3, T],
      ['code="500",method="POST"', 1.5],
      ['', 2, 1712345679],
    ],
  };
  const createdHist = histogram(
    'job_seconds',
    'Job duration.',
    [0.1, 1],
    [
      { key: '', counts: [1, 0, 2], sum: 5.5, created: T },
      { key: 'queue="b"', counts: [0, 0, 0], sum: 0 },
    ],
  );
  const createdSummary: FamilyData = {
    meta: {
      ...meta('rpc_seconds', 'summary', 'RPC time.', { labelNames: ['svc'], percentiles: [0.5] }),
      kind: 'summary',
    },
    rows: [
      { key: 'svc="a"', count: 2, sum: 3.5, quantiles: [1.5], created: T },
      { key: 'svc="b"', count: 0, sum: 0, quantiles: [NaN], created: 1e9 },
    ],
  };
  const gaugeWithTime: FamilyData = {
    meta: meta('workers', 'common_gauge', 'Workers alive.'),
    rows: [['', 4, T]],
  };

  it('follows each counter series that has a creation time', () => {
    expect(formatFamilies([createdCounter], 'openmetrics')).toBe(
      '# TYPE http_requests counter\n' +
        '# HELP http_requests Requests served.\n' +
        'http_requests_total{code="200",method="GET"} 3\n' +
        'http_requests_created{code="200",method="GET"} 1712345678.123\n' +
        'http_requests_total{code="500",method="POST"} 1.5\n' +
        'http_requests_total 2\n' +
        'http_requests_created 1712345679\n' +
        '# EOF\n',
    );
  });

  it('follows each histogram and summary series after its _count', () => {
    expect(formatFamilies([createdHist, createdSummary], 'openmetrics')).toBe(
      '# TYPE job_seconds histogram\n' +
        '# HELP job_seconds Job duration.\n' +
        'job_seconds_bucket{le="0.1"} 1\n' +
        'job_seconds_bucket{le="1.0"} 1\n' +
        'job_seconds_bucket{le="+Inf"} 3\n' +
        'job_seconds_sum 5.5\n' +
        'job_seconds_count 3\n' +
        'job_seconds_created 1712345678.123\n' +
        'job_seconds_bucket{queue="b",le="0.1"} 0\n' +
        'job_seconds_bucket{queue="b",le="1.0"} 0\n' +
        'job_seconds_bucket{queue="b",le="+Inf"} 0\n' +
        'job_seconds_sum{queue="b"} 0\n' +
        'job_seconds_count{queue="b"} 0\n' +
        '# TYPE rpc_seconds summary\n' +
        '# HELP rpc_seconds RPC time.\n' +
        'rpc_seconds{svc="a",quantile="0.5"} 1.5\n' +
        'rpc_seconds_sum{svc="a"} 3.5\n' +
        'rpc_seconds_count{svc="a"} 2\n' +
        'rpc_seconds_created{svc="a"} 1712345678.123\n' +
        'rpc_seconds{svc="b",quantile="0.5"} NaN\n' +
        'rpc_seconds_sum{svc="b"} 0\n' +
        'rpc_seconds_count{svc="b"} 0\n' +
        'rpc_seconds_created{svc="b"} 1000000000\n' +
        '# EOF\n',
    );
  });

  it('leaves the text format byte-identical', () => {
    const strip = (f: FamilyData): FamilyData =>
      f.meta.kind === 'histogram' || f.meta.kind === 'summary'
        ? ({ ...f, rows: f.rows.map((r) => ({ ...r, created: undefined })) } as unknown as FamilyData)
        : { ...f, rows: (f.rows as ScalarRow[]).map((r) => [r[0], r[1]] as const) };
    const families = [createdCounter, createdHist, createdSummary, gaugeWithTime];
    const text = formatFamilies(families, 'text');
    expect(text).not.toContain('_created');
    expect(text).toBe(formatFamilies(families.map(strip), 'text'));
  });

  it('is never rendered for gauges', () => {
    expect(formatFamilies([gaugeWithTime], 'openmetrics')).not.toContain('_created');
  });

  it('renders big counter chunks: skips |created fields, adds _created lines only when given', () => {
    // Packed as the read script returns them: creation fields anywhere, even in another chunk.
    const chunk = 'a="1"|created\n1712345678.5\na="1"\n3\n\n2\nb="x|created"\n4\n|created\n1700000000';
    expect(countCreated(chunk)).toBe(2);
    expect(countCreated('a="1"\n3')).toBe(0);
    const created = new Map<string, string>();
    collectCreated(chunk, created);
    expect([...created]).toEqual([
      ['a="1"', '1712345678.5'],
      ['', '1700000000'],
    ]);
    expect(renderScalarChunk(counter.meta, chunk)).toBe(
      'http_requests_total{a="1"} 3\nhttp_requests_total 2\nhttp_requests_total{b="x|created"} 4\n',
    );
    expect(renderScalarChunk(counter.meta, chunk, created)).toBe(
      'http_requests_total{a="1"} 3\n' +
        'http_requests_created{a="1"} 1712345678.5\n' +
        'http_requests_total 2\n' +
        'http_requests_created 1700000000\n' +
        'http_requests_total{b="x|created"} 4\n',
    );
    const family: FamilyData = {
      meta: counter.meta,
      rows: [],
      prerendered: [renderScalarChunk(counter.meta, chunk, created)],
    };
    expect([...renderFamily(family, 'openmetrics')].join('')).toContain('http_requests_created 1700000000\n');
  });
});

describe('number formatting', () => {
  it.each([
    [Number.POSITIVE_INFINITY, '+Inf'],
    [Number.NEGATIVE_INFINITY, '-Inf'],
    [Number.NaN, 'NaN'],
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-2.5, '-2.5'],
    [0.1, '0.1'],
    [1e21, '1e+21'],
    [5e-324, '5e-324'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
  ])('formatValue(%s) is %j', (value, text) => {
    expect(formatValue(value)).toBe(text);
  });

  it('formatValue round-trips finite doubles', () => {
    for (const v of [0.1 + 0.2, 1 / 3, 123456789.12345679, -1e-300, 2 ** 53 + 2]) {
      expect(Number(formatValue(v))).toBe(v);
    }
  });

  it.each([
    [1, '1.0'],
    [0, '0.0'],
    [10, '10.0'],
    [-5, '-5.0'],
    [0.1, '0.1'],
    [2.5, '2.5'],
    [1e21, '1e+21'],
    [1e-7, '1e-7'],
    [Number.POSITIVE_INFINITY, '+Inf'],
  ])('formatCanonical(%s) is %j', (value, text) => {
    expect(formatCanonical(value)).toBe(text);
  });
});

/** renderStream of `families`, collected. */
async function formatFamiliesAsync(
  families: readonly FamilyData[],
  format: 'text' | 'openmetrics',
): Promise<string> {
  let out = '';
  // An array is an async iterable too (for await takes any iterable).
  const each: AsyncIterable<FamilyData> = {
    [Symbol.asyncIterator]: () => {
      let i = 0;
      return {
        next: () =>
          Promise.resolve(
            i < families.length ? { done: false, value: families[i++]! } : { done: true, value: undefined },
          ),
      };
    },
  };
  for await (const slice of renderStream(each, format)) out += slice;
  return out;
}

describe('renderStream', () => {
  const keys = Array.from({ length: 20_000 }, (_, i) =>
    renderLabels(['id', 'path'], [String(i), `/p"${i % 7}\n`]),
  );
  const big: FamilyData = {
    meta: meta('big_total_thing', 'counter', 'Many series.', { labelNames: ['id', 'path'] }),
    rows: keys.map((k, i) => [k, i * 0.5] as const),
  };
  const bigHist = histogram(
    'big_seconds',
    'Many histograms.',
    [0.5, 1],
    Array.from({ length: 3000 }, (_, i) => ({ key: `id="${i}"`, counts: [i % 3, 1, 2], sum: i })),
  );

  it.each(['text', 'openmetrics'] as const)(
    'returns exactly the same %s as formatFamilies for a 20,000-row family',
    async (format) => {
      const families = [counter, big, bigHist, summary];
      const sync = formatFamilies(families, format);
      const async = await formatFamiliesAsync(families, format);
      expect(async.length).toBe(sync.length);
      expect(async === sync).toBe(true);
      expect(sync.split('\n').filter((l) => l.startsWith('big_total_thing_total{'))).toHaveLength(20_000);
    },
  );

  it('formats no families like formatFamilies does', async () => {
    expect(await formatFamiliesAsync([], 'text')).toBe('');
    expect(await formatFamiliesAsync([], 'openmetrics')).toBe('# EOF\n');
  });

  it('yields to the event loop between slices', async () => {
    let ticks = 0;
    let running = true;
    const spin = (): void => {
      if (!running) return;
      ticks++;
      setImmediate(spin);
    };
    setImmediate(spin);
    await formatFamiliesAsync([big, big, big], 'text');
    running = false;
    expect(ticks).toBeGreaterThan(1);
  });
});
