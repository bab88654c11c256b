/** Long-running child processes for the ecosystem tests: examples, the demo, the CLI exporter. */
import { start, type Started } from '../system/processes.js';

export type { Started } from '../system/processes.js';

/**
 * Start `node --import tsx <file> ...args` in the repository root without waiting for it. A child
 * that outlives `timeoutMs` is SIGKILLed and says so on stderr, so a hang fails the test.
 */
export function startTs(
  file: string,
  args: readonly string[] = [],
  { env = process.env, timeoutMs = 30_000 }: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Started {
  const started = start(process.execPath, ['--import', 'tsx', file, ...args], { env, timeoutMs });
  started.child.stdin!.end(); // nothing is written to these children
  return started;
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
