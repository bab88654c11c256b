/**
 * The `shardBy: "metric"` protocol. First a control batch on `{prefix}` (metadata, sample names,
 * the gauge lease, and the library's own metrics, which keep the registry layout), then one batch
 * per changed family to the family's own group, all in flight at once. Every batch has its own
 * sequence number in its own slot, so each is applied exactly once, like a whole flush otherwise.
 * A batch whose outcome is unknown goes again, unchanged, before anything newer of its slot: an
 * earlier control batch before this flush's, and a family's earlier batch before its newer
 * changes, which wait in the family's store meanwhile — other families carry on.
 */
import { performance } from 'node:perf_hooks';
import { FlushError } from '../core/errors.js';
import type { RedisClient } from '../redis/connection.js';
import {
  flushGaugeIndexOf,
  withFlushAttempt,
  type FlushReply,
  type FlushScriptArgs,
} from '../redis/scripts.js';
import { ChunkQueue, registrySlotArgs, type ChunkSender } from './chunk-queue.js';
import { encodeBatch, encodeGroups, type EncodedBatch } from './encode.js';
import { batchContext, type FlushLayout, type LayoutState } from './layout.js';

/** What the replies of some chunks said, for the flush they belong to. */
interface Replied {
  /** Conflicts and write errors the replies named (each already reported). */
  readonly problems: Error[];
  /** One of the chunks had been applied by an earlier attempt (the flush's outcome is `duplicate`). */
  duplicate: boolean;
}

export class MetricLayout implements FlushLayout {
  readonly #state: LayoutState;
  /** The control chunks not yet acknowledged. */
  readonly #control = new ChunkQueue();
  #seq = 0;
  /** Per-family chunks not yet acknowledged, by family name (a family is here while it has some). */
  readonly #groups = new Map<string, ChunkQueue>();
  /** Gauge families whose group must empty this process's gauge hash first. */
  readonly #resetDue = new Set<string>();
  /** A control call failed, so whether it (re)claimed the gauge index is unknown. */
  #controlUncertain = false;

  constructor(state: LayoutState) {
    this.#state = state;
  }

