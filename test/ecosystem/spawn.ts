/** Long-running child processes for the ecosystem tests: examples, the demo, the CLI exporter. */
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT, type ChildResult } from '../system/processes.js';

export interface Started {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited (it is SIGKILLed past `timeoutMs`). */
  readonly exited: Promise<ChildResult>;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<ChildResult>;
}

/**
 * Start `node --import tsx <file> ...args` in the repository root without waiting for it. A child
 * that outlives `timeoutMs` is SIGKILLed and says so on stderr, so a hang fails the test.
 */
export function startTs(
  file: string,
  args: readonly string[] = [],
  { env = process.env, timeoutMs = 30_000 }: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => {
    stderr += `\n[test] killed after ${timeoutMs} ms`;
    child.kill('SIGKILL');
  }, timeoutMs);
  const exited = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** An environment for a child: this process's, with `set` applied and `unset` removed. */
export function childEnv(set: Record<string, string>, unset: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...set };
  for (const name of unset) delete env[name];
  return env;
}

/** GET a URL; the body as text and the status. */
export async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}
