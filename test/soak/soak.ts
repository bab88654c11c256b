/**
 * Soak: 8 worker processes record for SOAK_SECONDS (default 300) while Redis is killed and
 * restarted and a fault proxy resets, black-holes, delays and loses replies at random. Then the
 * merged totals must equal exactly what the workers recorded. Prints the figures; exits 1 on any
 * difference. Run: npm run test:soak  (SOAK_SECONDS=60 npm run test:soak for a shorter run).
 * The workers flush in chunks of SOAK_CHUNK field updates (default 3: every flush is a chain of
 * several exactly-once calls; see test/fixtures/soak-worker.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../../src/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { startRedisServer } from '../support/redis-server.js';

const seconds = Number(process.env.SOAK_SECONDS ?? 300);
const workerCount = Number(process.env.SOAK_WORKERS ?? 8);
const dir = mkdtempSync(join(tmpdir(), 'prc-soak-'));
const server = await startRedisServer(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]);
const proxy = await FaultProxy.start(server.port);
const prefix = `soak-${Date.now()}`;
const faults: Record<string, number> = {
  redisRestart: 0,
  connectionReset: 0,
  blackhole: 0,
  delay: 0,
  lostReply: 0,
};

interface Result {
  totals: { a: number; b: number; c: number; d: number; observations: number; buckets: number[] };
  operations: number;
  undelivered: number;
  errorKinds: Record<string, number>;
  stats: { ok: number; failed: number; retries: number; duplicates: number };
}

const workers = Array.from({ length: workerCount }, () => {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/soak-worker.ts', proxy.url, prefix],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<Result>((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()!) as Result)
        : reject(new Error(`worker exited ${code}`)),
    ),
  );
  return { child, done };
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number) => lo + Math.random() * (hi - lo);
const started = Date.now();
console.log(`soak: ${workerCount} workers, ${seconds} s, prefix ${prefix}`);
while (Date.now() - started < seconds * 1000) {
  await sleep(rand(3000, 8000));
  const kind = Object.keys(faults)[Math.floor(Math.random() * 5)]!;
  faults[kind]!++;
  switch (kind) {
    case 'redisRestart':
      await server.kill();
      await sleep(rand(300, 2000));
      await server.start();
      break;
    case 'connectionReset':
      proxy.resetAll();
      break;
    case 'blackhole':
      proxy.blackhole = true;
      await sleep(rand(1000, 3000));
      proxy.resetAll();
      proxy.heal();
      break;
    case 'delay':
      proxy.delayMs = 700;
      await sleep(rand(1000, 3000));
      proxy.heal();
      break;
    case 'lostReply':
      proxy.loseNextReply(/evalsha|eval/i);
      await sleep(1000);
      break;
  }
  process.stdout.write(`  ${Math.round((Date.now() - started) / 1000)} s: ${kind}\n`);
}
proxy.heal();
for (const w of workers) w.child.stdin!.write('stop\n');
const results = await Promise.all(workers.map((w) => w.done));

const reader = new Registry({ redis: server.url, prefix, flushIntervalMs: 60_000, selfMetrics: false });
const text = await reader.metrics();
await reader.close();
const value = (line: string): number =>
  Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${line} `))
      ?.split(' ')[1] ?? NaN,
  );

const expected = { a: 0, b: 0, c: 0, d: 0, observations: 0, buckets: [0, 0, 0, 0] };
let operations = 0;
let undelivered = 0;
const stats = { ok: 0, failed: 0, retries: 0, duplicates: 0 };
for (const r of results) {
  for (const k of ['a', 'b', 'c', 'd'] as const) expected[k] += r.totals[k];
  expected.observations += r.totals.observations;
  r.totals.buckets.forEach((n, i) => (expected.buckets[i]! += n));
  operations += r.operations;
  undelivered += r.undelivered;
  for (const k of Object.keys(stats) as Array<keyof typeof stats>) stats[k] += r.stats[k];
}
const rows: Array<[string, number, number]> = [
  ...(['a', 'b', 'c', 'd'] as const).map((k): [string, number, number] => [
    `soak_ops_total{kind="${k}"}`,
    expected[k],
    value(`soak_ops_total{kind="${k}"}`),
  ]),
  ['soak_latency_count', expected.observations, value('soak_latency_count')],
  ['soak_latency_bucket{le="0.25"}', expected.buckets[0]!, value('soak_latency_bucket{le="0.25"}')],
  [
    'soak_latency_bucket{le="0.5"}',
    expected.buckets[0]! + expected.buckets[1]!,
    value('soak_latency_bucket{le="0.5"}'),
  ],
];
let difference = 0;
console.log('\nseries                              expected      exported   difference');
for (const [name, want, got] of rows) {
  const diff = got - want;
  difference += Math.abs(Number.isNaN(diff) ? Infinity : diff);
  console.log(
    `${name.padEnd(34)} ${String(want).padStart(10)} ${String(got).padStart(12)} ${String(diff).padStart(12)}`,
  );
}
console.log(`\noperations recorded: ${operations}`);
console.log(
  `faults injected: ${Object.entries(faults)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')} (proxy resets ${proxy.injected.resets}, lost replies ${proxy.injected.lostReplies})`,
);
console.log(
  `flushes: ok ${stats.ok}, failed ${stats.failed}, retried ${stats.retries}, recognised duplicates ${stats.duplicates}`,
);
console.log(`undelivered at close: ${undelivered}`);
console.log(`total difference: ${difference}`);
await proxy.close();
await server.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(difference === 0 && undelivered === 0 ? 0 : 1);
