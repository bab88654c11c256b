/**
 * The `shardBy: "registry"` protocol: every key of the registry in one slot, so a flush is one
 * batch in one script call. A batch whose outcome is unknown is sent again, unchanged and under
 * the same sequence number, before anything newer.
 */
import { performance } from 'node:perf_hooks';
import type { RedisClient } from '../redis/connection.js';
import { sendBatch } from './call.js';
import { encodeBatch, type EncodedBatch } from './encode.js';
import { batchContext, type FlushLayout, type LayoutState } from './layout.js';
import type { FlushReply } from '../redis/scripts.js';

export class RegistryLayout implements FlushLayout {
  readonly #state: LayoutState;
  #pending: EncodedBatch | undefined;
  #seq = 0;

  constructor(state: LayoutState) {
    this.#state = state;
  }

  get unacknowledged(): number {
    return this.#pending?.series ?? 0;
  }

  get waiting(): boolean {
    return this.#pending !== undefined;
  }

  async flush(redis: RedisClient): Promise<void> {
    const { host, lease, unconfirmed } = this.#state;
    if (this.#pending !== undefined) {
      this.#state.replies.retried();
      await this.#send(redis, this.#pending);
    }
    const heartbeat = lease.refreshDue();
    if (host.buffer.size === 0 && unconfirmed.size === 0 && !heartbeat) return;
    host.selfMetrics?.sample(this.#state.undelivered(), host.stores());
    const stores = host.buffer.take();
    const batch = await encodeBatch(stores, [...unconfirmed], ++this.#seq, {
      ...batchContext(host),
      gaugeFamilies: lease.gauges().map((s) => s.meta.name),
    });
    this.#pending = batch;
    await this.#send(redis, batch);
  }

  async #send(redis: RedisClient, batch: EncodedBatch): Promise<void> {
    const { host, lease, replies } = this.#state;
    const started = performance.now();
    let reply: FlushReply;
    try {
      reply = await sendBatch(redis, batch, host.settings);
    } catch (error) {
      replies.failed(started, error);
      throw error;
    }
    this.#pending = undefined;
    const { duplicate, index, fresh } = replies.read(reply, batch.metaStores);
    replies.succeeded(duplicate, batch.series, started);
    lease.refreshedMs = Date.now();
    lease.index = index;
    // A DUP may hide a lost first reply that said the index was (re)claimed: rewrite to be safe.
    if (fresh || duplicate) {
      // A new or re-claimed gauge index starts empty: write every per-process gauge again.
      for (const store of lease.gauges()) store.touchAll();
    }
    const problems = replies.problems(reply);
    if (problems.length > 0) throw problems[0]!;
  }
}
