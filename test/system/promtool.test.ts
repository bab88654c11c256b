/**
 * The exposition of every metric type, with label values and HELP text that need escaping, is
 * valid: `promtool check metrics` accepts the text format (parse errors exit 1, lint problems
 * exit 3; both fail here), a strict parser recovers every label value and HELP text exactly, and
 * the OpenMetrics output passes a strict checker of the OpenMetrics 1.0 grammar and family rules
 * (and promtool too, if this promtool version reads OpenMetrics on stdin — 2.42 does not).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommonGauge, Counter, Gauge, Histogram, Registry, Summary } from '../../src/index.js';
import { purgePrefix, redisClient, testRegistry } from '../support/helpers.js';
import { checkOpenMetrics, parseText, parseValue, valueOf, type Exposition } from './exposition.js';
import { run } from './processes.js';

function promtool(input: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input, encoding: 'utf8', timeout: 30_000 });
  if (result.error !== undefined) return { status: null, output: String(result.error) };
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const hasPromtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
/** Whether promtool parses OpenMetrics: a minimal valid OpenMetrics document must pass cleanly. */
const promtoolReadsOpenMetrics =
  hasPromtool &&
  promtool('# TYPE om_probe counter\n# HELP om_probe Probe.\nom_probe_total 1\nom_probe_created 1\n# EOF\n')
    .status === 0;

/** Label values that need escaping or are easy to mangle. */
const AWKWARD: readonly string[] = [
  'say "hi"',
  'back\\slash',
  'trailing backslash \\',
  '\\n is not a newline',
  'line1\nline2',
  '\n',
  'tab\there',
  '🔥 emoji 🚀',
  '中文标签',
  'e\u0301 combining, a\u0308',
  '',
  ' leading and trailing ',
  '{braces},commas=equals',
  '# not a comment',
  '"\\"\n\\',
];

const HELP = 'Requests with a \\ backslash,\na newline and "quotes".';

let registry: Registry;
let errors: Error[];
let prefix: string;
let text: string;
let openMetrics: string;
let exposition: Exposition;

beforeAll(async () => {
  // With the library's own metrics: they are part of every real exposition and must be valid too.
  ({ registry, errors, prefix } = testRegistry({ selfMetrics: true }));
  const requests = new Counter({
    name: 'awk_requests_total',
    help: HELP,
    labelNames: ['path', 'note'],
    registry,
  });
  const plain = new Counter({ name: 'awk_plain_total', help: 'No labels.', registry });
  const temperature = new Gauge({
    name: 'awk_temperature_celsius',
    help: 'Per-process gauge \\ with backslash.',
    labelNames: ['room'],
    unit: 'celsius',
    registry,
  });
  const shared = new CommonGauge({
    name: 'awk_shared_items',
    help: 'Shared gauge.',
    labelNames: ['key'],
    registry,
  });
  const latency = new Histogram({
    name: 'awk_latency_seconds',
    help: 'Latency\nover two lines.',
    labelNames: ['path'],
    buckets: [0.005, 0.5, 1, 2.5, 10],
    unit: 'seconds',
    registry,
  });
  const payload = new Summary({
    name: 'awk_payload_bytes',
    help: 'Payload.',
    labelNames: ['path'],
    registry,
  });
  const single = new Histogram({ name: 'awk_single_seconds', help: 'Unlabelled histogram.', registry });

  AWKWARD.forEach((value, i) => {
    requests.inc({ path: value, note: `n${i}` }, i + 1);
    requests.labels(value, value).inc(0.5);
    temperature.set({ room: value }, -i - 0.25);
    shared.labels(value).inc(i);
    latency.observe({ path: value }, i / 4);
    payload.labels({ path: value }).observe(i * 100);
  });
  plain.inc(3);
  single.observe(0.3);
  await registry.flush();
  text = await registry.metrics();
  openMetrics = await registry.metrics({ format: 'openmetrics' });
  exposition = parseText(text);
});

afterAll(async () => {
  await registry?.close();
  const admin = redisClient();
  await purgePrefix(admin, prefix);
  await admin.quit();
});

