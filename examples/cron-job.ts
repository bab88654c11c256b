/**
 * A short-lived script (a cron job, a CI step, a one-off migration): it records, calls
 * `await registry.close()` so everything reaches Redis, and exits. Every run adds to the same
 * counters; a `CommonGauge` keeps one "last success" time shared by all runs. Any registry on
 * the same prefix — the CLI exporter, a web process — serves them.
 *
 *   node --import tsx examples/cron-job.ts
 *
 * Environment: REDIS_URL (default redis://127.0.0.1:6379), PREFIX (default example-cron),
 * DURATION_MS (how long the simulated work takes; default 500).
 *
 * In your project, import from 'prometheus-redis-client' instead of '../src/index.js'.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CommonGauge, Counter, Histogram, Registry } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = process.env.PREFIX ?? 'example-cron';
const DURATION_MS = Number(process.env.DURATION_MS ?? 500);

const registry = new Registry({
  redis: REDIS_URL,
  prefix: PREFIX,
  onError: (error) => {
    console.error(`metrics: ${error.message}`);
    process.exitCode = 1;
  },
});
const runs = new Counter({
  name: 'cron_runs_total',
  help: 'Runs of the nightly export, by outcome.',
  labelNames: ['job', 'outcome'],
  registry,
});
const rows = new Counter({
  name: 'cron_rows_exported_total',
  help: 'Rows exported.',
  labelNames: ['job'],
  registry,
});
const duration = new Histogram({
  name: 'cron_run_duration_seconds',
  help: 'Duration of one run.',
  labelNames: ['job'],
  buckets: [0.1, 0.5, 1, 5, 30, 120],
  registry,
});
// One value for the whole fleet, not per process: the time of the last successful run.
const lastSuccess = new CommonGauge({
  name: 'cron_last_success_timestamp_seconds',
  help: 'When the job last succeeded (Unix time).',
  labelNames: ['job'],
  registry,
});

const job = 'nightly-export';
const end = duration.startTimer({ job });
let exported = 0;
const steps = 10;
for (let i = 0; i < steps; i++) {
  await sleep(DURATION_MS / steps); // stand-in for a page of real work
  exported += 100;
  rows.inc({ job }, 100);
}
end();
runs.inc({ job, outcome: 'ok' });
lastSuccess.setToCurrentTime({ job });

// The one line a script needs: deliver what was recorded, close the connection. Without it the
// last deltas (up to one flush interval's worth) would be lost when the process ends.
await registry.close();
console.log(`exported ${exported} rows`);
