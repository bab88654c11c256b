/**
 * `npm run demo`: see it work. Starts a throwaway redis-server on a free port (unless REDIS_URL
 * is set), forks worker processes that record traffic, serves the merged `/metrics` of all of
 * them on a printed URL, and redraws a one-screen summary every second. After DEMO_SECONDS
 * (default 20) or Ctrl-C it stops the workers (each flushes its last deltas), checks that Redis
 * holds every request they recorded, and stops everything it started.
 *
 * Environment: REDIS_URL (use this server; the demo's keys are removed at the end),
 * DEMO_SECONDS (default 20), DEMO_WORKERS (default 3), DEMO_RATE (requests per second per worker,
 * default 20000), DEMO_PORT (for /metrics; default a free port).
 *
 * The same file is the worker (`demo.ts worker`, forked with IPC).
 */
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry, metricsHandler, type FlushStats } from '../src/index.js';

/** What a worker tells the demo, over IPC. */
type WorkerMessage =
  | { type: 'ready'; pid: number }
  | { type: 'stats' | 'closed'; requests: number; ops: number; gaugeIndex: number; flush: FlushStats }
  | { type: 'error'; message: string };

// ---------------------------------------------------------------------------------------------
// The worker: an application process that only records.

async function worker(): Promise<void> {
  const send = (message: WorkerMessage): void => void process.send?.(message);
  const rate = Number(process.env.DEMO_RATE ?? 20_000);
  const registry = new Registry({
    redis: process.env.DEMO_REDIS_URL!,
    prefix: process.env.DEMO_PREFIX!,
    onError: (error) => send({ type: 'error', message: error.message }),
  });
  const requests = new Counter({
    name: 'demo_requests_total',
    help: 'Requests handled by the demo workers.',
    labelNames: ['route', 'status'],
    registry,
  });
  const latency = new Histogram({
    name: 'demo_request_duration_seconds',
    help: 'Simulated request latency.',
    labelNames: ['route'],
    registry,
  });
  const inFlight = new Gauge({
    name: 'demo_in_flight',
    help: 'Requests in progress, per process.',
    registry,
  });
  const heap = new Gauge({ name: 'demo_heap_used_bytes', help: 'V8 heap used, per process.', registry });

  const routes = ['/', '/users/:id', '/orders', '/search'];
  // Bound children: what a hot path should hold.
  const ok = routes.map((r) => requests.labels(r, '200'));
  const timings = routes.map((r) => latency.labels(r));
  let served = 0;
  let ops = 0;
  const perTick = Math.max(1, Math.round(rate / 100));
  const traffic = setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      const r = (served + i) % routes.length;
      timings[r]!.observe(Math.exp(Math.random() * 6 - 7)); // ~1 ms … 400 ms, skewed low
      if (Math.random() < 0.01) requests.inc({ route: routes[r]!, status: 500 });
      else ok[r]!.inc();
    }
    served += perTick;
    ops += 2 * perTick + 2;
    inFlight.set(Math.floor(Math.random() * 8));
    heap.set(process.memoryUsage().heapUsed);
  }, 10);
  const stats = (type: 'stats' | 'closed'): WorkerMessage => ({
    type,
    requests: served,
    ops,
    gaugeIndex: registry.gaugeIndex,
    flush: { ...registry.flushStats },
  });
  const reporter = setInterval(() => send(stats('stats')), 250);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(traffic);
    clearInterval(reporter);
    await registry.close(); // the last deltas reach Redis
    // Disconnect once the message is out; then nothing is left and the process exits 0.
    process.send?.(stats('closed'), () => process.disconnect?.());
  };
  process.on('message', (message) => {
    if ((message as { type?: unknown }).type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop()); // the demo went away
  process.on('SIGINT', () => {}); // Ctrl-C reaches the whole group; the demo stops us in order
  send({ type: 'ready', pid: process.pid });
  await once(process, 'disconnect');
}

// ---------------------------------------------------------------------------------------------
// The demo.

interface WorkerView {
  readonly child: ChildProcess;
  pid: number;
  last?: Extract<WorkerMessage, { type: 'stats' | 'closed' }>;
  previousOps: number;
  closed: boolean;
}

async function main(): Promise<number> {
  const seconds = Number(process.env.DEMO_SECONDS ?? 20);
  const workerCount = Number(process.env.DEMO_WORKERS ?? 3);
  const prefix = `demo-${randomBytes(3).toString('hex')}`;
  const external = process.env.REDIS_URL;
  let redisServer: ChildProcess | undefined;
  let url: string;
  if (external !== undefined && external !== '') {
    url = external;
  } else {
    if (findOnPath('redis-server') === undefined) {
      console.error(
        [
          'The demo needs Redis: REDIS_URL is not set and no `redis-server` was found on the PATH.',
          '  Install it:  apt-get install redis-server   (Debian/Ubuntu)',
          '               brew install redis             (macOS)',
          '  or use a running server:  REDIS_URL=redis://127.0.0.1:6379 npm run demo',
        ].join('\n'),
      );
      return 1;
    }
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redisServer = await startRedisServer(port);
  }
  // Whatever happens, never leave the server behind.
  process.on('exit', () => redisServer?.kill('SIGKILL'));

  const registry = new Registry({ redis: url, prefix, selfMetrics: false }); // a reader: no metrics of its own
  const handler = metricsHandler(registry);
  const server = createServer((req, res) => void handler(req, res));
  server.listen(Number(process.env.DEMO_PORT ?? 0), '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const metricsUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics`;

  const errors: string[] = [];
  const workers = startWorkers(workerCount, url, prefix, errors);
  await Promise.all(workers.map((w) => waitFor(w, (m) => m.type === 'ready')));

  console.log(
    `prometheus-redis-client demo · ${workerCount} worker processes · Redis ${url} · prefix ${prefix}`,
  );
  console.log(`merged metrics of all workers: ${metricsUrl}`);
  console.log('');

  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  for (const w of workers) {
    w.child.on('exit', () => {
      if (!w.closed) stop(); // a worker died: end the demo
    });
  }
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const screen = new Screen(process.stdout.isTTY);
  let lastTick = started;
  let running = true;
  while (running && Date.now() < deadline) {
    const tick = await Promise.race([sleep(1000).then(() => true), stopped.then(() => false)]);
    if (!tick) running = false;
    const now = Date.now();
    screen.draw(await summary(workers, registry, now - lastTick, now, deadline, started));
    lastTick = now;
  }

  // Stop the workers; each flushes its last deltas, then Redis must hold every request.
  for (const w of workers) if (w.child.connected) w.child.send({ type: 'stop' });
  await Promise.all(workers.map((w) => exitOf(w.child, 15_000)));
  const recorded = workers.reduce((sum, w) => sum + (w.last?.requests ?? 0), 0);
  const merged = sumOf(await registry.metrics().catch(() => ''), 'demo_requests_total');
  const allIn = merged === recorded && workers.every((w) => w.closed);
  console.log(
    `\nstopped: ${fmt(recorded)} requests recorded by ${workerCount} processes, ${fmt(merged)} in Redis` +
      (allIn ? ' — every one of them.' : ' — MISMATCH.'),
  );
  for (const message of new Set(errors)) console.log(`worker error: ${message}`);

  server.close();
  server.closeAllConnections();
  await registry.close();
  if (redisServer === undefined) await purge(url, prefix);
  else await stopRedisServer(redisServer);
  return allIn ? 0 : 1;
}

function startWorkers(count: number, url: string, prefix: string, errors: string[]): WorkerView[] {
  const file = fileURLToPath(import.meta.url);
  return Array.from({ length: count }, () => {
    // The workers inherit this process's execArgv, so tsx loads them as it loaded the demo.
    const child = fork(file, ['worker'], {
      env: { ...process.env, DEMO_REDIS_URL: url, DEMO_PREFIX: prefix },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const view: WorkerView = { child, pid: child.pid ?? 0, previousOps: 0, closed: false };
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'stats' || m.type === 'closed') view.last = m;
      if (m.type === 'closed') view.closed = true;
      if (m.type === 'error') errors.push(m.message);
    });
    return view;
  });
}

function waitFor(w: WorkerView, test: (m: WorkerMessage) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerMessage): void => {
      if (!test(m)) return;
      w.child.off('message', onMessage);
      w.child.off('exit', onExit);
      resolve();
    };
    const onExit = (code: number | null): void => reject(new Error(`worker exited early (${String(code)})`));
    w.child.on('message', onMessage);
    w.child.once('exit', onExit);
  });
}

