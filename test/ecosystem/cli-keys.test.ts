/**
 * Which keys the CLI touches: only those the library's layout defines for the prefix. A Redis of
 * its own, so that what is left after a purge can be listed whole; MONITOR records every command
 * the CLI sends.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommonGauge,
  Counter,
  Gauge,
  Histogram,
  Registry,
  Summary,
  type RegistryOptions,
} from '../../src/index.js';
import { Keys } from '../../src/redis/keys.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { ROOT, describeChild, pollUntil, runTs, type ChildResult } from '../system/processes.js';
import { startTs } from './spawn.js';

const CLI = 'src/cli.ts';
let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

const common = (prefix: string): string[] => ['--redis', server.url, '--prefix', prefix];

/** Two processes recording every kind of metric under `prefix`, flushed and closed (gauges kept). */
async function writeRich(prefix: string, shardBy: RegistryOptions['shardBy']): Promise<void> {
  for (const n of [1, 2]) {
    const registry = new Registry({ redis: server.url, prefix, shardBy, selfMetrics: n === 1 });
    new Counter({ name: 'jobs_total', help: 'j', labelNames: ['queue'], registry }).inc({ queue: 'q' }, n);
    new Gauge({ name: 'inflight', help: 'i', registry }).set(n);
    new Gauge({ name: 'temp', help: 't', aggregate: 'last', registry }).set(n);
    new CommonGauge({ name: 'level', help: 'l', expireSeconds: 600, registry }).set(n);
    new CommonGauge({ name: 'shared_level', help: 's', registry }).set(n);
    new Histogram({ name: 'job_seconds', help: 'h', buckets: [1], registry }).observe({}, 0.5, {
      traceId: 'abc',
    });
    new Summary({ name: 'latency_seconds', help: 'q', percentiles: [0.5], registry }).observe(n);
    new Summary({ name: 'plain_seconds', help: 'p', registry }).observe(n);
    await registry.flush();
    await registry.close({ keepGauges: true });
  }
}

/** Keys that look like the library's for prefix `p`, but are not. */
function lookAlikes(p: string): string[] {
  return [
    `${p}:{${p}:session}`,
    `${p}:{${p}:session}:f:session`,
    `${p}:{${p}:session}:proc:session`,
    `${p}:{${p}:jobs}`,
    `${p}:{${p}:jobs}:something-not-ours`,
    `{${p}}:user-thing`,
    `{${p}}:proc:session`,
    `{${p}}:gi:x`,
    `{${p}}:g:inflight:x`,
    `${p}:session`,
  ];
}

async function addLookAlikes(keys: readonly string[]): Promise<void> {
  // Hashes shaped like process keys, so a reader that trusted the name would take them as such.
  for (const key of keys) await redis.hset(key, 'idx', '0', 't', String(Date.now()));
}

interface Recorded {
  readonly result: ChildResult;
  /** Every command Redis ran meanwhile, name and arguments. */
  readonly commands: string[][];
}

/** Run `during` with every command Redis runs meanwhile recorded (MONITOR). */
async function monitored<T>(during: () => Promise<T>): Promise<{ value: T; commands: string[][] }> {
  const monitor = await server.client().monitor();
  const commands: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
  try {
    const value = await during();
    // Everything before this marker has been reported once the marker is.
    const marker = `end-${Math.random()}`;
    await redis.echo(marker);
    await pollUntil(
      () => commands.some((c) => c[1] === marker),
      (seen) => seen,
      { timeoutMs: 5000, what: 'MONITOR to report the marker' },
    );
    return { value, commands: commands.filter((c) => c[1] !== marker) };
  } finally {
    monitor.disconnect();
  }
}

async function cli(...args: string[]): Promise<Recorded> {
  const { value, commands } = await monitored(() => runTs(CLI, args, { timeoutMs: 20_000 }));
  return { result: value, commands };
}

