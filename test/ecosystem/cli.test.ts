/**
 * The real CLI, spawned (`node --import tsx src/cli.ts …`), against the run's shared Redis. Each
 * test writes with its own registry under its own prefix, then checks what the CLI shows, serves
 * or deletes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  CommonGauge,
  Counter,
  Gauge,
  Histogram,
  Registry,
  Summary,
  type RegistryOptions,
} from '../../src/index.js';
import { Keys } from '../../src/redis/keys.js';
import { randomPrefix, redisClient, redisUrl, testRegistry } from '../support/helpers.js';
import { describeChild, pollUntil, runTs, type ChildResult } from '../system/processes.js';
import { startTs } from './spawn.js';

const CLI = 'src/cli.ts';
const redis = redisClient();
const registries: Registry[] = [];

afterAll(async () => {
  for (const r of registries) await r.close();
  redis.disconnect();
});

function cli(...args: string[]): Promise<ChildResult> {
  return runTs(CLI, args, { timeoutMs: 20_000 });
}

/** A registry on a fresh prefix holding jobs (counter), inflight (gauge) and job_seconds (histogram). */
async function populated(
  options: RegistryOptions = {},
): Promise<{ registry: Registry; prefix: string; keys: Keys }> {
  const { registry, prefix } = testRegistry(options);
  registries.push(registry);
  const jobs = new Counter({ name: 'jobs_total', help: 'Jobs', labelNames: ['queue', 'status'], registry });
  const inflight = new Gauge({ name: 'inflight', help: 'In flight', labelNames: ['queue'], registry });
  const seconds = new Histogram({
    name: 'job_seconds',
    help: 'Job time',
    labelNames: ['queue'],
    buckets: [0.1, 1],
    registry,
  });
  jobs.inc({ queue: 'mail', status: 'ok' }, 3);
  jobs.inc({ queue: 'mail', status: 'failed' });
  jobs.inc({ queue: 'sms', status: 'ok' }, 2);
  inflight.set({ queue: 'mail' }, 4);
  seconds.observe({ queue: 'mail' }, 0.5);
  seconds.observe({ queue: 'sms' }, 0.05);
  await registry.flush();
  return { registry, prefix, keys: new Keys(prefix) };
}

/** What a reader with no metrics of its own sees under a prefix. */
async function exposition(prefix: string): Promise<string> {
  const reader = new Registry({ redis: redisUrl(), prefix, selfMetrics: false });
  try {
    return await reader.metrics();
  } finally {
    await reader.close();
  }
}

const common = (prefix: string): string[] => ['--redis', redisUrl(), '--prefix', prefix];

