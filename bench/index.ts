/**
 * The benchmark suite.
 *
 *   npm run bench                      every group, full sizes
 *   npm run bench -- hot flush         some groups
 *   npm run bench:quick                every group in under a minute (fewer rounds)
 *   npm run bench:smoke                tiny sizes, seconds (CI: proves the suite still runs)
 *   … -- --out <dir>                   write results elsewhere (or BENCH_RESULTS_DIR)
 *
 * Starts its own redis-server on a free port unless REDIS_URL is set. Each group runs in a
 * process of its own (`node --expose-gc --import tsx bench/run-group.ts`), measuring this library
 * and its baseline side by side; the results go to <dir>/latest.json, latest.md and latest.svg.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startRedisServer, type RedisServer } from '../test/support/redis-server.js';
import { VERSION } from '../src/core/version.js';
import { defaultGroups, GROUPS, type GroupName, type Mode } from './config.js';
import type { GroupResult } from './lib/group.js';
import { DEFAULT_RESULTS_DIR, ROOT } from './lib/paths.js';
import { connect, installed, redisVersion } from './lib/redis.js';
import { targetsTable, writeReport, type Environment } from './lib/report.js';
import { renderText } from './lib/table.js';
import { evaluateTargets } from './targets.js';

const USAGE = `usage: npm run bench -- [${GROUPS.join('|')} …] [--quick|--smoke] [--out <dir>]`;

interface Args {
  readonly mode: Mode;
  readonly groups: readonly GroupName[];
  readonly out: string;
}

function parseArgs(argv: readonly string[]): Args {
  let mode: Mode = 'full';
  let out = process.env.BENCH_RESULTS_DIR ?? DEFAULT_RESULTS_DIR;
  const groups: GroupName[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') mode = 'quick';
    else if (arg === '--smoke') mode = 'smoke';
    else if (arg === '--full') mode = 'full';
    else if (arg === '--out') {
      const dir = argv[++i];
      if (dir === undefined) throw new Error(`--out needs a directory\n${USAGE}`);
      out = dir;
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if ((GROUPS as readonly string[]).includes(arg)) groups.push(arg as GroupName);
    else throw new Error(`Unknown argument "${arg}"\n${USAGE}`);
  }
  return {
    mode,
    groups: groups.length > 0 ? GROUPS.filter((g) => groups.includes(g)) : defaultGroups(mode),
    out: resolve(out),
  };
}

function packageVersion(name: string): string {
  try {
    const json = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    };
    return json.version;
  } catch {
    return 'not installed';
  }
}

function gitCommit(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (head.status !== 0) return 'no git';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ' + uncommitted src changes'}`;
}

async function environment(redisUrl: string, own: boolean): Promise<Environment> {
  const redis = connect(redisUrl);
  const version = await redisVersion(redis);
  redis.disconnect();
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${release()} ${arch()}`,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    loadAverage: { start: loadavg()[0]!, end: Number.NaN },
    redis: version,
    redisSource: own ? 'own redis-server' : 'REDIS_URL',
    redisBenchmark: installed('redis-benchmark'),
    library: `prometheus-redis-client ${VERSION}`,
    commit: gitCommit(),
    packages: Object.fromEntries(
      ['prom-client', 'tinybench', 'autocannon', 'hdr-histogram-js', 'ioredis'].map((p) => [
        p,
        packageVersion(p),
      ]),
    ),
  };
}

async function runGroup(group: GroupName, mode: Mode, redisUrl: string, dir: string): Promise<GroupResult> {
  const out = join(dir, `${group}.json`);
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', join(ROOT, 'bench/run-group.ts'), group, out],
    { cwd: ROOT, stdio: 'inherit', env: { ...process.env, BENCH_MODE: mode, REDIS_URL: redisUrl } },
  );
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0)
    throw new Error(`group ${group} failed (exit ${String(code)}${signal ? `, ${signal}` : ''})`);
  return JSON.parse(readFileSync(out, 'utf8')) as GroupResult;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const external = process.env.REDIS_URL;
  let server: RedisServer | undefined;
  const redisUrl =
    external !== undefined && external !== '' ? external : (server = await startRedisServer()).url;
  const scratch = mkdtempSync(join(tmpdir(), 'prc-bench-'));
  const results: Partial<Record<GroupName, GroupResult>> = {};
  const failures: string[] = [];
  try {
    const env = await environment(redisUrl, server !== undefined);
    process.stdout.write(
      `prometheus-redis-client benchmarks — mode ${args.mode}, groups ${args.groups.join(', ')}\n` +
        `${env.cpu} × ${env.cores}, Node ${env.node}, Redis ${env.redis} (${env.redisSource})\n`,
    );
    for (const group of args.groups) {
      process.stdout.write(`\n▶ ${group}\n`);
      try {
        results[group] = await runGroup(group, args.mode, redisUrl, scratch);
      } catch (error) {
        failures.push((error as Error).message);
        process.stderr.write(`${(error as Error).message}\n`);
      }
    }
    const targets = evaluateTargets(
      Object.fromEntries(Object.entries(results).map(([g, r]) => [g, r.figures])),
      args.mode !== 'smoke',
    );
    const command = `npm run ${args.mode === 'full' ? 'bench' : `bench:${args.mode}`}${
      args.groups.join() !== defaultGroups(args.mode).join() ? ` -- ${args.groups.join(' ')}` : ''
    }`;
    env.loadAverage.end = loadavg()[0]!;
    const written = writeReport(args.out, {
      mode: args.mode,
      command,
      groups: args.groups,
      elapsedMs: performance.now() - started,
      environment: env,
      targets,
      results,
      failures,
    });
    process.stdout.write(`\n${renderText(targetsTable(targets))}\n`);
    process.stdout.write(`written: ${written.join(', ')}\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await server?.stop();
  }
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
