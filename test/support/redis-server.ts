/**
 * Starts and controls real redis-server processes for tests: a free loopback port, no
 * persistence, stopped when the test is done. Fault tests use stop()/start()/kill()/pause()/resume().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  server.close();
  await once(server, 'close');
  return address.port;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Start (again) on the same port. */
  start(): Promise<void>;
  /** Graceful stop (SHUTDOWN NOSAVE semantics: the data is gone, as after a crash without persistence). */
  stop(): Promise<void>;
  /** SIGKILL the server. */
  kill(): Promise<void>;
  /** SIGSTOP the server: connections stay open and nothing is answered (a black-holed link). */
  pause(): void;
  /** SIGCONT a paused server (stop() and kill() resume it first). */
  resume(): void;
  /** A fresh client for assertions (closed by stop()). */
  client(): Redis;
  readonly running: boolean;
}

async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
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
      await probe.ping();
      probe.disconnect();
      return;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function startRedisServer(extraArgs: string[] = [], port?: number): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  let child: ChildProcess | undefined;
  const clients: Redis[] = [];
  const server: RedisServer = {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (server.running) return;
      const proc = spawn(
        'redis-server',
        [
          '--port',
          String(chosen),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          ...extraArgs,
        ],
        { stdio: 'ignore' },
      );
      child = proc;
      proc.on('error', () => {});
      await waitForPing(chosen, 10_000);
    },
    async stop() {
      for (const c of clients.splice(0)) c.disconnect();
      if (!server.running || child === undefined) return;
      const exited = once(child, 'exit');
      server.resume();
      child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (!server.running || child === undefined) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    pause() {
      if (server.running) child?.kill('SIGSTOP');
    },
    resume() {
      if (server.running) child?.kill('SIGCONT');
    },
    client() {
      const c = new Redis({ port: chosen, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
  };
  await server.start();
  return server;
}
