import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { Gauge, Registry } from '../../src/index.js';
import { randomPrefix, redisClient, redisUrl, sample, until } from '../support/helpers.js';

interface Worker {
  readonly child: ChildProcess;
  id: string;
  /** Cumulative count carried by each batch sequence number. */
  readonly plans: Map<number, number>;
  final?: number;
  readonly lines: string[];
}

const workers: Worker[] = [];
afterEach(() => {
  for (const w of workers.splice(0)) w.child.kill('SIGKILL');
});

function startWorker(prefix: string): Worker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/reliability-kill-worker.ts', redisUrl(), prefix],
    {
      cwd: process.cwd(),
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const worker: Worker = { child, id: '', plans: new Map(), lines: [] };
  createInterface({ input: child.stdout }).on('line', (line) => {
    worker.lines.push(line);
    const [word, a, b] = line.split(' ');
    if (word === 'id') worker.id = a!;
    else if (word === 'plan') worker.plans.set(Number(a), Number(b));
    else if (word === 'final') worker.final = Number(a);
  });
  workers.push(worker);
  return worker;
}

/** `what` and each worker's progress and last lines: a timeout message. */
function progress(what: string): () => string {
  return () =>
    `${what}: ${workers.map((w) => `${w.plans.size} ${w.final} ${w.lines.slice(-2).join('|')}`).join('; ')}`;
}

describe('process death', () => {
  it('keeps exactly what SIGKILLed workers flushed, drops their gauges after expireSeconds, and reuses their index', async () => {
    const prefix = randomPrefix('kill');
    const started = [0, 1, 2, 3].map(() => startWorker(prefix));
    await until(() => started.every((w) => w.plans.size > 20), Boolean, progress('workers to flush'), 20_000);
    const [k1, k2, s1, s2] = started as [Worker, Worker, Worker, Worker];
    const exited = Promise.all([once(k1.child, 'exit'), once(k2.child, 'exit')]);
    k1.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 150));
    k2.child.kill('SIGKILL');
    await exited;
    for (const s of [s1, s2]) s.child.stdin!.write('stop\n');
    await until(
      () => s1.final !== undefined && s2.final !== undefined,
      Boolean,
      progress('survivors to close'),
      20_000,
    );

    const redis = redisClient();
    let expected = s1.final! + s2.final!;
    for (const k of [k1, k2]) {
      // The last batch the server applied for this process: what it flushed before dying.
      const seq = Number((await redis.hget(`{${prefix}}:proc:${k.id}`, 'seq')) ?? 0);
      expected += seq === 0 ? 0 : k.plans.get(seq)!;
    }
    const reader = new Registry({ redis, prefix, flushIntervalMs: 60_000, selfMetrics: false });
    expect(sample(await reader.metrics(), 'jobs_total')).toBe(expected);

    // Dead (and closed) processes' gauges disappear once their leases expire (expireSeconds: 2).
    await until(
      async () => !(await reader.metrics()).includes('worker_up{'),
      Boolean,
      progress('dead gauges to expire'),
      10_000,
    );
    // Their indexes are free again: a new process gets the smallest one.
    const fresh = new Registry({
      redis,
      prefix,
      flushIntervalMs: 60_000,
      selfMetrics: false,
      expireSeconds: 2,
    });
    new Gauge({ name: 'worker_up', help: 'up', registry: fresh }).set(1);
    await fresh.flush();
    expect(fresh.gaugeIndex).toBe(0);
    expect(await reader.metrics()).toContain('worker_up{gauge_index="0"} 1\n');
    await fresh.close();
    await reader.close();
    redis.disconnect();
  });
});
