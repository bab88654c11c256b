#!/usr/bin/env node
/**
 * `prometheus-redis-client`: a standalone exporter (`serve`) and maintenance tool (`inspect`,
 * `purge`) for the metrics that registries keep under a prefix in Redis. It needs no application
 * code: everything renders from the metadata stored in Redis. The library never prints; this
 * command-line entry point is the one place that does.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { parseLabels } from './export/escape.js';
import { readFamilies } from './export/read.js';
import { decodeMeta, typeOf, type FamilyMeta } from './family.js';
import { Keys } from './flush/keys.js';
import { metricsHandler } from './http.js';
import { resolveOptions } from './options.js';
import { Registry } from './registry.js';
import { VERSION } from './version.js';

const BIN = 'prometheus-redis-client';
const COMMON = `  --redis URL      redis:// or rediss:// URL of the registries' Redis (default: $REDIS_URL)
  --prefix P       key prefix the registries use (default: "prometheus")
  -h, --help       show this help`;

const HELP: Readonly<Record<string, string>> = {
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
class UsageError extends Error {}

const write = (line: string): boolean => process.stdout.write(`${line}\n`);
const print = (lines: readonly string[]): void => {
  for (const line of lines) write(line);
};
const warn = (line: string): boolean => process.stderr.write(`${line}\n`);

interface Common {
  readonly url: string;
  readonly prefix: string;
}

type Values = Readonly<Record<string, string | boolean | string[] | undefined>>;

function parse(
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
function text(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function common(values: Values): Common {
  const url = text(values, 'redis') ?? process.env.REDIS_URL;
  if (url === undefined || url === '') throw new UsageError('--redis URL is required (or set REDIS_URL)');
  if (!/^rediss?:\/\//.test(url)) {
    throw new UsageError(`--redis must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
  }
  try {
    return { url, prefix: resolveOptions({ prefix: text(values, 'prefix') }).prefix };
  } catch (error) {
    throw new UsageError((error as Error).message.replace('`prefix`', '--prefix'));
  }
}

function integer(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

async function connect(url: string): Promise<Redis> {
  const redis = new Redis(url, {
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
    const reason = (cause ?? (error as Error)).message;
    throw new Error(`cannot connect to Redis at ${redact(url)}: ${reason}`);
  }
  return redis;
}

/** Aligned columns; `right` lists the columns aligned right (numbers). */
function table(rows: readonly (readonly string[])[], right: readonly number[] = []): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (right.includes(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function details(meta: FamilyMeta): string {
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

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    for (const key of batch) found.add(key);
    cursor = next;
  } while (cursor !== '0');
  return [...found].sort();
}

/** Run `command` over `items` in slices of 1000 (one Redis call each). */
async function inSlices(
  items: readonly string[],
  command: (slice: string[]) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += 1000) await command(items.slice(i, i + 1000));
}

interface ProcessRow {
  readonly id: string;
  readonly index: string;
  readonly lease: string;
  readonly lastFlushMs: number;
}

async function processes(redis: Redis, keys: Keys): Promise<ProcessRow[]> {
  const rows = await Promise.all(
    (await scan(redis, keys.processPattern)).map(async (key): Promise<ProcessRow> => {
      const id = keys.processIdOf(key);
      const [index, t] = await redis.hmget(key, 'idx', 't');
      if (index === null || index === undefined)
        return { id, index: '-', lease: '-', lastFlushMs: Number(t ?? 0) };
      const owner = await redis.get(keys.lease(Number(index)));
      return { id, index, lease: owner === id ? 'held' : 'lapsed', lastFlushMs: Number(t ?? 0) };
    }),
  );
  return rows.sort((a, b) => b.lastFlushMs - a.lastFlushMs);
}

