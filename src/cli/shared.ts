/** Parsing, output and Redis helpers shared by the CLI's subcommands. */

import { parseArgs } from 'node:util';
import { Cluster, type Redis } from 'ioredis';

import { type FamilyMeta } from '../core/family.js';
import type { RedisClient } from '../redis/connection.js';

import { isRedisUrl } from '../core/validate.js';
import { resolveOptions } from '../options.js';

export const BIN = 'prometheus-redis-client';
export const COMMON = `  --redis URL      redis:// or rediss:// URL of the registries' Redis (default: $REDIS_URL)
  --prefix P       key prefix the registries use (default: "prometheus")
  --cluster        the URL is one node of a Redis Cluster (the others are discovered)
  -h, --help       show this help`;

/** The default of `--timeout-ms` for `inspect` and `purge`. */
export const TIMEOUT_MS = 10_000;
const TIMEOUT = `  --timeout-ms N   give up (exit 1) when Redis does not answer, connecting or any one
                   command, within N ms (default: ${TIMEOUT_MS})`;

export const HELP: Readonly<Record<string, string>> = {
  main: `Usage: ${BIN} <command> [options]

Serve, inspect and purge the metrics that prometheus-redis-client registries keep in Redis.

Commands:
  serve     serve the merged metrics of a prefix over HTTP (a standalone exporter)
  inspect   list a prefix's metric families, series counts and processes
  purge     delete a prefix, one family, or the series of a family that match labels

Options:
  -h, --help       show this help; '${BIN} <command> --help' shows a command's
  -v, --version    print the version

Exit status: 0 done, 1 failed (e.g. Redis unreachable), 2 bad usage or a purge dry run.
`,
  serve: `Usage: ${BIN} serve --redis URL --prefix P [--port N] [--host H]

Serve the merged metrics of every process recording under the prefix, for workers without an
HTTP server of their own (queue workers, cron jobs). Text format 0.0.4, or OpenMetrics 1.0 when
the scraper asks for it; gzip when allowed; 503 with a reason while Redis is unreachable.

Options:
${COMMON}
  --port N         port to listen on, 0 for any free port (default: 9464)
  --host H         address to bind (default: 127.0.0.1; 0.0.0.0 for every interface)
  --path PATH      route of the metrics (default: /metrics)
  --timeout-ms N   answer 503 when a scrape takes longer (default: 10000), or sooner when
                   Prometheus sends a shorter scrape_timeout
  --text-only      always answer text format 0.0.4, never OpenMetrics
  --no-created     leave the _created samples out of OpenMetrics answers
`,
  inspect: `Usage: ${BIN} inspect --redis URL --prefix P

Print the prefix's metric families (type, live series, details) and the processes that flushed
into it (gauge index, whether its gauge lease is held, last flush).

Options:
${COMMON}
${TIMEOUT}
`,
  purge: `Usage: ${BIN} purge --redis URL --prefix P [--family NAME [--match LABEL=VALUE ...]] --yes

Delete every key of the prefix; or, with --family, one family's data and metadata; or, with
--family and --match, only the series of that family whose labels match every filter.
Without --yes nothing is deleted: it prints what would be deleted and exits with status 2.

Processes still running keep recording: a purged series comes back with their next update,
and a purged family (or prefix) comes back without its metadata, so it is not exported, until
those processes restart. Purge what is no longer recorded.

Options:
${COMMON}
  --family NAME    only this family (a counter's name with or without _total)
  --match L=V      only series whose label L has value V (repeatable; all must match;
                   needs --family; per-process gauges also match gauge_index=N)
  --yes            really delete
${TIMEOUT}
`,
};

/** Wrong flags or arguments: exit status 2 with a pointer to --help. */
export class UsageError extends Error {}

export const write = (line: string): boolean => process.stdout.write(`${line}\n`);
export const print = (lines: readonly string[]): void => {
  for (const line of lines) write(line);
};
export const warn = (line: string): boolean => process.stderr.write(`${line}\n`);

export interface Common {
  readonly url: string;
  readonly prefix: string;
  /** `--cluster`: the URL is one node of a Redis Cluster. */
  readonly cluster: boolean;
}

export type Values = Readonly<Record<string, string | boolean | string[] | undefined>>;

export function parse(
  args: string[],
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>,
): Values {
  try {
    return parseArgs({ args, options: { help: { type: 'boolean', short: 'h' }, ...options } }).values;
  } catch (error) {
    throw new UsageError((error as Error).message.split('. ')[0]);
  }
}

