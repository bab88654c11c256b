/**
 * A real Redis Cluster on loopback ports for tests: N primaries with R replicas each, created
 * with `redis-cli --cluster create`, no persistence, stopped by `stop()`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterHandle {
  readonly nodes: RedisServer[];
  readonly startupNodes: Array<{ host: string; port: number }>;
  /** A new ioredis Cluster client (the caller disconnects it). */
  client(): Cluster;
  stop(): Promise<void>;
}

async function clusterOk(port: number): Promise<boolean> {
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    const info = (await probe.call('CLUSTER', 'INFO')) as string;
    return /cluster_state:ok/.test(info) && /cluster_slots_assigned:16384/.test(info);
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export async function startRedisCluster(primaries = 3, replicas = 1): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'prc-cluster-'));
  const count = primaries * (1 + replicas);
  const nodes: RedisServer[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push(
      await startRedisServer([
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${i}.conf`,
        // Long enough that a node briefly starved of CPU (2 cores, tests in parallel) is not
        // failed over behind a test's back; short enough that elections (retried after twice
        // this) finish quickly in the failover tests.
        '--cluster-node-timeout',
        '3000',
        '--dir',
        dir,
      ]),
    );
  }
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  await run('redis-cli', [
    '--cluster',
    'create',
    ...addresses,
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ]);
  const deadline = Date.now() + 30_000;
  for (const node of nodes) {
    while (!(await clusterOk(node.port))) {
      if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const startupNodes = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  const clients: Cluster[] = [];
  return {
    nodes,
    startupNodes,
    client() {
      const c = new Cluster(startupNodes, { redisOptions: { maxRetriesPerRequest: 3 } });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients.splice(0)) c.disconnect();
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
