/**
 * What the shared Redis feels during one workload of the shared group: the longest single
 * command any other client ran (SLOWLOG, logging every call of 0.1 ms or more for the window),
 * and the waits of an unrelated client pinging every millisecond (shared-probe-worker.ts).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Redis } from 'ioredis';
import type { LatencySummary } from './measure.js';

/** Client names of the bench's own connections, whose commands SLOWLOG figures leave out. */
export const PROBE_CLIENT_NAME = 'bench-shared-probe';
export const ADMIN_CLIENT_NAME = 'bench-shared-admin';

/** The unrelated client's round trips in one window (ms), and the errors it got. */
export interface ProbeReport extends LatencySummary {
  /** `BUSY` replies (a script ran past busy-reply-threshold). */
  readonly busy: number;
  /** Any other error. */
  readonly errors: number;
  readonly firstError: string | null;
}

export type ProbeMessage = { type: 'started' } | { type: 'report'; report: ProbeReport };

/** The unrelated client: one worker thread, reused window after window. */
export class WaitProbe {
  readonly #worker: Worker;
  #waiting: { type: ProbeMessage['type']; resolve: (m: ProbeMessage) => void } | undefined;
  #failure: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (message: ProbeMessage) => {
      if (this.#waiting?.type !== message.type) return;
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve(message);
    });
    worker.on('error', (error) => (this.#failure = error));
    worker.on('exit', () => (this.#failure ??= new Error('the probe worker exited')));
  }

  static start(redisUrl: string): WaitProbe {
    // Node 20 does not run a .ts worker through tsx's hooks: the worker registers them itself.
    const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
    const file = JSON.stringify(new URL('./shared-probe-worker.ts', import.meta.url).href);
    const bootstrap = `import(${tsx}).then(({ register }) => { register(); return import(${file}); })`;
    const worker = new Worker(bootstrap, { eval: true, workerData: { redisUrl } });
    worker.unref();
    return new WaitProbe(worker);
  }

  /** Post `command` and wait for the worker's message of `type` (or its failure). */
  async #ask(command: 'start' | 'stop', type: ProbeMessage['type']): Promise<ProbeMessage> {
    if (this.#failure !== undefined) throw this.#failure;
    const answer = new Promise<ProbeMessage>((resolve) => (this.#waiting = { type, resolve }));
    this.#worker.postMessage(command);
    const failed = new Promise<never>((_, reject) => {
      const check = setInterval(() => {
        if (this.#failure === undefined) return;
        clearInterval(check);
        reject(this.#failure);
      }, 50);
      void answer.finally(() => clearInterval(check));
    });
    return Promise.race([answer, failed]);
  }

  /** Start pinging; resolves once the first PING of the window has come back. */
  async begin(): Promise<void> {
    await this.#ask('start', 'started');
  }

  /** Stop pinging (after the PING in flight) and return the window's figures. */
  async end(): Promise<ProbeReport> {
    return ((await this.#ask('stop', 'report')) as Extract<ProbeMessage, { type: 'report' }>).report;
  }

  async close(): Promise<void> {
    this.#worker.postMessage('exit');
    await Promise.race([once(this.#worker, 'exit'), new Promise((r) => setTimeout(r, 1000))]);
  }
}

/** The longest command of a SLOWLOG window (other clients than the bench's own). */
export interface SlowlogWindow {
  /**
   * Longest single command, µs (SLOWLOG's execution time, without network or queueing); 0 when
   * no command reached SLOWLOG_THRESHOLD_US.
   */
  readonly longestUs: number;
  /** Its name, e.g. EVALSHA ('–' when none was logged). */
  readonly command: string;
  /** Commands of SLOWLOG_THRESHOLD_US or more that other clients ran in the window. */
  readonly commands: number;
  /** Their summed execution time, µs. */
  readonly totalUs: number;
}

/**
 * The window logs every command of 100 µs or more, not every command: with
 * `slowlog-log-slower-than 0` Redis 7 also logs each command a Lua script calls, and that
 * bookkeeping doubled the script's own time here (a 20,000-counter flush: 135–175 ms instead of
 * 74–79 ms). A command under 0.1 ms cannot decide a target of milliseconds.
 */
export const SLOWLOG_THRESHOLD_US = 100;

/** SLOWLOG's client address for a command a script called (part of the script's own entry). */
const SCRIPT_CALLER = '?:0';

/** SLOWLOG GET reply entry: id, unix time, µs, args, client address, client name. */
type SlowlogEntry = [number, number, number, string[], string, string];

const SETTINGS = {
  'slowlog-log-slower-than': String(SLOWLOG_THRESHOLD_US),
  'slowlog-max-len': '1000000',
} as const;

/**
 * Log every command of SLOWLOG_THRESHOLD_US or more from now on (`slowlog-log-slower-than`,
 * `slowlog-max-len 1000000`, `SLOWLOG RESET`); the returned function reads the window (SLOWLOG
 * GET) and restores the settings.
 * `admin` must be connected with `connectionName: ADMIN_CLIENT_NAME`.
 */
export async function openSlowlog(admin: Redis): Promise<() => Promise<SlowlogWindow>> {
  const saved: Record<string, string> = {};
  for (const [name, value] of Object.entries(SETTINGS)) {
    const [, current] = (await admin.config('GET', name)) as [string, string];
    saved[name] = current;
    await admin.config('SET', name, value);
  }
  await admin.slowlog('RESET');
  return async () => {
    const entries = (await admin.call('SLOWLOG', 'GET', SETTINGS['slowlog-max-len'])) as SlowlogEntry[];
    for (const [name, value] of Object.entries(saved)) await admin.config('SET', name, value);
    if (entries.length >= Number(SETTINGS['slowlog-max-len'])) {
      throw new Error('SLOWLOG filled up during the window: the longest command may be missing');
    }
    let longestUs = 0;
    let command = '–';
    let commands = 0;
    let totalUs = 0;
    for (const [, , us, args, address, client] of entries) {
      if (address === SCRIPT_CALLER) continue;
      if (client === PROBE_CLIENT_NAME || client === ADMIN_CLIENT_NAME) continue;
      commands++;
      totalUs += us;
      if (us > longestUs) {
        longestUs = us;
        command = (args[0] ?? '?').toUpperCase();
      }
    }
    return { longestUs, command, commands, totalUs };
  };
}
