/**
 * A worker of the processes group:
 *
 *   node --import tsx bench/worker.ts <redisUrl> <prefix> <workerId> <phaseMs> <flushIntervalMs>
 *
 * Prints `ready`, waits for `go` on stdin, then hammers metrics for two phases of `phaseMs`:
 * first this library (flushing to Redis in the background; closed after the phase, which flushes
 * the rest), then prom-client 15 in memory, with the same calls. Every MARKER_MS of the library
 * phase it increments a marker counter and notes the wall time, so the scraper can tell how long
 * an `inc()` took to become visible. Prints one JSON line (WorkerReport) at the end.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import * as prom from 'prom-client';
import { Counter, Histogram, Registry } from '../src/index.js';
import { MARKER_MS, METHODS, ROUTES, STATUSES, VALUES, type WorkerReport } from './lib/processes-workload.js';

const [redisUrl, prefix, idText, phaseText, intervalText] = process.argv.slice(2);
if (!redisUrl || !prefix || !idText || !phaseText || !intervalText) {
  process.stderr.write('usage: worker.ts <redisUrl> <prefix> <workerId> <phaseMs> <flushIntervalMs>\n');
  process.exit(2);
}
const worker = idText;
const phaseMs = Number(phaseText);
const errors: Error[] = [];

const registry = new Registry({
  redis: redisUrl,
  prefix,
  flushIntervalMs: Number(intervalText),
  onError: (error) => errors.push(error),
});
const ops = new Counter({
  name: 'bench_proc_ops_total',
  help: 'Loop iterations.',
  labelNames: ['worker'],
  registry,
});
const requests = new Counter({
  name: 'bench_proc_requests_total',
  help: 'Requests.',
  labelNames: ['route', 'method', 'status'],
  registry,
});
const latency = new Histogram({
  name: 'bench_proc_latency_seconds',
  help: 'Latency.',
  labelNames: ['route'],
  registry,
});
const marker = new Counter({
  name: 'bench_proc_marker_total',
  help: 'Markers.',
  labelNames: ['worker'],
  registry,
});

const peer = new prom.Registry();
const pOps = new prom.Counter({
  name: 'bench_proc_ops_total',
  help: 'h',
  labelNames: ['worker'],
  registers: [peer],
});
const pRequests = new prom.Counter({
  name: 'bench_proc_requests_total',
  help: 'h',
  labelNames: ['route', 'method', 'status'],
  registers: [peer],
});
const pLatency = new prom.Histogram({
  name: 'bench_proc_latency_seconds',
  help: 'h',
  labelNames: ['route'],
  registers: [peer],
});

const libOps = ops.labels(worker);
const libMarker = marker.labels(worker);
const peerOps = pOps.labels(worker);

/** Slices of work between clock reads; the loop yields to the event loop every ~2 ms. */
const SLICE = 256;
const YIELD_MS = 2;

async function libPhase(markers: number[]): Promise<{ iterations: number; ms: number }> {
  const start = performance.now();
  const deadline = start + phaseMs;
  let nextMarker = start + MARKER_MS;
  let lastYield = start;
  let i = 0;
  for (;;) {
    for (let k = 0; k < SLICE; k++, i++) {
      libOps.inc();
      requests.inc({
        route: ROUTES[i & 7]!,
        method: METHODS[(i >> 3) & 1]!,
        status: STATUSES[(i >> 4) & 3]!,
      });
      latency.observe({ route: ROUTES[i & 7]! }, VALUES[i & 63]!);
    }
    const now = performance.now();
    if (now >= nextMarker) {
      libMarker.inc();
      markers.push(performance.timeOrigin + performance.now());
      nextMarker += MARKER_MS;
    }
    if (now >= deadline) return { iterations: i, ms: now - start };
    if (now - lastYield >= YIELD_MS) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }
}

async function peerPhase(): Promise<{ iterations: number; ms: number }> {
  const start = performance.now();
  const deadline = start + phaseMs;
  let lastYield = start;
  let i = 0;
  for (;;) {
    for (let k = 0; k < SLICE; k++, i++) {
      peerOps.inc();
      pRequests.inc({
        route: ROUTES[i & 7]!,
        method: METHODS[(i >> 3) & 1]!,
        status: STATUSES[(i >> 4) & 3]!,
      });
      pLatency.observe({ route: ROUTES[i & 7]! }, VALUES[i & 63]!);
    }
    const now = performance.now();
    if (now >= deadline) return { iterations: i, ms: now - start };
    if (now - lastYield >= YIELD_MS) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }
}

// Registration reaches Redis before the phase starts.
await registry.flush();
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
lines.close();

const markers: number[] = [];
const lib = await libPhase(markers);
await registry.close();
const peerResult = await peerPhase();

const report: WorkerReport = {
  worker,
  lib: { ...lib, markers },
  peer: peerResult,
  errors: errors.map((e) => e.message),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
