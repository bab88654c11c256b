/**
 * The library's Lua scripts (src/redis/lua/, embedded by scripts/gen-lua.mjs): their loading
 * under versioned command names, and one typed argument builder and caller per script whose
 * parameter object mirrors the script's header (bullmq's `Scripts`). Only this module knows the
 * scripts' argument positions (flush-sections.ts works on a flush's sections from
 * `flushSectionStart` on).
 */
import { VERSION } from '../core/version.js';
import type { RedisClient } from './connection.js';
import type { Keys } from './keys.js';
import { flushScript, pageScript, releaseScript } from './scripts.generated.js';

const suffix = VERSION.replace(/\W/g, '_');

/** Command names carry the library version, so two versions sharing one Redis never mix scripts. */
const FLUSH_COMMAND = `prcFlush_${suffix}`;
const RELEASE_COMMAND = `prcRelease_${suffix}`;
const PAGE_COMMAND = `prcPage_${suffix}`;

type ScriptCommand = (...args: Array<string | Buffer>) => Promise<unknown>;

const defined = new WeakSet<object>();

/** Define the library's scripts on a connection once (ioredis sends EVALSHA, falling back to EVAL). */
function defineScripts(redis: RedisClient): void {
  if (defined.has(redis)) return;
  for (const [name, script] of [
    [FLUSH_COMMAND, flushScript],
    [RELEASE_COMMAND, releaseScript],
    [PAGE_COMMAND, pageScript],
  ] as const) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  defined.add(redis);
}

/**
 * Call a defined script with raw arguments (KEYS, then ARGV). Prefer `callFlush`, `callPage` and
 * `callRelease` with their builders' output.
 */
function callScript(
  redis: RedisClient,
  name: string,
  args: ReadonlyArray<string | Buffer>,
): Promise<unknown> {
  defineScripts(redis);
  const command = (redis as unknown as Record<string, ScriptCommand>)[name];
  if (command === undefined) throw new Error(`Script ${name} is not defined on this connection`);
  return command.apply(redis, args as Array<string | Buffer>);
}

declare const script: unique symbol;
/** A script's arguments (KEYS, then ARGV) as its builder made them: only that script takes them. */
type ScriptArgs<Name extends string> = ReadonlyArray<string | Buffer> & { readonly [script]: Name };

/** Arguments built by `flushArgs` (kept in an `EncodedBatch` until Redis acknowledges them). */
export type FlushScriptArgs = ScriptArgs<'flush'>;
export type ReleaseScriptArgs = ScriptArgs<'release'>;
export type PageScriptArgs = ScriptArgs<'page'>;

// ---------------------------------------------------------------------------------------------
// flush-4.lua

/**
 * The gauge index argument of a flush (flush-4.lua ARGV[4]): `'0'` no per-process gauges in this
 * slot; `'1'` hold one here (claimed and leased by the script); `=<i>` use index i, whose lease
 * is held in another slot; `=<i>!` likewise, i just (re)claimed: its gauge hashes are emptied
 * first. `'='` is a placeholder for a batch whose index is set per attempt (`withFlushAttempt`);
 * sent as is, the script writes no per-process gauges.
 */
export type FlushGaugeIndex = '0' | '1' | '=' | `=${number}` | `=${number}!`;

/** One family's metadata entry of a flush (the metadata check, flush-4.lua ARGV[11..]). */
export interface FlushMetadata {
  readonly name: string;
  /** `encodeMeta(meta)`: "<shape>\n<json>". */
  readonly encoded: string;
  /** The family's sample names, claimed when the family is first stored; none skips the clash check. */
  readonly samples: readonly string[];
}

type Payload = string | Buffer;

/**
 * One section of a flush (op, family, third argument, payload), its third argument named per op
 * as in flush-4.lua's header.
 */
export type FlushSection =
  | {
      /** Add (HINCRBYFLOAT), integer add (HINCRBY), set (HSET), restore unless present, remove series fields. */
      readonly op: 'A' | 'I' | 'S' | 'N' | 'D';
      readonly family: string;
      /** The common gauge's expireSeconds, as a string; `''` for none. */
      readonly expireSeconds: string;
      readonly payload: Payload;
    }
  | {
      /** Quantile-sketch buckets, remove series from the window, wipe the window. */
      readonly op: 'Q' | 'R' | 'W';
      readonly family: string;
      /** `quantileSectionConfig(keys, meta)`: "<slot ms> <ageBuckets> <key base>". */
      readonly window: string;
      readonly payload: Payload;
    }
  | {
      /** Stamp creation times, remove them, drop the creation-time hash. */
      readonly op: 'C' | 'K' | 'Z';
      readonly family: string;
      /** The family's creation-time hash (`keys.created(name)`). */
      readonly createdKey: string;
      readonly payload: Payload;
    }
  | {
      /** Histogram/summary records, per-process gauges (plain, stamped), exemplars, removals and resets. */
      readonly op: 'H' | 'G' | 'T' | 'E' | 'd' | 'X' | 'x';
      readonly family: string;
      readonly payload: Payload;
    };

