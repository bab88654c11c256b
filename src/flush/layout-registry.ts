/**
 * The `shardBy: "registry"` protocol: every key of the registry in one slot, so a flush is one
 * chain of chunks on one connection — one script call when it fits in one chunk. Chunks whose
 * outcome is unknown are sent again, unchanged and under the same sequence numbers, before
 * anything newer.
 */
import { performance } from 'node:perf_hooks';
import type { RedisClient } from '../redis/connection.js';
import type { FlushReply } from '../redis/scripts.js';
import { ChunkQueue, registrySlotArgs } from './chunk-queue.js';
import { encodeBatch, type EncodedBatch } from './encode.js';
import { batchContext, type FlushLayout, type LayoutState } from './layout.js';

export class RegistryLayout implements FlushLayout {
  readonly #state: LayoutState;
  readonly #chunks = new ChunkQueue();
  #seq = 0;

  constructor(state: LayoutState) {
    this.#state = state;
  }

  get unacknowledged(): number {
    return this.#chunks.series;
  }

  get unknownOutcome(): number {
    return this.#chunks.unknownSeries;
  }

  get waiting(): boolean {
    return this.#chunks.size > 0 || this.#chunks.holding;
  }

  async flush(redis: RedisClient): Promise<void> {
    const { host, lease, unconfirmed } = this.#state;
    // Sections of a family whose key had the wrong type go again first: applied once it is fixed.
    this.#chunks.requeueHeld(() => ++this.#seq);
    // Problems the replies named (conflicts, refused writes, a family held): the flush goes on
    // with the new changes, then rejects with the first.
    const problems: Error[] = [];
    if (this.#chunks.size > 0) {
      this.#state.replies.retried();
      problems.push(...(await this.#send(redis)));
    }
    const heartbeat = lease.refreshDue();
    if (host.buffer.size === 0 && unconfirmed.size === 0 && !heartbeat) {
      if (problems.length > 0) throw problems[0]!;
      return;
    }
    host.selfMetrics?.sample(this.#state.undelivered(), host.stores());
    const taken = host.buffer.take();
    // A family still isolated keeps its changes in its store until its held sections apply.
    const isolated = taken.filter((store) => this.#chunks.isolates(store.meta.name));
    host.buffer.requeue(isolated);
    const stores = isolated.length === 0 ? taken : taken.filter((store) => !isolated.includes(store));
    const chunks = await encodeBatch(stores, [...unconfirmed], {
      ...batchContext(host, () => ++this.#seq, this.#state.lastValues),
      gaugeFamilies: lease.gauges().map((s) => s.meta.name),
    });
    this.#chunks.add(chunks);
    problems.push(...(await this.#send(redis)));
    if (problems.length > 0) throw problems[0]!;
  }

  /** Send the queued chunks; returns the problems their replies named (each already reported). */
  async #send(redis: RedisClient): Promise<Error[]> {
    const { host, lease, replies } = this.#state;
    const started = performance.now();
    const series = this.#chunks.series;
    const problems: Error[] = [];
    let duplicate = false;
    try {
      await this.#chunks.send(redis, host.settings, {
        argsFor: (batch, anchor, follows) => registrySlotArgs(batch, anchor, follows, lease.index),
        acknowledged: (batch: EncodedBatch, reply: FlushReply, anchor: boolean) => {
          const read = replies.read(reply, batch.metaStores);
          duplicate ||= read.duplicate;
          if (anchor) {
            // Only an anchor holds the gauge index (argument "1"): its reply says which.
            lease.refreshedMs = Date.now();
            lease.index = read.index;
            // A DUP may hide a lost first reply that said the index was (re)claimed.
            // A new or re-claimed gauge index starts empty: write every per-process gauge again.
            if (read.fresh || read.duplicate) for (const store of lease.gauges()) store.touchAll();
          }
          problems.push(...replies.problems(reply));
        },
        isolated: (error) => problems.push(replies.isolated(error)),
        wiped: () => replies.wiped(),
        behind: (at, replayed, lost) => replies.behind(at, replayed, lost),
        refused: (record) => problems.push(replies.refused(record)),
      });
    } catch (error) {
      replies.failed(started, error);
      throw error;
    }
    replies.succeeded(duplicate, series, started, problems);
    return problems;
  }
}
