/**
 * The CLI never hangs: a stopped Redis (SIGSTOP: it accepts connections and never answers), a
 * command that gets no answer, TLS to a plain port and a malformed URL each end the command
 * with a message saying what is wrong.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Counter, Registry } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { describeChild, runTs, type ChildResult } from '../system/processes.js';

const CLI = 'src/cli.ts';
let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

/** The CLI, killed (and the test failed) if it outlives 15 s. */
function cli(...args: string[]): Promise<ChildResult> {
  return runTs(CLI, args, { timeoutMs: 15_000 });
}

/** SIGSTOP the server until the test ends (SIGCONT in cleanup). */
function stopServer(): void {
  server.pause();
  onTestFinished(() => server.resume());
}

describe('a database Redis refuses (redis://host/99)', () => {
  it('ends inspect and purge with exit 1 naming it, reading and deleting nothing in database 0', async () => {
    const registry = new Registry({ redis: server.url, prefix: 'db0', selfMetrics: false });
    new Counter({ name: 'kept', help: 'k', registry }).inc();
    await registry.close();
    const keys = await redis.dbsize();
    const common = ['--redis', `${server.url}/99`, '--prefix', 'db0'];
    for (const r of [await cli('inspect', ...common), await cli('purge', ...common, '--yes')]) {
      expect(r.code, describeChild(r)).toBe(1);
      expect(r.stderr).toMatch(/refused database 99: .*DB index is out of range/);
      expect(r.stdout).not.toMatch(/kept/);
    }
    expect(await redis.dbsize()).toBe(keys);
  });
});

describe('CLI --timeout-ms', () => {
  it('every command documents it, with its default', async () => {
    for (const command of ['inspect', 'purge', 'serve']) {
      const r = await cli(command, '--help');
      expect(r.code, describeChild(r)).toBe(0);
      expect(r.stdout).toMatch(/--timeout-ms N .*\(default: 10000\)/s);
    }
  });

  it('inspect and purge on a stopped Redis exit 1 saying it did not answer', async () => {
    stopServer();
    const common = ['--redis', server.url, '--prefix', 'p', '--timeout-ms', '300'];
    const results = await Promise.all([
      cli('inspect', ...common),
      cli('purge', ...common),
      cli('purge', ...common, '--family', 'jobs', '--yes'),
    ]);
    for (const r of results) {
      expect(r.code, describeChild(r)).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `: cannot connect to Redis at redis://127\\.0\\.0\\.1:${server.port}: no answer within 300 ms \\(--timeout-ms\\): is Redis stopped or overloaded\\?\\n$`,
        ),
      );
      expect(r.stdout).toBe('');
    }
  });

  it('purge exits 1 when a command gets no answer (writes paused)', async () => {
    const registry = new Registry({ redis: server.url, prefix: 'paused', selfMetrics: false });
    new Counter({ name: 'jobs_total', help: 'j', registry }).inc();
    await registry.close();
    await redis.call('CLIENT', 'PAUSE', '20000', 'WRITE');
    onTestFinished(async () => {
      await redis.call('CLIENT', 'UNPAUSE');
    });
    const r = await cli('purge', '--redis', server.url, '--prefix', 'paused', '--yes', '--timeout-ms', '300');
    expect(r.code, describeChild(r)).toBe(1);
    expect(r.stderr).toContain(
      `purge: Redis at redis://127.0.0.1:${server.port}: no answer within 300 ms (--timeout-ms)`,
    );
  });
});

describe('CLI --redis', () => {
  it('a malformed URL is a usage error saying what is wrong, exit 2', async () => {
    const cases: Array<[string, string]> = [
      ['redis://127.0.0.1:99999', 'the port must be a number from 1 to 65535, got "99999"'],
      ['redis://127.0.0.1:6x', 'the port must be a number from 1 to 65535, got "6x"'],
      ['redis://:s3cret@[::1', 'the IPv6 address has no closing "]"'],
      ['redis://127.0.0.1:6379/cache', 'the path must be a database number (/0, /1, …), got "/cache"'],
    ];
    // Every case with inspect; the first with purge and serve too (they share the check).
    const runs = [
      ...cases.map(([url, message]) => ({ command: 'inspect', url, message })),
      ...['purge', 'serve'].map((command) => ({ command, url: cases[0]![0], message: cases[0]![1] })),
    ];
    const results = await Promise.all(runs.map(({ command, url }) => cli(command, '--redis', url)));
    results.forEach((r, i) => {
      const { url, message } = runs[i]!;
      expect(r.code, `${url}\n${describeChild(r)}`).toBe(2);
      expect(r.stderr).toContain(`--redis "${url.replace('s3cret', '***')}": ${message}\n`);
      expect(r.stderr).not.toContain('s3cret');
      expect(r.stdout).toBe('');
    });
  });

  it('rediss:// to a plain port says TLS failed, exit 1', async () => {
    const url = `rediss://127.0.0.1:${server.port}`;
    const results = await Promise.all([
      cli('inspect', '--redis', url, '--timeout-ms', '500'),
      cli('purge', '--redis', url, '--timeout-ms', '500'),
    ]);
    for (const r of results) {
      expect(r.code, describeChild(r)).toBe(1);
      expect(r.stderr).toContain(`cannot connect to Redis at ${url}: TLS failed`);
      expect(r.stderr).toContain('for a plain (non-TLS) port, use redis://');
    }
  });
});