async function exitOf(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await once(child, 'exit');
  clearTimeout(timer);
}

/** The screen's lines: a table per worker (from their flushStats) and the merged view (scraped). */
async function summary(
  workers: WorkerView[],
  registry: Registry,
  elapsedMs: number,
  now: number,
  deadline: number,
  started: number,
): Promise<string[]> {
  const t0 = performance.now();
  const text = await registry.metrics().catch((e: Error) => `# scrape failed: ${e.message}\n`);
  const scrapeMs = performance.now() - t0;
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  const merged = sumOf(text, 'demo_requests_total');
  const rows = [['worker', 'pid', 'gauge_index', 'ops/s', 'requests', 'flushes', 'failed', 'last flush']];
  let opsPerSecond = 0;
  let requests = 0;
  let flushes = 0;
  let failed = 0;
  let lag: number | undefined;
  workers.forEach((w, i) => {
    const s = w.last;
    const ops = s?.ops ?? 0;
    const rate = ((ops - w.previousOps) * 1000) / Math.max(1, elapsedMs);
    w.previousOps = ops;
    opsPerSecond += rate;
    requests += s?.requests ?? 0;
    flushes += s?.flush.ok ?? 0;
    failed += s?.flush.failed ?? 0;
    const age = s !== undefined && s.flush.lastSuccessMs > 0 ? now - s.flush.lastSuccessMs : undefined;
    if (age !== undefined) lag = Math.max(lag ?? 0, age);
    rows.push([
      String(i + 1),
      String(w.pid),
      s === undefined || s.gaugeIndex < 0 ? '—' : String(s.gaugeIndex),
      fmt(rate),
      fmt(s?.requests ?? 0),
      String(s?.flush.ok ?? 0),
      String(s?.flush.failed ?? 0),
      age === undefined ? '—' : `${(age / 1000).toFixed(1)} s ago`,
    ]);
  });
  rows.push(['all', '', '', fmt(opsPerSecond), fmt(requests), String(flushes), String(failed), '']);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const left = Math.max(0, Math.ceil((deadline - now) / 1000));
  return [
    ...rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')),
    '',
    `merged in Redis: demo_requests_total = ${fmt(merged)} (the rest is still in the workers' buffers, ≤ 1 flush behind)`,
    `series exported: ${series} · scrape ${scrapeMs.toFixed(1)} ms · ${left} s left · Ctrl-C to stop`,
    `summary t=${Math.round((now - started) / 1000)}s ops/s=${Math.round(opsPerSecond)} flushes=${flushes} ` +
      `series=${series} lag=${lag === undefined ? 'n/a' : `${lag}ms`}`,
  ];
}