async function inspect(args: string[]): Promise<number> {
  const values = parse(args, { redis: { type: 'string' }, prefix: { type: 'string' } });
  if (values.help === true) return help('inspect');
  const { url, prefix } = common(values);
  const redis = await connect(url);
  try {
    const keys = new Keys(prefix);
    const { families, unreadable } = await readFamilies(redis, keys);
    const procs = await processes(redis, keys);
    const [seconds, micros] = await redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const count = families.length + unreadable.length;
    const held = procs.filter((p) => p.lease === 'held').length;
    write(
      `Prefix "${prefix}" on ${redact(url)}: ${plural(count, 'family', 'families')}, ` +
        `${plural(procs.length, 'process', 'processes')} (${plural(held, 'gauge lease', 'gauge leases')} held)\n`,
    );
    const rows = [['FAMILY', 'TYPE', 'SERIES', 'DETAILS']];
    for (const { meta, rows: series } of families) {
      rows.push([meta.name, typeOf(meta.kind), String(series.length), details(meta)]);
    }
    for (const u of unreadable) rows.push([u.name, '?', '?', `unreadable: ${u.error.message}`]);
    print(count === 0 ? ['No metric families under this prefix.'] : table(rows, [2]));
    write('');
    const lines = [['PROCESS', 'GAUGE INDEX', 'LEASE', 'LAST FLUSH']];
    for (const p of procs) {
      const last =
        p.lastFlushMs === 0 ? '-' : `${new Date(p.lastFlushMs).toISOString()} (${ago(now - p.lastFlushMs)})`;
      lines.push([p.id, p.index, p.lease, last]);
    }
    print(procs.length === 0 ? ['No process has flushed into this prefix.'] : table(lines));
    return 0;
  } finally {
    redis.disconnect();
  }
}

/** The label set (series key) a stored hash field belongs to: fields are `key` or `key|sub`. */
function seriesKeyOf(field: string): string {
  if (field === '' || field.endsWith('"')) return field;
  const bar = field.lastIndexOf('|');
  return bar < 0 ? field : field.slice(0, bar);
}

function parseMatch(raw: readonly string[]): Array<[string, string]> {
  return raw.map((m) => {
    const eq = m.indexOf('=');
    if (eq < 1 || !/^[a-zA-Z_]\w*$/.test(m.slice(0, eq))) {
      throw new UsageError(`--match expects LABEL=VALUE, got ${JSON.stringify(m)}`);
    }
    return [m.slice(0, eq), m.slice(eq + 1)];
  });
}

/** Print at most 20 items of a list, then how many more. */
function list(items: readonly string[]): void {
  print(items.slice(0, 20).map((item) => `  ${item}`));
  if (items.length > 20) write(`  ... and ${items.length - 20} more`);
}

function dryRun(): number {
  write('Nothing was deleted: add --yes to delete.');
  return 2;
}

interface Target {
  readonly redis: Redis;
  readonly keys: Keys;
  readonly yes: boolean;
}

async function purgePrefix({ redis, keys, yes }: Target): Promise<number> {
  const found = await scan(redis, keys.pattern);
  write(`${yes ? 'Deleting' : 'Would delete'} ${found.length} keys under prefix "${keys.prefix}":`);
  list(found);
  if (!yes) return dryRun();
  await inSlices(found, (slice) => redis.unlink(...slice));
  write(`Deleted ${found.length} keys.`);
  return 0;
}

interface FamilyTarget extends Target {
  readonly name: string;
  readonly meta: FamilyMeta | undefined;
  readonly stored: boolean;
  /** The family's data keys that exist. */
  readonly present: readonly string[];
}

async function findFamily(target: Target, family: string): Promise<FamilyTarget> {
  const { redis, keys } = target;
  let name = family;
  let stored = await redis.hget(keys.meta, name);
  if (stored === null && name.endsWith('_total')) {
    stored = await redis.hget(keys.meta, name.slice(0, -6));
    if (stored !== null) name = name.slice(0, -6);
  }
  let meta: FamilyMeta | undefined;
  try {
    meta = stored === null ? undefined : decodeMeta(name, stored);
  } catch {
    meta = undefined; // a foreign layout can still be deleted, by key
  }
  const indexes = await redis.smembers(keys.gaugeIndexSet);
  const candidates = [
    keys.family(name),
    keys.expiry(name),
    keys.created(name),
    ...indexes.map((i) => keys.gauge(name, Number(i))),
  ];
  const exists = await Promise.all(candidates.map((key) => redis.exists(key)));
  const windows = (await scan(redis, keys.quantilePattern(name))).filter((k) => keys.isQuantileKey(name, k));
  const present = [...candidates.filter((_, i) => exists[i] === 1), ...windows];
  if (stored === null && present.length === 0) {
    throw new Error(`no family named "${family}" under prefix "${keys.prefix}"`);
  }
  return { ...target, name, meta, stored: stored !== null, present };
}

