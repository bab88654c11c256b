/**
 * Smoke tests of examples/: each is run the way its header says (`node --import tsx examples/x.ts`)
 * against the shared test Redis, with DURATION_MS so it finishes on its own. The metrics it
 * records must show up where it says they do — its own /metrics, the cluster primary's, the CLI
 * exporter's, or any reader registry — and it must exit 0.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { purgePrefix, randomPrefix, redisClient, redisUrl, testRegistry } from '../support/helpers.js';
import { freePort } from '../support/redis-server.js';
import { parseText, samplesOf, valueOf, type Exposition } from '../system/exposition.js';
import { describeChild, pollUntil } from '../system/processes.js';
import { childEnv, get, startTs } from './spawn.js';

const prefixes: string[] = [];
afterAll(async () => {
  const admin = redisClient();
  for (const prefix of prefixes) await purgePrefix(admin, prefix);
  await admin.quit();
});

function env(prefix: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  prefixes.push(prefix);
  return childEnv({ REDIS_URL: redisUrl(), PREFIX: prefix, ...extra });
}

const total = (exposition: Exposition, name: string, labels: Record<string, string> = {}): number =>
  samplesOf(exposition, name, labels).reduce((sum, s) => sum + s.value, 0);

/** Everything a reader registry with this prefix sees (no metrics of its own). */
async function read(prefix: string): Promise<Exposition> {
  const { registry } = testRegistry({ prefix });
  try {
    return parseText(await registry.metrics());
  } finally {
    await registry.close();
  }
}

