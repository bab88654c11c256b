/**
 * httpMetrics() over real HTTP: Express 5, Fastify 5 and node:http servers on free loopback
 * ports, real requests, and the merged exposition read back from the run's shared Redis.
 */
import { once } from 'node:events';
import { IncomingMessage, ServerResponse, createServer, request, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { httpMetrics, type HttpMetrics, type HttpMetricsOptions } from '../../src/middleware/index.js';
import { samples, until, useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();
const servers: Server[] = [];
const fastifies: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(fastifies.splice(0).map((app) => app.close()));
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

/** One request on a fresh connection; fails instead of hanging after 15 s. */
function call(url: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 15 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Listen on a free loopback port; the server is closed after the test. */
async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Flush, then the merged samples of every process. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  await registry.flush();
  return samples(await registry.metrics());
}

/** The request-count samples: `{labels}` → value. */
function counts(all: Map<string, number>, name = 'http_requests_total'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of all)
    if (key.startsWith(`${name}{`) || key === name) out[key.slice(name.length)] = value;
  return out;
}

/** Every request series has as many histogram observations as counted requests. */
function expectCountsAgree(all: Map<string, number>): void {
  expect(counts(all, 'http_request_duration_seconds_count')).toEqual(counts(all));
}

const series = (method: string, route: string, status: number | string): string =>
  `{method="${method}",route="${route}",status="${status}"}`;

function setup(options: HttpMetricsOptions = {}): { registry: Registry; http: HttpMetrics } {
  const { registry } = registries.make();
  return { registry, http: httpMetrics({ registry, ...options }) };
}

async function expressApp(options: HttpMetricsOptions = {}) {
  const { registry, http } = setup({ exclude: ['/health'], ...options });
  const app = express();
  app.use(http.express);
  app.get('/users/:id', (_req, res) => void res.send('user'));
  app.post('/created', (_req, res) => void res.status(201).send('made'));
  app.get('/fail', () => {
    throw new Error('boom');
  });
  app.get('/health', (_req, res) => void res.send('ok'));
  app.get(['/a', '/b'], (_req, res) => void res.send('ab'));
  app.get(/^\/re\/\d+$/, (_req, res) => void res.send('re'));
  const api = express.Router();
  api.get('/users/:id', (_req, res) => void res.send('api user'));
  api.get('/', (_req, res) => void res.send('api root'));
  api.get('/broken/:id', () => {
    throw new Error('boom');
  });
  api.get('/async/:id', async () => {
    await Promise.resolve();
    throw new Error('later');
  });
  app.use('/api', api);
  return { registry, http, base: await listen(createServer(app)) };
}

describe('Express 5', () => {
  it('labels requests with the route template, mounted routers included', async () => {
    const { registry, base } = await expressApp();
    const paths = ['/users/1', '/users/2', '/users/abc?x=1', '/api/users/7', '/api/users/8', '/api'];
    for (const path of [...paths, '/a', '/b', '/re/42']) expect((await call(base + path)).status).toBe(200);
    const all = await scrape(registry);
    expect(counts(all)).toEqual({
      [series('GET', '/users/:id', 200)]: 3,
      [series('GET', '/api/users/:id', 200)]: 2,
      [series('GET', '/api', 200)]: 1,
      [series('GET', '/a|/b', 200)]: 2,
      [series('GET', '/^\\\\/re\\\\/\\\\d+$/', 200)]: 1,
    });
    expectCountsAgree(all);
  });

  it('keeps the mounted route template when a handler in a router throws (sync and async)', async () => {
    const { registry, base } = await expressApp();
    expect((await call(`${base}/api/broken/1`)).status).toBe(500);
    expect((await call(`${base}/api/async/2`)).status).toBe(500);
    expect(counts(await scrape(registry))).toEqual({
      [series('GET', '/api/broken/:id', 500)]: 1,
      [series('GET', '/api/async/:id', 500)]: 1,
    });
  });

  it('records a route longer than the registry takes as <unmatched>, never crashing the process', async () => {
    const { registry } = registries.make({ maxLabelValueLength: 100 });
    const http = httpMetrics({ registry });
    const base = await listen(createServer(http.wrap((_req, res) => void res.end('ok'))));
    const long = `/${'zq'.repeat(100)}`;
    expect((await call(base + long)).status).toBe(200);
    expect(counts(await scrape(registry))).toEqual({ [series('GET', '<unmatched>', 200)]: 1 });
  });

  it('collapses 404s for 50 random paths into one <unmatched> series', async () => {
    const { registry, base } = await expressApp();
    for (let i = 0; i < 50; i++) {
      expect((await call(`${base}/scan/${Math.random().toString(36).slice(2)}/${i}`)).status).toBe(404);
    }
    const all = await scrape(registry);
    expect(counts(all)).toEqual({ [series('GET', '<unmatched>', 404)]: 50 });
    expectCountsAgree(all);
  });

  it('records the status answered, and non-standard methods as OTHER', async () => {
    const { registry, base } = await expressApp();
    expect((await call(`${base}/created`, 'POST')).status).toBe(201);
    expect((await call(`${base}/fail`)).status).toBe(500);
    expect((await call(`${base}/users/1`, 'PROPFIND')).status).toBe(404);
    expect((await call(`${base}/users/1`, 'HEAD')).status).toBe(200);
    const all = await scrape(registry);
    expect(counts(all)).toEqual({
      [series('POST', '/created', 201)]: 1,
      [series('GET', '/fail', 500)]: 1,
      [series('OTHER', '<unmatched>', 404)]: 1,
      [series('HEAD', '/users/:id', 200)]: 1,
    });
    expectCountsAgree(all);
  });

  it('serves /metrics without counting it, and skips excluded paths', async () => {
    const { registry, base } = await expressApp();
    await call(`${base}/users/1`);
    await registry.flush();
    const served = await call(`${base}/metrics`);
    expect(served.status).toBe(200);
    expect(samples(served.body).get(`http_requests_total${series('GET', '/users/:id', 200)}`)).toBe(1);
    expect((await call(`${base}/metrics?x=1`)).status).toBe(200);
    expect((await call(`${base}/health`)).status).toBe(200);
    expect((await call(`${base}/metrics`, 'POST')).status).toBe(405);
    expect(counts(await scrape(registry))).toEqual({ [series('GET', '/users/:id', 200)]: 1 });
  });

  it('records a request whose client hung up before the response, once', async () => {
    const { registry, http } = setup();
    const app = express();
    app.use(http.express);
    const slow = slowRoute();
    app.get('/slow/:n', (_req, res) => {
      res.status(202);
      return slow.arrive(() => void res.end('late'));
    });
    await slow.hangUp(registry, await listen(createServer(app)));
  });
});

/**
 * A route (status 202 set) that answers only after its client hung up: `hangUp` requests it, hangs
 * up, waits for the request to be recorded, lets the route answer, and checks it stays once.
 */
function slowRoute() {
  let arrived: () => void = () => {};
  let answer: () => void = () => {};
  const seen = new Promise<void>((resolve) => (arrived = resolve));
  return {
    arrive(end: () => void): Promise<void> {
      arrived();
      return new Promise((resolve) => (answer = () => resolve(end())));
    },
    async hangUp(registry: Registry, base: string): Promise<void> {
      const req = request(`${base}/slow/1`, { agent: false });
      req.on('error', () => {});
      req.end();
      await seen;
      req.destroy();
      const key = `http_requests_total${series('GET', '/slow/:n', 202)}`;
      await until(
        () => scrape(registry),
        (all) => all.get(key) === 1,
        'the aborted request recorded',
      );
      answer();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const all = await scrape(registry);
      expect(counts(all)).toEqual({ [series('GET', '/slow/:n', 202)]: 1 });
      expectCountsAgree(all);
    },
  };
}

async function fastifyApp(options: HttpMetricsOptions = {}) {
  const { registry, http } = setup(options);
  const app = Fastify();
  fastifies.push(app);
  await app.register(http.fastify);
  app.get('/users/:id', () => 'user');
  app.post('/created', async (_request, reply) => reply.code(201).send('made'));
  await app.register(
    (api, _options, done) => {
      api.get('/users/:id', () => 'api user');
      done();
    },
    { prefix: '/api' },
  );
  return { registry, base: await app.listen({ port: 0, host: '127.0.0.1' }) };
}

describe('Fastify 5', () => {
  it('labels requests with the route template, prefixed plugins included', async () => {
    const { registry, base } = await fastifyApp();
    for (const path of ['/users/1', '/users/2?x=1', '/api/users/3'])
      expect((await call(base + path)).status).toBe(200);
    expect((await call(`${base}/created`, 'POST')).status).toBe(201);
    const all = await scrape(registry);
    expect(counts(all)).toEqual({
      [series('GET', '/users/:id', 200)]: 2,
      [series('GET', '/api/users/:id', 200)]: 1,
      [series('POST', '/created', 201)]: 1,
    });
    expectCountsAgree(all);
  });

  it('collapses 404s for 50 random paths into one <unmatched> series', async () => {
    const { registry, base } = await fastifyApp();
    for (let i = 0; i < 50; i++) {
      expect((await call(`${base}/scan/${Math.random().toString(36).slice(2)}/${i}`)).status).toBe(404);
    }
    const all = await scrape(registry);
    expect(counts(all)).toEqual({ [series('GET', '<unmatched>', 404)]: 50 });
    expectCountsAgree(all);
  });

  it('records a request whose client hung up before the reply, once', async () => {
    const { registry, http } = setup();
    const app = Fastify();
    fastifies.push(app);
    await app.register(http.fastify);
    const slow = slowRoute();
    app.get('/slow/:n', (_request, reply) => {
      reply.code(202);
      return slow.arrive(() => void reply.send('late'));
    });
    await slow.hangUp(registry, await app.listen({ port: 0, host: '127.0.0.1' }));
  });

  it('serves /metrics (GET and HEAD) through the plugin without counting it', async () => {
    const { registry, base } = await fastifyApp({ exclude: [/^\/api\//] });
    await call(`${base}/users/1`);
    await call(`${base}/api/users/1`);
    await registry.flush();
    const served = await call(`${base}/metrics`);
    expect(served.status).toBe(200);
    expect(samples(served.body).get(`http_requests_total${series('GET', '/users/:id', 200)}`)).toBe(1);
    const head = await call(`${base}/metrics`, 'HEAD');
    expect([head.status, head.body]).toEqual([200, '']);
    expect(counts(await scrape(registry))).toEqual({ [series('GET', '/users/:id', 200)]: 1 });
  });
});

/** A node:http server: 404 for /missing, 200 otherwise. */
async function nodeApp(options: HttpMetricsOptions = {}) {
  const { registry, http } = setup(options);
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    res.statusCode = req.url === '/missing' ? 404 : req.url === '/down' ? 503 : 200;
    res.end('ok');
  };
  return { registry, base: await listen(createServer(http.wrap(listener))) };
}

describe('node:http wrap', () => {
  it('labels requests with the path, id-like segments replaced by :id', async () => {
    const { registry, base } = await nodeApp();
    const ids = ['/orders/123', '/orders/456?page=2', '/orders/0f8fa0b2-5c5e-4b5a-9c3e-1d2f3a4b5c6d'];
    for (const path of [...ids, '/items/deadbeefdeadbeef0/parts/01ARZ3NDEKTSV4RRFFQ69G5FAV', '/items/abc']) {
      await call(base + path);
    }
    const all = await scrape(registry);
    expect(counts(all)).toEqual({
      [series('GET', '/orders/:id', 200)]: 3,
      [series('GET', '/items/:id/parts/:id', 200)]: 1,
      [series('GET', '/items/abc', 200)]: 1,
    });
    expectCountsAgree(all);
  });

  it('keeps at most maxRoutes route values; later new ones become unmatchedRoute', async () => {
    const { registry, base } = await nodeApp({ maxRoutes: 3, normalizePath: (path) => path });
    for (const path of ['/p1', '/p2', '/p3', '/p4', '/p5', '/p1']) await call(base + path);
    expect(counts(await scrape(registry))).toEqual({
      [series('GET', '/p1', 200)]: 2,
      [series('GET', '/p2', 200)]: 1,
      [series('GET', '/p3', 200)]: 1,
      [series('GET', '<unmatched>', 200)]: 2,
    });
  });

  it('serves metricsPath itself, uncounted; metricsPath: false leaves it to the listener; exclude', async () => {
    const served = await nodeApp({ metricsPath: '/internal/metrics' });
    expect((await call(`${served.base}/internal/metrics`)).status).toBe(200);
    expect((await call(`${served.base}/internal/metrics`, 'HEAD')).status).toBe(200);
    await call(`${served.base}/metrics`);
    expect(counts(await scrape(served.registry))).toEqual({ [series('GET', '/metrics', 200)]: 1 });

    const plain = await nodeApp({ metricsPath: false, exclude: (req) => req.url === '/skip?me' });
    expect((await call(`${plain.base}/metrics`)).body).toBe('ok');
    expect((await call(`${plain.base}/skip?me`)).body).toBe('ok');
    expect(counts(await scrape(plain.registry))).toEqual({ [series('GET', '/metrics', 200)]: 1 });
  });

  it('throws a TypeError from the request when normalizePath returns no string', () => {
    const { http } = setup({ normalizePath: () => 42 as unknown as string });
    const req = new IncomingMessage(new Socket());
    req.url = '/x';
    req.method = 'GET';
    expect(() => http.wrap(() => {})(req, new ServerResponse(req))).toThrow(/`normalizePath`.*got 42/);
    expect(() => http.wrap('x' as never)).toThrow(TypeError);
  });
});

describe('options', () => {
  it('statusClass records 2xx, 4xx, 5xx; prefix, buckets and unmatchedRoute (past maxRoutes) apply', async () => {
    const { registry, base } = await nodeApp({
      statusClass: true,
      prefix: 'shop_',
      buckets: [0.5, 0.1],
      maxRoutes: 1,
      unmatchedRoute: '(none)',
    });
    for (const path of ['/a', '/a', '/missing', '/down']) await call(base + path);
    const all = await scrape(registry);
    expect(counts(all, 'shop_http_requests_total')).toEqual({
      [series('GET', '/a', '2xx')]: 2,
      [series('GET', '(none)', '4xx')]: 1,
      [series('GET', '(none)', '5xx')]: 1,
    });
    expect(all.get('shop_http_request_duration_seconds_count{method="GET",route="/a",status="2xx"}')).toBe(2);
    const les = [...all.keys()]
      .filter((key) => key.startsWith('shop_http_request_duration_seconds_bucket{method="GET",route="/a"'))
      .map((key) => /le="([^"]+)"/.exec(key)?.[1]);
    expect(les).toEqual(['0.1', '0.5', '+Inf']);
  });

  it('labels keeps only the labels asked for, in method, route, status order', async () => {
    const { registry, base } = await nodeApp({ labels: ['status', 'method'] });
    const bare = await nodeApp({ labels: [] });
    for (const path of ['/a', '/b', '/missing']) {
      await call(base + path);
      await call(bare.base + path);
    }
    expect(counts(await scrape(registry))).toEqual({
      '{method="GET",status="200"}': 2,
      '{method="GET",status="404"}': 1,
    });
    const all = await scrape(bare.registry);
    expect(counts(all)).toEqual({ '': 3 });
    expect(all.get('http_request_duration_seconds_count')).toBe(3);
  });

  it('a bad option of each kind throws a TypeError naming the option', () => {
    const { registry } = registries.make();
    const bad: Array<[string, unknown[]]> = [
      ['registry', [{}]],
      ['prefix', [1, '1bad']],
      ['buckets', ['fast', [0.1, Number.NaN], [1, 1], []]],
      ['labels', [['path'], 'route', ['route', 'route']]],
      ['statusClass', ['yes']],
      ['normalizePath', ['/x']],
      ['unmatchedRoute', ['', 3]],
      ['maxRoutes', [0, 1.5, '5']],
      ['exclude', ['/health', ['/health', 1]]],
      ['metricsPath', ['metrics', true, '/metrics?x']],
      ['metricsHandler', ['gzip']],
    ];
    for (const [option, values] of bad) {
      for (const value of values) {
        const attempt = () => httpMetrics({ registry, [option]: value });
        expect(attempt, `${option}: ${String(value)}`).toThrow(TypeError);
        expect(attempt, `${option}: ${String(value)}`).toThrow(`\`${option}\``);
      }
    }
    expect(() => httpMetrics(null as never)).toThrow(TypeError);
    // Nothing was registered by the refused calls: a valid one still can be.
    expect(httpMetrics({ registry }).requests.name).toBe('http_requests');
  });
});