/** One scrape of `serve`, recorded. */
async function serveOnce(prefix: string): Promise<Recorded & { body: string; status: number }> {
  const { value, commands } = await monitored(async () => {
    const exporter = startTs(CLI, ['serve', ...common(prefix), '--port', '0']);
    try {
      const url = await pollUntil(
        () => /http:\/\/127\.0\.0\.1:\d+\/metrics/.exec(exporter.stderr())?.[0],
        (found) => found !== undefined,
        { timeoutMs: 15_000, what: 'the exporter announcing its URL' },
      );
      const response = await fetch(url!);
      const body = await response.text();
      return { status: response.status, body, result: await exporter.stop() };
    } catch (error) {
      await exporter.stop();
      throw error;
    }
  });
  return { ...value, commands };
}

/** The commands (their arguments) that name one of `keys`. */
function touching(commands: readonly string[][], keys: readonly string[]): string[][] {
  return commands.filter((c) => c.slice(1).some((arg) => keys.includes(arg)));
}

/** Commands whose work grows with the data they touch beyond a bound (the CLI must not send them). */
function unbounded(commands: readonly string[][]): string[][] {
  return commands.filter(([name, ...args]) => {
    const command = name!.toLowerCase();
    if (['keys', 'del', 'hgetall', 'smembers', 'hkeys', 'hvals', 'flushdb', 'flushall'].includes(command))
      return true;
    if (['scan', 'hscan', 'sscan', 'zscan'].includes(command))
      return !args.some((a) => a.toLowerCase() === 'count');
    return command === 'unlink' && args.length > 1000;
  });
}

/** The library's keys of each kind that a rich registry must have written (so that purge is tested on them). */
function expectedKinds(p: string, sharded: boolean): RegExp[] {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const control = esc(`{${p}}:`);
  const data = (family: string): string => (sharded ? esc(`${p}:{${p}:${family}}:`) : control);
  return [
    new RegExp(`^${control}meta$`),
    new RegExp(`^${control}samples$`),
    new RegExp(`^${control}gidx$`),
    new RegExp(`^${control}gi:0$`),
    new RegExp(`^${control}gi:1$`),
    new RegExp(`^${control}proc:.+-\\d+-[0-9a-f]{8}$`),
    new RegExp(`^${data('jobs')}f:jobs$`),
    new RegExp(`^${data('jobs')}cr:jobs$`),
    new RegExp(`^${data('level')}x:level$`),
    new RegExp(`^${data('shared_level')}f:shared_level$`),
    new RegExp(`^${data('inflight')}g:inflight:0$`),
    new RegExp(`^${data('inflight')}g:inflight:1$`),
    new RegExp(`^${data('temp')}g:temp:1$`),
    new RegExp(`^${data('job_seconds')}f:job_seconds$`),
    new RegExp(`^${data('latency_seconds')}q:latency_seconds:\\d+$`),
    new RegExp(`^${data('plain_seconds')}f:plain_seconds$`),
    // The library's own metrics stay in the registry's slot.
    new RegExp(`^${control}f:prometheus_redis_client_`),
    ...(sharded ? [new RegExp(`^${data('jobs')}meta$`), new RegExp(`^${data('jobs')}proc:`)] : []),
  ];
}

describe.each([
  ['the registry layout', 'a', undefined],
  ['shardBy "metric"', 'm', 'metric' as const],
])('CLI on %s, with look-alike keys', (_layout, p, shardBy) => {
  it('inspect, serve and purge never touch a look-alike; purge deletes every key the library wrote', async () => {
    await writeRich(p, shardBy);
    await writeRich(`${p}b`, shardBy);
    const written = (await redis.keys('*')).sort();
    const ours = written.filter((k) => k.startsWith(`{${p}}:`) || k.startsWith(`${p}:{${p}:`));
    const others = written.filter((k) => !ours.includes(k));
    for (const kind of expectedKinds(p, shardBy !== undefined)) {
      expect(
        ours.some((k) => kind.test(k)),
        `a key matching ${String(kind)} in\n${ours.join('\n')}`,
      ).toBe(true);
    }
    const alike = lookAlikes(p);
    await addLookAlikes(alike);

    const inspect = await cli('inspect', ...common(p));
    expect(inspect.result.code, describeChild(inspect.result)).toBe(0);
    expect(inspect.result.stdout).toMatch(/ families, 2 processes \(2 gauge leases held\)/);
    expect(inspect.result.stdout).not.toContain('session');

    const scrape = await serveOnce(p);
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('jobs_total{queue="q"} 3\n');
    expect(scrape.body).not.toContain('session');

    const dry = await cli('purge', ...common(p));
    expect(dry.result.code, describeChild(dry.result)).toBe(2);
    expect(dry.result.stdout).toContain(`Would delete ${ours.length} keys under prefix "${p}"`);
    for (const key of alike) expect(dry.result.stdout).not.toContain(`  ${key}\n`);

    const purge = await cli('purge', ...common(p), '--yes');
    expect(purge.result.code, describeChild(purge.result)).toBe(0);
    expect(purge.result.stdout).toContain(`Deleted ${ours.length} keys.`);
    expect((await redis.keys('*')).sort()).toEqual([...others, ...alike].sort());

    for (const run of [inspect, scrape, dry, purge]) expect(touching(run.commands, alike)).toEqual([]);
    for (const run of [dry, purge]) expect(unbounded(run.commands)).toEqual([]);
    if (shardBy === undefined) {
      // A prefix that never used shardBy "metric" has no family groups to look for.
      const groups = new Keys(p).groupsPattern;
      expect(purge.commands.filter((c) => c.includes(groups))).toEqual([]);
    }
  });
});

