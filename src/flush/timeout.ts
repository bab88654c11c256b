/**
 * Settle with `promise`, or reject with `onTimeout()` after `ms`. The timer is deliberately not
 * unref()'d: a flush in flight keeps the process alive until it settles, at most `ms`.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Keep the process alive until `promise` settles. The registry's own connection is unref()'d
 * (it never keeps a process alive by itself), so every command the library awaits holds a handle.
 */
export function keepAlive<T>(promise: Promise<T>): Promise<T> {
  const handle = setInterval(() => {}, 1 << 30);
  const release = (): void => clearInterval(handle);
  promise.then(release, release);
  return promise;
}
