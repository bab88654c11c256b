/**
 * One regression test per row of the README's "Differences from the Python original" table: what
 * the Python original got wrong, checked against a real Redis. Titles carry the row number
 * (counted from 1). The table summarises, row for row, the project's seed notes LESSONS.md, which
 * are not in this repository: they live in the project workspace's shared/seed/ folder
 * (../shared/seed/LESSONS.md from the main checkout).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { PAGE_FIELDS } from '../../src/export/scan.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CardinalityLimitError,
  CommonGauge,
  Counter,
  Gauge,
  Histogram,
  MetadataConflictError,
  PrometheusRedisError,
  Summary,
} from '../../src/index.js';
import { randomPrefix, redisUrl, samples, settle, until, useTestRegistries } from '../support/helpers.js';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';

const ROOT = new URL('../../', import.meta.url).pathname;

const registries = useTestRegistries();
/** A registry on the shared server, closed (and its keys purged) after the test. */
const make = registries.make;
let redis: Redis;
/** A private server for the tests that stop it or read its command statistics. */
let server: RedisServer;
beforeAll(async () => {
  redis = registries.redis;
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});
// Runs before the registries are closed: a test may have left the private server stopped.
afterEach(async () => {
  await server.start();
});

/** Run a Node ESM snippet (with tsx, from the repository root); SIGKILL it after `timeoutMs`. */
function runSnippet(
  code: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ code: exitCode, signal, output });
    });
  });
}

