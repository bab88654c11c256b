/**
 * One slot's chain of flush chunks not yet acknowledged, and the order they are sent in: the
 * first alone as an anchor, then the others after their predecessors with a small window in
 * flight. Why this keeps every chunk exactly once is in docs/architecture.md ("Chunked flushes").
 */
import { ReplyError } from 'ioredis';
import { FlushError, WrongKeyTypeError } from '../core/errors.js';
import { labelKeyOf } from '../redis/fields.js';
import type { RedisClient } from '../redis/connection.js';
import {
  seriesOfSections,
  withoutFamily,
  withoutLargestRecord,
  withRecordsApart,
  type RefusedRecord,
} from '../redis/flush-sections.js';
import { heldFlushArgs, withFlushAttempt, type FlushReply, type FlushScriptArgs } from '../redis/scripts.js';
import { answeredGap, behindAt, refusedByRedis, replyOf, sendBatch } from './call.js';
import type { EncodedBatch } from './encode.js';
import type { FlusherSettings } from './host.js';

/** A queued chunk and the chunk it follows in its chain (undefined for the chain's first). */
interface Link {
  /** Replaced, never changed, when a family is taken out (its key has the wrong type). */
  batch: EncodedBatch;
  readonly follows: number | undefined;
  /** An attempt is on the connection, unanswered. */
  inFlight: boolean;
  /** An earlier attempt got no answer saying it was not applied: Redis may have applied it. */
  uncertain: boolean;
  /** A refused attempt's reply said the gauge index was (re)claimed: the acknowledged one says so too. */
  fresh: boolean;
  /** Redis refused the chunk outright (an argument too large): its big sections went apart. */
  split?: boolean;
  /** The chunk holds only this family's sections, taken out of an earlier chunk and sent again. */
  readonly heldFamily?: string;
}

/** A family's sections taken out of a chunk (its key has the wrong type), until they are sent again. */
interface Held {
  readonly family: string;
  /** The chunk they came from (its keys, process and gauge settings). */
  readonly template: FlushScriptArgs;
  readonly sections: ReadonlyArray<string | Buffer>;
  readonly series: number;
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
  /**
   * A family's key has the wrong type: its sections were taken out of a chunk (kept, and sent
   * again at the next flush: `requeueHeld`) and the rest sent again.
   */
  isolated(error: WrongKeyTypeError): void;
  /**
   * Redis refused a chunk outright (an argument past proto-max-bulk-len) and taking its big
   * sections apart did not help: this series, the largest, was dropped from it.
   */
  refused(record: RefusedRecord): void;
  /**
   * An applied chunk found its chain's process key missing although an earlier chunk was
   * acknowledged within the key's TTL: Redis lost this process's keys (a wipe).
   */
  wiped(): void;
  /**
   * Redis is behind this chain (at `at`): it lost batches this process had acknowledged (a
   * failover to a replica that missed them). `replayed` of them were kept and go again first;
   * `lost` is true when some were not kept (no `durability`, or older than its replay window).
   */
  behind(at: number, replayed: number, lost: boolean): void;
}

/** Payloads over this many bytes are taken apart, record by record, when Redis refuses a chunk outright. */
const APART_BYTES = 64 * 1024;

/**
 * Whether Redis refused a call outright, before running it, for an argument it will never take
 * (`proto-max-bulk-len`): a protocol error, which no retry fixes.
 */