/** Redraws its block in place on a terminal; elsewhere (CI, a pipe) prints only the summary line. */
class Screen {
  #lines = 0;
  constructor(readonly tty: boolean) {}
  draw(lines: readonly string[]): void {
    if (!this.tty) {
      console.log(lines[lines.length - 1]);
      return;
    }
    const up = this.#lines > 0 ? `\x1b[${this.#lines}F` : '';
    process.stdout.write(`${up}\x1b[J${lines.join('\n')}\n`);
    this.#lines = lines.length;
  }
}

/** Sum of a family's samples in an exposition. */
function sumOf(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

// ---------------------------------------------------------------------------------------------
// A throwaway redis-server (as test/support/redis-server.ts starts one).

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not here
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const probe = createNetServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  await once(probe, 'close');
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function startRedisServer(port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  // Its own process group: Ctrl-C must not stop Redis before the workers have flushed.
  const child = spawn('redis-server', args, { stdio: 'ignore', detached: true });
  child.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return child;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await sleep(50);
    }
  }
}

async function stopRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await exitOf(child, 5000);
}

/** Remove the demo's keys from a server the demo did not start. */
async function purge(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

// Last, so that every declaration above is initialised before it runs.
if (process.argv[2] === 'worker') await worker();
else process.exitCode = await main();