/** Independent implementation of the text format's label-value escaping. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('differences from the Python original (README)', () => {
  it('the README table has exactly one row per numbered test here', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    const section = readme.split('\n## Differences from the Python original\n')[1]?.split('\n## ')[0] ?? '';
    // Table rows, without the header row and the |---| rule.
    const rows = section.split('\n').filter((l) => l.startsWith('|') && !l.startsWith('| the original'));
    const body = rows.filter((l) => !/^\|[\s|-]+\|$/.test(l));
    const numbered = [...readFileSync(new URL(import.meta.url), 'utf8').matchAll(/^ {2}it\(['"]#(\d+) /gm)];
    expect(body.length).toBeGreaterThan(0);
    expect(numbered.map((m) => Number(m[1]))).toEqual(body.map((_, i) => i + 1));
  });

  it('#1 the hot path is synchronous and never touches the network; 100k ops land after a flush', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const { registry, errors } = make({ redis: dead, flushTimeoutMs: 200 });
    const c = new Counter({ name: 'hot_total', help: 'h', labelNames: ['route'], registry });
    const h = new Histogram({
      name: 'hot_seconds',
      help: 'h',
      labelNames: ['route'],
      buckets: [0.5],
      registry,
    });
    const g = new Gauge({ name: 'hot_gauge', help: 'h', registry });
    const bound = c.labels('/bound');
    const hb = h.labels('/bound');
    const labels = { route: '/inline' };
    for (let i = 0; i < 100_000; i++) {
      bound.inc();
      c.inc(labels);
      hb.observe(i % 2);
      h.observe(labels, 0.25);
      g.set(i);
    }
    // Every call above returned synchronously while Redis is unreachable; memory follows the
    // number of series, not of operations.
    expect(bound.inc() as unknown).toBeUndefined();
    expect(registry.undeliveredSeries).toBe(5);
    await expect(registry.flush()).rejects.toBeInstanceOf(PrometheusRedisError);

    registry.setRedis(redisUrl());
    await settle(registry);
    const s = samples(await registry.metrics());
    expect(s.get('hot_total{route="/bound"}')).toBe(100_001);
    expect(s.get('hot_total{route="/inline"}')).toBe(100_000);
    expect(s.get('hot_seconds_count{route="/bound"}')).toBe(100_000);
    expect(s.get('hot_seconds_bucket{route="/bound",le="0.5"}')).toBe(50_000);
    expect(s.get('hot_seconds_sum{route="/inline"}')).toBe(25_000);
    expect(s.get('hot_gauge{gauge_index="0"}')).toBe(99_999);
    expect(errors.every((e) => e instanceof PrometheusRedisError)).toBe(true);
  });

  it('#2 label values and HELP text are escaped as the text formats require (fuzzed)', async () => {
    const { registry } = make();
    const help = 'Help with \\ a backslash\nand a newline, "quoted"';
    const c = new Counter({ name: 'esc_total', help, labelNames: ['v'], registry });
    const fixed = [
      'quote"d',
      'back\\slash',
      'new\nline',
      '"\\\n"',
      '',
      '✓ 日本 🎉',
      '{}=,|:# ',
      '\\n',
      'x\\',
    ];
    const fuzzed = fc.sample(
      fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => !LONE_SURROGATE.test(s)),
      { numRuns: 300, seed: 20_240_601 },
    );
    const values = [...new Set([...fixed, ...fuzzed])];
    values.forEach((v, i) => c.inc({ v }, i + 1));
    await registry.flush();
    const text = await registry.metrics();
    const lines = text.split('\n');
    expect(lines[0]).toBe('# HELP esc_total Help with \\\\ a backslash\\nand a newline, "quoted"');
    expect(lines[1]).toBe('# TYPE esc_total counter');
    // One line per series: no raw line feed leaked out of a value.
    expect(lines).toHaveLength(values.length + 3);
    expect(lines.at(-1)).toBe('');
    const parsed = new Map<string, number>();
    for (const line of lines.slice(2, -1)) {
      const m = /^esc_total\{v="((?:[^"\\\n]|\\[\\"n])*)"\} (\d+)$/.exec(line);
      expect(m, line).not.toBeNull();
      parsed.set(unescapeLabel(m![1]!), Number(m![2]));
    }
    expect(parsed).toEqual(new Map(values.map((v, i) => [v, i + 1])));
    for (const v of fixed) expect(text).toContain(`esc_total{v="${escapeLabel(v)}"} `);
    const om = await registry.metrics({ format: 'openmetrics' });
    expect(om).toContain('# HELP esc Help with \\\\ a backslash\\nand a newline, \\"quoted\\"\n');
  });

  it("#3 labels(200) and labels('200') are one series, in one process and across processes", async () => {
    const prefix = randomPrefix('l3');
    const a = make({ prefix });
    const b = make({ prefix });
    const ca = new Counter({ name: 'codes_total', help: 'c', labelNames: ['code'], registry: a.registry });
    const cb = new Counter({ name: 'codes_total', help: 'c', labelNames: ['code'], registry: b.registry });
    const ha = new Histogram({
      name: 'h3',
      help: 'h',
      labelNames: ['le_ish'],
      buckets: [1],
      registry: a.registry,
    });
    ca.labels(200).inc();
    ca.labels('200').inc();
    ca.inc({ code: 200 });
    cb.inc({ code: '200' });
    cb.labels({ code: 200 }).inc();
    ha.observe({ le_ish: 1.5 }, 1);
    ha.labels('1.5').observe(1);
    await a.registry.flush();
    await b.registry.flush();
    const s = samples(await a.registry.metrics());
    expect([...s.entries()].filter(([k]) => k.startsWith('codes_total'))).toEqual([
      ['codes_total{code="200"}', 5],
    ]);
    expect(s.get('h3_count{le_ish="1.5"}')).toBe(2);
  });

  it('#4 caller label objects are never mutated and children are reusable forever', async () => {
    const { registry } = make();
    const names = ['route', 'code'] as const;
    const c = new Counter({ name: 'c4_total', help: 'c', labelNames: names, registry });
    const g = new Gauge({ name: 'g4', help: 'g', labelNames: names, registry });
    const cg = new CommonGauge({ name: 'cg4', help: 'g', labelNames: names, registry });
    const h = new Histogram({ name: 'h4', help: 'h', labelNames: names, buckets: [1], registry });
    const sm = new Summary({ name: 's4', help: 's', labelNames: names, registry });
    const labels = Object.freeze({ route: '/a', code: 200 });
    const partial = Object.freeze({ route: '/a' });
    const end = Object.freeze({ code: 200 });
    for (let round = 0; round < 2; round++) {
      c.inc(labels);
      c.labels(labels).inc();
      g.set(labels, 1);
      g.inc(labels);
      g.startTimer(partial)(end);
      cg.set(labels, 1);
      cg.inc(labels);
      h.observe(labels, 0.5);
      h.startTimer(partial)(end);
      h.timeit(() => undefined, labels)();
      sm.observe(labels, 1);
      sm.startTimer(labels)();
    }
    expect(labels).toEqual({ route: '/a', code: 200 });
    expect(partial).toEqual({ route: '/a' });
    expect(end).toEqual({ code: 200 });
    const child = h.labels(labels);
    const counterChild = c.labels('/a', 200);
    for (let round = 0; round < 3; round++) {
      child.observe(2);
      child.observe(2);
      counterChild.inc();
      await registry.flush();
    }
    const s = samples(await registry.metrics());
    expect(s.get('c4_total{route="/a",code="200"}')).toBe(7);
    expect(s.get('h4_count{route="/a",code="200"}')).toBe(12);
    expect(s.get('h4_bucket{route="/a",code="200",le="1"}')).toBe(6);
    expect(s.get('s4_count{route="/a",code="200"}')).toBe(4);
    expect(s.get('cg4{route="/a",code="200"}')).toBe(2);
    expect([...s.keys()].filter((k) => k.includes('le=') && !k.startsWith('h4_bucket'))).toEqual([]);
    expect([...s.keys()].filter((k) => k.includes('gauge_index') && !k.startsWith('g4{'))).toEqual([]);
  });

  it('#5 names with ":" work end to end; invalid names fail at construction; a bad family does not fail the scrape', async () => {
    const { registry, prefix, errors } = make();
    new Counter({ name: 'ns:requests_total', help: 'r', labelNames: ['a'], registry }).inc({ a: 'x' });
    new Gauge({ name: 'ns:load', help: 'l', registry }).set(0.5);
    new Histogram({ name: 'ns:latency', help: 'l', buckets: [1], registry }).observe(2);
    for (const name of ['a-b', '1abc', '', 'a b', '__reserved', 'é']) {
      expect(() => new Counter({ name, help: 'x', registry })).toThrow(TypeError);
    }
    expect(() => new Counter({ name: 'a-b', help: 'x', registry })).toThrow(/"a-b"/);
    for (const label of ['a-b', '__x', 'a:b', '']) {
      expect(() => new Counter({ name: 'ok_name', help: 'x', labelNames: [label], registry })).toThrow(
        TypeError,
      );
    }
    await registry.flush();
    await redis.hset(`{${prefix}}:meta`, 'foreign', 'written by someone else');
    const s = samples(await registry.metrics());
    expect(s.get('ns:requests_total{a="x"}')).toBe(1);
    expect(s.get('ns:load{gauge_index="0"}')).toBe(0.5);
    expect(s.get('ns:latency_bucket{le="+Inf"}')).toBe(1);
    expect(await redis.exists(`{${prefix}}:f:ns:requests`)).toBe(1);
    expect(errors.map((e) => e.message).join('\n')).toContain('"foreign"');
  });

  it('#6 every key lives under the registry prefix; suffix clashes are rejected at registration', async () => {
    const admin = server.client();
    await admin.flushall();
    const prefix = randomPrefix('l6');
    const { registry } = make({ redis: server.url, prefix });
    new Summary({ name: 'x', help: 's', registry }).observe(1);
    expect(() => new Counter({ name: 'x_count', help: 'c', registry })).toThrow(TypeError);
    expect(() => new Gauge({ name: 'x_sum', help: 'g', registry })).toThrow(TypeError);
    expect(() => new Gauge({ name: 'x', help: 'g', registry })).toThrow(TypeError);
    new Histogram({ name: 'h', help: 'h', buckets: [1], registry }).observe(1);
    expect(() => new CommonGauge({ name: 'h_bucket', help: 'g', registry })).toThrow(TypeError);
    new Counter({ name: 'c', help: 'c', registry }).inc();
    expect(() => new Gauge({ name: 'c_total', help: 'g', registry })).toThrow(TypeError);
    expect(() => new Counter({ name: 'c_total', help: 'c', registry })).toThrow(TypeError);
    new Gauge({ name: 'g', help: 'g', registry }).set(1);
    new CommonGauge({ name: 'cg', help: 'g', expireSeconds: 60, registry }).set(1);
    await registry.flush();
    const keys = await admin.keys('*');
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) expect(key.startsWith(`{${prefix}}:`), key).toBe(true);
    // Another prefix on the same Redis sees nothing of it.
    const other = make({ redis: server.url, prefix: randomPrefix('l6') });
    expect(await other.registry.metrics()).toBe('');
  });

  it('#7 histograms: default buckets, +Inf always, numeric le order, canonical le, no phantom series', async () => {
    const { registry } = make();
    const d = new Histogram({ name: 'h_default', help: 'd', registry });
    const n = new Histogram({
      name: 'h_num',
      help: 'n',
      labelNames: ['route'],
      buckets: [10, 2.5, 1.0],
      registry,
    });
    d.observe(0.2);
    n.observe({ route: '/a' }, 1);
    n.observe({ route: '/a' }, 1.0);
    n.observe({ route: '/a' }, 3);
    n.observe({ route: '/a' }, 50);
    await registry.flush();
    const text = await registry.metrics();
    const les = text
      .split('\n')
      .filter((l) => l.startsWith('h_default_bucket'))
      .map((l) => /le="([^"]+)"/.exec(l)![1]);
    expect(les).toEqual([
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '+Inf',
    ]);
    expect(text).toContain(
      [
        'h_num_bucket{route="/a",le="1"} 2',
        'h_num_bucket{route="/a",le="2.5"} 2',
        'h_num_bucket{route="/a",le="10"} 3',
        'h_num_bucket{route="/a",le="+Inf"} 4',
        'h_num_sum{route="/a"} 55',
        'h_num_count{route="/a"} 4',
        '',
      ].join('\n'),
    );
    // Labelled histograms print no unlabelled series.
    expect(text.split('\n').filter((l) => l.startsWith('h_num') && !l.includes('route="/a"'))).toEqual([]);
    expect(await registry.metrics({ format: 'openmetrics' })).toContain(
      'h_num_bucket{route="/a",le="1.0"} 2\n',
    );
  });

  it('#8 non-finite observations are rejected at the call and never write a partial update', async () => {
    const { registry, errors } = make();
    const h = new Histogram({ name: 'h8', help: 'h', buckets: [1], registry });
    const s = new Summary({ name: 's8', help: 's', registry });
    const c = new Counter({ name: 'c8', help: 'c', registry });
    const g = new Gauge({ name: 'g8', help: 'g', registry });
    h.observe(0.5);
    s.observe(2);
    for (const bad of [Infinity, -Infinity, NaN]) {
      expect(() => h.observe(bad)).toThrow(RangeError);
      expect(() => h.labels().observe(bad)).toThrow(RangeError);
      expect(() => s.observe(bad)).toThrow(RangeError);
      expect(() => c.inc(bad)).toThrow(RangeError);
      expect(() => g.set(bad)).toThrow(RangeError);
    }
    h.observe(3);
    await registry.flush();
    const out = samples(await registry.metrics());
    expect(out.get('h8_bucket{le="1"}')).toBe(1);
    expect(out.get('h8_bucket{le="+Inf"}')).toBe(2);
    expect(out.get('h8_count')).toBe(2);
    expect(out.get('h8_sum')).toBe(3.5);
    expect(out.get('s8_count')).toBe(1);
    expect(out.get('s8_sum')).toBe(2);
    expect(out.get('c8_total')).toBe(0);
    expect(errors).toEqual([]);
  });

  it('#9 timers never keep a script alive; the background survives Redis errors and reports them', async () => {
    // A script that records (with the flusher's timers running) and ends without close() exits.
    const prefix = randomPrefix('l9');
    const child = await runSnippet(
      `
      import { Redis } from 'ioredis';
      import { Registry, Gauge, Counter } from './src/index.ts';
      const client = new Redis(process.env.REDIS_URL);
      const registry = new Registry({ redis: client, prefix: process.env.PREFIX, flushIntervalMs: 20, expireSeconds: 1 });
      new Gauge({ name: 'g', help: 'g', registry }).set(3);
      new Counter({ name: 'c', help: 'c', registry }).inc();
      await registry.flush();
      client.disconnect();
      `,
      { REDIS_URL: redisUrl(), PREFIX: prefix },
      15_000,
    );
    expect(child).toEqual({ code: 0, signal: null, output: '' });
    const reader = make({ prefix });
    expect(samples(await reader.registry.metrics()).get('c_total')).toBe(1);

    // The background keeps going through an outage and reports through onError only.
    const { registry, errors } = make({
      redis: server.url,
      flushIntervalMs: 50,
      flushTimeoutMs: 300,
      maxBackoffMs: 200,
    });
    const watcher = make({ redis: server.url, prefix: registry.prefix });
    const c = new Counter({ name: 'bg_total', help: 'b', registry });
    c.inc();
    await until(
      () => watcher.registry.metrics(),
      (t) => samples(t).get('bg_total') === 1,
      'the first delivery',
    );
    await server.stop();
    c.inc(2);
    await until(
      () => Promise.resolve(registry.flushStats.failed),
      (n) => n > 0,
      'a failed background flush',
    );
    expect(errors.length).toBeGreaterThan(0);
    await server.start();
    // The restarted server has no persistence: what it holds is what was recorded during the outage.
    await until(
      () => watcher.registry.metrics(),
      (t) => samples(t).get('bg_total') === 2,
      'delivery after the outage',
    );
    expect(errors.every((e) => e instanceof PrometheusRedisError)).toBe(true);
  });

  it('#10 one small gauge index per registry (not per Gauge), reused after the registry dies', async () => {
    const prefix = randomPrefix('l10');
    const short = { prefix, expireSeconds: 2, flushIntervalMs: 500 };
    const first = make(short);
    const second = make(short);
    const reader = make({ prefix });
    for (const name of ['a', 'b', 'c']) new Gauge({ name, help: name, registry: first.registry }).set(1);
    new Gauge({ name: 'a', help: 'a', registry: second.registry }).set(2);
    await first.registry.flush();
    await second.registry.flush();
    expect([first.registry.gaugeIndex, second.registry.gaugeIndex]).toEqual([0, 1]);
    expect(samples(await reader.registry.metrics())).toEqual(
      new Map([
        ['a{gauge_index="0"}', 1],
        ['a{gauge_index="1"}', 2],
        ['b{gauge_index="0"}', 1],
        ['c{gauge_index="0"}', 1],
      ]),
    );
    await first.registry.close();
    await until(
      () => reader.registry.metrics(),
      (t) => [...samples(t).keys()].every((k) => !k.includes('gauge_index="0"')),
      'the dead registry’s lease to expire',
    );
    const third = make(short);
    new Gauge({ name: 'a', help: 'a', registry: third.registry }).set(3);
    await third.registry.flush();
    expect(third.registry.gaugeIndex).toBe(0);
    const fourth = make(short);
    new Gauge({ name: 'b', help: 'b', registry: fourth.registry }).set(4);
    await fourth.registry.flush();
    expect(fourth.registry.gaugeIndex).toBe(2);
    expect(samples(await reader.registry.metrics())).toEqual(
      new Map([
        ['a{gauge_index="0"}', 3],
        ['a{gauge_index="1"}', 2],
        ['b{gauge_index="2"}', 4],
      ]),
    );
  });

  it('#11 nothing is lost while Redis is away or before setRedis(); failures are reported and counted', async () => {
    await server.stop();
    const { registry, errors } = make({ redis: undefined, flushTimeoutMs: 300, maxBackoffMs: 200 });
    const c = new Counter({ name: 'early_total', help: 'e', labelNames: ['k'], registry });
    const h = new Histogram({ name: 'early_seconds', help: 'e', buckets: [1], registry });
    for (let i = 0; i < 1000; i++) c.inc({ k: String(i % 3) });
    h.observe(0.5);
    await expect(registry.flush()).rejects.toBeInstanceOf(PrometheusRedisError);
    registry.setRedis(server.url);
    for (let i = 0; i < 1000; i++) c.inc({ k: String(i % 3) });
    await expect(registry.flush()).rejects.toBeInstanceOf(PrometheusRedisError);
    expect(registry.flushStats.failed).toBeGreaterThan(0);
    // Bounded: one pending entry per series, however many operations.
    expect(registry.undeliveredSeries).toBeLessThanOrEqual(4);
    expect(registry.undeliveredSeries).toBeGreaterThan(0);
    h.observe(2);
    await server.start();
    await settle(registry);
    const s = samples(await registry.metrics());
    expect(s.get('early_total{k="0"}')).toBe(668);
    expect(s.get('early_total{k="1"}')).toBe(666);
    expect(s.get('early_total{k="2"}')).toBe(666);
    expect(s.get('early_seconds_count')).toBe(2);
    expect(s.get('early_seconds_sum')).toBe(2.5);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('#12 a scrape reads in bounded pages, never one call per series, and never writes or deletes', async () => {
    const admin = server.client();
    async function commandsOfOneScrape(series: number): Promise<Map<string, number>> {
      const prefix = randomPrefix('l12');
      const writer = make({ redis: server.url, prefix });
      const reader = make({ redis: server.url, prefix });
      const c = new Counter({ name: 'c', help: 'c', labelNames: ['i'], registry: writer.registry });
      const h = new Histogram({
        name: 'h',
        help: 'h',
        labelNames: ['i'],
        buckets: [1],
        registry: writer.registry,
      });
      new Gauge({ name: 'g', help: 'g', labelNames: ['i'], registry: writer.registry }).set({ i: '0' }, 1);
      // An expiring common gauge (read through its expiry zset), long enough not to lapse mid-test.
      new CommonGauge({ name: 'cg', help: 'g', expireSeconds: 60, registry: writer.registry }).set(1);
      for (let i = 0; i < series; i++) {
        c.inc({ i: String(i) });
        h.observe({ i: String(i) }, i);
      }
      await writer.registry.flush();
      await reader.registry.metrics();
      await admin.config('RESETSTAT');
      const text = await reader.registry.metrics();
      const info = await admin.info('commandstats');
      expect(samples(text).size).toBe(series * 5 + 2);
      const calls = new Map<string, number>();
      for (const m of info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
      calls.delete('config');
      calls.delete('info');
      return calls;
    }
    const small = await commandsOfOneScrape(10);
    const large = await commandsOfOneScrape(3000);
    const scripts = (calls: Map<string, number>) => (calls.get('evalsha') ?? 0) + (calls.get('eval') ?? 0);
    // One page per hash read (c, h, the gauge's one process, cg) when everything fits in one.
    expect(scripts(small)).toBe(4);
    // 3,000 counter fields (pages of PAGE_FIELDS) and 3,000 × 4 histogram fields (pages of a
    // quarter of that): a hundred pages or so — never the Python original's command per series.
    expect(scripts(large)).toBeGreaterThan(scripts(small));
    const pages = Math.ceil(3000 / PAGE_FIELDS) + Math.ceil((3000 * 4) / (PAGE_FIELDS / 4));
    expect(scripts(large)).toBeLessThanOrEqual(2 * pages + 4);
    expect(scripts(large)).toBeLessThan(3000);
    // The reader's own commands besides the pages (metadata, live gauge indexes) do not grow.
    for (const command of ['hgetall', 'smembers', 'mget'])
      expect(large.get(command), command).toBe(small.get(command));
    for (const write of [
      'del',
      'hdel',
      'unlink',
      'zrem',
      'zremrangebyscore',
      'hset',
      'set',
      'expire',
      'hincrbyfloat',
    ]) {
      expect(small.has(write), write).toBe(false);
    }
  });

  it('#13 remove()/reset() delete series in Redis; a per-metric cardinality limit drops and reports', async () => {
    const { registry, prefix, errors } = make({ maxSeriesPerMetric: 3 });
    const c = new Counter({ name: 'card_total', help: 'c', labelNames: ['user'], registry });
    const cg = new CommonGauge({ name: 'cg13', help: 'g', labelNames: ['k'], registry });
    for (const user of ['a', 'b', 'c', 'd', 'e']) c.inc({ user });
    c.inc({ user: 'd' });
    cg.set({ k: '1' }, 1);
    cg.set({ k: '2' }, 2);
    await registry.flush();
    let s = samples(await registry.metrics());
    expect([...s.keys()].filter((k) => k.startsWith('card_total'))).toEqual([
      'card_total{user="a"}',
      'card_total{user="b"}',
      'card_total{user="c"}',
    ]);
    const limits = errors.filter((e) => e instanceof CardinalityLimitError);
    expect(limits).toHaveLength(1);
    expect(limits[0]).toMatchObject({ metric: 'card', limit: 3 });
    // Three series; creation times live in a hash of their own.
    expect(await redis.hlen(`{${prefix}}:f:card`)).toBe(3);
    // Removing a series frees its slot and its Redis field.
    c.remove({ user: 'a' });
    c.inc({ user: 'd' }, 5);
    cg.reset();
    await registry.flush();
    s = samples(await registry.metrics());
    expect([...s.keys()].filter((k) => k.startsWith('card_total'))).toEqual([
      'card_total{user="b"}',
      'card_total{user="c"}',
      'card_total{user="d"}',
    ]);
    expect(s.get('card_total{user="d"}')).toBe(5);
    expect(await redis.hkeys(`{${prefix}}:f:card`)).not.toContain('user="a"');
    expect(await redis.hkeys(`{${prefix}}:f:card`)).not.toContain('user="a"|created');
    expect(await redis.exists(`{${prefix}}:f:cg13`)).toBe(0);
    expect([...s.keys()].filter((k) => k.startsWith('cg13'))).toEqual([]);
  });

  it('#14 the library never writes to stdout or stderr, even on errors', async () => {
    const spies = [
      vi.spyOn(process.stdout, 'write'),
      vi.spyOn(process.stderr, 'write'),
      ...(['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((m) => vi.spyOn(console, m)),
    ];
    try {
      const dead = make({
        redis: `redis://127.0.0.1:${await freePort()}`,
        flushTimeoutMs: 100,
        closeTimeoutMs: 100,
      });
      const s = new Summary({ name: 's14', help: 's', registry: dead.registry });
      for (let i = 0; i < 100; i++) s.observe(i);
      await dead.registry.flush().catch(() => undefined);
      await dead.registry.metrics().catch(() => undefined);
      await dead.registry.close();

      const prefix = randomPrefix('l14');
      const a = make({ prefix });
      const b = make({ prefix });
      new Summary({ name: 'x', help: 's', registry: a.registry }).observe(1);
      new Counter({ name: 'x', help: 'c', registry: b.registry }).inc();
      await a.registry.flush();
      await expect(b.registry.flush()).rejects.toBeInstanceOf(MetadataConflictError);
      await redis.hset(`{${prefix}}:meta`, 'junk', 'junk');
      await a.registry.metrics();
      expect(dead.errors.length + b.errors.length + a.errors.length).toBeGreaterThan(2);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });

  it('#15 the exposition ends with a newline and counters carry `_total` (0.0.4 and OpenMetrics)', async () => {
    const { registry } = make();
    new Counter({ name: 'with_total', help: 'w', registry }).inc();
    new Counter({ name: 'without', help: 'w', labelNames: ['a'], registry }).inc({ a: 'b' });
    new Gauge({ name: 'last_gauge', help: 'g', registry }).set(1);
    await registry.flush();
    const text = await registry.metrics();
    expect(text.endsWith('\n')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(false);
    expect(text).toContain('# HELP with_total w\n# TYPE with_total counter\nwith_total 1\n');
    expect(text).toContain('# HELP without_total w\n# TYPE without_total counter\nwithout_total{a="b"} 1\n');
    for (const line of text.slice(0, -1).split('\n')) {
      expect(line, line).toMatch(
        /^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+)$/,
      );
    }
    const om = await registry.metrics({ format: 'openmetrics' });
    expect(om.endsWith('\n# EOF\n')).toBe(true);
    expect(om).toContain('# TYPE without counter\n# HELP without w\nwithout_total{a="b"} 1\n');
  });
});

describe('found while checking those rows', () => {
  it('a script whose registry owns its connection exits at the end and delivers its deltas', async () => {
    const prefix = randomPrefix('l9b');
    const child = await runSnippet(
      `
      import { Registry, Counter, installShutdownHooks } from './src/index.ts';
      const registry = new Registry({ redis: process.env.REDIS_URL, prefix: process.env.PREFIX });
      installShutdownHooks(registry);
      new Counter({ name: 'c', help: 'c', registry }).inc(7);
      `,
      { REDIS_URL: redisUrl(), PREFIX: prefix },
      10_000,
    );
    expect(child).toEqual({ code: 0, signal: null, output: '' });
    const reader = make({ prefix });
    expect(samples(await reader.registry.metrics()).get('c_total')).toBe(7);
  });

  // Regression: once the owned socket is unref'd, every awaited command needs its own
  // handle, or the process exits with code 13 (unsettled top-level await) in the middle of it.
  it('a script can await flush(), metrics() and close() on a registry that owns its connection', async () => {
    const prefix = randomPrefix('l9c');
    const child = await runSnippet(
      `
      import { Registry, Counter } from './src/index.ts';
      const registry = new Registry({ redis: process.env.REDIS_URL, prefix: process.env.PREFIX, selfMetrics: false });
      new Counter({ name: 'c', help: 'c', registry }).inc(7);
      await registry.flush();
      console.log('flushed');
      const text = await registry.metrics();
      console.log(text === '# HELP c_total c\\n# TYPE c_total counter\\nc_total 7\\n' ? 'scraped' : text);
      await registry.close();
      console.log('closed');
      `,
      { REDIS_URL: redisUrl(), PREFIX: prefix },
      10_000,
    );
    expect(child).toEqual({ code: 0, signal: null, output: 'flushed\nscraped\nclosed\n' });
  });
});
