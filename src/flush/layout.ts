/**
 * What the two flush layouts share: the small interface the flusher drives them through, and
 * the state they work on (the host, the reply handler, the gauge lease, the families whose
 * metadata is unconfirmed).
 */
import type { SeriesStore } from '../buffer/series-store.js';
import type { RedisClient } from '../redis/connection.js';
import type { BatchContext } from './encode.js';
import type { GaugeLease } from './gauge-lease.js';
import type { LastValues } from './last-values.js';
import type { FlusherHost } from './host.js';
import type { ReplyHandler } from './reply.js';

/** One way of laying a flush out over Redis (`shardBy`). */
export interface FlushLayout {
  /** Series in batches sent but not yet acknowledged. */
  readonly unacknowledged: number;
  /** Of those, series whose outcome is unknown: sent and unanswered (Redis may have them). */
  readonly unknownOutcome: number;
  /** Whether work is left besides new changes: a batch to send again, a gauge group to empty. */
  readonly waiting: boolean;
  /** One flush on a ready connection: earlier unacknowledged batches first, then the new changes. */
  flush(redis: RedisClient): Promise<void>;
}

/** What a layout works with; shared with the flusher that owns it. */
export interface LayoutState {
  readonly host: FlusherHost;
  readonly replies: ReplyHandler;
  readonly lease: GaugeLease;
  /** Families whose metadata the next registry-wide batch carries (new, or to check again). */
  readonly unconfirmed: Set<SeriesStore>;
  /** Series recorded but not yet acknowledged (sampled before each flush takes the buffer). */
  undelivered(): number;
  /** What this process last set on its common gauges (written again after a wipe). */
  readonly lastValues: LastValues;
}

/** Everything a flush's encoding needs besides its gauge families. */
export function batchContext(
  host: FlusherHost,
  nextSeq: () => number,
  lastValues: LastValues,
): Omit<BatchContext, 'gaugeFamilies'> {
  return {
    lastValues,
    keys: host.keys,
    processId: host.processId,
    tokenTtlSeconds: host.settings.tokenTtlSeconds,
    expireSeconds: host.settings.expireSeconds,
    chunkUpdates: host.settings.flushChunkUpdates,
    nextSeq,
  };
}
