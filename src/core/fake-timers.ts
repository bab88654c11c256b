/**
 * Whether a test's fake timers have replaced what the library's I/O runs on. ioredis queues its
 * commands through `process.nextTick`, p-queue continues through `queueMicrotask`: faked (jest 30's
 * default `useFakeTimers()`, or @sinonjs/fake-timers with everything faked), a flush or scrape would
 * never settle, and hold the flush queue until `closeTimeoutMs`. The library checks first and
 * fails at once, saying what to keep real. Timers themselves may be faked: they follow the clock.
 */

/** A function some fake-timer library put in place of the real one. */
function isFake(fn: unknown): boolean {
  if (typeof fn !== 'function') return false;
  // @sinonjs/fake-timers (jest's modern timers, vitest's) marks its fakes with their `clock`.
  // (Mock functions are not taken for fakes: a spy that calls through, vi.spyOn or jest.spyOn,
  // is one too, and it works.)
  return 'clock' in fn;
}

/** What is faked among the scheduling primitives the I/O needs; empty when nothing is. */
export function fakedScheduling(): string[] {
  const faked: string[] = [];
  if (isFake(Reflect.get(process, 'nextTick'))) faked.push('nextTick');
  if (isFake(globalThis.queueMicrotask)) faked.push('queueMicrotask');
  return faked;
}

/** The message of a flush or scrape refused because `faked` are fake. */
export function fakedSchedulingMessage(faked: readonly string[]): string {
  const list = faked.map((name) => `'${name}'`).join(', ');
  return (
    `Fake timers replaced ${faked.join(' and ')}, which Redis I/O runs on: this call would never settle. ` +
    `Keep them real: jest.useFakeTimers({ doNotFake: [${list}] }) (vitest fakes neither by default)`
  );
}
