/**
 * One slot's chain of flush chunks not yet acknowledged, and the order they are sent in: the
 * first alone as an anchor, then the others after their predecessors with a small window in
 * flight. Why this keeps every chunk exactly once is in docs/architecture.md ("Chunked flushes").
 */
import type { RedisClient } from '../redis/connection.js';
import { withFlushAttempt, type FlushReply, type FlushScriptArgs } from '../redis/scripts.js';
import { refusedByRedis, sendBatch } from './call.js';
import type { EncodedBatch } from './encode.js';
import type { FlusherSettings } from './host.js';

/** A queued chunk and the chunk it follows in its chain (undefined for the chain's first). */
interface Link {
  readonly batch: EncodedBatch;
  readonly follows: number | undefined;
  /** An attempt is on the connection, unanswered. */
  inFlight: boolean;
  /** An earlier attempt got no answer saying it was not applied: Redis may have applied it. */
  uncertain: boolean;
}

/** How a layout sends the chunks of one chain. */
export interface ChunkSender {
  /**
   * The arguments of one attempt. `anchor`: the chunk goes first and alone (it carries the lease
   * work, and applies whenever its sequence number is new); otherwise it follows `follows`
   * (`after`), and its gauge index is the one the anchor's reply confirmed.
   */
  argsFor(batch: EncodedBatch, anchor: boolean, follows: number | undefined): FlushScriptArgs;
  /** One acknowledged chunk (OK or DUP), in order. */
  acknowledged(batch: EncodedBatch, reply: FlushReply, anchor: boolean): void;
}

type Outcome = { ok: true; reply: FlushReply } | { ok: false; error: unknown };

/**
 * The arguments of a chunk in the registry's slot (`{prefix}`): an anchor goes as encoded (it
 * holds or claims the gauge index, argument "1", and keeps every gauge family's keys alive); a
 * chunk after it writes under the index the anchor's reply named (`index`, -1 for none), lists
 * no gauge family, and applies only right after the chunk it follows.
 */
export function registrySlotArgs(
  batch: EncodedBatch,
  anchor: boolean,
  follows: number | undefined,
  index: number,
): FlushScriptArgs {
  if (anchor) return batch.args;
  return withFlushAttempt(batch.args, {
    gaugeIndex: index >= 0 ? `=${index}` : '0',
    gaugeFamilies: [],
    after: follows ?? null,
  });
}

export class ChunkQueue {
  #links: Link[] = [];
  /** Sequence number of the newest chunk ever queued. */
  #last: number | undefined;

  /** Chunks not yet acknowledged. */
  get size(): number {
    return this.#links.length;
  }

  /** Series in chunks not yet acknowledged. */
  get series(): number {
    let series = 0;
    for (const link of this.#links) series += link.batch.series;
    return series;
  }

  /**
   * Series in chunks sent and not acknowledged whose outcome is unknown: in flight now, or an
   * attempt that got no answer (a timeout, the connection lost). The others were never sent, or
   * Redis answered that it did not apply them.
   */
  get unknownSeries(): number {
    let series = 0;
    for (const link of this.#links) if (link.inFlight || link.uncertain) series += link.batch.series;
    return series;
  }

  /** Queue a flush's chunks, in their order, after everything queued before. */
  add(chunks: readonly EncodedBatch[]): void {
    for (const batch of chunks) {
      this.#links.push({ batch, follows: this.#last, inFlight: false, uncertain: false });
      this.#last = batch.seq;
    }
  }

  /** Forget every queued chunk (a family found in conflict is never written). */
  clear(): void {
    this.#links = [];
  }

  /**
   * Send every queued chunk in order. The first goes alone, as an anchor (no `after`: its
   * predecessor, if any, was acknowledged), and the others wait for its reply; they then go
   * with at most `window` in flight, each applied by Redis only right after the one it follows.
   * Once one fails, nothing more is sent; those in flight settle (after a failed chunk they
   * answer GAP, having applied nothing) and the first failure is thrown. What was not
   * acknowledged stays queued, unchanged, for the next attempt.
   */
  async send(
    redis: RedisClient,
    settings: Pick<FlusherSettings, 'flushTimeoutMs' | 'durability' | 'flushWindow'>,
    sender: ChunkSender,
  ): Promise<void> {
    const window = settings.flushWindow;
    const call = async (link: Link, args: FlushScriptArgs): Promise<FlushReply> => {
      link.inFlight = true;
      try {
        return await sendBatch(redis, { ...link.batch, args }, settings);
      } catch (error) {
        link.uncertain ||= !refusedByRedis(error);
        throw error;
      } finally {
        link.inFlight = false;
      }
    };
    const first = this.#links[0];
    if (first === undefined) return;
    const reply = await call(first, sender.argsFor(first.batch, true, undefined));
    this.#links.shift();
    sender.acknowledged(first.batch, reply, true);

    const links = [...this.#links];
    const outcomes: Array<Promise<Outcome>> = [];
    const acknowledged = new Set<Link>();
    let failure: { error: unknown } | undefined;
    const launch = (done: number): void => {
      while (failure === undefined && outcomes.length < links.length && outcomes.length - done < window) {
        const link = links[outcomes.length]!;
        const args = sender.argsFor(link.batch, false, link.follows);
        outcomes.push(
          call(link, args).then(
            (ok): Outcome => ({ ok: true, reply: ok }),
            (error: unknown): Outcome => ({ ok: false, error }),
          ),
        );
      }
    };
    launch(0);
    // Replies come back in the order the chunks were sent (one connection): read them so.
    for (let done = 0; done < outcomes.length;) {
      const outcome = await outcomes[done]!;
      const link = links[done]!;
      done++;
      if (outcome.ok) {
        acknowledged.add(link);
        sender.acknowledged(link.batch, outcome.reply, false);
      } else failure ??= { error: outcome.error };
      launch(done);
    }
    this.#links = this.#links.filter((link) => !acknowledged.has(link));
    if (failure !== undefined) throw failure.error;
  }
}
