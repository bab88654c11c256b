/** Parsing, output and Redis helpers shared by the CLI's subcommands. */

import { parseArgs } from 'node:util';
import { Cluster, Redis } from 'ioredis';

import { type FamilyMeta } from '../core/family.js';
import type { RedisClient } from '../redis/connection.js';

import { isRedisUrl } from '../core/validate.js';
import { resolveOptions } from '../options.js';

export const BIN = 'prometheus-redis-client';
export const COMMON = `  --redis URL      redis:// or rediss:// URL of the registries' Redis (default: $REDIS_URL)
  --prefix P       key prefix the registries use (default: "prometheus")
  --cluster        the URL is one node of a Redis Cluster (the others are discovered)
  -h, --help       show this help`;

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
  --timeout-ms N   answer 503 when a scrape takes longer (default: 10000)
`,
  inspect: `Usage: ${BIN} inspect --redis URL --prefix P

Print the prefix's metric families (type, live series, details) and the processes that flushed
into it (gauge index, whether its gauge lease is held, last flush).

Options:
${COMMON}
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
    throw new UsageError(`--redis must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
  }
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

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * An ioredis Cluster whose seed node is the URL's host and port, with its credentials and TLS.
 * `once`: give up at the first failure (a one-shot command); otherwise keep reconnecting (serve).
 */
export function clusterClient(url: string, once: boolean): Cluster {
  const parsed = new URL(url);
  const secret = (value: string): string | undefined =>
    value === '' ? undefined : decodeURIComponent(value);
  return new Cluster([{ host: parsed.hostname, port: Number(parsed.port === '' ? 6379 : parsed.port) }], {
    lazyConnect: once,
    ...(once ? { clusterRetryStrategy: () => null } : {}),
    redisOptions: {
      username: secret(parsed.username),
      password: secret(parsed.password),
      connectTimeout: 5000,
      ...(once ? { maxRetriesPerRequest: 1 } : {}),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
}

export async function connect(url: string, cluster = false): Promise<RedisClient> {
  const redis = cluster
    ? clusterClient(url, true)
    : new Redis(url, {
        lazyConnect: true,
        connectTimeout: 5000,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
      });
  // The 'error' event carries the cause (ECONNREFUSED, auth); connect() only says the connection closed.
  let cause: Error | undefined;
  redis.on('error', (error: Error) => (cause ??= error));
  try {
    await redis.connect();
  } catch (error) {
    // Not disconnect(): on a connection that never opened, ioredis waits 2 s for a close that never comes.
    const failure = cause ?? (error as Error);
    // A cluster client says only that it could not read the slots; the node's own error says why.
    const node = (failure as { lastNodeError?: Error }).lastNodeError;
    const reason =
      node !== undefined
        ? `${failure.message} (${node.message})`
        : cluster && /slots/.test(failure.message)
          ? `${failure.message} (is it a node of a Redis Cluster? Without --cluster for a single Redis)`
          : failure.message;
    throw new Error(`cannot connect to Redis at ${redact(url)}: ${reason}`);
  }
  return redis;
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
