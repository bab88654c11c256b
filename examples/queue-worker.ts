/**
 * A queue worker with no HTTP server: it only records. Metrics are flushed in the background
 * and once more on shutdown (installShutdownHooks closes the registry on SIGTERM / SIGINT and
 * when the process runs out of work). The standalone exporter serves them — it needs none of
 * this code, only Redis and the prefix:
 *
 *   node --import tsx examples/queue-worker.ts                     # as many copies as you like
 *   npx prometheus-redis-client serve --redis redis://127.0.0.1:6379 --prefix example-queue --port 9464
 *   (from this repository: node --import tsx src/cli.ts serve …)
 *
 * Environment: REDIS_URL (default redis://127.0.0.1:6379), PREFIX (default example-queue),
 * DURATION_MS (stop taking jobs after this long, finish, flush and exit; default: until Ctrl-C).
 *
 * In your project, import from 'prometheus-redis-client' instead of '../src/index.js'.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Histogram, Registry, installShutdownHooks } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = process.env.PREFIX ?? 'example-queue';
const DURATION_MS = Number(process.env.DURATION_MS ?? 0);

const registry = new Registry({
  redis: REDIS_URL,
  prefix: PREFIX,
  onError: (error) => console.error(`metrics: ${error.message}`),
});
// Closes the registry — `await registry.close()`: the last deltas reach Redis — on SIGTERM and
// SIGINT, and on `beforeExit` (the worker ran out of work).
installShutdownHooks(registry);

const processed = new Counter({
  name: 'jobs_processed_total',
  help: 'Jobs processed, by queue and outcome.',
  labelNames: ['queue', 'outcome'],
  registry,
});
const duration = new Histogram({
  name: 'job_duration_seconds',
  help: 'Time spent on one job.',
  labelNames: ['queue'],
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1],
  registry,
});
// Per process (gauge_index label): what this worker currently holds.
const backlog = new Gauge({ name: 'jobs_backlog', help: 'Jobs fetched, not yet done.', registry });

// Bound children: the cheapest calls, for the hot loop.
const done = { emails: processed.labels('emails', 'ok'), thumbnails: processed.labels('thumbnails', 'ok') };
const failed = {
  emails: processed.labels('emails', 'error'),
  thumbnails: processed.labels('thumbnails', 'error'),
};

/** Stand-in for a real job: takes a few milliseconds, fails now and then. */
async function handle(_queue: 'emails' | 'thumbnails'): Promise<void> {
  await sleep(1 + Math.random() * 4);
  if (Math.random() < 0.05) throw new Error('temporary failure');
}

// The worker never handles signals itself: on SIGTERM / SIGINT the hook flushes, then the process
// stops the way it would have without metrics (an interrupted job is the queue's to redeliver).
let running = true;
if (DURATION_MS > 0) setTimeout(() => (running = false), DURATION_MS);

let jobs = 0;
while (running) {
  const batch = (['emails', 'thumbnails'] as const).flatMap((q) => [q, q]);
  backlog.set(batch.length);
  for (const queue of batch) {
    const end = duration.startTimer({ queue });
    try {
      await handle(queue);
      done[queue].inc();
    } catch {
      failed[queue].inc();
    }
    end();
    backlog.dec();
    jobs++;
  }
}
console.log(`processed ${jobs} jobs`);
// Nothing else to do: the event loop empties, `beforeExit` fires, the hook closes the registry
// (the last deltas reach Redis) and the process exits 0. Closing explicitly works as well:
//   await registry.close();
