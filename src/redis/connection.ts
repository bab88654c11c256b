/**
 * Connection ownership and readiness: the client type the library accepts, opening and closing
 * a connection the library owns (from a URL), waiting for a connection to take commands, and the
 * timeouts every call the library awaits is bounded by.
 */
import { Redis, type Cluster } from 'ioredis';
import { RedisUnavailableError } from '../core/errors.js';

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
 * Open a connection the library owns, from a redis:// URL. Its errors go to `report` once per
 * outage (without a listener ioredis would print them), and it never keeps the process alive by
 * itself (a script that only records metrics can end); a flush in flight holds it open through
 * its own timeout timer.
 */
export function openOwned(url: string, report: (error: Error) => void): Redis {
  const redis = new Redis(url, { lazyConnect: false });
  let reported = false;
  redis.on('error', (error: Error) => {
    if (reported) return;
    reported = true;
    report(new RedisUnavailableError(`Redis connection error: ${error.message}`, { cause: error }));
  });
  redis.on('ready', () => {
    reported = false;
  });
  redis.on('connect', () => redis.stream.unref());
  return redis;
}

/** Close a connection the library owns: QUIT when it is up (commands sent are answered first). */
export async function closeOwned(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') await keepAlive(redis.quit()).catch(() => redis.disconnect());
  else redis.disconnect();
}

/** Resolve when the connection can take commands, or fail after `timeoutMs`. */
export function whenReady(redis: RedisClient, timeoutMs: number): Promise<Ready> {
  const status = redis.status;
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
      resolve('ready');
    };
    const onEnd = (): void => {
      done();
      reject(new RedisUnavailableError('The Redis connection is closed'));
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new RedisUnavailableError(
          `Redis is not reachable (connection ${redis.status}) after ${timeoutMs} ms`,
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
  const handle = setInterval(() => {}, 1 << 30);
  const release = (): void => clearInterval(handle);
  promise.then(release, release);
  return promise;
}
