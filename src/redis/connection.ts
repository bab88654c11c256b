/**
 * Connection ownership and readiness: the client type the library accepts, opening and closing
 * a connection the library owns (from a URL), waiting for a connection to take commands, and the
 * timeouts every call the library awaits is bounded by.
 */
import { Cluster, Redis } from 'ioredis';
import { RedisConfigurationError, RedisUnavailableError } from '../core/errors.js';
import { fakedScheduling } from '../core/fake-timers.js';
import { isRedisUrl } from '../core/validate.js';

/** A connection the registry can use: a single Redis, Sentinel-managed Redis or a Cluster. */
export type RedisClient = Redis | Cluster;

type Ready = 'ready' | 'wait';

/** Whether `value` is an ioredis client (a Redis or a Cluster, of any copy of ioredis). */
export function isRedisClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { defineCommand?: unknown }).defineCommand === 'function'
  );
}

/**
 * The connection `setRedis()` was given: a client the caller keeps (`owned: false`), or one opened
 * here from a URL, which the registry then owns. Throws a TypeError for anything else, and for a
 * Cluster client when `durable` (WAIT for replicas is per node).
 */
export function clientOf(
  redis: unknown,
  durable: boolean,
  report: (error: Error) => void,
): { client: RedisClient; owned: boolean } {
  if (typeof redis === 'string') {
    if (!isRedisUrl(redis)) {
      throw new TypeError(
        `Expected \`redis\` to be a redis:// or rediss:// URL or an ioredis client, got ${JSON.stringify(redis)}`,
      );
    }
    return { client: openOwned(redis, report), owned: true };
  }
  if (!isRedisClient(redis)) {
    throw new TypeError(
      `Expected \`redis\` to be an ioredis Redis or Cluster, or a redis:// URL, got ${typeof redis}`,
    );
  }
  if (durable && redis instanceof Cluster) {
    throw new TypeError(
      'The `durability` option (WAIT for replicas) is not supported with a Redis Cluster client',
    );
  }
  return { client: redis, owned: false };
}

/**
 * Open a connection the library owns, from a redis:// URL. Its errors go to `report` once per
 * outage (without a listener ioredis would print them), and it never keeps the process alive by
 * itself (a script that only records metrics can end); a flush in flight holds it open through
 * its own timeout timer.
 */
export function openOwned(url: string, report: (error: Error) => void): Redis {
  const redis = new Redis(url, { lazyConnect: false });
  watchConnection(redis);
  let reported = false;
  redis.on('error', (error: Error) => {
    if (reported) return;
    reported = true;
    report(
      databaseRefusal(error) ??
        new RedisUnavailableError(`Redis connection error: ${error.message}`, { cause: error }),
    );
  });
  redis.on('ready', () => {
    reported = false;
  });
  redis.on('connect', () => redis.stream.unref());
  return redis;
}

/**
 * Close a connection the library owns: QUIT when it is up (commands sent are answered first),
 * waiting for it at most `timeoutMs`; a Redis that does not answer in time (stopped, a
 * black-holed link) is disconnected, so closing never hangs.
 */
export async function closeOwned(redis: RedisClient, timeoutMs: number): Promise<void> {
  // Under fake timers neither QUIT nor its timeout would ever come back.
  if (redis.status !== 'ready' || timeoutMs <= 0 || fakedScheduling().length > 0) {
    redis.disconnect();
    return;
  }
  const quit = keepAlive(redis.quit());
  await withTimeout(quit, timeoutMs, () => new RedisUnavailableError('QUIT got no answer')).catch(() =>
    redis.disconnect(),
  );
}

/** What a watched connection said: its last error while not ready, and a database it refused. */
interface Watched {
  lastError: Error | undefined;
  refused: Error | undefined;
}

const watched = new WeakMap<RedisClient, Watched>();

/**
 * Keep what a connection says about itself, for `whenReady`: its last error (the reason in a
 * "not reachable" message: WRONGPASS, ECONNREFUSED, …), and a database Redis refused. Call it
 * before the connection opens. ioredis 6 sends the URL's SELECT in its handshake, and when Redis
 * refuses it, only emits an 'error' event and then declares the connection ready — on database
 * 0, where every later command would land. `whenReady` refuses such a connection instead.
 */
