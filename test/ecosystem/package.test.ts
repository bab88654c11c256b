/**
 * The package as npm publishes it: `npm pack` (of the dist/ that `npm test` builds first) must
 * hold only package.json, README, LICENSE, the bin shim and dist/**, with no install-time script,
 * and `npm publish --dry-run` must not drop or correct anything; the tarball must install into a fresh
 * project next to ioredis. From there, resolution goes through package.json's `exports` map:
 * `require()`, `import()` from CommonJS and `import` from ESM all give the public API; an ESM and a
 * CommonJS script count to Redis and back (through the consumer's own ioredis client and through
 * a connection the registry owns) and exit; and a `strict` TypeScript consumer (ESM and CommonJS
 * flavours) compiles against the shipped declarations with the repository's tsc. Without a build
 * the package suite is skipped with a message. Last, `npm run test:unit` runs test/unit/ only.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgePrefix, randomPrefix, redisClient, redisUrl } from '../support/helpers.js';
import { parseText, valueOf } from '../system/exposition.js';
import { ROOT, describeChild, run, type ChildResult } from '../system/processes.js';

const DIST = join(ROOT, 'dist');
const hasDist = ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts'].every((f) =>
  existsSync(join(DIST, f)),
);
/** Whether some source file is newer than the build (then a failure here may just mean: rebuild). */
function distIsStale(): boolean {
  const built = statSync(join(DIST, 'index.js')).mtimeMs;
  const newer = (path: string): boolean =>
    readdirSync(path, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? newer(join(path, e.name)) : statSync(join(path, e.name)).mtimeMs > built,
    );
  return newer(join(ROOT, 'src'));
}
if (!hasDist) {
  console.warn(
    `[ecosystem/package.test] skipped: ${DIST} is missing or incomplete — run \`npm run build\` (npm test does).`,
  );
}

/** This environment without npm's own variables (set when running under `npm test`), so the
 * nested npm works on the temporary project only, never on the repository. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return { ...env, npm_config_update_notifier: 'false', npm_config_loglevel: 'warn' };
}

async function npm(args: readonly string[], cwd: string): Promise<ChildResult> {
  const result = await run('npm', args, { cwd, env: npmEnv(), timeoutMs: 120_000 });
  expect(result.code, `npm ${args.join(' ')}\n${describeChild(result)}`).toBe(0);
  return result;
}

// The abstract bases are values too, so `instanceof Metric` works as its type promises.
const API = [
  'Registry',
  'Counter',
  'Gauge',
  'CommonGauge',
  'Histogram',
  'Summary',
  'Metric',
  'TimedMetric',
  'GaugeLike',
  'REGISTRY',
];

/** Prints `{ name: typeof export }` and whether REGISTRY is a Registry. */
const inspect = (m: string): string => `
const api = ${JSON.stringify(API)};
const types = Object.fromEntries(api.map((n) => [n, typeof ${m}[n]]));
console.log(JSON.stringify({ types, registryIsInstance: ${m}.REGISTRY instanceof ${m}.Registry }));
`;

/**
 * Records with the installed package twice (a registry on the consumer's own ioredis client, then
 * one with default options that owns its connection) and prints what a fresh reader sees.
 */
const roundTrip = (flavour: string): string => `
const [url, prefix] = process.argv.slice(2);
const flavour = ${JSON.stringify(flavour)};
const define = (registry) => ({
  jobs: new Counter({ name: 'pack_jobs_total', help: 'Jobs.', labelNames: ['flavour', 'connection'], registry }),
  latency: new Histogram({ name: 'pack_latency_seconds', help: 'Latency.', labelNames: ['connection'], buckets: [1], registry }),
});
const redis = new Redis(url); // the consumer's own ioredis client: the registry leaves it open
const lent = new Registry({ redis, prefix, selfMetrics: false });
const a = define(lent);
const child = a.jobs.labels(flavour, 'client');
for (let i = 0; i < 1000; i++) child.inc();
a.latency.observe({ connection: 'client' }, 0.5);
await lent.close();
await redis.quit();
const owner = new Registry({ redis: url, prefix }); // close() flushes and quits its connection
const b = define(owner);
const owned = b.jobs.labels(flavour, 'url');
for (let i = 0; i < 1000; i++) owned.inc();
b.jobs.inc({ flavour, connection: 'url' }, 0.5);
b.latency.observe({ connection: 'url' }, 0.25);
await owner.close();
const reader = new Registry({ redis: url, prefix, selfMetrics: false });
process.stdout.write(await reader.metrics());
await reader.close();
`;

