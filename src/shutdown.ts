/**
 * `installShutdownHooks()`: opt-in hooks that close (flush) a registry when the process is asked
 * to stop or its event loop runs dry, then let the process stop as it would have.
 */
import { describeValue, validateBoolean, validatePositiveInteger } from './core/validate.js';
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
  /**
   * HTTP servers to stop before the registry closes (an Express app's `app.listen()`, Fastify's
   * `fastify.server`): on the signal each stops accepting, the requests in progress finish, and
   * only then the last flush runs — a request answered after it would be recorded too late and
   * lost. Connections still open after `serverCloseTimeoutMs` are closed (a request still running
   * then is cut off). Under pm2's cluster mode `server.close()` alone is not enough: connections
   * accepted but without a request yet stay open and keep being served.
   * @default []
   */
  readonly servers?: readonly ClosableServer[];
  /**
   * Longest wait for `servers` to finish their requests before the registry closes; the whole
   * shutdown takes at most this plus the registry's `closeTimeoutMs`.
   * @default 2000
   */
  readonly serverCloseTimeoutMs?: number;
}

/** What the hooks need of an HTTP server (`node:http`'s `Server`, and so Express's and Fastify's). */
export interface ClosableServer {
  /** Stop accepting connections; the callback runs once every connection has ended. */
  close(callback?: (error?: Error) => void): unknown;
  /** Close every connection, busy or idle (Node 18.2+). */
  closeAllConnections?(): void;
  /** Close the connections that are not serving a request (Node 18.2+). */
  closeIdleConnections?(): void;
}

/**
 * Stop `servers`: no new connections, idle ones closed, and the requests in progress given
 * `ms` to finish; what is still open then is closed.
 */
async function stopServers(servers: readonly ClosableServer[], ms: number): Promise<void> {
  if (servers.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  const closed = servers.map(
    (server) =>
      new Promise<void>((resolve) => {
        try {
          server.close(() => resolve());
          server.closeIdleConnections?.();
        } catch {
          resolve(); // already closed, or not a server that closes: nothing to wait for
        }
      }),
  );
  // A keep-alive connection whose request finished is idle from then on: close it then too.
  const idle = setInterval(() => {
    for (const server of servers) {
      try {
        server.closeIdleConnections?.();
      } catch {
        // A server that cannot close its idle connections still closes all of them below.
      }
    }
  }, 25);
  await Promise.race([Promise.all(closed), late]);
  clearTimeout(timer);
  clearInterval(idle);
  for (const server of servers) {
    try {
      server.closeAllConnections?.();
    } catch {
      // As above: the registry still closes.
    }
  }
}

/**
 * Opt-in: close (flush) `registry` when the process is asked to stop, then let it stop the way
 * it would have without the hook. On a signal, the hook stops `servers` (their requests in
 * progress finish first), then flushes (bounded by `closeTimeoutMs`)
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
  const servers = options.servers ?? [];
  if (
    !Array.isArray(servers) ||
    servers.some((s) => typeof (s as Partial<ClosableServer>)?.close !== 'function')
  ) {
    throw new TypeError(
      `Expected \`servers\` to be an array of HTTP servers (with close()), got ${describeValue(servers)}`,
    );
  }
  const serverCloseTimeoutMs = validatePositiveInteger(
    'serverCloseTimeoutMs',
    options.serverCloseTimeoutMs ?? 2000,
  );
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
      // A server that fails to close must not cost the last flush.
      void stopServers(servers, serverCloseTimeoutMs)
        .catch(() => {})
        .then(() => registry.close({ keepGauges }))
        .finally(() => {
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
