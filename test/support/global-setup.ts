import type { TestProject } from 'vitest/node';
import { startRedisServer, type RedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let server: RedisServer | undefined;

/** One redis-server for the whole run (or REDIS_URL when set); each test uses its own prefix. */
export async function setup(project: TestProject): Promise<void> {
  const url = process.env.REDIS_URL;
  if (url !== undefined && url !== '') {
    project.provide('redisUrl', url);
    return;
  }
  server = await startRedisServer();
  project.provide('redisUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
