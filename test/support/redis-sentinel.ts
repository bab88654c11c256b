/**
 * A primary, its replicas (one by default) and three sentinels on loopback ports, for failover tests. Sentinels
 * need a writable config file each; everything lives in a temporary folder removed by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';

export const SENTINEL_NAME = 'prcmaster';

export interface SentinelSetup {
  readonly primary: RedisServer;
  readonly replica: RedisServer;
  /** Every replica at the start (`replica` is the first). */
  readonly replicas: readonly RedisServer[];
  readonly sentinels: Array<{ host: string; port: number }>;
  /** An ioredis client that follows the primary through the sentinels (the caller disconnects it). */
  client(options?: RedisOptions): Redis;
  /** Ask a sentinel to fail over now, and wait until the sentinels report the new primary. */
  failover(): Promise<number>;
  /** SIGKILL the current primary and wait until the sentinels report the new one. */
  killPrimary(): Promise<number>;
  stop(): Promise<void>;
}

async function ready(port: number, check: (c: Redis) => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => {});
    try {
      await c.connect();
      if (await check(c)) return;
    } catch {
      // not yet
    } finally {
      c.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`port ${port} did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startSentinelSetup(replicaCount = 1): Promise<SentinelSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'prc-sentinel-'));
  // Replication syncs write an RDB file into the server's directory: keep it in the temp folder.
  const primary = await startRedisServer(['--dir', dir]);
  const replicas: RedisServer[] = [];
  for (let i = 0; i < replicaCount; i++) {
    // Each its own folder: two replicas syncing at once must not share one temporary RDB.
    const own = join(dir, `replica-${i}`);
    mkdirSync(own);
    const replica = await startRedisServer(['--dir', own, '--replicaof', '127.0.0.1', String(primary.port)]);
    await ready(replica.port, async (c) => /master_link_status:up/.test(await c.info('replication')));
    replicas.push(replica);
  }
  const replica = replicas[0]!;
  const children: ChildProcess[] = [];
  const sentinels: Array<{ host: string; port: number }> = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${i}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    child.on('error', () => {});
    children.push(child);
    sentinels.push({ host: '127.0.0.1', port });
  }
  for (const s of sentinels) {
    await ready(s.port, async (c) => {
      const replicas = (await c.call('SENTINEL', 'REPLICAS', SENTINEL_NAME)) as unknown[];
      const known = (await c.call('SENTINEL', 'SENTINELS', SENTINEL_NAME)) as unknown[];
      return replicas.length >= replicaCount && known.length >= 2;
    });
  }
  const primaryPort = async (): Promise<number> => {
    const c = new Redis({ ...sentinels[0]!, maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    try {
      const [, port] = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)) as [
        string,
        string,
      ];
      return Number(port);
    } finally {
      c.disconnect();
    }
  };
  const clients: Redis[] = [];
  // Every replica following the primary, as the sentinels see it: a failover asked before an
  // earlier one settled (the old primary rejoining as a replica) would find fewer.
  const settled = async (): Promise<void> => {
    await ready(
      sentinels[0]!.port,
      async (c) => {
        const listed = (await c.call('SENTINEL', 'REPLICAS', SENTINEL_NAME)) as string[][];
        const up = listed.filter((fields) => {
          const at = (name: string): string | undefined => fields[fields.indexOf(name) + 1];
          return at('flags') === 'slave' && at('master-link-status') === 'ok';
        });
        return up.length >= replicaCount;
      },
      30_000,
    );
  };
  const waitForNewPrimary = async (before: number): Promise<number> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const now = await primaryPort().catch(() => before);
      if (now !== before) {
        await ready(now, async (r) => /role:master/.test(await r.info('replication')));
        return now;
      }
      if (Date.now() > deadline) throw new Error('failover did not happen');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    primary,
    replica,
    replicas,
    sentinels,
    client(options: RedisOptions = {}) {
      const c = new Redis({ sentinels, name: SENTINEL_NAME, maxRetriesPerRequest: 3, ...options });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    async failover() {
      await settled();
      const before = await primaryPort();
      const c = new Redis({ ...sentinels[0]!, maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      await c.call('SENTINEL', 'FAILOVER', SENTINEL_NAME);
      c.disconnect();
      return waitForNewPrimary(before);
    },
    async killPrimary() {
      await settled();
      const before = await primaryPort();
      const server = [primary, ...replicas].find((s) => s.port === before);
      if (server === undefined) throw new Error(`no server on the primary's port ${before}`);
      await server.kill();
      const now = await waitForNewPrimary(before);
      // Back as it was configured (a primary): the sentinels turn it into a replica of the new one.
      await server.start();
      return now;
    },
    async stop() {
      for (const c of clients.splice(0)) c.disconnect();
      for (const child of children) {
        if (child.exitCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        }
      }
      await primary.kill();
      for (const r of replicas) await r.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
