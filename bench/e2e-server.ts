/**
 * The e2e group's HTTP server, in a process of its own so the load generator does not share its
 * event loop:
 *
 *   node --import tsx bench/e2e-server.ts <redisUrl> <prefix>
 *
 * Prints `{"port":…}` once listening. Every variant answers the same 2-byte body; they differ
 * only in what they record per request (a counter with 3 labels and a histogram observation):
 *   /none   nothing
 *   /lib    this library (default flushIntervalMs, flushing to Redis in the background)
 *   /mw     this library through `httpMetrics().wrap()` (the request middleware: route, method
 *           and status labels, recorded when the response ends), in a registry of its own
 *   /prom   prom-client 15, in memory
 *   /redis  an awaited Redis round trip per request (one pipeline with both writes), as the
 *           Python original does
 * `/_cpu` returns this process's `process.cpuUsage()`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import * as prom from 'prom-client';
import { Counter, Histogram, Registry, httpMetrics } from '../src/index.js';

const [redisUrl, prefix] = process.argv.slice(2);
if (redisUrl === undefined || prefix === undefined) {
  process.stderr.write('usage: e2e-server.ts <redisUrl> <prefix>\n');
  process.exit(2);
}

const labelNames = ['route', 'method', 'status'];
const errors: Error[] = [];
const registry = new Registry({ redis: redisUrl, prefix, onError: (error) => errors.push(error) });
const requests = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames, registry });
const latency = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Latency.',
  labelNames,
  registry,
});

// The middleware's own registry (its metric names are the same as /lib's): prefix `<prefix>-mw`.
const middlewareRegistry = new Registry({
  redis: redisUrl,
  prefix: `${prefix}-mw`,
  onError: (error) => errors.push(error),
});
const middleware = httpMetrics({ registry: middlewareRegistry, metricsPath: false }).wrap((_req, res) =>
  reply(res),
);

const peer = new prom.Registry();
const pRequests = new prom.Counter({
  name: 'http_requests_total',
  help: 'Requests.',
  labelNames,
  registers: [peer],
});
const pLatency = new prom.Histogram({
  name: 'http_request_duration_seconds',
  help: 'Latency.',
  labelNames,
  registers: [peer],
});

const direct = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
direct.on('error', (error: Error) => errors.push(error));
const counterKey = `{${prefix}}:direct:requests`;
const histogramKey = `{${prefix}}:direct:latency`;

function reply(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  const route = req.url ?? '/';
  const method = req.method ?? 'GET';
  switch (route) {
    case '/none':
      reply(res);
      return;
    case '/lib': {
      reply(res);
      const labels = { route, method, status: '200' };
      requests.inc(labels);
      latency.observe(labels, (performance.now() - started) / 1000);
      return;
    }
    case '/mw':
      middleware(req, res);
      return;
    case '/prom': {
      reply(res);
      const labels = { route, method, status: '200' };
      pRequests.inc(labels);
      pLatency.observe(labels, (performance.now() - started) / 1000);
      return;
    }
    case '/redis': {
      const field = `route="${route}",method="${method}",status="200"`;
      const seconds = (performance.now() - started) / 1000;
      direct
        .pipeline()
        .hincrbyfloat(counterKey, field, 1)
        .hincrbyfloat(histogramKey, `${field}|s`, seconds)
        .hincrby(histogramKey, `${field}|0`, 1)
        .exec()
        .then(
          () => reply(res),
          (error: Error) => {
            errors.push(error);
            res.writeHead(500).end();
          },
        );
      return;
    }
    case '/_cpu': {
      const body = JSON.stringify({ ...process.cpuUsage(), errors: errors.map((e) => e.message) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    default:
      res.writeHead(404).end();
  }
}

const server = createServer(handle);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

process.on('SIGTERM', () => {
  server.close();
  direct.disconnect();
  void registry.close().finally(() => process.exit(0));
});
