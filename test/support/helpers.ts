import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, inject, onTestFinished } from 'vitest';
import { Registry, type RegistryOptions } from '../../src/index.js';

/** A random prefix so tests sharing one Redis never see each other's keys. */
export function randomPrefix(label = 't'): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

/** URL of the run's shared redis-server (global setup) or REDIS_URL. */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** A client of the shared server; the caller quits it. */
export function redisClient(url = redisUrl()): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 2 });
  client.on('error', () => {});
  return client;
}

/** Delete every key under a prefix. */
export async function purgePrefix(redis: Redis, prefix: string): Promise<void> {
  // The registry's own slot, and the family groups of `shardBy: "metric"`.
  const keys = [...(await redis.keys(`{${prefix}}:*`)), ...(await redis.keys(`${prefix}:{${prefix}:*`))];
  if (keys.length > 0) await redis.del(...keys);
}

/**
 * A registry on the shared server with a random prefix, a long interval (tests flush
 * explicitly) and no self-metrics unless asked. Errors are collected in `errors`.
 */
export function testRegistry(options: RegistryOptions = {}): {
  registry: Registry;
  errors: Error[];
  prefix: string;
} {
  const errors: Error[] = [];
  const prefix = options.prefix ?? randomPrefix();
  const registry = new Registry({
    redis: redisUrl(),
    flushIntervalMs: 60_000,
    expireSeconds: 600,
    // Exact-output assertions should not see the library's own metrics; tests of those opt in.
    selfMetrics: false,
    onError: (e) => errors.push(e),
    ...options,
    prefix,
  });
  return { registry, errors, prefix };
}

/** Sample lines of an exposition: `name{labels}` → value (`+Inf`/`-Inf` understood). */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    const raw = line.slice(cut + 1);
    out.set(line.slice(0, cut), raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw));
  }
  return out;
}

/** The value of one sample line (`name{labels}` exactly as printed), or undefined. */
export function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

/**
 * Poll `probe` until `done` holds for its value, and return that value. A probe that throws (Redis
 * still coming back, say) is polled again. After `timeoutMs`, fail naming `what` and the last value
 * or error; `what` may be a function, for state worth printing only when it fails.
 */
export async function until<T>(
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  what: string | (() => string),
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      const value = await probe();
      if (done(value)) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const about = typeof what === 'string' ? what : what();
      const shown =
        last instanceof Error ? last.stack : typeof last === 'string' ? last : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${about}; last: ${String(shown)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Flush until nothing is left undelivered (Redis may still be coming back), or fail after `ms`. */
export async function settle(registry: Registry, ms = 20_000): Promise<void> {
  await until(
    () => registry.flush().then(() => registry.undeliveredSeries),
    (n) => n === 0,
    'the registry to deliver its deltas',
    ms,
  );
}

/** Registries for one test file: each is closed, and its prefix purged, after every test. */
export interface TestRegistries {
  /** `testRegistry(options)`, cleaned up after the test. */
  readonly make: (options?: RegistryOptions) => ReturnType<typeof testRegistry>;
  /** Clean up a registry made some other way, with its prefix, after the test. */
  readonly track: (registry: Registry, prefix: string) => void;
  /** A client of the shared server for raw assertions (quit after the file). */
  readonly redis: Redis;
}

/** Call at the top level of a test file. */
export function useTestRegistries(): TestRegistries {
  const open: Array<{ registry: Registry; prefix: string }> = [];
  let client: Redis | undefined;
  const api: TestRegistries = {
    make: (options = {}) => {
      const made = testRegistry(options);
      open.push(made);
      return made;
    },
    track: (registry, prefix) => {
      open.push({ registry, prefix });
    },
    get redis() {
      client ??= redisClient();
      return client;
    },
  };
  afterEach(async () => {
    const prefixes = new Set<string>();
    for (const { registry, prefix } of open.splice(0)) {
      await registry.close();
      prefixes.add(prefix);
    }
    for (const prefix of prefixes) await purgePrefix(api.redis, prefix);
  });
  afterAll(async () => {
    await client?.quit();
  });
  return api;
}

/**
 * Increment every child once and flush every registry, over and over, until `stop()`; flush
 * failures are expected (faults are being injected) and retried by the next round. `stop()`
 * resolves to the number of increments recorded.
 */
export function flushUnderLoad(
  children: ReadonlyArray<{ inc(): void }>,
  registries: readonly Registry[],
): { stop(): Promise<number> } {
  let recorded = 0;
  let running = true;
  const load = (async () => {
    while (running) {
      for (const child of children) child.inc();
      recorded += children.length;
      await Promise.all(registries.map((r) => r.flush().catch(() => {})));
      // Flushes that fail at once must not starve timers and I/O (nor hang a failed test).
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  // A test that fails half-way must not leave the load running behind it.
  onTestFinished(async () => {
    running = false;
    await load;
  });
  return {
    async stop() {
      running = false;
      await load;
      return recorded;
    },
  };
}