async function purgeFamily(t: FamilyTarget): Promise<number> {
  const { redis, keys, name } = t;
  const samples = Object.entries(await redis.hgetall(keys.samples))
    .filter(([, owner]) => owner === name)
    .map(([sample]) => sample);
  const type = t.meta === undefined ? '' : ` (${typeOf(t.meta.kind)})`;
  write(`${t.yes ? 'Deleting' : 'Would delete'} family "${name}"${type} under prefix "${keys.prefix}":`);
  list([
    ...t.present,
    ...(t.stored ? [`its metadata (field "${name}" of ${keys.meta})`] : []),
    ...(samples.length === 0 ? [] : [`its sample names (${samples.join(', ')}) in ${keys.samples}`]),
  ]);
  if (!t.yes) return dryRun();
  const tx = redis.multi();
  if (t.present.length > 0) tx.del(...t.present);
  tx.hdel(keys.meta, name);
  if (samples.length > 0) tx.hdel(keys.samples, ...samples);
  await tx.exec();
  write(`Deleted family "${name}".`);
  return 0;
}

async function purgeSeries(t: FamilyTarget, pairs: ReadonlyArray<[string, string]>): Promise<number> {
  const { redis, keys, name, meta } = t;
  if (meta === undefined)
    throw new Error(`family "${name}" has no readable metadata: purge it without --match`);
  const known = [...meta.labelNames, ...(meta.kind === 'gauge' ? ['gauge_index'] : [])];
  for (const [label] of pairs) {
    if (!known.includes(label)) {
      const labels = known.length === 0 ? 'it has no labels' : `its labels: ${known.join(', ')}`;
      throw new UsageError(`family "${name}" has no label "${label}" (${labels})`);
    }
  }
  const parsed = new Map<string, Map<string, string> | undefined>();
  const labelsOf = (seriesKey: string): Map<string, string> | undefined => {
    if (!parsed.has(seriesKey)) {
      try {
        parsed.set(seriesKey, new Map(parseLabels(seriesKey)));
      } catch {
        parsed.set(seriesKey, undefined); // not a label set this library wrote: never matched
      }
    }
    return parsed.get(seriesKey);
  };
  const series = new Set<string>();
  const doomed = new Map<string, string[]>();
  for (const key of t.present) {
    if (key === keys.expiry(name)) continue;
    // Per-process gauge hashes end in their gauge index; quantile windows (summaries) in a slot.
    const index = key.startsWith(keys.gaugePrefix) ? key.slice(key.lastIndexOf(':') + 1) : undefined;
    const fields = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(key, cursor, 'COUNT', 1000);
      for (let i = 0; i < flat.length; i += 2) {
        const seriesKey = seriesKeyOf(flat[i]!);
        const labels = labelsOf(seriesKey);
        if (labels === undefined) continue;
        if (!pairs.every(([l, v]) => (l === 'gauge_index' ? index : labels.get(l)) === v)) continue;
        fields.add(flat[i]!);
        series.add(index === undefined ? `{${seriesKey}}` : `{${seriesKey}} (gauge_index ${index})`);
      }
      cursor = next;
    } while (cursor !== '0');
    if (fields.size > 0) doomed.set(key, [...fields]);
  }
  const fieldCount = [...doomed.values()].reduce((n, f) => n + f.length, 0);
  write(`${t.yes ? 'Deleting' : 'Would delete'} ${series.size} series of "${name}" (${fieldCount} fields):`);
  list([...series].sort());
  if (!t.yes) return dryRun();
  for (const [key, fields] of doomed) {
    await inSlices(fields, (slice) => redis.hdel(key, ...slice));
    if (key === keys.family(name) && meta.kind === 'common_gauge') {
      await inSlices([...new Set(fields.map(seriesKeyOf))], (slice) =>
        redis.zrem(keys.expiry(name), ...slice),
      );
    }
  }
  write(`Deleted ${series.size} series.`);
  return 0;
}