/** A string option's value (parseArgs types every value as the union of all kinds). */
export function text(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function common(values: Values): Common {
  const url = text(values, 'redis') ?? process.env.REDIS_URL;
  if (url === undefined || url === '') throw new UsageError('--redis URL is required (or set REDIS_URL)');
  if (!isRedisUrl(url)) {
    throw new UsageError(`--redis must be a redis:// or rediss:// URL, got ${JSON.stringify(redact(url))}`);
  }
  const problem = urlProblem(url);
  if (problem !== undefined) throw new UsageError(`--redis ${JSON.stringify(redact(url))}: ${problem}`);
  try {
    const { prefix } = resolveOptions({ prefix: text(values, 'prefix') });
    return { url, prefix, cluster: values.cluster === true };
  } catch (error) {
    throw new UsageError((error as Error).message.replace('`prefix`', '--prefix'));
  }
}

export function integer(
  flag: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * What is wrong with a `redis://` or `rediss://` URL, or undefined. Checked before connecting:
 * ioredis would only say "Invalid URL" (a port past 65535), or connect somewhere else.
 */
function urlProblem(url: string): string | undefined {
  const authority = /^[a-z]+:\/\/([^/?#]*)/.exec(url)?.[1] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const bracket = hostPort.startsWith('[') ? hostPort.indexOf(']') : -1;
  if (hostPort.startsWith('[') && bracket < 0) return 'the IPv6 address has no closing "]"';
  const colon = hostPort.indexOf(':', bracket + 1);
  const host = colon < 0 ? hostPort : hostPort.slice(0, colon);
  const port = colon < 0 ? '' : hostPort.slice(colon + 1);
  if (host === '[]') return 'the IPv6 address is empty';
  if (port !== '' && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    return `the port must be a number from 1 to 65535, got ${JSON.stringify(port)}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    return `not a valid URL (${(error as Error).message})`;
  }
  if (!/^(\/\d*)?$/.test(parsed.pathname)) {
    return `the path must be a database number (/0, /1, …), got ${JSON.stringify(parsed.pathname)}`;
  }
  return undefined;
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL that parses: hide whatever stands between "user:" and "@".
    return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
  }
}

/** `--timeout-ms` of `inspect` and `purge`. */
export function timeoutOf(values: Values): number {
  return integer('--timeout-ms', text(values, 'timeout-ms'), TIMEOUT_MS, 1, 3_600_000);
}

/** Aligned columns; `right` lists the columns aligned right (numbers). */
export function table(rows: readonly (readonly string[])[], right: readonly number[] = []): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (right.includes(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

export function details(meta: FamilyMeta): string {
  const parts: string[] = [];
  if (meta.kind === 'gauge') parts.push(`per process (${meta.aggregate ?? 'one series each'})`);
  if (meta.kind === 'common_gauge') {
    parts.push(meta.expireSeconds === undefined ? 'shared' : `shared, expires ${meta.expireSeconds}s`);
  }
  if (meta.kind === 'histogram') parts.push(`${meta.buckets?.length ?? 0} buckets`);
  if (meta.percentiles !== undefined) {
    parts.push(`quantiles ${meta.percentiles.join(',')} over ${meta.maxAgeSeconds ?? '?'}s`);
  }
  if (meta.unit !== undefined) parts.push(`unit ${meta.unit}`);
  if (meta.labelNames.length > 0) parts.push(`labels ${meta.labelNames.join(',')}`);
  return parts.join('; ');
}

/** Every key matching `pattern` (on every primary of a cluster), sorted. */
export async function scan(redis: RedisClient, ...patterns: string[]): Promise<string[]> {
  const found = new Set<string>();
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        for (const key of batch) found.add(key);
        cursor = next;
      } while (cursor !== '0');
    }
  }
  return [...found].sort();
}

/** Every field and value of a hash, in pieces (HSCAN COUNT 1000: each call is bounded). */
export async function hashEntries(redis: RedisClient, key: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', 1000);
    for (let i = 0; i + 1 < flat.length; i += 2) entries.set(flat[i]!, flat[i + 1]!);
    cursor = next;
  } while (cursor !== '0');
  return entries;
}

/** Every member of a set, in pieces (SSCAN COUNT 1000). */
export async function setMembers(redis: RedisClient, key: string): Promise<string[]> {
  const members = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.sscan(key, cursor, 'COUNT', 1000);
    for (const member of batch) members.add(member);
    cursor = next;
  } while (cursor !== '0');
  return [...members];
}

/** UNLINK keys, 1000 per call; on a cluster one call per key (they may live in different slots). */
export async function unlinkAll(redis: RedisClient, keys: readonly string[]): Promise<void> {
  await inSlices(keys, (slice) =>
    redis instanceof Cluster ? Promise.all(slice.map((key) => redis.unlink(key))) : redis.unlink(...slice),
  );
}

/** Run `command` over `items` in slices of 1000 (one Redis call each). */
export async function inSlices(
  items: readonly string[],
  command: (slice: string[]) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += 1000) await command(items.slice(i, i + 1000));
}

/** Print a command's help (exit code 0). */
export function help(command: string): number {
  process.stdout.write(HELP[command]!);
  return 0;
}
