/**
 * A node:cluster HTTP server: 4 workers share the app port and record a request counter and a
 * latency histogram; the primary serves the merged `/metrics` of all of them (read from Redis).
 *
 *   node --import tsx examples/cluster-server.ts
 *   curl http://127.0.0.1:3000/hello; curl http://127.0.0.1:9464/metrics
 *
 * Environment: REDIS_URL (default redis://127.0.0.1:6379), PREFIX (default example-cluster),
 * PORT (app, default 3000), METRICS_PORT (default 9464), WORKERS (default 4), DURATION_MS (stop
 * by itself after this long; default: run until Ctrl-C).
 *
 * In your project, import from 'prometheus-redis-client' instead of '../src/index.js'.
 */
import cluster from 'node:cluster';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { Counter, Gauge, Histogram, Registry, metricsHandler } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = process.env.PREFIX ?? 'example-cluster';
const PORT = Number(process.env.PORT ?? 3000);
const METRICS_PORT = Number(process.env.METRICS_PORT ?? 9464);
const WORKERS = Number(process.env.WORKERS ?? 4);
const DURATION_MS = Number(process.env.DURATION_MS ?? 0);

const onError = (error: Error): void => console.error(`[pid ${process.pid}] metrics: ${error.message}`);

if (cluster.isPrimary) {
  await primary();
} else {
  worker();
}

/** Forks the workers and serves the merged metrics; the primary records nothing itself. */
async function primary(): Promise<void> {
  // A registry with no metrics of its own is a reader: it serves what every process flushed.
  const registry = new Registry({ redis: REDIS_URL, prefix: PREFIX, onError });
  const handler = metricsHandler(registry); // Accept → text or OpenMetrics, gzip, 503 if Redis is down
  const metricsServer = createServer((req, res) => void handler(req, res));
  metricsServer.listen(METRICS_PORT, '127.0.0.1');
  await once(metricsServer, 'listening');

  const exits: Promise<number>[] = [];
  const ready: Promise<unknown>[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const child = cluster.fork();
    ready.push(once(child, 'listening'));
    exits.push(once(child, 'exit').then(([code]) => (typeof code === 'number' ? code : 1)));
  }
  await Promise.all(ready);
  console.log(`app:     http://127.0.0.1:${PORT}/ (${WORKERS} workers)`);
  console.log(`metrics: http://127.0.0.1:${METRICS_PORT}/metrics`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Each worker stops taking requests, flushes its last deltas (registry.close()) and exits.
    for (const child of Object.values(cluster.workers ?? {})) child?.send('shutdown');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (DURATION_MS > 0) setTimeout(stop, DURATION_MS);

  const codes = await Promise.all(exits);
  metricsServer.close();
  await registry.close();
  console.log(`workers exited: ${codes.join(' ')}`);
  process.exitCode = codes.every((c) => c === 0) ? 0 : 1;
}

/** One worker: the application's code, recording into its own buffer, flushed in the background. */
function worker(): void {
  const registry = new Registry({ redis: REDIS_URL, prefix: PREFIX, onError });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served.',
    labelNames: ['method', 'route', 'status'],
    registry,
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency.',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registry,
  });
  // Per process: one series per live worker, told apart by the gauge_index label.
  const inFlight = new Gauge({ name: 'http_requests_in_flight', help: 'Requests in progress.', registry });

  const server = createServer((req, res) => {
    const route = req.url === '/' || req.url === '/hello' ? req.url : 'other';
    const end = latency.startTimer({ route });
    inFlight.inc();
    const status = route === 'other' ? 404 : 200;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status === 200 ? `hello from worker ${process.pid}\n` : 'not found\n');
    inFlight.dec();
    end();
    requests.inc({ method: req.method ?? 'GET', route, status });
  });
  server.keepAliveTimeout = 1000;
  server.listen(PORT, '127.0.0.1');

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeIdleConnections();
    await once(server, 'close');
    await registry.close(); // the requests counted since the last flush reach Redis here
    cluster.worker?.disconnect(); // closes the IPC channel: nothing is left, the process exits 0
  };
  process.on('message', (message) => {
    if (message === 'shutdown') void shutdown();
  });
  // Ctrl-C reaches the whole process group; the primary coordinates the shutdown.
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}
