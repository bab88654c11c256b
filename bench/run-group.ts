/**
 * Runs one group in a process of its own, so groups never share JIT state or heap:
 *
 *   node --expose-gc --import tsx bench/run-group.ts <group> <result.json>
 *
 * Reads BENCH_MODE and REDIS_URL (bench/index.ts sets both), prints the group's tables on stdout
 * and writes its GroupResult as JSON to <result.json>.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CONFIGS, GROUPS, type GroupName, type Mode } from './config.js';
import type { Group } from './lib/group.js';
import { renderText } from './lib/table.js';

const loaders: Record<GroupName, () => Promise<{ run: Group }>> = {
  hot: () => import('./groups/hot.js'),
  flush: () => import('./groups/flush.js'),
  scrape: () => import('./groups/scrape.js'),
  e2e: () => import('./groups/e2e.js'),
  processes: () => import('./groups/processes.js'),
  cluster: () => import('./groups/cluster.js'),
  shared: () => import('./groups/shared.js'),
};

const [name, out] = process.argv.slice(2);
const mode = (process.env.BENCH_MODE ?? 'full') as Mode;
const redisUrl = process.env.REDIS_URL;
if (!GROUPS.includes(name as GroupName) || out === undefined || !(mode in CONFIGS) || !redisUrl) {
  process.stderr.write('usage: BENCH_MODE=full|quick|smoke REDIS_URL=… run-group.ts <group> <out.json>\n');
  process.exit(2);
}

const started = performance.now();
const { run } = await loaders[name as GroupName]();
const result = await run({
  mode,
  config: CONFIGS[mode],
  redisUrl,
  log: (message) => process.stderr.write(`  ${message}\n`),
});
const elapsedMs = performance.now() - started;
process.stdout.write(`\n${result.tables.map(renderText).join('\n')}`);
writeFileSync(out, JSON.stringify({ ...result, elapsedMs }, null, 2));
// Group code may leave sockets or timers behind (an ioredis reconnect, autocannon's agent):
// the result is written, so end here rather than wait for them.
process.exit(0);
