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
import { sendBatch } from './call.js';
import { encodeBatch, encodeGroups, withGaugeIndex, type EncodedBatch } from './encode.js';
import { batchContext, type FlushLayout, type LayoutState } from './layout.js';
import type { FlushReply } from '../redis/scripts.js';

/** What the replies of some batches said, for the flush they belong to. */
interface Replied {
  /** Conflicts and write errors the replies named (each already reported). */
  readonly problems: Error[];
  /** One of the batches had been applied by an earlier attempt (the flush's outcome is `duplicate`). */
  readonly duplicate: boolean;
}

export class MetricLayout implements FlushLayout {
  readonly #state: LayoutState;
  /** The control batch not yet acknowledged. */
  #pending: EncodedBatch | undefined;
  #seq = 0;
  /** Per-family batches not yet acknowledged, by family name. */
  readonly #pendingGroups = new Map<string, EncodedBatch>();
  /** Gauge families whose group must empty this process's gauge hash first. */
  readonly #resetDue = new Set<string>();
  /** A control call failed, so whether it (re)claimed the gauge index is unknown. */
  #controlUncertain = false;

  constructor(state: LayoutState) {
    this.#state = state;
  }

  get unacknowledged(): number {
    let pending = this.#pending?.series ?? 0;
    for (const batch of this.#pendingGroups.values()) pending += batch.series;
    return pending;
  }

  get waiting(): boolean {
    return this.#pending !== undefined || this.#pendingGroups.size > 0 || this.#resetDue.size > 0;
  }

  async flush(redis: RedisClient, again = false): Promise<void> {
    const { host, lease, replies, unconfirmed } = this.#state;
    const started = performance.now();
    const idle = this.#pending === undefined && this.#pendingGroups.size === 0;
    const quiet = host.buffer.size === 0 && unconfirmed.size === 0 && this.#resetDue.size === 0;
    if (idle && quiet && !lease.refreshDue()) return;
    const problems: Error[] = [];
    let duplicate = false;
    if (!idle) replies.retried();
    if (this.#pending !== undefined) {
      const earlier = await this.#sendControl(redis, this.#pending, started);
      problems.push(...earlier.problems);
      duplicate ||= earlier.duplicate;
    }
    host.selfMetrics?.sample(this.#state.undelivered(), host.stores());
    const taken = host.buffer.take();
    const waiting = taken.filter((s) => this.#pendingGroups.has(s.meta.name));
    host.buffer.requeue(waiting);
    const own = taken.filter((s) => s.meta.shard === undefined);
    const sharded = taken.filter((s) => s.meta.shard !== undefined && !this.#pendingGroups.has(s.meta.name));
    // Gauge families go along even unchanged when their keys' expiry is due (or to be emptied).
    const refresh = this.#resetDue.size > 0 || lease.refreshDue();
    const gauges = lease.gauges();
    const groupGauges = gauges.filter(
      (s) => s.meta.shard !== undefined && !this.#pendingGroups.has(s.meta.name),
    );
    const grouped = refresh ? [...new Set([...sharded, ...groupGauges])] : sharded;
    const seq = ++this.#seq;
    // Both encoders take their stores' changes as they are called, together with the buffer's
    // take above (nothing runs in between), and then encode side by side.
    const [control, batches] = await Promise.all([
      // Sent even without changes of its own: it keeps the gauge lease (whose index the family
      // batches write under) alive, and checks metadata before the data it describes is sent.
      encodeBatch(own, [...unconfirmed, ...sharded], seq, {
        ...batchContext(host),
        // The library's own per-process gauges live in the registry's slot, as without sharding.
        gaugeFamilies: gauges.filter((s) => s.meta.shard === undefined).map((s) => s.meta.name),
        index: gauges.length > 0 ? '1' : '0',
      }),
      encodeGroups(grouped, seq, { ...batchContext(host), gaugeFamilies: [] }),
    ]);
    let series = control.series;
    this.#pending = control;
    for (const [name, batch] of batches) {
      this.#pendingGroups.set(name, batch);
      series += batch.series;
    }
    const controlled = await this.#sendControl(redis, control, started);
    // Earlier batches still unacknowledged go with this flush's, each family in its own order.
    const groups = await this.#sendGroups(redis, started);
    problems.push(...controlled.problems, ...groups.problems);
    duplicate ||= controlled.duplicate || groups.duplicate;
    if (refresh) lease.refreshedMs = Date.now();
    replies.succeeded(duplicate, series, started);
    if (problems.length > 0) throw problems[0]!;
    // Changes that waited behind an earlier batch of their family, now acknowledged: they were
    // recorded before this flush was asked for, so they go now too (one more round).
    if (!again && waiting.length > 0) await this.flush(redis, true);
  }

  /** Send the control batch; resolves with what its reply says. */
  async #sendControl(redis: RedisClient, batch: EncodedBatch, started: number): Promise<Replied> {
    const { host, lease, replies } = this.#state;
    let reply: FlushReply;
    try {
      reply = await sendBatch(redis, batch, host.settings);
    } catch (error) {
      // It may have been applied: a (re)claimed gauge index would then go unnoticed.
      this.#controlUncertain = true;
      replies.failed(started, error);
      throw error;
    }
    this.#pending = undefined;
    // A DUP puts the batch's families back to be checked again in the next control batch (sent
    // before any family batch): the conflicts it found were in the lost reply.
    const { duplicate, index, fresh } = replies.read(reply, batch.metaStores);
    const problems = replies.problems(reply);
    // Families found in conflict are not written: drop their pending batches (as the script
    // skips them in a whole flush).
    for (const store of host.stores()) if (store.conflicted) this.#pendingGroups.delete(store.meta.name);
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
    return { problems, duplicate };
  }

  /** Send every pending family batch at once; resolves with what their replies say. */
  async #sendGroups(redis: RedisClient, started: number): Promise<Replied> {
    const { host, lease, replies } = this.#state;
    const entries = [...this.#pendingGroups];
    const results = await Promise.allSettled(
      entries.map(([name, batch]) =>
        // The gauge index is set per attempt: the current one, emptied first if just (re)claimed.
        sendBatch(
          redis,
          { ...batch, args: withGaugeIndex(batch, lease.index, this.#resetDue.has(name)) },
          host.settings,
        ),
      ),
    );
    const problems: Error[] = [];
    const failures: unknown[] = [];
    let duplicate = false;
    results.forEach((result, i) => {
      const [name] = entries[i]!;
      if (result.status === 'rejected') {
        failures.push(result.reason);
        return;
      }
      this.#pendingGroups.delete(name);
      this.#resetDue.delete(name);
      const reply = result.value;
      // A group's metadata entry checks the shape in the group only: the registry's metadata is
      // confirmed by the control batch.
      const read = replies.read(reply, []);
      duplicate ||= read.duplicate;
      // A lost first reply may have hidden a reset (DUP), or the group lost this process's gauge
      // hash while its lease lived elsewhere (a restarted or failed-over node): write it all again.
      if (read.duplicate || read.fresh) {
        host
          .stores()
          .find((s) => s.meta.name === name && s.meta.kind === 'gauge')
          ?.touchAll();
      }
      problems.push(...replies.problems(reply));
    });
    if (failures.length > 0) {
      const first = failures[0] as Error;
      replies.failed(started, first);
      if (failures.length === entries.length) throw first;
      throw new FlushError(
        `${failures.length} of ${entries.length} metric families failed to flush; they are kept and retried: ${first.message}`,
        { cause: first },
      );
    }
    return { problems, duplicate };
  }
}
