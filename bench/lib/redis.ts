/** Redis for the suite: connections, clean-up by prefix, server version, redis-benchmark. */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** A client for the suite's own bookkeeping (not the measured library's connection). */
export function connect(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2 });
  redis.on('error', () => {});
  return redis;
}

/** A random key prefix, so groups (and repeated runs on a shared REDIS_URL) never collide. */
export function benchPrefix(label: string): string {
  return `bench-${label}-${randomBytes(4).toString('hex')}`;
}

/** Delete every key with the hash tag `{prefix}` (the library's keys) or the given pattern. */
export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  // UNLINK frees big values in Redis's background thread: wait until it is done, so the next
  // measurement does not share the machine's two cores with freeing the last one's millions of
  // fields.
  for (;;) {
    const pending = /lazyfree_pending_objects:(\d+)/.exec(await redis.info('memory'))?.[1];
    if (pending === undefined || pending === '0') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function prefixPattern(prefix: string): string {
  return `{${prefix}}:*`;
}

export async function redisVersion(redis: Redis): Promise<string> {
  const info = await redis.info('server');
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

/** Whether an executable is on PATH. */
export function installed(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export interface Ceiling {
  readonly command: string;
  /** Requests per second redis-benchmark reached. */
  readonly rps: number;
  readonly requests: number;
  readonly pipeline: number;
  readonly clients: number;
}

/**
 * The server's own ceiling for a command: redis-benchmark with 50 clients, pipelining 1000, on a
 * hash with up to 100,000 random fields (what a 100,000-series flush writes into). Returns
 * undefined when redis-benchmark is not installed.
 */
export async function ceiling(
  url: string,
  command: 'HINCRBYFLOAT' | 'HINCRBY',
  requests: number,
): Promise<Ceiling | undefined> {
  if (!installed('redis-benchmark')) return undefined;
  const target = new URL(url);
  const key = `{${benchPrefix('ceiling')}}:h`;
  const args = [
    '-h',
    target.hostname || '127.0.0.1',
    '-p',
    target.port || '6379',
    '-n',
    String(requests),
    '-P',
    '1000',
    '-c',
    '50',
    '-r',
    '100000',
    '--csv',
  ];
  if (target.password !== '') args.push('-a', decodeURIComponent(target.password));
  if (target.username !== '') args.push('--user', decodeURIComponent(target.username));
  const db = target.pathname.replace(/^\//, '');
  if (db !== '') args.push('--dbnum', db);
  args.push(command, key, '__rand_int__', command === 'HINCRBY' ? '3' : '1.5');
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`redis-benchmark exited ${code}: ${err}`)),
    );
  });
  const redis = connect(url);
  await redis.unlink(key);
  redis.disconnect();
  // CSV: a header line, then "<command line>","<rps>",...
  const line = output
    .trim()
    .split('\n')
    .find((l) => l.startsWith(`"${command}`));
  const rps = Number(line?.split('","')[1]);
  if (!Number.isFinite(rps)) throw new Error(`Cannot read redis-benchmark output:\n${output}`);
  return { command, rps, requests, pipeline: 1000, clients: 50 };
}

/** Microseconds Redis spent in EVALSHA/EVAL so far (INFO commandstats). */
export async function scriptUsec(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let usec = 0;
  for (const match of info.matchAll(/cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/g))
    usec += Number(match[1]);
  return usec;
}

/** Calls of one command so far and the microseconds Redis spent executing them (INFO commandstats). */
export async function commandUsec(redis: Redis, command: string): Promise<{ calls: number; usec: number }> {
  const info = await redis.info('commandstats');
  const match = new RegExp(`cmdstat_${command.toLowerCase()}:calls=(\\d+),usec=(\\d+)`).exec(info);
  return match === null ? { calls: 0, usec: 0 } : { calls: Number(match[1]), usec: Number(match[2]) };
}