describe('CLI purge --family on shardBy "metric"', () => {
  it("deletes the family's group but a look-alike key in it", async () => {
    const p = 'f';
    await writeRich(p, 'metric');
    const group = new Keys(p).group('jobs');
    const alike = [`${group.base}something-not-ours`, `${group.base}proc:session`];
    await addLookAlikes(alike);
    const r = await cli('purge', ...common(p), '--family', 'jobs', '--yes');
    expect(r.result.code, describeChild(r.result)).toBe(0);
    expect(r.result.stdout).not.toContain('not-ours');
    expect(await redis.exists(group.family('jobs'), group.created('jobs'), group.meta)).toBe(0);
    expect(await redis.exists(...alike)).toBe(alike.length);
    expect(touching(r.commands, alike)).toEqual([]);
    expect(unbounded(r.commands)).toEqual([]);
  });
});

describe.each([
  ['the registry layout', undefined],
  ['shardBy "metric"', 'metric' as const],
])("CLI as a user limited to the README's CLI ACL, on %s", (_layout, shardBy) => {
  it('inspects, serves and purges (series, a family, the prefix)', async () => {
    const prefix = shardBy === undefined ? 'acl-a' : 'acl-m';
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    const line = /^\s*(ACL SETUSER metrics-cli .*)$/m.exec(readme)?.[1];
    expect(line, "the README's CLI ACL line").toBeDefined();
    await redis.call('ACL', ...line!.replaceAll('shop', prefix).split(' ').slice(1));
    await writeRich(prefix, shardBy);
    const url = `redis://metrics-cli:password@127.0.0.1:${server.port}`;
    const as = (...args: string[]): Promise<ChildResult> =>
      runTs(CLI, [...args, '--redis', url, '--prefix', prefix], { timeoutMs: 20_000 });

    const inspect = await as('inspect');
    expect(inspect.code, describeChild(inspect)).toBe(0);
    expect(inspect.stdout).toMatch(/^jobs\s+counter\s+1\s/m);
    const exporter = startTs(CLI, ['serve', '--redis', url, '--prefix', prefix, '--port', '0']);
    try {
      const served = await pollUntil(
        () => /http:\/\/127\.0\.0\.1:\d+\/metrics/.exec(exporter.stderr())?.[0],
        (found) => found !== undefined,
        { timeoutMs: 15_000, what: 'the exporter announcing its URL' },
      );
      const response = await fetch(served!);
      expect(await response.text()).toContain('jobs_total{queue="q"} 3\n');
      expect(response.status).toBe(200);
    } finally {
      await exporter.stop();
    }
    expect(exporter.stderr()).not.toContain('NOPERM');
    for (const args of [
      ['purge', '--family', 'jobs', '--match', 'queue=q', '--yes'],
      ['purge', '--family', 'latency_seconds', '--yes'],
      ['purge', '--family', 'inflight', '--yes'],
      ['purge', '--yes'],
    ]) {
      const r = await as(...args);
      expect(r.code, describeChild(r)).toBe(0);
    }
    const left = await redis.keys(`*${prefix}*`);
    expect(left).toEqual([]);
  });
});