async function purge(args: string[]): Promise<number> {
  const values = parse(args, {
    redis: { type: 'string' },
    prefix: { type: 'string' },
    family: { type: 'string' },
    match: { type: 'string', multiple: true },
    yes: { type: 'boolean' },
  });
  if (values.help === true) return help('purge');
  const { url, prefix } = common(values);
  const family = text(values, 'family');
  const pairs = parseMatch(Array.isArray(values.match) ? values.match : []);
  if (pairs.length > 0 && family === undefined) throw new UsageError('--match needs --family');
  if (family !== undefined && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(family)) {
    throw new UsageError(`--family must be a metric name, got ${JSON.stringify(family)}`);
  }
  const redis = await connect(url);
  try {
    const target: Target = { redis, keys: new Keys(prefix), yes: values.yes === true };
    if (family === undefined) return await purgePrefix(target);
    const found = await findFamily(target, family);
    return await (pairs.length === 0 ? purgeFamily(found) : purgeSeries(found, pairs));
  } finally {
    redis.disconnect();
  }
}

async function serve(args: string[]): Promise<number | undefined> {
  const values = parse(args, {
    redis: { type: 'string' },
    prefix: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    path: { type: 'string' },
    'timeout-ms': { type: 'string' },
  });
  if (values.help === true) return help('serve');
  const { url, prefix } = common(values);
  const port = integer('--port', text(values, 'port'), 9464, 0, 65535);
  const timeoutMs = integer('--timeout-ms', text(values, 'timeout-ms'), 10_000, 1, 3_600_000);
  const host = text(values, 'host') ?? '127.0.0.1';
  const path = text(values, 'path') ?? '/metrics';
  if (!path.startsWith('/')) throw new UsageError(`--path must start with "/", got ${JSON.stringify(path)}`);
  let lastError = '';
  const registry = new Registry({
    redis: url,
    prefix,
    selfMetrics: false,
    // A scrape waits this long for a reconnecting Redis; keeping it under the scrape timeout
    // makes the 503 name the real cause ("Redis is not reachable") rather than the timeout.
    flushTimeoutMs: Math.max(1, Math.min(5000, Math.floor(timeoutMs / 3))),
    onError: (error) => {
      // One line per distinct problem, not one per scrape while Redis is down.
      if (error.message === lastError) return;
      lastError = error.message;
      warn(`${BIN}: ${error.message}`);
    },
  });
  const handler = metricsHandler(registry, { timeoutMs });
  const server = createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    if (route === path) {
      void handler(req, res);
      return;
    }
    const body =
      route === '/' ? `${BIN} ${VERSION}: metrics of prefix "${prefix}" at ${path}\n` : 'Not found\n';
    res.writeHead(route === '/' ? 200 : 404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`)));
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  warn(`${BIN}: serving prefix "${prefix}" from ${redact(url)} at http://${shown}:${bound}${path}`);
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void registry.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return undefined;
}

function help(command: string): number {
  process.stdout.write(HELP[command]!);
  return 0;
}

async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'inspect':
      return inspect(rest);
    case 'purge':
      return purge(rest);
    case '-h':
    case '--help':
    case 'help':
      return help('main');
    case '-v':
    case '--version':
      write(VERSION);
      return 0;
    case undefined:
      process.stderr.write(HELP.main!);
      return 2;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    const command = ['serve', 'inspect', 'purge'].includes(argv[0] ?? '') ? ` ${argv[0]}` : '';
    if (error instanceof UsageError) {
      warn(`${BIN}${command}: ${error.message}`);
      warn(`Run '${BIN}${command} --help' for usage.`);
      process.exitCode = 2;
    } else {
      warn(`${BIN}${command}: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  },
);