export function watchConnection(redis: Redis): void {
  const state: Watched = { lastError: undefined, refused: undefined };
  watched.set(redis, state);
  // 'connect': a new handshake starts (and sends SELECT again).
  redis.on('connect', () => {
    state.refused = undefined;
  });
  redis.on('ready', () => {
    state.lastError = undefined;
  });
  redis.on('error', (error: Error) => {
    state.lastError = error;
    if (selectRefused(error)) state.refused = error;
  });
}

/** Whether an ioredis error is Redis refusing the handshake's SELECT (ioredis names the command). */
function selectRefused(error: Error): boolean {
  const command = (error as { command?: { name?: unknown } }).command;
  return typeof command?.name === 'string' && command.name.toLowerCase() === 'select';
}

/**
 * The configuration error an ioredis 'error' event means when it is Redis refusing the URL's
 * database (the handshake's SELECT), naming the database and Redis's reason; undefined for any
 * other error.
 */
export function databaseRefusal(error: Error | undefined): RedisConfigurationError | undefined {
  return error !== undefined && selectRefused(error) ? refusal(error) : undefined;
}

/** The configuration error of a refused SELECT, naming the database and Redis's reason. */
function refusal(reason: Error): RedisConfigurationError {
  const arg = (reason as { command?: { args?: unknown[] } }).command?.args?.[0];
  const db = typeof arg === 'string' || typeof arg === 'number' ? String(arg) : '?';
  return new RedisConfigurationError(
    `Redis refused database ${db} (the Redis URL's /${db}): ${reason.message}. Nothing is written ` +
      `until the URL names a database Redis has (its \`databases\` setting)`,
    { cause: reason },
  );
}

/** The refusal of a watched connection's database, if Redis refused it on this connection. */
function refusedDatabase(redis: RedisClient): RedisConfigurationError | undefined {
  return databaseRefusal(watched.get(redis)?.refused);
}

/**
 * Resolve when the connection can take commands, or fail after `timeoutMs` (with the reason the
 * connection last gave, on a watched one). A watched connection whose database Redis refused
 * fails at once with a `RedisConfigurationError`: commands on it would land in database 0.
 */
export function whenReady(redis: RedisClient, timeoutMs: number): Promise<Ready> {
  const status = redis.status;
  const refused = refusedDatabase(redis);
  if (refused !== undefined && status === 'ready') return Promise.reject(refused);
  if (status === 'ready' || status === 'wait') return Promise.resolve(status);
  if (status === 'end') return Promise.reject(new RedisUnavailableError('The Redis connection is closed'));
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('end', onEnd);
    };
    const onReady = (): void => {
      done();
      const refusedNow = refusedDatabase(redis);
      if (refusedNow === undefined) resolve('ready');
      else reject(refusedNow);
    };
    const onEnd = (): void => {
      done();
      reject(new RedisUnavailableError('The Redis connection is closed'));
    };
    const timer = setTimeout(() => {
      done();
      // Why, when the connection said (a wrong password only shows as an 'error' event).
      const cause = watched.get(redis)?.lastError;
      const why = cause === undefined ? '' : `: ${cause.message}`;
      reject(
        new RedisUnavailableError(
          `Redis is not reachable (connection ${redis.status}) after ${timeoutMs} ms${why}`,
          cause === undefined ? undefined : { cause },
        ),
      );
    }, timeoutMs); // not unref()'d: a flush waiting for the connection keeps the process alive, bounded
    redis.once('ready', onReady);
    redis.once('end', onEnd);
  });
}

/**
 * Settle with `promise`, or reject with `onTimeout()` after `ms`. The timer is deliberately not
 * unref()'d: a flush in flight keeps the process alive until it settles, at most `ms`.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Keep the process alive until `promise` settles. The registry's own connection is unref()'d
 * (it never keeps a process alive by itself), so every command the library awaits holds a handle.
 */
export function keepAlive<T>(promise: Promise<T>): Promise<T> {
  const release = holdProcess();
  promise.then(release, release);
  return promise;
}

/** Keep the process alive until the function returned is called (for work that is no promise). */
export function holdProcess(): () => void {
  const handle = setInterval(() => {}, 1 << 30);
  return () => clearInterval(handle);
}
