/**
 * The CLI's connections to Redis: one-shot clients for `inspect` and `purge`, whose connecting
 * and every command are bounded by `--timeout-ms`, with messages that say why a connection
 * failed; and the cluster client `serve` keeps.
 */
import { connect as tcpConnect } from 'node:net';
import { Cluster, Redis } from 'ioredis';

import { databaseRefusal, type RedisClient } from '../redis/connection.js';

import { redact, type Common } from './shared.js';

/**
 * An ioredis Cluster whose seed node is the URL's host and port, with its credentials and TLS.
 * `once`: give up at the first failure (a one-shot command); otherwise keep reconnecting (serve).
 */
export function clusterClient(url: string, once: boolean, timeoutMs = 5000): Cluster {
  const parsed = new URL(url);
  const secret = (value: string): string | undefined =>
    value === '' ? undefined : decodeURIComponent(value);
  return new Cluster([{ host: parsed.hostname, port: Number(parsed.port === '' ? 6379 : parsed.port) }], {
    lazyConnect: once,
    ...(once ? { clusterRetryStrategy: () => null } : {}),
    redisOptions: {
      username: secret(parsed.username),
      password: secret(parsed.password),
      connectTimeout: timeoutMs,
      ...(once ? { maxRetriesPerRequest: 1, commandTimeout: timeoutMs, disconnectTimeout: CLOSE_MS } : {}),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
}

/**
 * How long a one-shot command's disconnect waits for the server to close its side before
 * dropping the socket (ioredis: 2 s, which a stopped server makes every failing command wait).
 */
const CLOSE_MS = 200;

/** Redis did not answer in time (a stopped or overloaded server): what to tell the user. */
function noAnswer(timeoutMs: number): string {
  return `no answer within ${timeoutMs} ms (--timeout-ms): is Redis stopped or overloaded?`;
}

/** Whether a plain TCP connection to the URL's host and port opens within `timeoutMs`. */
function tcpOpens(url: string, timeoutMs: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 6379) });
    const done = (opened: boolean): void => {
      socket.destroy();
      resolve(opened);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Why a connection failed, for the message: the cause, with what it means where that is known.
 * `connected`: the socket opened (and for rediss://, the TLS handshake completed).
 */
async function reasonOf(
  url: string,
  cluster: boolean,
  failure: Error,
  { timeoutMs, connected }: { timeoutMs: number; connected: boolean },
): Promise<string> {
  // A cluster client says only that it could not read the slots; the node's own error says why.
  const node = (failure as { lastNodeError?: Error }).lastNodeError;
  if (node !== undefined) return `${failure.message} (${node.message})`;
  if (cluster && /slots/.test(failure.message)) {
    return `${failure.message} (is it a node of a Redis Cluster? Without --cluster for a single Redis)`;
  }
  // rediss:// to a port that speaks plain Redis: the handshake times out or is cut. Told apart
  // from an unreachable server by a plain TCP connection, which opens.
  if (!connected && url.startsWith('rediss:') && (await tcpOpens(url, Math.min(timeoutMs, 2000)))) {
    return (
      `TLS failed: the port accepts connections, but the TLS handshake did not complete ` +
      `(${failure.message}); for a plain (non-TLS) port, use redis://`
    );
  }
  return failure.message;
}

/**
 * A connected client for a one-shot command (`inspect`, `purge`): connecting and every command
 * give up after `timeoutMs`. ioredis's connectTimeout covers opening the socket only; a server
 * that accepts and then never answers (stopped, overloaded) would hold the ready check forever.
 */
export async function connect(url: string, cluster: boolean, timeoutMs: number): Promise<RedisClient> {
  const redis = cluster
    ? clusterClient(url, true, timeoutMs)
    : new Redis(url, {
        lazyConnect: true,
        connectTimeout: timeoutMs,
        commandTimeout: timeoutMs,
        disconnectTimeout: CLOSE_MS,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
      });
  // The 'error' event carries the cause (ECONNREFUSED, auth); connect() only says the connection closed.
  let cause: Error | undefined;
  redis.on('error', (error: Error) => (cause ??= error));
  // ioredis's 'connect': the socket is open, and for rediss:// the TLS handshake done.
  let connected = false;
  redis.once('connect', () => (connected = true));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
  const ready = redis.connect().then(
    () => 'ready' as const,
    (error: unknown) => error as Error,
  );
  const outcome = await Promise.race([ready, late]);
  clearTimeout(timer);
  if (outcome === 'ready') {
    if (cluster) return redis;
    // ioredis reports a refused SELECT (`redis://host/99`) only as an 'error' event, and stays
    // on database 0: a PING queued behind the SELECT has its answer once that event came.
    await redis.ping().catch(() => {});
    const refused = databaseRefusal(cause);
    if (refused === undefined) return redis;
    redis.disconnect();
    const db = new URL(url).pathname.slice(1);
    throw new Error(`Redis at ${redact(url)} refused database ${db}: ${cause!.message}`, { cause: refused });
  }
  let reason: string;
  if (outcome === 'late') {
    // The socket is open (or opening) and would keep the process alive.
    redis.disconnect();
    const silent = new Error(`no reply within ${timeoutMs} ms`);
    const why = await reasonOf(url, cluster, silent, { timeoutMs, connected });
    reason = why === silent.message ? noAnswer(timeoutMs) : why;
  } else {
    // Not disconnect(): on a connection that never opened, ioredis waits 2 s for a close that never comes.
    reason = await reasonOf(url, cluster, cause ?? outcome, { timeoutMs, connected });
  }
  throw new Error(`cannot connect to Redis at ${redact(url)}: ${reason}`);
}

/**
 * Run a one-shot command on a connected client (`connect()`), and close the client. A command
 * that timed out (ioredis's commandTimeout) fails with a message saying so.
 */
export async function withRedis<T>(
  { url, cluster }: Common,
  timeoutMs: number,
  run: (redis: RedisClient) => Promise<T>,
): Promise<T> {
  const redis = await connect(url, cluster, timeoutMs);
  try {
    return await run(redis);
  } catch (error) {
    if (error instanceof Error && /Command timed out/.test(error.message)) {
      throw new Error(`Redis at ${redact(url)}: ${noAnswer(timeoutMs)}`, { cause: error });
    }
    throw error;
  } finally {
    redis.disconnect();
  }
}
