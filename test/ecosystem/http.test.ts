/**
 * metricsHandler over real HTTP: a node:http server on a free port, real requests, a real Redis
 * (the run's shared server, and a private one that is stopped for the outage case).
 */
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Counter,
  Histogram,
  OPENMETRICS_CONTENT_TYPE,
  Registry,
  TEXT_CONTENT_TYPE,
  metricsHandler,
  type MetricsHandlerOptions,
} from '../../src/index.js';
import { scrapeBudgetMs } from '../../src/http.js';
import { testRegistry } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One HTTP request; fails (instead of hanging) if no complete answer comes within 15 s. */
function fetchRaw(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 15 s`)));
    req.on('error', reject);
    req.end();
  });
}

const servers: Server[] = [];

/** Serve `registry` on a free loopback port; the server is closed after the test file. */
async function serve(
  registry: Parameters<typeof metricsHandler>[0],
  options?: MetricsHandlerOptions,
): Promise<string> {
  const handler = metricsHandler(registry, options);
  const server = createServer((req, res) => void handler(req, res));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

afterAll(async () => {
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

describe('metricsHandler against the shared Redis', () => {
  const { registry } = testRegistry();
  let url = '';

  beforeAll(async () => {
    const jobs = new Counter({ name: 'jobs_total', help: 'Jobs done', labelNames: ['queue'], registry });
    const duration = new Histogram({
      name: 'job_duration_seconds',
      help: 'Job duration',
      unit: 'seconds',
      buckets: [0.1, 1],
      registry,
    });
    jobs.inc({ queue: 'mail' }, 3);
    duration.observe(0.5);
    await registry.flush();
    url = await serve(registry);
  });

  afterAll(() => registry.close());

  it('serves the merged text exposition on GET', async () => {
    const reply = await fetchRaw(url);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(TEXT_CONTENT_TYPE);
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.headers.vary).toBe('Accept, Accept-Encoding');
    const text = reply.body.toString('utf8');
    expect(text).toContain('jobs_total{queue="mail"} 3\n');
    expect(text).toContain('job_duration_seconds_bucket{le="1"} 1\n');
    expect(text).toBe(await registry.metrics());
  });

  it('gzips when Accept-Encoding allows it, and only then', async () => {
    const zipped = await fetchRaw(url, { headers: { 'Accept-Encoding': 'br;q=1.0, gzip;q=0.8, *;q=0.1' } });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(await registry.metrics());

    for (const refused of ['gzip;q=0', 'identity', 'br', '*;q=0']) {
      const plain = await fetchRaw(url, { headers: { 'Accept-Encoding': refused } });
      expect(plain.headers['content-encoding'], refused).toBeUndefined();
      expect(plain.body.toString('utf8')).toContain('jobs_total{queue="mail"} 3\n');
    }
  });

  it('answers OpenMetrics to a scraper that prefers it', async () => {
    const reply = await fetchRaw(url, {
      headers: {
        Accept:
          'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,' +
          'text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
    const text = reply.body.toString('utf8');
    expect(text).toContain('# TYPE jobs counter\n');
    expect(text).toContain('# UNIT job_duration_seconds seconds\n');
    expect(text).toContain('job_duration_seconds_bucket{le="1.0"} 1\n');
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('serves text 0.0.4 whatever the Accept header with openMetrics: false', async () => {
    const textOnly = await serve(registry, { openMetrics: false });
    const reply = await fetchRaw(textOnly, { headers: { Accept: OPENMETRICS_ACCEPT } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(TEXT_CONTENT_TYPE);
    expect(reply.body.toString('utf8')).toBe(await registry.metrics());
  });

  it('leaves out the _created samples with created: false, and only them', async () => {
    const withCreated = (await fetchRaw(url, { headers: { Accept: OPENMETRICS_ACCEPT } })).body.toString();
    const created = withCreated.split('\n').filter((line) => /^\w+_created[ {]/.test(line));
    expect(created.map((line) => line.split(/[ {]/)[0])).toEqual([
      'job_duration_seconds_created',
      'jobs_created',
    ]);
    const plain = await serve(registry, { created: false });
    const reply = await fetchRaw(plain, { headers: { Accept: OPENMETRICS_ACCEPT } });
    expect(reply.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
    const text = reply.body.toString('utf8');
    expect(text).toBe(
      withCreated
        .split('\n')
        .filter((line) => !created.includes(line))
        .join('\n'),
    );
    expect(text).toBe(await registry.metrics({ format: 'openmetrics', created: false }));
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const get = await fetchRaw(url);
    const head = await fetchRaw(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe(TEXT_CONTENT_TYPE);
    expect(head.headers['content-length']).toBe(String(get.body.length));
    expect(head.body.length).toBe(0);
  });

  it('refuses other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const reply = await fetchRaw(url, { method });
      expect(reply.status, method).toBe(405);
      expect(reply.headers.allow).toBe('GET, HEAD');
    }
  });
});

describe('metricsHandler when the metrics cannot be read', () => {
  let redis: RedisServer | undefined;
  const registries: Registry[] = [];

  afterEach(async () => {
    for (const r of registries.splice(0)) await r.close();
    await redis?.stop();
    redis = undefined;
  });

  function expectOneLine503(reply: Reply): string {
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    const body = reply.body.toString('utf8');
    expect(body).toMatch(/^Metrics unavailable: [^\n]+\n$/);
    return body;
  }

  it('answers 503 with a one-line reason, without hanging, once Redis is stopped', async () => {
    redis = await startRedisServer();
    const registry = new Registry({
      redis: redis.url,
      prefix: 'http-outage',
      selfMetrics: false,
      flushTimeoutMs: 300,
      onError: () => {},
    });
    registries.push(registry);
    new Counter({ name: 'outage_total', help: 'x', registry }).inc();
    await registry.flush();
    const url = await serve(registry, { timeoutMs: 2000 });
    expect((await fetchRaw(url)).status).toBe(200);

    await redis.stop();
    expectOneLine503(await fetchRaw(url));
    const head = await fetchRaw(url, { method: 'HEAD' });
    expect(head.status).toBe(503);
    expect(head.body.length).toBe(0);
  });

  it("answers 503 before the scraper's own timeout (X-Prometheus-Scrape-Timeout-Seconds)", async () => {
    redis = await startRedisServer();
    const registry = new Registry({
      redis: redis.url,
      prefix: 'http-budget',
      selfMetrics: false,
      closeTimeoutMs: 500,
      onError: () => {},
    });
    registries.push(registry);
    new Counter({ name: 'budget_total', help: 'x', registry }).inc();
    await registry.flush();
    // timeoutMs and flushTimeoutMs (5 s) would both outlast a 1 s scrape_timeout.
    const url = await serve(registry, { timeoutMs: 10_000 });
    await redis.stop();
    const started = Date.now();
    const reply = await fetchRaw(url, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '1' } });
    const took = Date.now() - started;
    expect(expectOneLine503(reply)).toContain('within 900 ms (the scraper');
    expect(took).toBeLessThan(1000);
  });

  it('takes the earlier of timeoutMs and the scraper timeout, and ignores a header that is no timeout', () => {
    expect(scrapeBudgetMs(10_000, '10')).toBe(9500);
    expect(scrapeBudgetMs(10_000, '2.5')).toBe(2250);
    expect(scrapeBudgetMs(2000, '10')).toBe(2000);
    expect(scrapeBudgetMs(10_000, ['3', '1'])).toBe(2700);
    for (const junk of [undefined, '', 'soon', '0', '-1', 'Infinity', 'NaN']) {
      expect(scrapeBudgetMs(10_000, junk), String(junk)).toBe(10_000);
    }
  });

  it('answers 503 naming timeoutMs when a scrape takes longer', async () => {
    const stuck = {
      metrics: () => new Promise<string>(() => {}),
      contentTypeFor: () => TEXT_CONTENT_TYPE,
    };
    const url = await serve(stuck, { timeoutMs: 50 });
    expect(expectOneLine503(await fetchRaw(url))).toContain('timeoutMs (50 ms)');
  });

  it('answers 503 for a registry without a Redis connection', async () => {
    const registry = new Registry({ selfMetrics: false });
    registries.push(registry);
    const url = await serve(registry);
    expect(expectOneLine503(await fetchRaw(url))).toContain('No Redis connection');
  });

  it('flattens a multi-line failure into one line', async () => {
    const failing = {
      metrics: () => Promise.reject(new Error('first line\nsecond line')),
      contentTypeFor: () => TEXT_CONTENT_TYPE,
    };
    const url = await serve(failing);
    expect(expectOneLine503(await fetchRaw(url))).toBe('Metrics unavailable: first line second line\n');
  });
});

describe('metricsHandler options', () => {
  it('rejects bad options at construction, naming them', () => {
    const registry = new Registry({ selfMetrics: false });
    expect(() => metricsHandler(registry, { timeoutMs: 0 })).toThrow(/`timeoutMs`.*got 0/);
    expect(() => metricsHandler(registry, { gzip: 'yes' as unknown as boolean })).toThrow(/`gzip`/);
    expect(() => metricsHandler(registry, { openMetrics: 1 as unknown as boolean })).toThrow(/`openMetrics`/);
    expect(() => metricsHandler(registry, { created: 0 as unknown as boolean })).toThrow(/`created`/);
    expect(() => registry.metricsStream({ created: 'no' as unknown as boolean })).toThrow(/`created`.*"no"/);
    expect(() => metricsHandler({} as Registry)).toThrow(/`registry`/);
  });
});

describe('metricsHandler streams a scrape bigger than it gathers whole', () => {
  const FAMILIES = 30;
  const SERIES = 2000;

  /** 30 counter families of 2,000 series: about 2 MB of text, read family by family. */
  async function bigRegistry(redis?: string) {
    const made = testRegistry(redis === undefined ? {} : { redis, flushTimeoutMs: 1000, maxBackoffMs: 100 });
    for (let f = 0; f < FAMILIES; f++) {
      const c = new Counter({
        name: `wide${f}_total`,
        help: 'w',
        labelNames: ['id'],
        registry: made.registry,
      });
      for (let i = 0; i < SERIES; i++) c.inc({ id: `series-${i}` }, i + 1);
    }
    await made.registry.flush();
    return made;
  }

  it('sends it chunked, byte for byte what metrics() returns, plain and gzipped', async () => {
    const { registry } = await bigRegistry();
    const url = await serve(registry);
    const whole = await registry.metrics();
    expect(whole.length).toBeGreaterThan(1_000_000);
    const plain = await fetchRaw(url);
    expect(plain.status).toBe(200);
    expect(plain.headers['transfer-encoding']).toBe('chunked');
    expect(plain.headers['content-length']).toBeUndefined();
    expect(plain.body.toString('utf8')).toBe(whole);
    const zipped = await fetchRaw(url, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(whole);
    const om = await fetchRaw(url, { headers: { Accept: 'application/openmetrics-text' } });
    expect(om.body.toString('utf8').endsWith('# EOF\n')).toBe(true);
    await registry.close();
  });

  it('breaks the transfer, never ends it short, when Redis stops answering part-way', async () => {
    const { FaultProxy } = await import('../support/fault-proxy.js');
    const server = await startRedisServer();
    const proxy = await FaultProxy.start(server.port);
    const { registry } = await bigRegistry(proxy.url);
    const url = await serve(registry, { timeoutMs: 1500 });
    const whole = await registry.metrics();
    try {
      const outcome = await new Promise<{ status: number; bytes: number; error?: Error; ended: boolean }>(
        (resolve) => {
          const req = request(url, (res) => {
            let bytes = 0;
            // Headers are out (the first 64 KB were read): Redis now goes silent.
            proxy.blackhole = true;
            res.on('data', (c: Buffer) => (bytes += c.length));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ended: true }));
            res.on('error', (error) => resolve({ status: res.statusCode ?? 0, bytes, error, ended: false }));
            res.on('aborted', () => resolve({ status: res.statusCode ?? 0, bytes, ended: false }));
          });
          req.on('error', (error) => resolve({ status: 0, bytes: 0, error, ended: false }));
          req.end();
        },
      );
      expect(outcome.status).toBe(200);
      expect(outcome.bytes).toBeGreaterThan(0);
      expect(outcome.bytes).toBeLessThan(whole.length);
      // The client knows the scrape is incomplete: the connection broke before the last chunk.
      expect(outcome.ended).toBe(false);
    } finally {
      proxy.heal();
      await registry.close();
      await proxy.close();
      await server.stop();
    }
  });
});
