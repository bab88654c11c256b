/**
 * The one place that builds Redis key names. Every key of a registry starts with the prefix
 * in a hash tag (`{prefix}:`), so a whole flush touches a single Redis Cluster slot.
 *
 * With `shardBy: "metric"` the registry-wide keys (meta, samples, gidx, gi:, proc:) stay there
 * (the control group), and each family's data keys move to a group of their own, with the
 * same layout under the base `prefix:{prefix:family}:` (see `group()`): one slot per family,
 * holding the family's data, its own `meta` (for the shape check) and per-process `proc:`
 * sequence numbers. Control keys start with `{`, group keys never do (a prefix has no braces),
 * so the two can never share a name.
 *
 * Layout (`P` = `{prefix}:`):
 * - `P meta`            hash  family name → "<shape>\n<metadata JSON>"
 * - `P f:<family>`      hash  series field → value (counters, common gauges, histograms, summaries;
 *                             histograms: `<field>|e<slot>` → the bucket's latest exemplar)
 * - `P x:<family>`      zset  series field → expiry time in ms (common gauges with expireSeconds)
 * - `P cr:<family>`     hash  series field → creation time in s (counters, histograms, summaries;
 *                             read only for OpenMetrics scrapes, so text scrapes never pay for it)
 * - `P g:<family>:<i>`  hash  series field → value of the per-process gauge of gauge index i
 *                             (`aggregate: "last"` gauges: also `<field>|t` → write time, µs)
 * - `P gi:<i>`          string lease of gauge index i: the owning process id, expires
 * - `P gidx`            set   every gauge index ever claimed (readers check each lease)
 * - `P proc:<id>`       hash  one process's flush sequence number, gauge index, last flush time
 * - `P samples`         hash  sample name → family producing it (cross-process name clashes)
 * - `P q:<family>:<s>`  hash  `<series field>|<bucket>` → count: a summary's quantile-sketch
 *                             buckets of time slot s (see src/core/sketch-mapping.ts); expires
 *
 * The scripts (src/redis/scripts.ts builds their arguments) get the fixed keys as KEYS (flush:
 * proc:, meta, gidx, samples; read: meta, gidx; release: the lease and proc:) and the per-family
 * keys as the prefixes of the Keys getters (`familyPrefix`, `gaugePrefix`, …): all share the hash
 * tag, so Redis Cluster keeps them in one slot. A flush does not declare the lease: with gauge
 * index "1" the script chooses the index, so the caller cannot name it beforehand.
 *
 * Metric names are validated (`[a-zA-Z_:][a-zA-Z0-9_:]*`) and the gauge index and the slot are
 * all digits, so no two families, indexes or slots can share a key.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isMetricName } from '../core/validate.js';

export class Keys {
  readonly base: string;

  /** @param groupOf - the family whose group this is (`shardBy: "metric"`); none for the control group */
  constructor(
    readonly prefix: string,
    readonly groupOf?: string,
  ) {
    this.base = groupOf === undefined ? `{${prefix}}:` : `${prefix}:{${prefix}:${groupOf}}:`;
  }

  /** The keys of a family's own group (`shardBy: "metric"`). */
  group(family: string): Keys {
    return new Keys(this.prefix, family);
  }

  /** A SCAN pattern matching every key of every family group of this prefix. */
  get groupsPattern(): string {
    return `${escapeGlob(`${this.prefix}:{${this.prefix}:`)}*`;
  }

  get meta(): string {
    return `${this.base}meta`;
  }
  get gaugeIndexSet(): string {
    return `${this.base}gidx`;
  }
  /** Hash: sample name → the family that produces it (rejects `x` vs `x_count` across processes). */
  get samples(): string {
    return `${this.base}samples`;
  }
  /** Prefix that scripts append a family name to. */
  get familyPrefix(): string {
    return `${this.base}f:`;
  }
  /** Prefix of the hashes of series creation times (`_created`, OpenMetrics only). */
  get createdPrefix(): string {
    return `${this.base}cr:`;
  }
  created(name: string): string {
    return this.createdPrefix + name;
  }
  get expiryPrefix(): string {
    return `${this.base}x:`;
  }
  /** Prefix that scripts append `<family>:<index>` to. */
  get gaugePrefix(): string {
    return `${this.base}g:`;
  }
  /** Prefix that scripts append a gauge index to. */
  get leasePrefix(): string {
    return `${this.base}gi:`;
  }
  get processPrefix(): string {
    return `${this.base}proc:`;
  }
  /** Prefix that a quantile window key appends `<family>:<slot>` to (summary quantile windows). */
  get quantilePrefix(): string {
    return `${this.base}q:`;
  }
  /** A pattern matching every key of this registry, for SCAN. */
  get pattern(): string {
    return `${escapeGlob(this.base)}*`;
  }

  /** A pattern matching every process key (`P proc:*`), for SCAN (`pattern` minus its `*`, escaped alike). */
  get processPattern(): string {
    return `${this.pattern.slice(0, -1)}proc:*`;
  }
  /** The process id a process key belongs to (inverse of `process()`). */
  processIdOf(key: string): string {
    return key.startsWith(this.processPrefix) ? key.slice(this.processPrefix.length) : key;
  }

  family(name: string): string {
    return this.familyPrefix + name;
  }
  expiry(name: string): string {
    return this.expiryPrefix + name;
  }
  gauge(name: string, index: number): string {
    return `${this.gaugePrefix}${name}:${index}`;
  }
  /** The gauge index a per-process gauge hash (`gauge(name, i)`) is of; undefined for other keys. */
  gaugeIndexOf(key: string): string | undefined {
    return key.startsWith(this.gaugePrefix) ? key.slice(key.lastIndexOf(':') + 1) : undefined;
  }
  lease(index: number): string {
    return this.leasePrefix + String(index);
  }
  process(id: string): string {
    return this.processPrefix + id;
  }
  /** Key base of a family's quantile window: the flush script appends the time slot number. */
  quantileWindow(name: string): string {
    return `${this.quantilePrefix}${name}:`;
  }
  /**
   * A SCAN pattern for a family's quantile-window keys. It also matches family `<name>:x`'s keys:
   * keep only those whose rest is a slot number (`isQuantileKey`).
   */
  quantilePattern(name: string): string {
    return `${escapeGlob(this.quantileWindow(name))}*`;
  }
  /** Whether `key` is one of family `name`'s quantile-window keys. */
  isQuantileKey(name: string, key: string): boolean {
    const base = this.quantileWindow(name);
    return key.startsWith(base) && /^\d+$/.test(key.slice(base.length));
  }
  /** Whether `key` holds series of family `name` (its values, creation times, gauges, windows). */
  holdsSeries(name: string, key: string): boolean {
    return (
      key === this.family(name) ||
      key === this.created(name) ||
      key.startsWith(`${this.gaugePrefix}${name}:`) ||
      this.isQuantileKey(name, key)
    );
  }
  /** The quantile buckets of one family in one time slot. */
  quantile(name: string, slot: number): string {
    return this.quantileWindow(name) + String(slot);
  }

  /**
   * The family whose group (`group()`) `key` belongs to, read off its name
   * (`prefix:{prefix:<family>}:…`); undefined for any other key.
   */
  groupFamilyOf(key: string): string | undefined {
    const start = `${this.prefix}:{${this.prefix}:`;
    if (!key.startsWith(start)) return undefined;
    const end = key.indexOf('}:', start.length);
    const family = end < 0 ? '' : key.slice(start.length, end);
    return isMetricName(family) ? family : undefined;
  }

  /**
   * Whether this layout defines `key` (by its name alone): one of the fixed keys (meta, gidx,
   * samples), a process key (a process id as registries make them), a gauge lease (the control
   * group's), or a data key of a family (values, expiry, creation times, per-process gauges by
   * index, quantile windows by slot) — a group's own family only, any metric name in the control
   * group. Anything else under the same base (a user's key that looks alike) is not the library's.
   */
  defines(key: string): boolean {
    if (key === this.meta || key === this.gaugeIndexSet || key === this.samples) return true;
    const rest = (prefix: string): string | undefined =>
      key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
    const family = (name: string | undefined): boolean =>
      name !== undefined && (this.groupOf === undefined ? isMetricName(name) : name === this.groupOf);
    /** `<family>:<digits>` (gauge hashes, quantile windows). */
    const numbered = (name: string | undefined): boolean => {
      const cut = name?.lastIndexOf(':') ?? -1;
      return cut > 0 && DIGITS.test(name!.slice(cut + 1)) && family(name!.slice(0, cut));
    };
    const process = rest(this.processPrefix);
    if (process !== undefined) return PROCESS_ID.test(process);
    const lease = rest(this.leasePrefix);
    if (lease !== undefined) return this.groupOf === undefined && DIGITS.test(lease);
    return (
      family(rest(this.familyPrefix)) ||
      family(rest(this.expiryPrefix)) ||
      family(rest(this.createdPrefix)) ||
      numbered(rest(this.gaugePrefix)) ||
      numbered(rest(this.quantilePrefix))
    );
  }
}

const DIGITS = /^\d+$/;
/** A registry's process id, as `newProcessId()` makes them. */
const PROCESS_ID = /^[A-Za-z0-9._-]{0,64}-\d+-[0-9a-f]{8}$/;

/**
 * A new process id, unique to one registry: `<host, [A-Za-z0-9._-], at most 64>-<pid>-<8 hex
 * digits>`, the name of its process key (`Keys.process()`), which `Keys.defines()` recognises.
 */
export function newProcessId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 64);
  return `${host}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Escape SCAN glob characters. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
