/**
 * An application with routes and a `/metrics` endpoint in the same process — the shape of an
 * Express or Fastify app, written with plain node:http so the example needs no framework.
 * Run as many copies as you like (pm2, containers): each serves the merged metrics of all.
 *
 *   node --import tsx examples/http-app.ts
 *   curl http://127.0.0.1:3000/users/42; curl http://127.0.0.1:3000/metrics
 *
 * With a framework, the metrics route is one line (metricsHandler takes Node's req and res):
 *
 *   app.get('/metrics', metricsHandler(registry));                          // Express
 *   fastify.get('/metrics', (request, reply) => {                           // Fastify
 *     reply.hijack();
 *     return handler(request.raw, reply.raw); // const handler = metricsHandler(registry)
 *   });
 *
 * and the recording below is what an Express middleware or a Fastify `onResponse` hook does.
 *
 * Environment: REDIS_URL (default redis://127.0.0.1:6379), PREFIX (default example-app),
 * PORT (default 3000), DURATION_MS (stop by itself after this long; default: run until Ctrl-C).
 *
 * In your project, import from 'prometheus-redis-client' instead of '../src/index.js'.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Counter, Histogram, Registry, metricsHandler } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = process.env.PREFIX ?? 'example-app';
const PORT = Number(process.env.PORT ?? 3000);
const DURATION_MS = Number(process.env.DURATION_MS ?? 0);

const registry = new Registry({
  redis: REDIS_URL,
  prefix: PREFIX,
  onError: (error) => console.error(`metrics: ${error.message}`),
});
const requests = new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests served.',
  labelNames: ['method', 'route', 'status'],
  registry,
});
const latency = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request latency.',
  labelNames: ['method', 'route'],
  registry,
});

type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => void;

/** A tiny router: [method, pattern, handler]; `:name` segments become params. */
const routes: Array<[string, string, Handler]> = [
  ['GET', '/', (_req, res) => send(res, 200, { hello: 'world' })],
  ['GET', '/users/:id', (_req, res, { id }) => send(res, 200, { id, name: `user ${id}` })],
  [
    'POST',
    '/orders',
    (_req, res) => {
      // Simulated work, so the latency histogram has something to show.
      setTimeout(() => send(res, 201, { ok: true }), 5 + Math.random() * 20);
    },
  ],
];
const metrics = metricsHandler(registry);

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(got[i]!);
    else if (w !== got[i]) return undefined;
  }
  return params;
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/metrics') {
    void metrics(req, res); // it never rejects: failures are answered 503
    return;
  }
  const method = req.method ?? 'GET';
  for (const [m, pattern, handler] of routes) {
    const params = m === method ? match(pattern, path) : undefined;
    if (params === undefined) continue;
    // Label by the route pattern, never by the raw path: `/users/42` and `/users/43` are one series.
    const end = latency.startTimer({ method, route: pattern });
    res.on('finish', () => {
      end();
      requests.inc({ method, route: pattern, status: res.statusCode });
    });
    handler(req, res, params);
    return;
  }
  requests.inc({ method, route: 'unmatched', status: 404 });
  send(res, 404, { error: 'not found' });
});
server.keepAliveTimeout = 1000;
server.listen(PORT, '127.0.0.1');
await once(server, 'listening');
console.log(`app and metrics: http://127.0.0.1:${PORT}/ and http://127.0.0.1:${PORT}/metrics`);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeIdleConnections();
  await once(server, 'close');
  await registry.close(); // delivers what was recorded since the last flush
  console.log('stopped');
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
if (DURATION_MS > 0) setTimeout(() => void shutdown(), DURATION_MS);
