import { VERSION } from '../core/version.js';
import type { RedisClient } from './connection.js';
import { flushScript, readScript, releaseScript } from './scripts.generated.js';

const suffix = VERSION.replace(/\W/g, '_');

/** Command names carry the library version, so two versions sharing one Redis never mix scripts. */
export const FLUSH_COMMAND = `prcFlush_${suffix}`;
export const READ_COMMAND = `prcRead_${suffix}`;
export const RELEASE_COMMAND = `prcRelease_${suffix}`;

type ScriptCommand = (...args: Array<string | Buffer>) => Promise<unknown>;

const defined = new WeakSet<object>();

/** Define the library's scripts on a connection once (ioredis sends EVALSHA, falling back to EVAL). */
export function defineScripts(redis: RedisClient): void {
  if (defined.has(redis)) return;
  for (const [name, script] of [
    [FLUSH_COMMAND, flushScript],
    [READ_COMMAND, readScript],
    [RELEASE_COMMAND, releaseScript],
  ] as const) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  defined.add(redis);
}

/** Call a defined script. */
export function callScript(
  redis: RedisClient,
  name: string,
  args: ReadonlyArray<string | Buffer>,
): Promise<unknown> {
  defineScripts(redis);
  const command = (redis as unknown as Record<string, ScriptCommand>)[name];
  if (command === undefined) throw new Error(`Script ${name} is not defined on this connection`);
  return command.apply(redis, args as Array<string | Buffer>);
}
