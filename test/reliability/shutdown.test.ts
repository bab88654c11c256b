import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { randomPrefix, redisUrl } from '../support/helpers.js';

const readers: Registry[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) await r.close();
});

async function total(prefix: string): Promise<string> {
  const reader = new Registry({ redis: redisUrl(), prefix, flushIntervalMs: 60_000, selfMetrics: false });
  readers.push(reader);
  return reader.metrics();
}

function run(prefix: string, mode: 'serve' | 'script') {
  return spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/shutdown-worker.ts', redisUrl(), prefix, mode],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
}

describe('installShutdownHooks', () => {
  it('flushes on SIGTERM and then lets the signal terminate the process as it would have', async () => {
    const prefix = randomPrefix('sd');
    const child = run(prefix, 'serve');
    await once(child.stdout, 'data');
    const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill('SIGTERM');
    const [code, signal] = await exit;
    // Killed by the re-raised signal: the hook never calls process.exit() itself.
    expect(signal).toBe('SIGTERM');
    expect(code).toBeNull();
    expect(await total(prefix)).toContain('jobs_total 1234\n');
  });

  it('flushes a script that just ends (beforeExit) and lets it exit 0', async () => {
    const prefix = randomPrefix('sd');
    const child = run(prefix, 'script');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(await total(prefix)).toContain('jobs_total 1234\n');
  });

  it('rejects a malformed signal list naming the value', async () => {
    const { installShutdownHooks } = await import('../../src/index.js');
    const registry = new Registry({ prefix: randomPrefix(), selfMetrics: false });
    expect(() => installShutdownHooks(registry, { signals: ['TERM' as NodeJS.Signals] })).toThrow(/"TERM"/);
  });
});