describe('text format 0.0.4', () => {
  it('parses strictly and gives back every awkward label value and HELP text', () => {
    AWKWARD.forEach((value, i) => {
      const what = JSON.stringify(value);
      expect(valueOf(exposition, 'awk_requests_total', { path: value, note: `n${i}` }), what).toBe(i + 1);
      expect(valueOf(exposition, 'awk_requests_total', { path: value, note: value }), what).toBe(0.5);
      expect(
        exposition.samples.filter((s) => s.name === 'awk_temperature_celsius' && s.labels.room === value),
      ).toEqual([
        {
          name: 'awk_temperature_celsius',
          labels: { room: value, gauge_index: String(registry.gaugeIndex) },
          value: -i - 0.25,
        },
      ]);
      expect(valueOf(exposition, 'awk_shared_items', { key: value }), what).toBe(i);
      expect(valueOf(exposition, 'awk_latency_seconds_count', { path: value }), what).toBe(1);
      expect(valueOf(exposition, 'awk_latency_seconds_sum', { path: value }), what).toBe(i / 4);
      expect(valueOf(exposition, 'awk_payload_bytes_sum', { path: value }), what).toBe(i * 100);
    });
    expect(valueOf(exposition, 'awk_plain_total')).toBe(3);
    expect(valueOf(exposition, 'awk_single_seconds_bucket', { le: '0.25' })).toBe(0);
    expect(valueOf(exposition, 'awk_single_seconds_bucket', { le: '0.5' })).toBe(1);
    expect([...exposition.type.keys()].some((name) => name.startsWith('prometheus_redis_client_'))).toBe(
      true,
    );
    expect(exposition.help.get('awk_requests_total')).toBe(HELP);
    expect(exposition.help.get('awk_latency_seconds')).toBe('Latency\nover two lines.');
    expect(exposition.help.get('awk_temperature_celsius')).toBe('Per-process gauge \\ with backslash.');
    // Every line is a comment or a sample: no raw newline from a value split a line.
    for (const line of text.split('\n').slice(0, -1)) expect(line).toMatch(/^(# (HELP|TYPE) |[a-zA-Z_:])/);
    expect(errors).toEqual([]);
  });

  it.skipIf(!hasPromtool)('passes `promtool check metrics` (no parse errors, no lint problems)', () => {
    const { status, output } = promtool(text);
    expect(
      status,
      `promtool check metrics exited ${String(status)}:\n${output}\n--- input ---\n${text}`,
    ).toBe(0);
  });

  it.skipIf(!hasPromtool)('is rejected by promtool when broken (the check can fail)', async () => {
    const broken = text.replace('awk_plain_total 3', 'awk_plain_total{x="unterminated} 3');
    const result = await run('promtool', ['check', 'metrics'], { input: broken, timeoutMs: 30_000 });
    expect(result.code).not.toBe(0);
  });
});

describe('OpenMetrics 1.0', () => {
  it('passes a strict OpenMetrics checker and carries the same samples', () => {
    expect(checkOpenMetrics(openMetrics), openMetrics).toEqual([]);
    expect(openMetrics.endsWith('# EOF\n')).toBe(true);
    expect(openMetrics).toContain('# UNIT awk_latency_seconds seconds\n');
    expect(openMetrics).toContain('# TYPE awk_requests counter\n');
    // Bucket bounds in canonical form (1 → "1.0").
    expect(openMetrics).toContain('awk_latency_seconds_bucket{path="back\\\\slash",le="0.5"} 1\n');
    expect(openMetrics).toContain('awk_latency_seconds_bucket{path="back\\\\slash",le="1.0"} 1\n');
    // OpenMetrics HELP escapes quotes too.
    expect(openMetrics).toContain(
      '# HELP awk_requests Requests with a \\\\ backslash,\\na newline and \\"quotes\\".\n',
    );
    const om = parseText(openMetrics.replace(/^# (HELP|UNIT) .*\n/gm, ''));
    const key = (e: Exposition): string[] =>
      e.samples
        .filter((s) => s.name.startsWith('awk_'))
        // Bucket bounds differ only in spelling (OpenMetrics writes 1 as "1.0").
        .map((s) => ({
          ...s,
          labels: s.labels.le === undefined ? s.labels : { ...s.labels, le: String(parseValue(s.labels.le)) },
        }))
        .map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())} ${s.value}`)
        .sort();
    // `_created` samples exist only in OpenMetrics: one per counter, histogram and summary series.
    const isCreated = (s: { name: string }): boolean => s.name.endsWith('_created');
    const created = om.samples.filter((s) => s.name.startsWith('awk_') && isCreated(s));
    expect(created.length).toBeGreaterThan(0);
    expect(exposition.samples.filter(isCreated)).toEqual([]);
    expect(key({ ...om, samples: om.samples.filter((s) => !isCreated(s)) })).toEqual(key(exposition));
  });

  it('the checker catches what OpenMetrics forbids (it can fail)', () => {
    const cases: Array<[string, string]> = [
      ['no EOF', openMetrics.replace('# EOF\n', '')],
      ['counter sample without _total', openMetrics.replace('awk_plain_total 3', 'awk_plain 3')],
      ['raw quote in label value', openMetrics.replace('path="say \\"hi\\""', 'path="say "hi""')],
      ['bucket bound not canonical', openMetrics.replace('le="0.5"', 'le="5e-1x"')],
      ['empty line', openMetrics.replace('# EOF\n', '\n# EOF\n')],
      ['text-format trailing comma', openMetrics.replace('awk_plain_total 3', 'awk_plain_total{a="b",} 3')],
    ];
    for (const [what, broken] of cases) {
      expect(broken, what).not.toBe(openMetrics);
      expect(checkOpenMetrics(broken), what).not.toEqual([]);
    }
  });

  it.skipIf(!promtoolReadsOpenMetrics)('passes `promtool check metrics`', () => {
    const { status, output } = promtool(openMetrics);
    expect(status, `promtool check metrics exited ${String(status)}:\n${output}`).toBe(0);
  });
});