/** A strict consumer of the types; the @ts-expect-error lines fail the build if the types are too loose. */
const typed = (from: string): string => `
${from}

const options: RegistryOptions = {
  redis: new Redis('redis://127.0.0.1:6379', { lazyConnect: true }),
  prefix: 'shop',
  flushIntervalMs: 500,
  onError: (error: Error) => console.error(error.message),
};
const registry = new Registry(options);
const requests = new Counter({ name: 'requests_total', help: 'Requests.', labelNames: ['route', 'status'], registry });
requests.inc({ route: '/', status: 200 });
requests.labels('/', '200').inc(2);
// @ts-expect-error 'path' is not one of this counter's label names
requests.inc({ path: '/' });
// @ts-expect-error a label value is a string or a number
requests.inc({ route: '/', status: true });
const bare = new Counter<never>({ name: 'bare_total', help: 'No labels.', registry });
bare.inc();
bare.inc({});
// @ts-expect-error a metric typed without labels takes no label object
bare.inc({ route: '/' });
const latency = new Histogram({ name: 'latency_seconds', help: 'Latency.', buckets: [0.1, 1], registry });
const seconds: number = latency.startTimer()();
const depth = new Gauge({ name: 'queue_depth', help: 'Depth.', registry });
depth.set(3);
const shared = new CommonGauge({ name: 'build_info', help: 'Build.', labelNames: ['version'], registry });
shared.set({ version: '1.2.3' }, 1);
const labels: Labels<'route'> = { route: '/' };
const stats: Readonly<FlushStats> = registry.flushStats;
const text: Promise<string> = registry.metrics({ format: 'openmetrics' });
const uninstall: () => void = installShutdownHooks(registry);
const isBase: boolean = new FlushTimeoutError('x') instanceof PrometheusRedisError;
export { labels, stats, text, uninstall, seconds, isBase, bare };
`;
const NAMES =
  'Registry, Counter, Gauge, CommonGauge, Histogram, installShutdownHooks, FlushTimeoutError, PrometheusRedisError, type Labels, type RegistryOptions, type FlushStats';

const FILES: Record<string, string> = {
  'exports.cjs': `const m = require('prometheus-redis-client');\n${inspect('m')}`,
  'dynamic-import.cjs': `import('prometheus-redis-client').then((m) => {\n${inspect('m')}\n});`,
  'exports.mjs': `import * as m from 'prometheus-redis-client';\n${inspect('m')}`,
  'named.mjs': `import { Registry, Counter, Gauge, CommonGauge, Histogram, Summary, REGISTRY } from 'prometheus-redis-client';
console.log(JSON.stringify([Registry, Counter, Gauge, CommonGauge, Histogram, Summary].map((c) => typeof c).concat(REGISTRY instanceof Registry)));`,
  'package-json.cjs': `console.log(require('prometheus-redis-client/package.json').name);`,
  'esm.mjs': `import { Redis } from 'ioredis';\nimport { Registry, Counter, Histogram } from 'prometheus-redis-client';\n${roundTrip('esm')}`,
  'cjs.cjs': `const { Redis } = require('ioredis');\nconst { Registry, Counter, Histogram } = require('prometheus-redis-client');\n(async () => {${roundTrip('cjs')}})().catch((e) => { console.error(e); process.exitCode = 1; });`,
  'consumer.mts': typed(
    `import { Redis } from 'ioredis';\nimport { ${NAMES} } from 'prometheus-redis-client';`,
  ),
  'consumer.cts': typed(
    `import { Redis } from 'ioredis';\nimport { ${NAMES} } from 'prometheus-redis-client';`,
  ),
  'tsconfig.json': JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      noEmit: true,
      // @types/node from the repository: the consumer needs no extra download.
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      types: ['node'],
    },
    include: ['consumer.mts', 'consumer.cts'],
  }),
};

