/**
 * `installShutdownHooks()`: opt-in hooks that close (flush) a registry when the process is asked
 * to stop or its event loop runs dry, then let the process stop as it would have.
 */
import { describeValue, validateBoolean } from './core/validate.js';
import type { Registry } from './registry.js';

/** Options of `installShutdownHooks`. */
export interface ShutdownHookOptions {
  /**
   * Signals on which to close the registry (flush once) before the process goes down.
   * @default ["SIGTERM", "SIGINT"]
   */
  readonly signals?: readonly NodeJS.Signals[];
  /**
   * Also close the registry on `beforeExit` (the event loop ran dry: a script that just ends).
   * @default true
   */
  readonly beforeExit?: boolean;
  /**
   * Passed to `registry.close()`: leave this process's per-process gauges for `expireSeconds`
   * instead of removing them at once (a job whose last values should still be scraped).
   * @default false
   */
  readonly keepGauges?: boolean;
}

/**
 * Opt-in: close (flush) `registry` when the process is asked to stop, then let it stop the way
 * it would have without the hook. On a signal, the hook flushes (bounded by `closeTimeoutMs`)
 * and, if no other listener handles that signal, re-raises it so Node's default action — exit —
 * happens; it never calls `process.exit()` itself. Returns a function that removes the hooks.
 * Nothing is installed unless you call this.
 */
export function installShutdownHooks(registry: Registry, options: ShutdownHookOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  for (const signal of signals) {
    if (typeof signal !== 'string' || !/^SIG[A-Z0-9]+$/.test(signal)) {
      throw new TypeError(
        `Expected \`signals\` to hold signal names such as "SIGTERM", got ${describeValue(signal)}`,
      );
    }
  }
  const keepGauges = validateBoolean('keepGauges', options.keepGauges ?? false);
  const handlers = new Map<NodeJS.Signals, () => void>();
  let closing = false;

  const uninstall = (): void => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    handlers.clear();
    process.off('beforeExit', onBeforeExit);
  };

  function onBeforeExit(): void {
    if (closing) return;
    closing = true;
    uninstall();
    // Scheduling the close keeps the loop alive until it settles; close() reports its own errors.
    void registry.close({ keepGauges });
  }

  for (const signal of signals) {
    const handler = (): void => {
      if (closing) return;
      closing = true;
      uninstall();
      void registry.close({ keepGauges }).finally(() => {
        // Re-raise only when nobody else listens: then Node's default action (exit) applies.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  if (options.beforeExit ?? true) process.on('beforeExit', onBeforeExit);
  return uninstall;
}
