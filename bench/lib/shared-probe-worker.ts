/**
 * The "unrelated client" of the shared group, in a worker thread of its own (its own event loop
 * and its own ioredis socket, so a stall of the measuring process's event loop is not counted as
 * a Redis wait): between `start` and `stop` messages it sends PING back to back with a 1 ms
 * pause, records each round trip (performance.now()) in an HdrHistogram and counts BUSY replies.
 * Answers `started` once its first PING of a window came back, and a ProbeReport after `stop`.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { Latencies } from './measure.js';
import { PROBE_CLIENT_NAME, type ProbeMessage, type ProbeReport } from './shared-probe.js';

const port = parentPort;
if (port === null) throw new Error('shared-probe-worker.ts runs as a worker thread');
const { redisUrl } = workerData as { redisUrl: string };
const redis = new Redis(redisUrl, { connectionName: PROBE_CLIENT_NAME, maxRetriesPerRequest: 2 });
redis.on('error', () => {});

let stopping = false;

async function window(): Promise<ProbeReport> {
  const latencies = new Latencies();
  let busy = 0;
  let errors = 0;
  let firstError: string | null = null;
  let announced = false;
  while (!stopping) {
    const t0 = performance.now();
    try {
      await redis.ping();
    } catch (error) {
      const message = (error as Error).message;
      if (message.startsWith('BUSY')) busy++;
      else {
        errors++;
        firstError ??= message;
      }
    }
    latencies.recordMs(performance.now() - t0);
    if (!announced) {
      announced = true;
      port!.postMessage({ type: 'started' } satisfies ProbeMessage);
    }
    await sleep(1);
  }
  return { ...latencies.summary(), busy, errors, firstError };
}

port.on('message', (message: 'start' | 'stop' | 'exit') => {
  if (message === 'start') {
    stopping = false;
    void window().then((report) => port.postMessage({ type: 'report', report } satisfies ProbeMessage));
  } else if (message === 'stop') stopping = true;
  else {
    redis.disconnect();
    port.close();
  }
});