/** Every argument of one flush call, named as flush-4.lua's header names them. */
export interface FlushArgs {
  /** The keys of the registry or family group: KEYS[1..4] and the prefixes (ARGV[6..9]). */
  readonly keys: Keys;
  /** ARGV[1]; the process key (KEYS[1]) is `keys.process(processId)`. */
  readonly processId: string;
  /** ARGV[2]: strictly increasing per process; a retry reuses it. */
  readonly seq: number;
  /**
   * ARGV[12]: the seq of the batch this one follows (a chunk of a flush split in several calls):
   * applied only when that batch is the last applied, else the reply is `GAP`. Omitted: an
   * anchor, applied whenever its seq is new.
   */
  readonly after?: number;
  /** ARGV[3]: the process key's TTL, the dedup window (tokenTtlSeconds). */
  readonly processTtlSeconds: number;
  /** ARGV[4]. */
  readonly gaugeIndex: FlushGaugeIndex;
  /** ARGV[5]: the gauge lease's and gauge hashes' TTL (expireSeconds). */
  readonly leaseTtlSeconds: number;
  /** ARGV[10]: this process's per-process gauge families in this slot (kept alive). */
  readonly gaugeFamilies: readonly string[];
  /** ARGV[11], then after ARGV[12] the triples. */
  readonly metadata: readonly FlushMetadata[];
  /** The sections, in order. */
  readonly sections: readonly FlushSection[];
}

/** KEYS of the flush script. */
const FLUSH_KEYS = flushScript.numberOfKeys;
/** Positions, in the flush arguments, of what is set per attempt: ARGV[4], ARGV[10], ARGV[12]. */
const FLUSH_GAUGE_INDEX = FLUSH_KEYS + 3;
const FLUSH_GAUGE_FAMILIES = FLUSH_KEYS + 9;
const FLUSH_AFTER = FLUSH_KEYS + 11;

/** The third argument of a section, by op. */
function sectionArg(section: FlushSection): string {
  if ('expireSeconds' in section) return section.expireSeconds;
  if ('window' in section) return section.window;
  if ('createdKey' in section) return section.createdKey;
  return '';
}

/** The arguments of a flush call (KEYS, then ARGV), in flush-4.lua's order. */
export function flushArgs(args: FlushArgs): FlushScriptArgs {
  const { keys } = args;
  const out: Array<string | Buffer> = [
    keys.process(args.processId),
    keys.meta,
    keys.gaugeIndexSet,
    keys.samples,
    args.processId,
    String(args.seq),
    String(args.processTtlSeconds),
    args.gaugeIndex,
    String(args.leaseTtlSeconds),
    keys.familyPrefix,
    keys.gaugePrefix,
    keys.leasePrefix,
    keys.expiryPrefix,
    args.gaugeFamilies.join('\n'),
    String(args.metadata.length),
    args.after === undefined ? '' : String(args.after),
  ];
  for (const meta of args.metadata) out.push(meta.name, meta.encoded, meta.samples.join('\n'));
  for (const section of args.sections)
    out.push(section.op, section.family, sectionArg(section), section.payload);
  return out as unknown as FlushScriptArgs;
}

/** The gauge index argument of built flush arguments. */
export function flushGaugeIndexOf(args: FlushScriptArgs): FlushGaugeIndex {
  return args[FLUSH_GAUGE_INDEX] as FlushGaugeIndex;
}

/** What may change between two attempts of one chunk: its place in the order, and the lease work. */
export interface FlushAttempt {
  /** ARGV[4]. */
  readonly gaugeIndex?: FlushGaugeIndex;
  /** ARGV[10]. */
  readonly gaugeFamilies?: readonly string[];
  /**
   * ARGV[12]: the seq this chunk follows; `null` sends it as an anchor; `{ atLeast }` as an
   * anchor that knows batch `atLeast` was acknowledged (BEHIND if Redis has lost it).
   */
  readonly after?: number | null | { readonly atLeast: number };
}

/**
 * The same flush arguments for one attempt: the data (seq, metadata, sections) stay as built;
 * the gauge index, the gauge families kept alive and `after` are set as given.
 */
export function withFlushAttempt(args: FlushScriptArgs, attempt: FlushAttempt): FlushScriptArgs {
  const copy = [...args];
  if (attempt.gaugeIndex !== undefined) copy[FLUSH_GAUGE_INDEX] = attempt.gaugeIndex;
  if (attempt.gaugeFamilies !== undefined) copy[FLUSH_GAUGE_FAMILIES] = attempt.gaugeFamilies.join('\n');
  const after = attempt.after;
  if (after !== undefined) {
    copy[FLUSH_AFTER] =
      after === null ? '' : typeof after === 'number' ? String(after) : `>=${after.atLeast}`;
  }
  return copy as unknown as FlushScriptArgs;
}

