import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Gauge, Registry } from '../../src/index.js';
import { purgePrefix, randomPrefix, redisClient, redisUrl, sample } from '../support/helpers.js';

const readers: Registry[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) await r.close();
});

async function total(prefix: string): Promise<string> {
  const reader = new Registry({ redis: redisUrl(), prefix, flushIntervalMs: 60_000, selfMetrics: false });
  readers.push(reader);
  return reader.metrics();
}

function run(prefix: string, mode: 'serve' | 'script' | 'http') {
  return spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/shutdown-worker.ts', redisUrl(), prefix, mode],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
}

describe('installShutdownHooks', () => {
  it('flushes on SIGTERM and then lets the signal terminate the process as it would have', async () => {
    const prefix = randomPrefix('sd');
    const child = run(prefix, 'serve');
    await once(child.stdout, 'data');
    const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill('SIGTERM');
    const [code, signal] = await exit;
    // Killed by the re-raised signal: the hook never calls process.exit() itself.
    expect(signal).toBe('SIGTERM');
    expect(code).toBeNull();
    expect(await total(prefix)).toContain('jobs_total 1234\n');
  });

  it('flushes a script that just ends (beforeExit) and lets it exit 0', async () => {
    const prefix = randomPrefix('sd');
    const child = run(prefix, 'script');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(await total(prefix)).toContain('jobs_total 1234\n');
  });

  it('with servers: stops accepting, lets the request in progress finish and counts it, then flushes', async () => {
    const prefix = randomPrefix('sd');
    const child = run(prefix, 'http');
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const port = Number(/port (\d+)/.exec(line.toString())?.[1]);
    const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const inProgress = fetch(`http://127.0.0.1:${port}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // No new connections once the signal arrived.
    await expect(fetch(`http://127.0.0.1:${port}/slow`)).rejects.toThrow();
    const reply = await inProgress;
    expect([reply.status, await reply.text()]).toEqual([200, 'ok']);
    const [, signal] = await exit;
    expect(signal).toBe('SIGTERM');
    const text = await total(prefix);
    expect(text).toContain('served_total 1\n');
    expect(text).toContain('jobs_total 1234\n');
  });

  it('rejects a malformed signal list naming the value', async () => {
    const { installShutdownHooks } = await import('../../src/index.js');
    const registry = new Registry({ prefix: randomPrefix(), selfMetrics: false });
    expect(() => installShutdownHooks(registry, { signals: ['TERM' as NodeJS.Signals] })).toThrow(/"TERM"/);
    expect(() => installShutdownHooks(registry, { servers: [{} as never] })).toThrow(/`servers`/);
    expect(() => installShutdownHooks(registry, { serverCloseTimeoutMs: 0 })).toThrow(
      /`serverCloseTimeoutMs`/,
    );
  });
});

describe('close() and per-process gauges', () => {
  for (const shardBy of ['registry', 'metric'] as const) {
    it(`gives up the gauge index: the gauges leave with the process, the index is reused (shardBy "${shardBy}")`, async () => {
      const prefix = randomPrefix('rel');
      const open = (): Registry =>
        new Registry({ redis: redisUrl(), prefix, shardBy, flushIntervalMs: 60_000, selfMetrics: false });
      const leaving = open();
      const staying = open();
      readers.push(staying);
      const conns = (registry: Registry) =>
        new Gauge({ name: 'conns', help: 'open connections', aggregate: 'sum', registry });
      conns(leaving).set(5);
      await leaving.flush();
      conns(staying).set(2);
      await staying.flush();
      expect(sample(await staying.metrics(), 'conns')).toBe(7);
      expect(leaving.gaugeIndex).toBe(0);
      await leaving.close();
      // Without the release, a `sum` would count the closed process for expireSeconds (60 s).
      expect(sample(await staying.metrics(), 'conns')).toBe(2);
      const next = open();
      readers.push(next);
      conns(next).set(1);
      await next.flush();
      expect(next.gaugeIndex).toBe(0);
      expect(sample(await staying.metrics(), 'conns')).toBe(3);
    });
  }

  it('keeps them with keepGauges (until expireSeconds), and names bad close() options', async () => {
    const prefix = randomPrefix('rel3');
    const registry = new Registry({ redis: redisUrl(), prefix, flushIntervalMs: 60_000, selfMetrics: false });
    new Gauge({ name: 'up', help: 'up', registry }).set(1);
    await expect(registry.close('now' as never)).rejects.toThrow(
      'Expected close() options to be an object, got "now"',
    );
    await expect(registry.close({ keepGauges: 1 as never })).rejects.toThrow(
      'Expected `keepGauges` to be a boolean, got 1',
    );
    await registry.close({ keepGauges: true });
    expect(sample(await total(prefix), 'up{gauge_index="0"}')).toBe(1);
    const redis = redisClient();
    expect(await redis.ttl(`{${prefix}}:gi:0`)).toBeGreaterThan(0);
    await purgePrefix(redis, prefix);
    redis.disconnect();
  });

  for (const keepGauges of [false, true]) {
    it(`a short job that closes in its first flush reports nothing undelivered (keepGauges ${keepGauges})`, async () => {
      for (const shardBy of ['registry', 'metric'] as const) {
        const prefix = randomPrefix('rel5');
        const errors: Error[] = [];
        const registry = new Registry({
          redis: redisUrl(),
          prefix,
          shardBy,
          flushIntervalMs: 60_000,
          selfMetrics: false,
          onError: (e) => errors.push(e),
        });
        for (const name of ['a', 'b', 'c']) new Gauge({ name, help: name, registry }).set(1);
        new Counter({ name: 'runs_total', help: 'runs', registry }).inc();
        await registry.close({ keepGauges });
        expect(errors, shardBy).toEqual([]);
        const text = await total(prefix);
        expect(sample(text, 'runs_total')).toBe(1);
        expect(sample(text, 'a{gauge_index="0"}')).toBe(keepGauges ? 1 : undefined);
      }
    });
  }

  it('writes no per-process gauges in flushes after close() (the index stays free)', async () => {
    const prefix = randomPrefix('rel4');
    const redis = redisClient();
    // A connection the registry does not own: flush() still works after close().
    const registry = new Registry({ redis, prefix, flushIntervalMs: 60_000, selfMetrics: false });
    const up = new Gauge({ name: 'up', help: 'up', registry });
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registry });
    up.set(1);
    await registry.flush();
    await registry.close();
    up.set(2);
    jobs.inc();
    await registry.flush();
    const text = await total(prefix);
    expect(sample(text, 'jobs_total')).toBe(1);
    expect(text).not.toMatch(/^up\{/m);
    expect(await redis.exists(`{${prefix}}:gi:0`)).toBe(0);
    await purgePrefix(redis, prefix);
    redis.disconnect();
  });

  it('leaves a lease alone that another process holds by now', async () => {
    const prefix = randomPrefix('rel2');
    const registry = new Registry({ redis: redisUrl(), prefix, flushIntervalMs: 60_000, selfMetrics: false });
    new Gauge({ name: 'up', help: 'up', registry }).set(1);
    await registry.flush();
    const redis = redisClient();
    // The lease lapsed and another process took index 0 (written here by hand).
    await redis.set(`{${prefix}}:gi:0`, 'someone-else');
    await registry.close();
    expect(await redis.get(`{${prefix}}:gi:0`)).toBe('someone-else');
    expect(await redis.hget(`{${prefix}}:g:up:0`, '')).toBe('1');
    await purgePrefix(redis, prefix);
    redis.disconnect();
  });
});
