/** Child processes and polling for the system tests. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { until } from '../support/helpers.js';

/** Repository root (where `tsx` and the sources are). */
export const ROOT = new URL('../../', import.meta.url).pathname;

export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A child process started by `start()`. */
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
 * Start a command in the repository root without waiting for it, collecting its output. A child
 * that outlives `timeoutMs` is SIGKILLed and says so on stderr, so a hang fails the test.
 */
export function start(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Started {
  const { timeoutMs = 60_000, ...spawnOptions } = options;
  const child = spawn(command, args, { cwd: ROOT, ...spawnOptions, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => {});
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

/** Run a command to completion (see `start()`); `input` is written to stdin. */
export function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number; input?: string } = {},
): Promise<ChildResult> {
  const { input, ...rest } = options;
  const started = start(command, args, rest);
  started.child.stdin!.end(input ?? '');
  return started.exited;
}

/** Run a TypeScript file with Node and tsx. */
export function runTs(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ChildResult> {
  return run(process.execPath, ['--import', 'tsx', file, ...args], options);
}

/** Describe a child's end for assertion messages. */
export function describeChild(result: ChildResult): string {
  return `exit ${String(result.code)} signal ${String(result.signal)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

/** `until` (test/support/helpers.ts) with its options named, as the system tests call it. */
export function pollUntil<T>(
  probe: () => Promise<T> | T,
  done: (value: T) => boolean,
  {
    timeoutMs,
    intervalMs = 50,
    what = 'condition',
  }: { timeoutMs: number; intervalMs?: number; what?: string },
): Promise<T> {
  return until(probe, done, what, timeoutMs, intervalMs);
}
