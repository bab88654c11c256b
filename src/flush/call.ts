/**
 * One flush script call: bounded by `flushTimeoutMs`, refused while a Redis Cluster slot moves
 * (MOVING) or out of order (GAP), and with `durability` acknowledged only once enough replicas
 * have it (WAIT).
 */
import { ReplyError, type Redis } from 'ioredis';
import { FlushError, FlushTimeoutError, PrometheusRedisError, WrongKeyTypeError } from '../core/errors.js';
import { withTimeout, type RedisClient } from '../redis/connection.js';
import { callFlush, type FlushReply } from '../redis/scripts.js';
import type { EncodedBatch } from './encode.js';
import type { FlusherSettings } from './host.js';

/** Failed attempts that Redis answered without applying the batch (see `refusedByRedis`). */
const refusals = new WeakSet<Error>();

/**
 * Whether a `sendBatch` failure is Redis's answer that the batch was not applied (an error
 * reply, MOVING, GAP). Any other failure (no reply within flushTimeoutMs, the connection lost
 * with the call on it, replicas not confirming) leaves the outcome unknown: Redis may have it.
 */
export function refusedByRedis(error: unknown): boolean {
  return error instanceof Error && refusals.has(error);
}

/** Refusals that were a GAP reply (see `answeredGap`). */
const gaps = new WeakSet<Error>();

/** Whether a `sendBatch` failure was a GAP reply: the chunk before it was not applied (yet). */
export function answeredGap(error: unknown): boolean {
  return error instanceof Error && gaps.has(error);
}

function refusal<E extends Error>(error: E): E {
  refusals.add(error);
  return error;
}

/** The reply of a refused attempt whose key had the wrong type (for the gauge index it names). */
const wrongTypeReplies = new WeakMap<WrongKeyTypeError, FlushReply>();

/** Refusals that were a BEHIND reply: Redis's last applied sequence number, and freshIndex. */
const behind = new WeakMap<Error, { at: number; fresh: boolean }>();

/**
 * When a `sendBatch` failure was a BEHIND reply (an anchor that expected a batch Redis no longer
 * has): Redis's last applied sequence number, and whether the attempt (re)claimed the gauge index.
 */
export function behindAt(error: unknown): { at: number; fresh: boolean } | undefined {
  return error instanceof Error ? behind.get(error) : undefined;
}

/** The reply that refused a batch with `error` (a `WRONGTYPE` one), if any. */
export function replyOf(error: WrongKeyTypeError): FlushReply | undefined {
  return wrongTypeReplies.get(error);
}

function wrongKeyType(reply: FlushReply): WrongKeyTypeError {
  // firstError: "key <key> holds a <type>, not the <type> the library writes there".
  const detail = reply[5];
  const at = detail.lastIndexOf(' holds a ');
  const key = at > 4 ? detail.slice(4, at) : detail;
  const error = new WrongKeyTypeError(key, detail, reply[6] === '' ? undefined : reply[6]);
  wrongTypeReplies.set(error, reply);
  return error;
}

/**
 * Send one batch. Resolves with the reply once Redis applied the batch (or had applied it);
 * throws a PrometheusRedisError otherwise, and the caller keeps the batch for a retry.
 */
export async function sendBatch(
  redis: RedisClient,
  batch: EncodedBatch,
  settings: Pick<FlusherSettings, 'flushTimeoutMs' | 'durability'>,
): Promise<FlushReply> {
  let reply: FlushReply;
  try {
    const ms = settings.flushTimeoutMs;
    reply = await withTimeout(
      callFlush(redis, batch.args),
      ms,
      () => new FlushTimeoutError(`Flush got no reply within flushTimeoutMs (${ms} ms); it will be retried`),
    );
  } catch (error) {
    if (error instanceof PrometheusRedisError) throw error;
    const failed = new FlushError(
      `Flush failed; its ${batch.series} series are kept and retried: ${(error as Error).message}`,
      { cause: error },
    );
    // An error reply (OOM, READONLY, NOPERM, …): Redis answered, and no delta applied (the
    // script's delta writes report their errors in the reply; only the steps before them raise).
    throw error instanceof ReplyError ? refusal(failed) : failed;
  }
  if (reply[0] === 'MOVING') {
    // Redis Cluster is moving this batch's slot: the script stopped before writing anything.
    throw refusal(
      new FlushError(
        `Flush deferred while the Redis Cluster slot moves; its ${batch.series} series are kept and retried: ${reply[5]}`,
      ),
    );
  }
  if (reply[0] === 'WRONGTYPE') {
    // A key the batch writes holds another type: nothing applied, the sequence number unused.
    throw refusal(wrongKeyType(reply));
  }
  if (reply[0] === 'BEHIND') {
    // Redis lost batches this process had acknowledged (a failover): nothing applied.
    const error = new FlushError(
      `Flush not applied: Redis has lost batches this process had acknowledged (it is at ${reply[8]}); they go first`,
    );
    behind.set(error, { at: Number(reply[8]), fresh: reply[2] === '1' });
    throw refusal(error);
  }
  if (reply[0] === 'GAP') {
    // A chunk sent after one Redis did not apply: nothing applied; it goes again after that one.
    const gap = new FlushError(
      `Flush chunk not applied: the chunk before it was not; its ${batch.series} series are kept and retried in order`,
    );
    gaps.add(gap);
    throw refusal(gap);
  }
  const durability = settings.durability;
  if (durability !== undefined) {
    // Applied on the primary; count it acknowledged only once `replicas` replicas have it too.
    // Otherwise keep the batch: a retry is recognised as a duplicate by a primary that has it,
    // and applied by a newly promoted replica that never received it — exactly once either way.
    const acked = await (redis as Redis).wait(durability.replicas, durability.timeoutMs).catch(() => -1);
    if (acked < durability.replicas) {
      throw new FlushError(
        `Flush applied but acknowledged by ${Math.max(acked, 0)} of ${durability.replicas} replica(s) within ${durability.timeoutMs} ms; it is kept and retried`,
      );
    }
  }
  return reply;
}
