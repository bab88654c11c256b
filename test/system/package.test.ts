/**
 * The built package, as a consumer gets it: a project whose node_modules/prometheus-redis-client
 * links to this repository, so resolution goes through package.json's `exports` map. Both
 * `require()` and `import` give the public API, and a script using only the built package counts
 * to Redis and back. `npm test` builds dist/ first; a bare `npx vitest` without a build skips
 * these tests with a message.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgePrefix, randomPrefix, redisClient, redisUrl } from '../support/helpers.js';
import { parseText, valueOf } from './exposition.js';
import { ROOT, describeChild, run } from './processes.js';

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
    `[package.test] skipped: ${DIST} is missing or incomplete — run \`npm run build\` (npm test does).`,
  );
}

const API = ['Registry', 'Counter', 'Gauge', 'CommonGauge', 'Histogram', 'Summary', 'REGISTRY'];

/** Prints `{ name: typeof export }` and whether REGISTRY is a Registry. */
const inspect = (m: string): string => `
const api = ${JSON.stringify(API)};
const types = Object.fromEntries(api.map((n) => [n, typeof ${m}[n]]));
console.log(JSON.stringify({ types, registryIsInstance: ${m}.REGISTRY instanceof ${m}.Registry }));
`;

/** Records with the built package, flushes, and prints what a fresh reader registry sees. */
const roundTrip = (flavour: string): string => `
const registry = new Registry({ redis: process.argv[2], prefix: process.argv[3] });
const jobs = new Counter({ name: 'pkg_jobs_total', help: 'Jobs.', labelNames: ['flavour'], registry });
const latency = new Histogram({ name: 'pkg_latency_seconds', help: 'Latency.', buckets: [1], registry });
const child = jobs.labels(${JSON.stringify(flavour)});
for (let i = 0; i < 1000; i++) child.inc();
jobs.inc({ flavour: ${JSON.stringify(flavour)} }, 0.5);
latency.observe(0.25);
await registry.close();
const reader = new Registry({ redis: process.argv[2], prefix: process.argv[3] });
process.stdout.write(await reader.metrics());
await reader.close();
`;

const FILES: Record<string, string> = {
  'exports.cjs': `const m = require('prometheus-redis-client');\n${inspect('m')}`,
  'dynamic-import.cjs': `import('prometheus-redis-client').then((m) => {\n${inspect('m')}\n});`,
  'exports.mjs': `import * as m from 'prometheus-redis-client';\n${inspect('m')}`,
  'named.mjs': `import { Registry, Counter, Gauge, CommonGauge, Histogram, Summary, REGISTRY } from 'prometheus-redis-client';
console.log(JSON.stringify([Registry, Counter, Gauge, CommonGauge, Histogram, Summary].map((c) => typeof c).concat(REGISTRY instanceof Registry)));`,
  'package-json.cjs': `console.log(require('prometheus-redis-client/package.json').name);`,
  'round-trip.cjs': `const { Registry, Counter, Histogram } = require('prometheus-redis-client');\n(async () => {${roundTrip('cjs')}})().catch((e) => { console.error(e); process.exitCode = 1; });`,
  'round-trip.mjs': `import { Registry, Counter, Histogram } from 'prometheus-redis-client';\n${roundTrip('esm')}`,
};

let dir: string;
beforeAll(() => {
  if (!hasDist) return;
  dir = mkdtempSync(join(tmpdir(), 'prc-package-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'prometheus-redis-client'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  for (const [name, source] of Object.entries(FILES)) writeFileSync(join(dir, name), source);
});
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function node(file: string, args: readonly string[] = []): Promise<string> {
  const result = await run(process.execPath, [file, ...args], { cwd: dir, timeoutMs: 30_000 });
  const hint = distIsStale() ? '\n(dist/ is older than src/: run `npm run build`, as `npm test` does)' : '';
  expect(result.code, `${describeChild(result)}${hint}`).toBe(0);
  return result.stdout;
}

async function countsThroughRedis(ext: string, flavour: string): Promise<void> {
  const prefix = randomPrefix('pkg');
  const admin = redisClient();
  try {
    const exposition = parseText(await node(`round-trip.${ext}`, [redisUrl(), prefix]));
    expect(valueOf(exposition, 'pkg_jobs_total', { flavour })).toBe(1000.5);
    expect(valueOf(exposition, 'pkg_latency_seconds_bucket', { le: '1' })).toBe(1);
    expect(valueOf(exposition, 'pkg_latency_seconds_sum')).toBe(0.25);
  } finally {
    await purgePrefix(admin, prefix);
    await admin.quit();
  }
}

const allFunctions = {
  types: Object.fromEntries(API.map((n) => [n, n === 'REGISTRY' ? 'object' : 'function'])),
  registryIsInstance: true,
};

describe.skipIf(!hasDist)('the built package', () => {
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
    await countsThroughRedis('mjs', 'esm');
  });

  it('counts to Redis and back from a CommonJS script, and the script exits', async () => {
    await countsThroughRedis('cjs', 'cjs');
  });
});