  get unacknowledged(): number {
    let pending = this.#control.series;
    for (const queue of this.#groups.values()) pending += queue.series;
    return pending;
  }

  get unknownOutcome(): number {
    let unknown = this.#control.unknownSeries;
    for (const queue of this.#groups.values()) unknown += queue.unknownSeries;
    return unknown;
  }

  get waiting(): boolean {
    return (
      this.#control.size > 0 || this.#control.holding || this.#groups.size > 0 || this.#resetDue.size > 0
    );
  }

  async flush(redis: RedisClient, again = false): Promise<void> {
    const { host, lease, replies, unconfirmed } = this.#state;
    const started = performance.now();
    // Sections of a family whose key had the wrong type go again first: applied once it is fixed.
    this.#control.requeueHeld(() => ++this.#seq);
    for (const queue of this.#groups.values()) queue.requeueHeld(() => ++this.#seq);
    const idle = this.#control.size === 0 && this.#groups.size === 0;
    const quiet = host.buffer.size === 0 && unconfirmed.size === 0 && this.#resetDue.size === 0;
    if (idle && quiet && !lease.refreshDue()) return;
    const replied: Replied = { problems: [], duplicate: false };
    if (!idle) replies.retried();
    if (this.#control.size > 0) await this.#sendControl(redis, started, replied);
    host.selfMetrics?.sample(this.#state.undelivered(), host.stores());
    const taken = host.buffer.take();
    const waiting = taken.filter((s) => this.#groups.has(s.meta.name));
    host.buffer.requeue(waiting);
    // The library's own families stay in the control chain; one isolated there keeps its changes.
    const isolated = taken.filter((s) => s.meta.shard === undefined && this.#control.isolates(s.meta.name));
    host.buffer.requeue(isolated);
    const own = taken.filter((s) => s.meta.shard === undefined && !isolated.includes(s));
    const sharded = taken.filter((s) => s.meta.shard !== undefined && !this.#groups.has(s.meta.name));
    // Gauge families go along even unchanged when their keys' expiry is due (or to be emptied).
    const refresh = this.#resetDue.size > 0 || lease.refreshDue();
    const gauges = lease.gauges();
    const groupGauges = gauges.filter((s) => s.meta.shard !== undefined && !this.#groups.has(s.meta.name));
    const grouped = refresh ? [...new Set([...sharded, ...groupGauges])] : sharded;
    const context = batchContext(host, () => ++this.#seq, this.#state.lastValues);
    // Both encoders take their stores' changes as they are called, together with the buffer's
    // take above (nothing runs in between), and then encode side by side.
    const [control, groups] = await Promise.all([
      // Sent even without changes of its own: it keeps the gauge lease (whose index the family
      // chunks write under) alive, and checks metadata before the data it describes is sent.
      encodeBatch(own, [...unconfirmed, ...sharded], {
        ...context,
        // The library's own per-process gauges live in the registry's slot, as without sharding.
        gaugeFamilies: gauges.filter((s) => s.meta.shard === undefined).map((s) => s.meta.name),
        index: gauges.length > 0 ? '1' : '0',
      }),
      encodeGroups(grouped, { ...context, gaugeFamilies: [] }),
    ]);
    let series = 0;
    for (const chunk of control) series += chunk.series;
    this.#control.add(control);
    for (const [name, chunks] of groups) {
      const queue = new ChunkQueue();
      queue.add(chunks);
      this.#groups.set(name, queue);
      series += queue.series;
    }
    await this.#sendControl(redis, started, replied);
    // Earlier chunks still unacknowledged go with this flush's, each family in its own order.
    await this.#sendGroups(redis, started, replied);
    if (refresh) lease.refreshedMs = Date.now();
    replies.succeeded(replied.duplicate, series, started, replied.problems);
    if (replied.problems.length > 0) throw replied.problems[0]!;
    // Changes that waited behind an earlier chunk of their family, now acknowledged: they were
    // recorded before this flush was asked for, so they go now too (one more round).
    if (!again && waiting.length > 0) await this.flush(redis, true);
  }

  /** Send the control chunks; what their replies say goes into `replied`. */
  async #sendControl(redis: RedisClient, started: number, replied: Replied): Promise<void> {
    const { host, lease, replies } = this.#state;
    try {
      await this.#control.send(redis, host.settings, {
        // Only the anchor holds the gauge lease; the library's own gauges go under its index.
        argsFor: (batch, anchor, follows) => registrySlotArgs(batch, anchor, follows, lease.index),
        acknowledged: (batch, reply, anchor) => {
          // A DUP puts the chunk's families back to be checked again in the next control
          // chunk (sent before any family chunk): the conflicts it found were in the lost reply.
          const { duplicate, index, fresh } = replies.read(reply, batch.metaStores);
          replied.duplicate ||= duplicate;
          replied.problems.push(...replies.problems(reply));
          // Families found in conflict are not written: drop their pending chunks (as the
          // script skips them in a whole flush).
          for (const store of host.stores()) if (store.conflicted) this.#groups.delete(store.meta.name);
          if (anchor) this.#leaseReplied(index, fresh || duplicate);
        },
        isolated: (error) => replied.problems.push(replies.isolated(error)),
        refused: (record) => replied.problems.push(replies.refused(record)),
        wiped: () => replies.wiped(),
        behind: (at, replayed, lost) => replies.behind(at, replayed, lost),
      });
    } catch (error) {
      // It may have been applied: a (re)claimed gauge index would then go unnoticed.
      this.#controlUncertain = true;
      replies.failed(started, error);
      throw error;
    }
  }

  /** The control anchor's reply named the gauge index (`fresh`: it may have been (re)claimed). */
  #leaseReplied(index: number, fresh: boolean): void {
    const { lease } = this.#state;
    if (index >= 0 && (fresh || this.#controlUncertain || index !== lease.index)) {
      // A new or re-claimed index may hold a dead process's values: each gauge family's group
      // empties it (the script did so for gauges in this slot), and every gauge is written again.
      for (const store of lease.gauges()) {
        store.touchAll();
        if (store.meta.shard !== undefined) this.#resetDue.add(store.meta.name);
      }
    }
    this.#controlUncertain = false;
    lease.index = index;
  }

  /** Send every family's pending chunks, the families side by side; replies go into `replied`. */
  async #sendGroups(redis: RedisClient, started: number, replied: Replied): Promise<void> {
    const { host, replies } = this.#state;
    const entries = [...this.#groups];
    const results = await Promise.allSettled(
      entries.map(([name, queue]) =>
        queue.send(redis, host.settings, this.#groupSender(name, replied)).then(() => {
          // Held sections (its key has the wrong type) keep the family waiting.
          if (!queue.holding) this.#groups.delete(name);
        }),
      ),
    );
    const failures: unknown[] = [];
    for (const result of results) if (result.status === 'rejected') failures.push(result.reason);
    if (failures.length > 0) {
      const first = failures[0] as Error;
      replies.failed(started, first);
      if (failures.length === entries.length) throw first;
      throw new FlushError(
        `${failures.length} of ${entries.length} metric families failed to flush; they are kept and retried: ${first.message}`,
        { cause: first },
      );
    }
  }

  /** How one family's chunks are sent to its group, and what their replies mean. */
  #groupSender(name: string, replied: Replied): ChunkSender {
    const { host, lease, replies } = this.#state;
    const argsFor = (batch: EncodedBatch, anchor: boolean, follows: number | undefined): FlushScriptArgs => {
      // The gauge index is set per attempt (a batch encoded with "="): the current one, and the
      // anchor empties the group's gauge hash first if the index was just (re)claimed.
      const gauge = flushGaugeIndexOf(batch.args) === '=';
      const reset = anchor && this.#resetDue.has(name);
      return withFlushAttempt(batch.args, {
        ...(gauge ? { gaugeIndex: reset ? `=${lease.index}!` : `=${lease.index}` } : {}),
        ...(anchor ? {} : { gaugeFamilies: [], after: follows ?? null }),
      });
    };
    return {
      argsFor,
      acknowledged: (_batch: EncodedBatch, reply: FlushReply, anchor: boolean) => {
        if (anchor) this.#resetDue.delete(name);
        // A group's metadata entry checks the shape in the group only: the registry's metadata
        // is confirmed by the control chunks.
        const read = replies.read(reply, []);
        replied.duplicate ||= read.duplicate;
        // A lost first reply may have hidden a reset (DUP), or the group lost this process's
        // gauge hash while its lease lived elsewhere (a restarted or failed-over node): write
        // it all again.
        if (read.duplicate || read.fresh) {
          host
            .stores()
            .find((s) => s.meta.name === name && s.meta.kind === 'gauge')
            ?.touchAll();
        }
        replied.problems.push(...replies.problems(reply));
      },
      isolated: (error) => replied.problems.push(replies.isolated(error)),
      refused: (record) => replied.problems.push(replies.refused(record)),
      wiped: () => replies.wiped(),
      behind: (at, replayed, lost) => replies.behind(at, replayed, lost),
    };
  }
}