/**
 * The flush script's reply: status `OK`, `DUP`, `GAP` (only for a batch sent with `after`),
 * `MOVING` or `WRONGTYPE`; the gauge index (`-1` without gauges); freshIndex `1` when every gauge
 * must be written again; conflicts as name, stored shape pairs; the number of failed writes and
 * the first one's error (for `MOVING` and `WRONGTYPE`, what stopped the batch); the family whose
 * key has the wrong type (`''` for the registry's own keys); the family, field pairs this batch
 * took past a double's range.
 */
export type FlushReply = [
  status: string,
  gaugeIndex: string,
  freshIndex: string,
  conflicts: string[],
  errorCount: string,
  firstError: string,
  family: string,
  pastRange: string[],
  /** OK and BEHIND: the sequence number applied before this batch, `'0'` when the process key was missing. */
  previous?: string,
];

/** The sections of built flush arguments (4 arguments each), as they were given. */
export type RawSections = ReadonlyArray<string | Buffer>;

/**
 * Where the sections begin in built flush arguments (after the metadata triples); what follows
 * is op, family, third argument, payload per section (flush-sections.ts works on them).
 */
export function flushSectionStart(args: FlushScriptArgs): number {
  return FLUSH_AFTER + 1 + 3 * Number(args[FLUSH_AFTER - 1]);
}

/**
 * A flush of sections taken out of an earlier one (`withoutFamily`), under a new sequence
 * number: `template`'s keys, process and gauge settings, no metadata, no `after`.
 */
export function heldFlushArgs(template: FlushScriptArgs, seq: number, held: RawSections): FlushScriptArgs {
  const out = template.slice(0, FLUSH_AFTER + 1);
  out[FLUSH_KEYS + 1] = String(seq);
  out[FLUSH_AFTER - 1] = '0';
  out[FLUSH_AFTER] = '';
  out.push(...held);
  return out as unknown as FlushScriptArgs;
}

/** Call the flush script. */
export function callFlush(redis: RedisClient, args: FlushScriptArgs): Promise<FlushReply> {
  return callScript(redis, FLUSH_COMMAND, args) as Promise<FlushReply>;
}

// ---------------------------------------------------------------------------------------------
// release-2.lua

/** Every argument of one release call, named as release-2.lua's header names them. */
export interface ReleaseArgs {
  /** The registry's keys: the lease (KEYS[1]) and process key (KEYS[2]). */
  readonly keys: Keys;
  /** ARGV[1]. */
  readonly processId: string;
  /** The gauge index given up. */
  readonly index: number;
  /** ARGV[2..]: this process's gauge hashes of the index in the lease's slot (deleted). */
  readonly gaugeHashes: readonly string[];
}

/** The arguments of a release call (KEYS, then ARGV), in release-2.lua's order. */
export function releaseArgs(args: ReleaseArgs): ReleaseScriptArgs {
  const { keys } = args;
  return [
    keys.lease(args.index),
    keys.process(args.processId),
    args.processId,
    ...args.gaugeHashes,
  ] as unknown as ReleaseScriptArgs;
}

/** Call the release script: 1 when released, 0 when the lease was no longer this process's. */
export function callRelease(redis: RedisClient, args: ReleaseScriptArgs): Promise<number> {
  return callScript(redis, RELEASE_COMMAND, args) as Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// page-2.lua

/**
 * How a page reads its hash (page-2.lua ARGV[3]): `f` every field; `x` leaving out expired
 * common-gauge fields; `t` label keys with their `|t` write time; `g` histogram and summary
 * series whole, by their `|s` field.
 */
export type PageMode = 'f' | 'x' | 't' | 'g';

/** Every argument of one page call, named as page-2.lua's header names them. */
export interface PageArgs {
  /** KEYS[1]: the hash read. */
  readonly hash: string;
  /** KEYS[2]: the family's expiry zset (read in mode `x` only). */
  readonly expiry: string;
  /** ARGV[1]: `'0'` to start, then the cursor the last page returned. */
  readonly cursor: string;
  /** ARGV[2]: HSCAN's COUNT. */
  readonly count: number;
  readonly mode: PageMode;
  /** ARGV[4..] (mode `g`): the suffixes of a series' fields, `s` first. */
  readonly suffixes?: readonly string[];
}

/** The arguments of a page call (KEYS, then ARGV), in page-2.lua's order. */
export function pageArgs(args: PageArgs): PageScriptArgs {
  return [
    args.hash,
    // Only mode x reads the expiry zset. Declaring a key that does not exist would make Redis
    // Cluster answer TRYAGAIN for the whole migration of the slot (not every declared key is on
    // one node), so the other modes declare the hash twice.
    args.mode === 'x' ? args.expiry : args.hash,
    args.cursor,
    String(args.count),
    args.mode,
    ...(args.suffixes ?? []),
  ] as unknown as PageScriptArgs;
}

/** A page: the next cursor (`'0'` when the hash is done) and its fields and values, `\n`-joined (or `\0` and an error). */
export type PageReply = [cursor: string, packed: string, node: string];

/** Call the page script. */
export function callPage(redis: RedisClient, args: PageScriptArgs): Promise<PageReply> {
  return callScript(redis, PAGE_COMMAND, args) as Promise<PageReply>;
}
