/**
 * Per-process gauges merged over the live processes at scrape time (`aggregate`): each mode's
 * value over three processes, and a process that stops flushing — closed, or SIGKILLed — leaves
 * every mode once its lease expires (expireSeconds: 2). `all` stays one series per process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Gauge, MetadataConflictError, type GaugeAggregate } from '../../src/index.js';
import { randomPrefix, redisUrl, samples, useTestRegistries } from '../support/helpers.js';
import { pollUntil, ROOT } from '../system/processes.js';

const MODES: readonly GaugeAggregate[] = ['all', 'sum', 'min', 'max', 'avg', 'last'];

const registries = useTestRegistries();
/** A registry on the shared server, closed (and its keys purged) after the test. */
const make = registries.make;
let redis: Redis;
const children: ChildProcess[] = [];
beforeAll(() => {
  redis = registries.redis;
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** The `agg_*` sample lines of an exposition, for readable assertions. */
function aggLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('agg_'));
}

describe('Gauge aggregate', () => {
  it('merges sum, min, max, avg and last over live processes; a stopped process leaves them all', async () => {
    const prefix = randomPrefix('agg');
    const writers = [0, 1, 2].map(() => make({ prefix, expireSeconds: 2, flushIntervalMs: 100 }));
    const gauges = writers.map(({ registry }) =>
      MODES.map(
        (aggregate) =>
          new Gauge({
            name: `agg_${aggregate}`,
            help: `mode ${aggregate}`,
            labelNames: ['q'],
            aggregate,
            registry,
          }),
      ),
    );
    // Set in order (each flushed before the next) so `last` is the third process's value.
    const values = [5, 40, 15];
    for (let w = 0; w < 3; w++) {
      for (const gauge of gauges[w]!) gauge.set({ q: 'a' }, values[w]!);
      // q="b" exists in two processes only: modes merge over the processes that hold the series.
      if (w < 2) for (const gauge of gauges[w]!) gauge.set({ q: 'b' }, w + 1);
      await writers[w]!.registry.flush();
    }
    const { registry: reader, errors } = make({ prefix });
    const text = await reader.metrics();
    const indexes = writers.map(({ registry }) => registry.gaugeIndex);
    expect(new Set(indexes).size).toBe(3);

    const all = samples(text);
    expect(all.get('agg_sum{q="a"}')).toBe(60);
    expect(all.get('agg_min{q="a"}')).toBe(5);
    expect(all.get('agg_max{q="a"}')).toBe(40);
    expect(all.get('agg_avg{q="a"}')).toBe(20);
    expect(all.get('agg_last{q="a"}')).toBe(15);
    expect(all.get('agg_sum{q="b"}')).toBe(3);
    expect(all.get('agg_avg{q="b"}')).toBe(1.5);
    expect(all.get('agg_last{q="b"}')).toBe(2);
    // `all` is today's behaviour: one series per process, labelled with its gauge index.
    for (let w = 0; w < 3; w++) {
      expect(all.get(`agg_all{q="a",gauge_index="${indexes[w]}"}`)).toBe(values[w]);
    }
    // Aggregated families carry no gauge_index and keep their gauge type.
    expect(aggLines(text).filter((l) => !l.startsWith('agg_all') && l.includes('gauge_index'))).toEqual([]);
    for (const mode of MODES) expect(text).toContain(`# TYPE agg_${mode} gauge\n`);

    // The first process (the minimum, and a holder of q="b") stops flushing: after expireSeconds
    // its values leave every mode at once (one read sees one set of live processes).
    await writers[0]!.registry.close();
    const after = samples(
      await pollUntil(
        () => reader.metrics(),
        (t) => samples(t).get('agg_sum{q="a"}') === 55,
        { timeoutMs: 15_000, intervalMs: 100, what: 'the closed process to leave the aggregates' },
      ),
    );
    expect(after.get('agg_min{q="a"}')).toBe(15);
    expect(after.get('agg_max{q="a"}')).toBe(40);
    expect(after.get('agg_avg{q="a"}')).toBe(27.5);
    expect(after.get('agg_last{q="a"}')).toBe(15);
    expect(after.get('agg_sum{q="b"}')).toBe(2);
    expect(after.get('agg_min{q="b"}')).toBe(2);
    expect(after.has(`agg_all{q="a",gauge_index="${indexes[0]}"}`)).toBe(false);
    expect([...after.keys()].filter((k) => k.startsWith('agg_all{q="a"')).length).toBe(2);
    expect(errors).toEqual([]);
  });

  it('last follows the newest write, whichever process makes it', async () => {
    const prefix = randomPrefix('agg');
    const [a, b] = [0, 1].map(() => make({ prefix }));
    const ga = new Gauge({ name: 'agg_latest', help: 'l', aggregate: 'last', registry: a!.registry });
    const gb = new Gauge({ name: 'agg_latest', help: 'l', aggregate: 'last', registry: b!.registry });
    const { registry: reader } = make({ prefix });
    const read = async (): Promise<number | undefined> => samples(await reader.metrics()).get('agg_latest');
    ga.set(1);
    await a!.registry.flush();
    gb.set(2);
    await b!.registry.flush();
    expect(await read()).toBe(2);
    ga.inc(10); // 11: inc and dec are writes too
    await a!.registry.flush();
    expect(await read()).toBe(11);
    // A heartbeat refreshes the lease without rewriting: it does not make a value newer.
    await b!.registry.flush();
    expect(await read()).toBe(11);
    // remove() deletes the value and its timestamp; the other process's value is the last again.
    ga.reset();
    await a!.registry.flush();
    expect(await read()).toBe(2);
  });

  it('remove() of a last gauge deletes the write time with the value', async () => {
    const { registry, prefix } = make();
    const g = new Gauge({ name: 'agg_rm', help: 'r', labelNames: ['k'], aggregate: 'last', registry });
    g.set({ k: 'a' }, 1);
    g.labels('b').set(2);
    await registry.flush();
    const hash = `{${prefix}}:g:agg_rm:${registry.gaugeIndex}`;
    expect((await redis.hkeys(hash)).sort()).toEqual(['k="a"', 'k="a"|t', 'k="b"', 'k="b"|t']);
    g.remove({ k: 'a' });
    await registry.flush();
    expect((await redis.hkeys(hash)).sort()).toEqual(['k="b"', 'k="b"|t']);
    expect(aggLines(await registry.metrics())).toEqual(['agg_rm{k="b"} 2']);
  });

  it('is part of the metadata shape: processes disagreeing get a MetadataConflictError', async () => {
    const prefix = randomPrefix('agg');
    const a = make({ prefix });
    const b = make({ prefix });
    const c = make({ prefix });
    new Gauge({ name: 'agg_shape', help: 's', aggregate: 'sum', registry: a.registry }).set(1);
    await a.registry.flush();
    const max = new Gauge({ name: 'agg_shape', help: 's', aggregate: 'max', registry: b.registry });
    max.set(100);
    await expect(b.registry.flush()).rejects.toBeInstanceOf(MetadataConflictError);
    const plain = new Gauge({ name: 'agg_shape', help: 's', registry: c.registry });
    plain.set(1000);
    await expect(c.registry.flush()).rejects.toBeInstanceOf(MetadataConflictError);
    expect(b.errors.some((e) => e instanceof MetadataConflictError && /aggregate=sum/.test(e.message))).toBe(
      true,
    );
    // The conflicting processes' writes were dropped: the sum is the first process's alone.
    expect(samples(await a.registry.metrics()).get('agg_shape')).toBe(1);
  });

  it('rejects an unknown mode at construction, naming the option and the value', () => {
    const { registry } = make();
    expect(
      () => new Gauge({ name: 'agg_bad', help: 'b', aggregate: 'median' as GaugeAggregate, registry }),
    ).toThrow(/agg_bad.*`aggregate`.*"all", "sum", "min", "max", "avg", "last".*"median"/);
  });

  it('drops a SIGKILLed process from every mode after expireSeconds', async () => {
    const prefix = randomPrefix('aggkill');
    const workers = [0, 1, 2].map(() => startWorker(prefix));
    await Promise.all(workers.map((w) => w.next()));
    expect(workers.map((w) => w.last)).toEqual(['ready', 'ready', 'ready']);
    // One after another, each flushed before the next: the third is the last written.
    const values = [5, 15, 40];
    const indexes: string[] = [];
    for (let i = 0; i < 3; i++) {
      workers[i]!.child.stdin!.write(`set ${values[i]}\n`);
      const line = await workers[i]!.next();
      expect(line).toMatch(/^ok \d+$/);
      indexes.push(line.slice(3));
    }
    const { registry: reader, errors } = make({ prefix });
    const before = samples(await reader.metrics());
    expect([
      before.get('agg_sum{q="a"}'),
      before.get('agg_min{q="a"}'),
      before.get('agg_max{q="a"}'),
      before.get('agg_avg{q="a"}'),
      before.get('agg_last{q="a"}'),
    ]).toEqual([60, 5, 40, 20, 40]);

    // The maximum, also the last written, dies without a word.
    workers[2]!.child.kill('SIGKILL');
    const after = samples(
      await pollUntil(
        () => reader.metrics(),
        (t) => samples(t).get('agg_sum{q="a"}') === 20,
        { timeoutMs: 15_000, intervalMs: 100, what: 'the killed process to leave the aggregates' },
      ),
    );
    expect([
      after.get('agg_min{q="a"}'),
      after.get('agg_max{q="a"}'),
      after.get('agg_avg{q="a"}'),
      after.get('agg_last{q="a"}'),
    ]).toEqual([5, 15, 10, 15]);
    expect(after.has(`agg_all{q="a",gauge_index="${indexes[2]}"}`)).toBe(false);
    expect(after.get(`agg_all{q="a",gauge_index="${indexes[0]}"}`)).toBe(5);
    expect(after.get(`agg_all{q="a",gauge_index="${indexes[1]}"}`)).toBe(15);
    expect(errors).toEqual([]);
  });
});

interface Worker {
  readonly child: ChildProcess;
  /** The next stdout line. */
  next(): Promise<string>;
  last: string;
}

function startWorker(prefix: string): Worker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/gauge-aggregate-worker.ts', redisUrl(), prefix],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(child);
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  const worker: Worker = {
    child,
    last: '',
    next: () =>
      new Promise<string>((resolve, reject) => {
        const line = queue.shift();
        if (line !== undefined) return resolve((worker.last = line));
        const timer = setTimeout(() => reject(new Error('worker said nothing for 20 s')), 20_000);
        waiting.push((l) => {
          clearTimeout(timer);
          resolve((worker.last = l));
        });
      }),
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(line);
    else queue.push(line);
  });
  return worker;
}
