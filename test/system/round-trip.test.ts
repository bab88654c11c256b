/**
 * "One flush is one round trip", observed from both ends on a private redis-server: the client
 * connection sends exactly one command (an EVALSHA) for 1,000 dirty series, MONITOR shows that one
 * command from the registry's connection and every write running inside the script, and
 * INFO commandstats counts one EVALSHA. Also: flush() calls made while a flush runs wait for it,
 * never overlap, and resolve only once their own deltas are in Redis.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type Command } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from '../../src/index.js';
import { randomPrefix } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { maybeValueOf, parseText, valueOf } from './exposition.js';
import { pollUntil } from './processes.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Traced {
  readonly client: Redis;
  /** Names of the commands the client wrote, in order. */
  readonly sent: string[];
  /** Largest number of flush scripts (EVAL/EVALSHA) awaiting a reply at once. */
  readonly maxInFlight: () => number;
  /** Resolves the next time a script command is sent. */
  readonly nextScript: () => Promise<void>;
}

/** A client of the private server that records every command it sends and scripts in flight. */
function tracedClient(): Traced {
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  cleanups.push(() => client.disconnect());
  const sent: string[] = [];
  let inFlight = 0;
  let max = 0;
  const waiters: Array<() => void> = [];
  const original = client.sendCommand.bind(client);
  client.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown => {
    const name = command.name.toLowerCase();
    sent.push(name);
    if (name === 'eval' || name === 'evalsha') {
      inFlight++;
      max = Math.max(max, inFlight);
      const settled = (): void => {
        inFlight--;
      };
      command.promise.then(settled, settled);
      for (const wake of waiters.splice(0)) wake();
    }
    return original(command, stream);
  };
  return {
    client,
    sent,
    maxInFlight: () => max,
    nextScript: () => new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

async function commandStats(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats');
  const stats = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(m[1]!, Number(m[2]));
  return stats;
}

interface MonitorEvent {
  readonly command: string;
  readonly args: string[];
  readonly source: string;
}

async function startMonitor(): Promise<{
  events: MonitorEvent[];
  mark: (admin: Redis, label: string) => Promise<number>;
}> {
  // monitor() opens its own connection; the base client never connects (no stray commands).
  const base = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  base.on('error', () => {});
  const monitor = await base.monitor();
  monitor.on('error', () => {});
  cleanups.push(() => {
    monitor.disconnect();
    base.disconnect();
  });
  const events: MonitorEvent[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    events.push({ command: (args[0] ?? '').toLowerCase(), args, source });
  });
  /** Send a marker through `admin` and wait until MONITOR shows it; returns its position. */
  const mark = async (admin: Redis, label: string): Promise<number> => {
    const token = `${label}-${Math.random().toString(36).slice(2)}`;
    await admin.echo(token);
    await pollUntil(
      () => events.findIndex((e) => e.command === 'echo' && e.args[1] === token),
      (i) => i >= 0,
      { timeoutMs: 10_000, what: `MONITOR showing ${label}` },
    );
    return events.findIndex((e) => e.command === 'echo' && e.args[1] === token);
  };
  return { events, mark };
}

describe('one flush is one round trip', () => {
  it('sends 1,000 dirty series across three metrics as exactly one EVALSHA when they fit in one chunk', async () => {
    const prefix = randomPrefix('rt');
    const traced = tracedClient();
    const errors: Error[] = [];
    const registry = new Registry({
      redis: traced.client,
      prefix,
      flushIntervalMs: 60_000,
      flushThreshold: 100_000,
      // About 2,900 field updates (test/reliability/chunked-flush.test.ts covers more than one chunk).
      flushChunkUpdates: 5000,
      onError: (e) => errors.push(e),
    });
    cleanups.push(() => registry.close());
    const requests = new Counter({
      name: 'rt_requests_total',
      help: 'Requests.',
      labelNames: ['route', 'code'],
      registry,
    });
    const latency = new Histogram({
      name: 'rt_latency_seconds',
      help: 'Latency.',
      labelNames: ['op'],
      buckets: [0.1, 1],
      registry,
    });
    const depth = new Gauge({ name: 'rt_queue_depth', help: 'Depth.', labelNames: ['queue'], registry });

    // Warm-up: the first call of a script on a connection may be EVALSHA → NOSCRIPT → EVAL, and
    // the connection's own start-up commands happen here too.
    requests.inc({ route: 'warm', code: '200' });
    await registry.flush();
    const addr = /addr=(\S+)/.exec(await traced.client.client('INFO'))![1]!;

    const admin = server.client();
    const adminAddr = /addr=(\S+)/.exec(await admin.client('INFO'))![1]!;
    const { events, mark } = await startMonitor();
    const start = await mark(admin, 'start');
    const before = await commandStats(admin);
    traced.sent.length = 0;

    for (let i = 0; i < 500; i++) requests.inc({ route: `/r${i}`, code: i % 2 === 0 ? '200' : '500' }, i + 1);
    for (let i = 0; i < 300; i++) latency.observe({ op: `op${i}` }, i % 3 === 0 ? 0.05 : 2);
    for (let i = 0; i < 200; i++) depth.set({ queue: `q${i}` }, i);
    await registry.flush();

    expect(traced.sent).toEqual(['evalsha']);
    const end = await mark(admin, 'end');
    const after = await commandStats(admin);
    const during = events.slice(start + 1, end);
    const fromRegistry = during.filter((e) => e.source === addr);
    expect(
      fromRegistry.map((e) => e.command),
      'commands the registry connection sent during the flush',
    ).toEqual(['evalsha']);
    // Nobody else but the admin connection (markers, INFO) talked to the server meanwhile.
    expect(during.filter((e) => e.source !== 'lua' && e.source !== addr && e.source !== adminAddr)).toEqual(
      [],
    );
    // The work happened inside the script: at least one write per series.
    const lua = during.filter((e) => e.source === 'lua');
    expect(lua.filter((e) => /^(hincrbyfloat|hincrby|hset)$/.test(e.command)).length).toBeGreaterThanOrEqual(
      1000,
    );
    expect((after.get('evalsha') ?? 0) - (before.get('evalsha') ?? 0)).toBe(1);
    expect((after.get('eval') ?? 0) - (before.get('eval') ?? 0)).toBe(0);

    // And the data arrived.
    const reader = new Registry({ redis: server.url, prefix, selfMetrics: false });
    cleanups.push(() => reader.close());
    const exposition = parseText(await reader.metrics());
    expect(valueOf(exposition, 'rt_requests_total', { route: '/r499', code: '500' })).toBe(500);
    expect(valueOf(exposition, 'rt_latency_seconds_count', { op: 'op299' })).toBe(1);
    expect(
      valueOf(exposition, 'rt_queue_depth', { queue: 'q199', gauge_index: String(registry.gaugeIndex) }),
    ).toBe(199);
    expect(errors).toEqual([]);
  });

  it('runs flush() calls made during a flush one at a time, each resolving after its deltas are in Redis', async () => {
    const prefix = randomPrefix('rt');
    const traced = tracedClient();
    const errors: Error[] = [];
    const registry = new Registry({
      redis: traced.client,
      prefix,
      flushIntervalMs: 60_000,
      flushTimeoutMs: 30_000,
      onError: (e) => errors.push(e),
    });
    cleanups.push(() => registry.close());
    const jobs = new Counter({ name: 'rt_jobs_total', help: 'Jobs.', labelNames: ['phase'], registry });
    jobs.inc({ phase: 'warm' });
    await registry.flush();

    const reader = new Registry({ redis: server.url, prefix, selfMetrics: false });
    cleanups.push(() => reader.close());
    const total = async (): Promise<number> => {
      const exposition = parseText(await reader.metrics());
      return maybeValueOf(exposition, 'rt_jobs_total', { phase: 'run' }) ?? 0;
    };
    // Warm the reader: its read script is cached now, so during the pause below it runs at once
    // (a no-writes script is not held by CLIENT PAUSE WRITE; a NOSCRIPT → EVAL fallback would be).
    expect(await total()).toBe(0);

    const admin = server.client();
    // Hold every write command at the server, so the first flush stays in flight while the
    // next calls arrive. (Reads such as the reader's no-writes script are not paused.)
    await admin.call('CLIENT', 'PAUSE', '20000', 'WRITE');
    let unpaused = false;
    cleanups.push(async () => {
      if (!unpaused) await admin.call('CLIENT', 'UNPAUSE');
    });

    const seen: Array<{ call: number; total: number }> = [];
    const check = (call: number) => async (): Promise<void> => {
      seen.push({ call, total: await total() });
    };

    const sentFirst = traced.nextScript();
    jobs.inc({ phase: 'run' }, 1);
    const p1 = registry.flush().then(check(1));
    await sentFirst; // flush 1 is on the wire, held by the pause
    jobs.inc({ phase: 'run' }, 10);
    const p2 = registry.flush().then(check(2));
    jobs.inc({ phase: 'run' }, 100);
    const p3 = registry.flush().then(check(3));
    jobs.inc({ phase: 'run' }, 1000);
    const p4 = registry.flush().then(check(4));
    // Give an overlapping implementation the chance to send a second script while the first is held.
    await sleep(200);
    expect(traced.maxInFlight()).toBe(1);

    await admin.call('CLIENT', 'UNPAUSE');
    unpaused = true;
    await Promise.all([p1, p2, p3, p4]);

    const byCall = new Map(seen.map((s) => [s.call, s.total]));
    expect(byCall.get(1)).toBeGreaterThanOrEqual(1);
    expect(byCall.get(2)).toBeGreaterThanOrEqual(11);
    expect(byCall.get(3)).toBeGreaterThanOrEqual(111);
    expect(byCall.get(4)).toBe(1111);
    expect(await total()).toBe(1111);
    expect(traced.maxInFlight()).toBe(1);
    const scripts = traced.sent.filter((c) => c === 'evalsha' || c === 'eval');
    // The warm-up, the held flush, and at most one flush per later call (callers may share one).
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    expect(scripts.length).toBeLessThanOrEqual(5);
    expect(errors).toEqual([]);
  });
});