describe('examples', () => {
  it('cluster-server.ts: 4 workers count every request, the primary serves the merged /metrics, exit 0', async () => {
    const prefix = randomPrefix('ex-cluster');
    const [port, metricsPort] = [await freePort(), await freePort()];
    const app = startTs('examples/cluster-server.ts', [], {
      env: env(prefix, { PORT: String(port), METRICS_PORT: String(metricsPort), DURATION_MS: '4000' }),
    });
    const hello = `http://127.0.0.1:${port}/hello`;
    let served = 0;
    await pollUntil(
      async () => {
        const { status } = await get(hello);
        served++;
        return status;
      },
      (status) => status === 200,
      { timeoutMs: 20_000, what: 'the workers answering' },
    );
    for (let i = 0; i < 20; i++) {
      expect((await get(hello)).status).toBe(200);
      served++;
    }
    expect((await get(`http://127.0.0.1:${port}/nope`)).status).toBe(404);

    // The primary has no metrics of its own: it serves what the workers flushed to Redis.
    const live = await pollUntil(
      async () => parseText((await get(`http://127.0.0.1:${metricsPort}/metrics`)).body),
      // One in-flight gauge per live worker, told apart by gauge_index.
      (e) =>
        total(e, 'http_requests_total', { route: '/hello' }) === served &&
        samplesOf(e, 'http_requests_in_flight').length === 4,
      { timeoutMs: 10_000, what: `the primary's /metrics counting ${served} requests from 4 workers` },
    );
    expect(total(live, 'http_request_duration_seconds_count', { route: '/hello' })).toBe(served);

    const result = await app.exited;
    expect(result.code, describeChild(result)).toBe(0);
    expect(result.stdout).toContain('workers exited: 0 0 0 0');
    // Each worker flushed on its way out: nothing recorded is missing.
    const after = await read(prefix);
    expect(valueOf(after, 'http_requests_total', { method: 'GET', route: '/hello', status: '200' })).toBe(
      served,
    );
    expect(valueOf(after, 'http_requests_total', { method: 'GET', route: 'other', status: '404' })).toBe(1);
  });

  it('http-app.ts: routes recorded by pattern, /metrics in the same process, exit 0', async () => {
    const prefix = randomPrefix('ex-app');
    const port = await freePort();
    const app = startTs('examples/http-app.ts', [], {
      env: env(prefix, { PORT: String(port), DURATION_MS: '3000' }),
    });
    const base = `http://127.0.0.1:${port}`;
    let root = 0;
    await pollUntil(
      async () => {
        const { status } = await get(`${base}/`);
        root++;
        return status;
      },
      (status) => status === 200,
      { timeoutMs: 20_000, what: 'the app answering' },
    );
    expect((await get(`${base}/users/1`)).status).toBe(200);
    expect((await get(`${base}/users/2`)).status).toBe(200);
    expect((await fetch(`${base}/orders`, { method: 'POST' })).status).toBe(201);
    expect((await get(`${base}/nope`)).status).toBe(404);

    // registry.metrics() flushes this process first: exact at once.
    const { status, body } = await get(`${base}/metrics`);
    expect(status, body).toBe(200);
    const live = parseText(body);
    const requests = (method: string, route: string, status: string): number =>
      valueOf(live, 'http_requests_total', { method, route, status });
    expect(requests('GET', '/', '200')).toBe(root);
    expect(requests('GET', '/users/:id', '200')).toBe(2);
    expect(requests('POST', '/orders', '201')).toBe(1);
    expect(requests('GET', 'unmatched', '404')).toBe(1);
    expect(valueOf(live, 'http_request_duration_seconds_count', { method: 'POST', route: '/orders' })).toBe(
      1,
    );

    const result = await app.exited;
    expect(result.code, describeChild(result)).toBe(0);
    expect(result.stdout).toContain('stopped');
  });

  it('queue-worker.ts: records only, flushes on its way out; the CLI exporter serves it; exit 0', async () => {
    const prefix = randomPrefix('ex-queue');
    const port = await freePort();
    // The exporter has none of the worker's code: it renders from what Redis holds.
    const exporter = startTs('src/cli.ts', [
      'serve',
      '--redis',
      redisUrl(),
      '--prefix',
      prefix,
      '--port',
      String(port),
    ]);
    try {
      const worker = startTs('examples/queue-worker.ts', [], { env: env(prefix, { DURATION_MS: '1500' }) });
      const result = await worker.exited;
      expect(result.code, describeChild(result)).toBe(0);
      expect(result.stderr).toBe('');
      const processed = Number(/processed (\d+) jobs/.exec(result.stdout)?.[1]);
      expect(processed).toBeGreaterThan(0);

      const { body } = await pollUntil(
        () => get(`http://127.0.0.1:${port}/metrics`),
        (r) => r.status === 200,
        { timeoutMs: 20_000, what: 'the CLI exporter answering' },
      );
      const served = parseText(body);
      // Every job, including those of the last partial flush interval (delivered by close()).
      expect(total(served, 'jobs_processed_total')).toBe(processed);
      expect(total(served, 'job_duration_seconds_count')).toBe(processed);
      // Its per-process backlog gauge left with it: close() gave up the worker's gauge index.
      expect(samplesOf(served, 'jobs_backlog')).toEqual([]);
    } finally {
      await exporter.stop();
    }
  });

  it('cron-job.ts: two runs record, close() and exit 0; a reader sees both runs', async () => {
    const prefix = randomPrefix('ex-cron');
    const started = Date.now() / 1000;
    const runs = [0, 1].map(() =>
      startTs('examples/cron-job.ts', [], { env: env(prefix, { DURATION_MS: '200' }) }),
    );
    for (const run of runs) {
      const result = await run.exited;
      expect(result.code, describeChild(result)).toBe(0);
      expect(result.stdout).toContain('exported 1000 rows');
    }
    const exposition = await read(prefix);
    const job = 'nightly-export';
    expect(valueOf(exposition, 'cron_rows_exported_total', { job })).toBe(2000);
    expect(valueOf(exposition, 'cron_runs_total', { job, outcome: 'ok' })).toBe(2);
    expect(valueOf(exposition, 'cron_run_duration_seconds_count', { job })).toBe(2);
    expect(valueOf(exposition, 'cron_last_success_timestamp_seconds', { job })).toBeGreaterThan(started - 1);
  });
});
