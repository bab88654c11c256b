import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommonGauge, Counter, Gauge, Histogram, Registry, Summary } from '../../src/index.js';
import { Keys } from '../../src/redis/keys.js';
import { randomPrefix, redisClient, sample, testRegistry } from '../support/helpers.js';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';

/** The commands the library needs: the README's minimal ACL, as written there. */
const ACL_COMMANDS = (() => {
  const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
  const line = /^\s*ACL SETUSER metrics on >password ~\{shop\}:\* (.*)$/m.exec(readme)?.[1];
  if (line === undefined) throw new Error('README.md has no `ACL SETUSER metrics on …` line');
  return line.trim();
})();

const open: Registry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

function recordEveryType(registry: Registry): void {
  new Counter({ name: 'c_total', help: 'c', labelNames: ['x'], registry }).inc({ x: '1' }, 2);
  new Gauge({ name: 'g', help: 'g', registry }).set(3);
  const cg = new CommonGauge({ name: 'cg', help: 'cg', labelNames: ['x'], expireSeconds: 60, registry });
  cg.set({ x: 'a' }, 2);
  cg.set({ x: 'b' }, 5);
  new Histogram({ name: 'h', help: 'h', buckets: [1], registry }).observe(0.5);
  new Summary({ name: 's', help: 's', registry }).observe(4);
  cg.remove({ x: 'a' });
}

describe('a Redis user limited to the documented ACL', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('records, flushes, removes and scrapes every metric type', async () => {
    const prefix = randomPrefix('acl');
    const admin = server.client();
    await admin.call(
      'ACL',
      'SETUSER',
      'metrics',
      'on',
      '>s3cret',
      `~{${prefix}}:*`,
      ...ACL_COMMANDS.split(' '),
    );
    const errors: Error[] = [];
    const registry = new Registry({
      redis: `redis://metrics:s3cret@127.0.0.1:${server.port}`,
      prefix,
      onError: (e) => errors.push(e),
    });
    open.push(registry);
    recordEveryType(registry);
    await registry.flush();
    const text = await registry.metrics();
    expect(sample(text, 'c_total{x="1"}')).toBe(2);
    expect(sample(text, 'cg{x="b"}')).toBe(5);
    expect(text).not.toContain('cg{x="a"}');
    expect(sample(text, 'h_count')).toBe(1);
    expect(sample(text, 's_sum')).toBe(4);
    expect(text).toMatch(/^g\{gauge_index="0"\} 3$/m);
    expect(errors).toEqual([]);
  });

  it('with the ACL of 0.1.0 (no +unlink, no +type), flushes, and resets and closes delete their keys, through DEL', async () => {
    const prefix = randomPrefix('acl');
    const admin = server.client();
    // 0.1.0's probe used EXISTS; without +type it still does (no check of key types then).
    const oldAcl = [...ACL_COMMANDS.split(' ').filter((c) => c !== '+unlink' && c !== '+type'), '+exists'];
    await admin.call('ACL', 'SETUSER', 'old', 'on', '>pw', `~{${prefix}}:*`, ...oldAcl);
    const errors: Error[] = [];
    const registry = new Registry({
      redis: `redis://old:pw@127.0.0.1:${server.port}`,
      prefix,
      onError: (e) => errors.push(e),
    });
    open.push(registry);
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['x'], registry });
    const g = new Gauge({ name: 'g', help: 'g', registry });
    c.inc({ x: '1' }, 2);
    g.set(3);
    await registry.flush();
    const keys = new Keys(prefix);
    const present = () => admin.exists(keys.family('c'), keys.gauge('g', 0), keys.lease(0));
    expect(await present()).toBe(3);
    c.reset();
    await registry.flush();
    // The family hash went with reset(), the gauge hash and the lease with close().
    expect(await admin.exists(keys.family('c'))).toBe(0);
    await registry.close();
    expect(await present()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('cannot touch keys outside its prefix', async () => {
    const prefix = randomPrefix('acl');
    const admin = server.client();
    await admin.call('ACL', 'SETUSER', 'narrow', 'on', '>pw', `~{${prefix}}:*`, ...ACL_COMMANDS.split(' '));
    const narrow = new Redis(`redis://narrow:pw@127.0.0.1:${server.port}`, { maxRetriesPerRequest: 0 });
    narrow.on('error', () => {});
    await expect(narrow.set('elsewhere', '1')).rejects.toThrow(/NOPERM/);
    narrow.disconnect();
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(!hasOpenssl)('TLS', () => {
  let dir: string;
  let port: number;
  let server: ReturnType<typeof import('node:child_process').spawn> | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prc-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    port = await freePort();
    const { spawn } = await import('node:child_process');
    server = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--tls-cert-file',
        join(dir, 'cert.pem'),
        '--tls-key-file',
        join(dir, 'key.pem'),
        '--tls-ca-cert-file',
        join(dir, 'cert.pem'),
        '--tls-auth-clients',
        'no',
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(() => {
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('flushes and scrapes over rediss:// with a verified certificate', async () => {
    const ca = readFileSync(join(dir, 'cert.pem'));
    const redis = new Redis(`rediss://127.0.0.1:${port}`, { tls: { ca }, maxRetriesPerRequest: 2 });
    redis.on('error', () => {});
    const registry = new Registry({ redis, prefix: randomPrefix('tls'), selfMetrics: false });
    open.push(registry);
    new Counter({ name: 'secure_total', help: 'over TLS', registry }).inc(7);
    await registry.flush();
    expect(sample(await registry.metrics(), 'secure_total')).toBe(7);
    await registry.close();
    redis.disconnect();
  });
});

describe('keys and series cannot be aliased by label values', () => {
  it('keeps every key under the prefix and every hostile label value its own series', async () => {
    const { registry, prefix } = testRegistry();
    open.push(registry);
    const hostile = ['}', '{other}:f:x', 'a|s', 'a"|s', 'a\\', 'a\\"', 'x\n# EOF', '', '*', 'a,b="c"'];
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['l'], buckets: [1], registry });
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['l'], registry });
    hostile.forEach((value, i) => {
      h.observe({ l: value }, i);
      c.inc({ l: value }, i + 1);
    });
    await registry.flush();
    const redis = redisClient();
    const keys = await redis.keys('*');
    const ours = keys.filter((k) => k.includes(prefix));
    expect(ours.length).toBeGreaterThan(0);
    for (const key of ours) expect(key.startsWith(`{${prefix}}:`)).toBe(true);
    const text = await registry.metrics();
    const counterLines = text.split('\n').filter((l) => l.startsWith('c_total{'));
    const countLines = text.split('\n').filter((l) => l.startsWith('h_count{'));
    expect(counterLines).toHaveLength(hostile.length);
    expect(countLines).toHaveLength(hostile.length);
    const totals = counterLines.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1))).sort((a, b) => a - b);
    expect(totals).toEqual(hostile.map((_, i) => i + 1));
    redis.disconnect();
  });
});