function refusedOutright(error: unknown): boolean {
  const cause: unknown = error instanceof FlushError ? error.cause : undefined;
  return cause instanceof ReplyError && /invalid bulk length|Protocol error/i.test((cause as Error).message);
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
  /** Sections taken out of chunks (a family whose key has the wrong type), to send again. */
  #held: Held[] = [];
  /** Sequence number of the newest chunk ever queued. */
  #last: number | undefined;
  /** When a chunk of this chain was last acknowledged (Date.now()). */
  #ackedAtMs: number | undefined;
  /**
   * The sequence number the next anchor expects Redis to have applied (the last acknowledged
   * chunk's): an anchor finding Redis behind it answers BEHIND instead of applying.
   */
  #expect: number | undefined;
  /** Acknowledged chunks kept for the replay window (`durability`), oldest first. */
  #kept: Array<{ readonly batch: EncodedBatch; readonly atMs: number }> = [];
  /** The newest sequence number acknowledged and no longer kept. */
  #forgotten = 0;

  /** Chunks not yet acknowledged. */
  get size(): number {
    return this.#links.length;
  }

  /** Whether sections taken out of chunks wait to be sent again (`requeueHeld`). */
  get holding(): boolean {
    return this.#held.length > 0;
  }

  /** Series in chunks not yet acknowledged, and in sections held to be sent again. */
  get series(): number {
    let series = 0;
    for (const link of this.#links) series += link.batch.series;
    for (const held of this.#held) series += held.series;
    return series;
  }

  /**
   * Whether `family` is kept out of new chunks: its key had the wrong type, and its sections
   * taken out then are not yet applied. Its changes wait in its store meanwhile.
   */
  isolates(family: string): boolean {
    return (
      this.#held.some((held) => held.family === family) ||
      this.#links.some((link) => link.heldFamily === family)
    );
  }

  /**
   * Queue the held sections again, each group as a chunk of its own under a new sequence number
   * (`nextSeq`), after everything queued: sent, they apply if the key was fixed, or are taken
   * out and held again.
   */
  requeueHeld(nextSeq: () => number): void {
    const held = this.#held;
    this.#held = [];
    for (const { family, template, sections, series } of held) {
      const seq = nextSeq();
      const batch: EncodedBatch = {
        seq,
        args: heldFlushArgs(template, seq, sections),
        series,
        metaStores: [],
      };
      this.#links.push({
        batch,
        follows: this.#last,
        inFlight: false,
        uncertain: false,
        fresh: false,
        heldFamily: family,
      });
      this.#last = seq;
    }
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
      this.#links.push({ batch, follows: this.#last, inFlight: false, uncertain: false, fresh: false });
      this.#last = batch.seq;
    }
  }

  /**
   * Send every queued chunk in order. The first goes alone, as an anchor (no `after`: its
   * predecessor, if any, was acknowledged), and the others wait for its reply; they then go
   * with at most `window` in flight, each applied by Redis only right after the one it follows.
   * Once one fails, nothing more is sent; those in flight settle (after a failed chunk they
   * answer GAP, having applied nothing) and the first failure is thrown. What was not
   * acknowledged stays queued, unchanged, for the next attempt — except a family whose key has
   * the wrong type: its sections are taken out (held, see `requeueHeld`) and the rest is sent
   * again at once, and a follower that answered GAP behind it goes again too.
   */
  async send(
    redis: RedisClient,
    settings: Pick<FlusherSettings, 'flushTimeoutMs' | 'durability' | 'flushWindow' | 'tokenTtlSeconds'>,
    sender: ChunkSender,
  ): Promise<void> {
    const window = settings.flushWindow;
    const keepMs = settings.durability?.replayWindowMs ?? 0;
    // The process key lives tokenTtlSeconds after the last applied chunk: missing well within
    // that, Redis lost it.
    const acknowledged = (batch: EncodedBatch, reply: FlushReply, anchor: boolean): void => {
      const now = Date.now();
      const lost = reply[0] === 'OK' && reply[8] === '0' && this.#ackedAtMs !== undefined;
      if (lost && now - this.#ackedAtMs! < settings.tokenTtlSeconds * 900) sender.wiped();
      this.#ackedAtMs = now;
      this.#expect = Math.max(this.#expect ?? 0, batch.seq);
      this.#keep(batch, now, keepMs);
      sender.acknowledged(batch, reply, anchor);
    };
    const once = async (link: Link, anchor: boolean): Promise<FlushReply> => {
      link.inFlight = true;
      try {
        const given = sender.argsFor(link.batch, anchor, anchor ? undefined : link.follows);
        const expect = this.#expect;
        const args =
          anchor && expect !== undefined ? withFlushAttempt(given, { after: { atLeast: expect } }) : given;
        return await sendBatch(redis, { ...link.batch, args }, settings);
      } catch (error) {
        link.uncertain ||= !refusedByRedis(error);
        throw error;
      } finally {
        link.inFlight = false;
      }
    };
    // One chunk until Redis acknowledges or refuses it, taking out each family it finds with a
    // key of the wrong type (at most one per reply, each attempt holding fewer sections).
    const call = async (link: Link, anchor: boolean): Promise<FlushReply> => {
      for (;;) {
        try {
          const reply = await once(link, anchor);
          if (link.fresh && reply[2] !== '1')
            return [reply[0], reply[1], '1', ...reply.slice(3)] as FlushReply;
          return reply;
        } catch (error) {
          if (refusedOutright(error)) {
            const refused = this.#shrink(link);
            if (refused === undefined) throw error;
            if (refused !== null) sender.refused(refused);
            continue;
          }
          if (!(error instanceof WrongKeyTypeError) || error.metric === undefined) throw error;
          if (!this.#takeOut(link, error.metric)) throw error;
          link.fresh ||= replyOf(error)?.[2] === '1';
          sender.isolated(error);
        }
      }
    };
    const first = this.#links[0];
    if (first === undefined) return;
    let reply: FlushReply;
    try {
      reply = await call(first, true);
    } catch (error) {
      const behind = behindAt(error);
      if (behind === undefined) throw error;
      this.#replay(behind.at, behind.fresh || first.fresh, sender);
      return this.send(redis, settings, sender);
    }
    this.#links.shift();
    acknowledged(first.batch, reply, true);

    const links = [...this.#links];
    const outcomes: Array<Promise<Outcome>> = [];
    const settle = (link: Link): Promise<Outcome> =>
      call(link, false).then(
        (ok): Outcome => ({ ok: true, reply: ok }),
        (error: unknown): Outcome => ({ ok: false, error }),
      );
    const applied = new Set<Link>();
    const resent = new Set<Link>();
    let failure: { error: unknown } | undefined;
    const launch = (done: number): void => {
      while (failure === undefined && outcomes.length < links.length && outcomes.length - done < window) {
        outcomes.push(settle(links[outcomes.length]!));
      }
    };
    launch(0);
    // Replies come back in the order the chunks were sent (one connection): read them so.
    for (let done = 0; done < outcomes.length;) {
      const outcome = await outcomes[done]!;
      const link = links[done]!;
      const before: Link = done === 0 ? first : links[done - 1]!;
      if (
        !outcome.ok &&
        failure === undefined &&
        answeredGap(outcome.error) &&
        !resent.has(link) &&
        (before === first || applied.has(before))
      ) {
        // Sent before the chunk it follows was sent again without a family: goes again after it.
        resent.add(link);
        outcomes[done] = settle(link);
        continue;
      }
      done++;
      if (outcome.ok) {
        applied.add(link);
        acknowledged(link.batch, outcome.reply, false);
      } else failure ??= { error: outcome.error };
      launch(done);
    }
    this.#links = this.#links.filter((link) => !applied.has(link));
    if (failure !== undefined) throw failure.error;
  }

  /** Keep an acknowledged chunk for the replay window; forget those older than it. */
  #keep(batch: EncodedBatch, now: number, keepMs: number): void {
    if (keepMs > 0) this.#kept.push({ batch, atMs: now });
    let old = 0;
    while (old < this.#kept.length && now - this.#kept[old]!.atMs > keepMs) {
      this.#forgotten = Math.max(this.#forgotten, this.#kept[old]!.batch.seq);
      old++;
    }
    if (old > 0) this.#kept.splice(0, old);
    if (keepMs === 0) this.#forgotten = Math.max(this.#forgotten, batch.seq);
  }

  /**
   * Redis is at `at`, behind acknowledged chunks: those kept go first again, in order, the
   * first as an anchor expecting `at`; the others are reported lost.
   */
  #replay(at: number, fresh: boolean, sender: ChunkSender): void {
    const again = this.#kept.filter((kept) => kept.batch.seq > at).map((kept) => kept.batch);
    this.#kept = this.#kept.filter((kept) => kept.batch.seq <= at);
    const lost = this.#forgotten > at;
    sender.behind(at, again.length, lost);
    const links: Link[] = [];
    let follows: number | undefined = at;
    for (const batch of again) {
      links.push({ batch, follows, inFlight: false, uncertain: false, fresh: false });
      follows = batch.seq;
    }
    const next = this.#links[0];
    if (next !== undefined && again.length > 0) this.#links[0] = { ...next, follows };
    this.#links = [...links, ...this.#links];
    // The refused attempt may have (re)claimed the gauge index: the next anchor's reply says so.
    if (fresh && this.#links[0] !== undefined) this.#links[0].fresh = true;
    this.#expect = at;
  }

  /**
   * A chunk Redis refused outright: first take its big sections apart, record by record (null);
   * if that is done, drop the series of its largest argument (returned); undefined when neither
   * is possible (the largest argument is not one series': the refusal stands).
   */
  #shrink(link: Link): RefusedRecord | null | undefined {
    if (link.split !== true) {
      link.split = true;
      const apart = withRecordsApart(link.batch.args, APART_BYTES);
      if (apart !== undefined) {
        link.batch = { ...link.batch, args: apart };
        return null;
      }
    }
    const without = withoutLargestRecord(link.batch.args, labelKeyOf);
    if (without === undefined) return undefined;
    link.batch = { ...link.batch, args: without.args, series: Math.max(0, link.batch.series - 1) };
    return without.refused;
  }

  /** Take `family`'s sections out of `link`'s chunk into the held ones; false if it has none. */
  #takeOut(link: Link, family: string): boolean {
    const { args, held } = withoutFamily(link.batch.args, family);
    if (held.length === 0) return false;
    const series = seriesOfSections(held);
    this.#held.push({ family, template: link.batch.args, sections: held, series });
    link.batch = { ...link.batch, args, series: Math.max(0, link.batch.series - series) };
    return true;
  }
}