describe('CLI usage', () => {
  it('prints --help for the program and each command, exit 0', async () => {
    const results = await Promise.all([
      cli('--help'),
      cli('serve', '--help'),
      cli('inspect', '-h'),
      cli('purge', '--help'),
    ]);
    const [main, serve, inspect, purge] = results.map((r) => {
      expect(r.code, describeChild(r)).toBe(0);
      return r.stdout;
    });
    expect(main).toMatch(/^Usage: prometheus-redis-client <command>/);
    expect(main).toMatch(/serve .*\n.*inspect .*\n.*purge /);
    expect(serve).toContain('Usage: prometheus-redis-client serve --redis URL --prefix P');
    expect(serve).toContain('--port N');
    expect(inspect).toContain('Usage: prometheus-redis-client inspect');
    expect(purge).toContain('--match L=V');
    expect(purge).toContain('--yes');
  });

  it('explains bad flags and arguments on stderr, exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['serve', '--bogus'], /serve: Unknown option '--bogus'/],
      [
        ['serve', '--redis', 'localhost:6379', '--port', '1'],
        /--redis must be a redis:\/\/ or rediss:\/\/ URL/,
      ],
      [
        ['serve', '--redis', 'redis://x', '--port', 'abc'],
        /--port must be an integer from 0 to 65535, got "abc"/,
      ],
      [['inspect', '--redis', 'redis://x', '--prefix', 'a{b}'], /--prefix/],
      [['purge', '--redis', 'redis://x', '--prefix', 'p', '--match', 'a=b'], /--match needs --family/],
      [['frobnicate'], /unknown command "frobnicate"/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(...args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect(r.code, `${args.join(' ')}\n${describeChild(r)}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('--help');
      expect(r.stdout).toBe('');
    });
  });

  it('exits 1 with the cause when Redis cannot be reached, without printing the password', async () => {
    const r = await cli('inspect', '--redis', 'redis://:s3cret@127.0.0.1:1', '--prefix', 'nowhere');
    expect(r.code, describeChild(r)).toBe(1);
    expect(r.stderr).toBe(
      'prometheus-redis-client inspect: cannot connect to Redis at redis://:***@127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1\n',
    );
  });
});

describe('CLI --cluster', () => {
  it('exits 1 saying why when the URL is a single Redis, not a cluster node', async () => {
    const r = await cli('inspect', '--redis', redisUrl(), '--prefix', 'p', '--cluster');
    expect(r.code, describeChild(r)).toBe(1);
    expect(r.stderr).toMatch(
      /cannot connect to Redis at .*: Failed to refresh slots cache.*cluster support disabled/,
    );
  });
});

describe('CLI serve', () => {
  it('serves what another process wrote, in both formats, and stops on SIGTERM', async () => {
    const { prefix } = await populated();
    const exporter = startTs(CLI, ['serve', ...common(prefix), '--port', '0']);
    try {
      const line = await pollUntil(
        () => /http:\/\/127\.0\.0\.1:\d+\/metrics/.exec(exporter.stderr())?.[0],
        (url) => url !== undefined,
        { timeoutMs: 15_000, what: 'the exporter announcing its URL' },
      );
      const url = line!;
      expect(exporter.stderr()).toContain(`serving prefix "${prefix}"`);
      const text = await fetch(url);
      expect(text.status).toBe(200);
      const body = await text.text();
      expect(body).toContain('jobs_total{queue="mail",status="ok"} 3\n');
      expect(body).toContain('inflight{queue="mail",gauge_index="0"} 4\n');
      expect(body).toBe(await exposition(prefix));

      const om = await fetch(url, { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
      expect(om.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
      expect(await om.text()).toMatch(/# EOF\n$/);

      expect((await fetch(url.replace('/metrics', '/elsewhere'))).status).toBe(404);
    } finally {
      const result = await exporter.stop();
      expect(result.code, describeChild(result)).toBe(0);
    }
  });

  it('says on stderr when the prefix holds no families, once, and honours --text-only and --no-created', async () => {
    const empty = randomPrefix('empty');
    const exporter = startTs(CLI, ['serve', ...common(empty), '--port', '0', '--text-only']);
    try {
      const url = await announced(exporter);
      for (let i = 0; i < 3; i++) {
        const reply = await fetch(url, {
          headers: { Accept: 'application/openmetrics-text; version=1.0.0' },
        });
        expect(reply.status).toBe(200);
        expect(reply.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
        expect(await reply.text()).toBe('');
      }
      const said = exporter
        .stderr()
        .split('\n')
        .filter((l) => l.includes('holds no metric families'));
      expect(said).toEqual([
        `prometheus-redis-client: prefix "${empty}" holds no metric families: the scrape is empty. Is --prefix the one the registries use (their \`prefix\` option; "prometheus" by default)? 'prometheus-redis-client inspect' lists what a prefix holds.`,
      ]);
    } finally {
      expect((await exporter.stop()).code).toBe(0);
    }

    const { prefix } = await populated();
    const plain = startTs(CLI, ['serve', ...common(prefix), '--port', '0', '--no-created']);
    try {
      const url = await announced(plain);
      const om = await fetch(url, { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
      const body = await om.text();
      expect(body).toContain('jobs_total{queue="mail",status="ok"} 3\n');
      expect(body).not.toContain('_created');
      expect(plain.stderr()).not.toContain('holds no metric families');
    } finally {
      expect((await plain.stop()).code).toBe(0);
    }
  });
});

/** The URL a `serve` child announces on stderr. */
async function announced(exporter: ReturnType<typeof startTs>): Promise<string> {
  const url = await pollUntil(
    () => /http:\/\/127\.0\.0\.1:\d+\/metrics/.exec(exporter.stderr())?.[0],
    (found) => found !== undefined,
    { timeoutMs: 15_000, what: 'the exporter announcing its URL' },
  );
  return url!;
}

describe('CLI inspect', () => {
  it('shows each family with its type and series count, and the live process', async () => {
    const { registry, prefix } = await populated();
    const r = await cli('inspect', ...common(prefix));
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toContain(`Prefix "${prefix}"`);
    expect(r.stdout).toContain('3 families, 1 process (1 gauge lease held)');
    expect(r.stdout).toMatch(/^FAMILY\s+TYPE\s+SERIES\s+DETAILS$/m);
    expect(r.stdout).toMatch(/^jobs\s+counter\s+3\s+labels queue,status$/m);
    expect(r.stdout).toMatch(/^inflight\s+gauge\s+1\s+per process/m);
    expect(r.stdout).toMatch(/^job_seconds\s+histogram\s+2\s+2 buckets/m);
    expect(r.stdout).toMatch(/^PROCESS\s+GAUGE INDEX\s+LEASE\s+LAST FLUSH$/m);
    const escaped = registry.processId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(r.stdout).toMatch(new RegExp(`^${escaped}\\s+0\\s+held\\s+\\d{4}-\\d\\d-\\d\\dT`, 'm'));
  });

  // Over 8,192 series a counter or common gauge family is read as prerendered text, with no rows.
  it('counts the series of a family too big to read row by row', async () => {
    const { registry, prefix } = testRegistry();
    registries.push(registry);
    const big = new Counter({ name: 'big_total', help: 'b', labelNames: ['id'], registry });
    const level = new CommonGauge({ name: 'big_level', help: 'l', labelNames: ['id'], registry });
    for (let i = 0; i < 9000; i++) {
      big.inc({ id: String(i) });
      level.set({ id: String(i) }, i);
    }
    await registry.flush();
    const r = await cli('inspect', ...common(prefix));
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toMatch(/^big\s+counter\s+9000\s+labels id$/m);
    expect(r.stdout).toMatch(/^big_level\s+gauge\s+9000\s+shared; labels id$/m);
  });
});

describe('CLI purge', () => {
  it('without --yes prints what it would delete, deletes nothing, exit 2', async () => {
    const { prefix, keys } = await populated();
    const before = (await redis.keys(`{${prefix}}:*`)).sort();
    const [all, family, match] = await Promise.all([
      cli('purge', ...common(prefix)),
      cli('purge', ...common(prefix), '--family', 'jobs_total'),
      cli('purge', ...common(prefix), '--family', 'jobs', '--match', 'queue=mail'),
    ]);
    for (const r of [all, family, match]) {
      expect(r.code, describeChild(r)).toBe(2);
      expect(r.stdout).toContain('Nothing was deleted: add --yes to delete.');
    }
    expect(all.stdout).toContain(`Would delete ${before.length} keys under prefix "${prefix}"`);
    expect(family.stdout).toContain(`Would delete family "jobs" (counter)`);
    expect(family.stdout).toContain(keys.family('jobs'));
    // Each counter series is its value field and its `|created` field.
    expect(match.stdout).toContain('Would delete 2 series of "jobs" (4 fields)');
    expect(match.stdout).toContain('{queue="mail",status="failed"}');
    expect((await redis.keys(`{${prefix}}:*`)).sort()).toEqual(before);
  });

  it('--family --yes deletes that family, its metadata and sample names, nothing else', async () => {
    const { prefix, keys } = await populated();
    const r = await cli('purge', ...common(prefix), '--family', 'jobs', '--yes');
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toContain('Deleted family "jobs".');
    expect(await redis.exists(keys.family('jobs'))).toBe(0);
    expect(await redis.hexists(keys.meta, 'jobs')).toBe(0);
    expect(Object.values(await redis.hgetall(keys.samples))).not.toContain('jobs');
    const text = await exposition(prefix);
    expect(text).not.toContain('jobs');
    expect(text).toContain('inflight{queue="mail",gauge_index="0"} 4\n');
    expect(text).toContain('job_seconds_count{queue="sms"} 1\n');
  });

  it('--family of a per-process gauge deletes every process hash of it', async () => {
    const { prefix, keys } = await populated();
    expect(await redis.exists(keys.gauge('inflight', 0))).toBe(1);
    const r = await cli('purge', ...common(prefix), '--family', 'inflight', '--yes');
    expect(r.code, describeChild(r)).toBe(0);
    expect(await redis.exists(keys.gauge('inflight', 0))).toBe(0);
    expect(await exposition(prefix)).not.toContain('inflight');
  });

  it('--match --yes deletes exactly the series whose labels all match', async () => {
    const { prefix } = await populated();
    const one = await cli(
      'purge',
      ...common(prefix),
      '--family',
      'jobs',
      '--match',
      'queue=mail',
      '--match',
      'status=failed',
      '--yes',
    );
    expect(one.code, describeChild(one)).toBe(0);
    expect(one.stdout).toContain('Deleted 1 series.');
    let text = await exposition(prefix);
    expect(text).not.toContain('status="failed"');
    expect(text).toContain('jobs_total{queue="mail",status="ok"} 3\n');
    expect(text).toContain('jobs_total{queue="sms",status="ok"} 2\n');

    const histogram = await cli(
      'purge',
      ...common(prefix),
      '--family',
      'job_seconds',
      '--match',
      'queue=mail',
      '--yes',
    );
    expect(histogram.code, describeChild(histogram)).toBe(0);
    text = await exposition(prefix);
    expect(text).not.toContain('job_seconds_bucket{queue="mail"');
    expect(text).not.toContain('job_seconds_sum{queue="mail"}');
    expect(text).toContain('job_seconds_count{queue="sms"} 1\n');
    expect(text).toContain('jobs_total{queue="mail",status="ok"} 3\n');
  });

  it('purges a summary with quantiles: its quantile windows too, by family and by series', async () => {
    const { registry, prefix, keys } = await populated();
    const latency = new Summary({
      name: 'latency_seconds',
      help: 'Latency',
      labelNames: ['route'],
      percentiles: [0.5, 0.9],
      registry,
    });
    const other = new Summary({ name: 'latency_seconds:x', help: 'x', percentiles: [0.5], registry });
    for (const v of [0.1, 0.2, 0.3]) latency.observe({ route: '/a' }, v);
    latency.observe({ route: '/b' }, 0.4);
    other.observe(1);
    await registry.flush();
    const windows = async (name: string): Promise<string[]> =>
      (await redis.keys(`${keys.quantileWindow(name)}*`)).filter((k) => keys.isQuantileKey(name, k));
    expect((await windows('latency_seconds')).length).toBeGreaterThan(0);

    const inspect = await cli('inspect', ...common(prefix));
    expect(inspect.stdout).toMatch(/^latency_seconds\s+summary\s+2\s+quantiles 0\.5,0\.9 over 600s/m);

    const series = await cli(
      'purge',
      ...common(prefix),
      '--family',
      'latency_seconds',
      '--match',
      'route=/a',
      '--yes',
    );
    expect(series.code, describeChild(series)).toBe(0);
    let text = await exposition(prefix);
    expect(text).not.toContain('route="/a"');
    expect(text).toContain('latency_seconds{route="/b",quantile="0.5"} ');
    expect(text).toContain('latency_seconds_count{route="/b"} 1\n');
    for (const key of await windows('latency_seconds')) {
      expect(Object.keys(await redis.hgetall(key)).some((f) => f.startsWith('route="/a"'))).toBe(false);
    }

    const family = await cli('purge', ...common(prefix), '--family', 'latency_seconds', '--yes');
    expect(family.code, describeChild(family)).toBe(0);
    expect(await windows('latency_seconds')).toEqual([]);
    text = await exposition(prefix);
    expect(text).not.toContain('latency_seconds{');
    // A family whose name extends this one's (`latency_seconds:x`) keeps its windows.
    expect((await windows('latency_seconds:x')).length).toBeGreaterThan(0);
    expect(text).toContain('latency_seconds:x_count 1\n');
  });

  it('--match refuses a label the family does not have, exit 2', async () => {
    const { prefix } = await populated();
    const r = await cli('purge', ...common(prefix), '--family', 'jobs', '--match', 'region=eu', '--yes');
    expect(r.code, describeChild(r)).toBe(2);
    expect(r.stderr).toContain('family "jobs" has no label "region" (its labels: queue, status)');
    expect(await exposition(prefix)).toContain('jobs_total{queue="mail",status="ok"} 3\n');
  });

  it('an unknown family is an error, exit 1', async () => {
    const { prefix } = await populated();
    const r = await cli('purge', ...common(prefix), '--family', 'nope', '--yes');
    expect(r.code, describeChild(r)).toBe(1);
    expect(r.stderr).toContain(`no family named "nope" under prefix "${prefix}"`);
  });

  it('--yes without --family deletes every key of the prefix, and only those', async () => {
    const { prefix } = await populated();
    const { prefix: other } = await populated();
    const r = await cli('purge', ...common(prefix), '--yes');
    expect(r.code, describeChild(r)).toBe(0);
    expect(await redis.keys(`{${prefix}}:*`)).toEqual([]);
    expect((await redis.keys(`{${other}}:*`)).length).toBeGreaterThan(0);
  });
});

describe('CLI on shardBy "metric" (each family in a group of its own)', () => {
  it('inspects, purges one family, some series, then the whole prefix', async () => {
    const { registry, prefix, keys } = await populated({ shardBy: 'metric' });
    const inspected = await cli('inspect', ...common(prefix));
    expect(inspected.code, describeChild(inspected)).toBe(0);
    expect(inspected.stdout).toContain('3 families, 1 process (1 gauge lease held)');
    expect(inspected.stdout).toMatch(/^jobs\s+counter\s+3\s+labels queue,status$/m);

    const match = await cli(
      'purge',
      ...common(prefix),
      '--family',
      'jobs',
      '--match',
      'status=failed',
      '--yes',
    );
    expect(match.code, describeChild(match)).toBe(0);
    expect(match.stdout).toContain('Deleting 1 series of "jobs" (2 fields)');
    let text = await exposition(prefix);
    expect(text).not.toContain('status="failed"');
    expect(text).toContain('jobs_total{queue="mail",status="ok"} 3\n');

    const family = await cli('purge', ...common(prefix), '--family', 'job_seconds', '--yes');
    expect(family.code, describeChild(family)).toBe(0);
    // Only the processes' sequence numbers stay (so a batch applied just before is never re-applied).
    const left = await redis.keys(`${keys.group('job_seconds').base.replace(/[{}]/g, '?')}*`);
    expect(left.map((k) => k.slice(keys.group('job_seconds').base.length))).toEqual([
      `proc:${registry.processId}`,
    ]);
    text = await exposition(prefix);
    expect(text).not.toContain('job_seconds');
    expect(text).toContain('inflight{queue="mail",gauge_index="0"} 4\n');

    const all = await cli('purge', ...common(prefix), '--yes');
    expect(all.code, describeChild(all)).toBe(0);
    expect(await redis.keys(`*${prefix}*`)).toEqual([]);
  });
});