let dir: string;
let tarball: string;
let consumer: string;
beforeAll(async () => {
  if (!hasDist) return;
  dir = mkdtempSync(join(tmpdir(), 'prc-pack-'));
  const packed = await npm(['pack', '--pack-destination', dir, '--json', '--ignore-scripts'], ROOT);
  tarball = join(dir, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
  consumer = join(dir, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '0.0.0', private: true }),
  );
  for (const [name, source] of Object.entries(FILES)) writeFileSync(join(consumer, name), source);
  // The ioredis this repository is tested against (package-lock.json), not the newest: ioredis
  // 6.1.0's own declarations import 'redis-errors', which ships no types, so any strict consumer
  // (skipLibCheck: false) of ioredis 6.1.0 fails to compile whatever it imports alongside.
  const ioredis = (
    JSON.parse(readFileSync(join(ROOT, 'node_modules/ioredis/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  await npm(
    [
      'install',
      tarball,
      `ioredis@${ioredis}`,
      '--prefix',
      consumer,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
    ],
    consumer,
  );
}, 180_000);
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Run a script of the consumer project; it must exit with code 0. Its stdout. */
async function node(file: string, args: readonly string[] = []): Promise<string> {
  const result = await run(process.execPath, [file, ...args], { cwd: consumer, timeoutMs: 30_000 });
  const hint = distIsStale() ? '\n(dist/ is older than src/: run `npm run build`, as `npm test` does)' : '';
  expect(result.code, `${describeChild(result)}${hint}`).toBe(0);
  return result.stdout;
}

async function countsThroughRedis(file: string, flavour: string): Promise<void> {
  const prefix = randomPrefix('pack');
  const admin = redisClient();
  try {
    const exposition = parseText(await node(file, [redisUrl(), prefix]));
    // Through the consumer's own client.
    expect(valueOf(exposition, 'pack_jobs_total', { flavour, connection: 'client' })).toBe(1000);
    expect(valueOf(exposition, 'pack_latency_seconds_bucket', { connection: 'client', le: '1' })).toBe(1);
    expect(valueOf(exposition, 'pack_latency_seconds_sum', { connection: 'client' })).toBe(0.5);
    // Through the connection the registry owned.
    expect(valueOf(exposition, 'pack_jobs_total', { flavour, connection: 'url' })).toBe(1000.5);
    expect(valueOf(exposition, 'pack_latency_seconds_bucket', { connection: 'url', le: '1' })).toBe(1);
    expect(valueOf(exposition, 'pack_latency_seconds_sum', { connection: 'url' })).toBe(0.25);
  } finally {
    await purgePrefix(admin, prefix);
    await admin.quit();
  }
}

const allFunctions = {
  types: Object.fromEntries(API.map((n) => [n, n === 'REGISTRY' ? 'object' : 'function'])),
  registryIsInstance: true,
};

describe.skipIf(!hasDist)('the npm package', () => {
  it('npm pack ships only package.json, README, LICENSE, the bin shim and dist/**', async () => {
    const listed = await run('tar', ['-tzf', tarball], { timeoutMs: 30_000 });
    expect(listed.code, describeChild(listed)).toBe(0);
    const files = listed.stdout
      .split('\n')
      .filter((line) => line !== '' && !line.endsWith('/'))
      .map((line) => line.replace(/^package\//, ''))
      .sort();
    const unexpected = files.filter(
      (f) =>
        !['package.json', 'README.md', 'LICENSE', 'bin/prometheus-redis-client.js'].includes(f) &&
        !f.startsWith('dist/'),
    );
    expect(unexpected).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'dist/index.js',
        'dist/index.cjs',
        'dist/index.d.ts',
        'dist/index.d.cts',
      ]),
    );
    const installed = JSON.parse(
      readFileSync(join(consumer, 'node_modules', 'prometheus-redis-client', 'package.json'), 'utf8'),
    ) as { license?: string; scripts?: Record<string, string> };
    expect(installed.license).toBe('MIT');
    // No lifecycle script a consumer's npm would run or warn about (npm 11 lists `prepare` too).
    const lifecycle = ['preinstall', 'install', 'postinstall', 'prepare'];
    expect(Object.keys(installed.scripts ?? {}).filter((s) => lifecycle.includes(s))).toEqual([]);
  });

  it('installs the prometheus-redis-client command', async () => {
    const bin = join(consumer, 'node_modules', '.bin', 'prometheus-redis-client');
    const result = await run(bin, ['--version'], { cwd: consumer, timeoutMs: 30_000 });
    expect(result.code, describeChild(result)).toBe(0);
    expect(result.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('npm publish --dry-run keeps the bin entry and warns about nothing but the missing login', async () => {
    // A bin entry whose file is missing would be dropped here with a warning ("errors corrected").
    const result = await npm(['publish', '--dry-run', '--ignore-scripts', '--json'], ROOT);
    const warnings = result.stderr
      .split('\n')
      .filter((line) => /\bwarn\b/i.test(line) && !/requires you to be logged in/.test(line));
    expect(warnings).toEqual([]);
    const report = JSON.parse(result.stdout) as Record<string, { files: Array<{ path: string }> }>;
    const published = Object.values(report)[0]?.files.map((f) => f.path) ?? [];
    expect(published).toEqual(expect.arrayContaining(['bin/prometheus-redis-client.js', 'dist/cli.js']));
  });

  it('can be require()d (CommonJS build) with the whole public API', async () => {
    expect(JSON.parse(await node('exports.cjs'))).toEqual(allFunctions);
  });

  it('can be import()ed from CommonJS and imported from ESM (ESM build)', async () => {
    expect(JSON.parse(await node('dynamic-import.cjs'))).toEqual(allFunctions);
    expect(JSON.parse(await node('exports.mjs'))).toEqual(allFunctions);
    expect(JSON.parse(await node('named.mjs'))).toEqual([...Array<string>(6).fill('function'), true]);
    expect((await node('package-json.cjs')).trim()).toBe('prometheus-redis-client');
  });

  it('counts to Redis and back from an ESM script, and the script exits', async () => {
    await countsThroughRedis('esm.mjs', 'esm');
  });

  it('counts to Redis and back from a CommonJS script, and the script exits', async () => {
    await countsThroughRedis('cjs.cjs', 'cjs');
  });

  it('a strict TypeScript consumer (ESM and CommonJS) compiles against the shipped types', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '--noEmit', '-p', consumer], { timeoutMs: 60_000 });
    expect(result.code, describeChild(result)).toBe(0);
  });
});

describe('package-lock.json', () => {
  it('matches package.json, so `npm install` in a fresh clone leaves it as committed', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, Record<string, unknown>>;
    };
    const root = lock.packages[''] ?? {};
    for (const field of ['name', 'version', 'license', 'bin', 'engines', 'dependencies', 'devDependencies']) {
      expect(root[field], `package-lock.json's root "${field}"`).toEqual(manifest[field]);
    }
  });
});

describe('npm run test:unit', () => {
  it('runs every test file of test/unit/ and nothing else, with no global setup (no Redis)', async () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const script = scripts['test:unit'] ?? '';
    const config = /\bvitest run --config (\S+)$/.exec(script)?.[1];
    expect(config, script).toBeDefined();
    const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    const listed = await run(process.execPath, [vitest, 'list', '--filesOnly', '--config', config!], {
      cwd: ROOT,
      timeoutMs: 60_000,
    });
    expect(listed.code, describeChild(listed)).toBe(0);
    const unit = readdirSync(join(ROOT, 'test', 'unit'))
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => `test/unit/${f}`);
    expect(
      listed.stdout
        .split('\n')
        .filter((line) => line !== '')
        .sort(),
    ).toEqual(unit.sort());
    const { default: options } = (await import(join(ROOT, config!))) as {
      default: { test?: { globalSetup?: unknown } };
    };
    expect(options.test?.globalSetup).toBeUndefined();
  });
});