describe('self-metrics', () => {
  it('exports flush outcomes, sizes and timestamps when on, and nothing when off', async () => {
    const on = testRegistry({ selfMetrics: true });
    const off = testRegistry({ selfMetrics: false });
    open.push(on.registry, off.registry);
    const c1 = new Counter({ name: 'work_total', help: 'w', registry: on.registry });
    const c2 = new Counter({ name: 'work_total', help: 'w', registry: off.registry });
    for (let i = 0; i < 3; i++) {
      c1.inc();
      c2.inc();
      await on.registry.flush();
      await off.registry.flush();
    }
    const withSelf = await on.registry.metrics();
    expect(
      sample(withSelf, 'prometheus_redis_client_flushes_total{outcome="success"}'),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(withSelf, 'prometheus_redis_client_flush_duration_seconds_count')).toBeGreaterThanOrEqual(
      2,
    );
    expect(withSelf).toMatch(
      /^prometheus_redis_client_last_flush_timestamp_seconds\{gauge_index="\d+"\} \d/m,
    );
    expect(withSelf).toContain('prometheus_redis_client_buffered_series{');
    expect(await off.registry.metrics()).not.toContain('prometheus_redis_client_');
  });

  it('counts label sets refused by maxSeriesPerMetric', async () => {
    const { registry, errors } = testRegistry({ selfMetrics: true, maxSeriesPerMetric: 2 });
    open.push(registry);
    const c = new Counter({ name: 'capped_total', help: 'c', labelNames: ['id'], registry });
    for (let i = 0; i < 5; i++) c.inc({ id: String(i) });
    await registry.flush();
    c.inc({ id: '0' });
    await registry.flush();
    const text = await registry.metrics();
    expect(sample(text, 'prometheus_redis_client_dropped_series_total{metric="capped"}')).toBe(3);
    expect(errors.filter((e) => e.name === 'CardinalityLimitError')).toHaveLength(1);
  });
});
