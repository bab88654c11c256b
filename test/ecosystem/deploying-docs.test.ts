/**
 * docs/deploying.md as a user copies it: the Kubernetes manifest's exporter command starts the
 * real CLI and answers both probes, and the pm2 ecosystem file leaves `close()` the time it needs.
 * (Its prometheus.yml is checked by promtool and scraped by a real Prometheus in adoption.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Counter } from '../../src/index.js';
import { testRegistry, redisUrl, purgePrefix, redisClient } from '../support/helpers.js';
import { ROOT, describeChild, pollUntil } from '../system/processes.js';
import { startTs } from './spawn.js';

const DOC = readFileSync(join(ROOT, 'docs', 'deploying.md'), 'utf8');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const EXAMPLE = readFileSync(join(ROOT, 'examples', 'express-app.ts'), 'utf8');

describe('docs/deploying.md', () => {
  it("the manifest's exporter args start the CLI, bound to every interface, answering / and /metrics", async () => {
    // The `args:` block sequence: `- item` lines, items plain or quoted.
    const block = /^( *)args:\n((?:\1 {2}- .*\n)+)/m.exec(DOC)?.[2];
    expect(block, 'an `args:` list in the manifest').toBeDefined();
    const args = block!
      .trimEnd()
      .split('\n')
      .map((item) => item.replace(/^\s*- /, '').replace(/^(['"])(.*)\1$/, '$2'))
      .map((arg) => (arg === '$(REDIS_URL)' ? redisUrl() : arg));
    expect(args.slice(0, 1)).toEqual(['serve']);
    expect(args[args.indexOf('--host') + 1]).toBe('0.0.0.0');
    const { registry, prefix } = testRegistry({ prefix: args[args.indexOf('--prefix') + 1] });
    // The documented prefix ("shop") on the shared server: taken only by this test, and purged.
    new Counter({ name: 'deploy_doc_total', help: 'd', registry }).inc(7);
    await registry.flush();
    args[args.indexOf('--port') + 1] = '0';
    const exporter = startTs('src/cli.ts', args);
    const admin = redisClient();
    try {
      const url = await pollUntil(
        () => /http:\/\/0\.0\.0\.0:(\d+)\/metrics/.exec(exporter.stderr())?.[1],
        (port) => port !== undefined,
        { timeoutMs: 15_000, what: 'the exporter announcing its address' },
      );
      const base = `http://127.0.0.1:${url!}`;
      const ready = await fetch(`${base}/`);
      expect(ready.status).toBe(200);
      expect(await ready.text()).toContain(`metrics of prefix "${prefix}" at /metrics`);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('deploy_doc_total 7\n');
    } finally {
      const result = await exporter.stop();
      expect(result.code, describeChild(result)).toBe(0);
      await registry.close();
      await purgePrefix(admin, prefix);
      await admin.quit();
    }
  });

  it("the pm2 ecosystem file's kill_timeout outlasts the shutdown hooks' two default timeouts", () => {
    const killTimeout = Number(/kill_timeout: (\d+),/.exec(DOC)?.[1]);
    expect(killTimeout).toBeGreaterThan(2000 + 5000);
    expect(DOC).toMatch(/`serverCloseTimeoutMs`\s+\(default 2000 ms\)/);
    expect(DOC).toContain('`closeTimeoutMs` (default 5000 ms)');
  });

  it("the README's first example shuts down as examples/express-app.ts (which adoption.test.ts runs under pm2)", () => {
    const first = /## Install in your app[\s\S]*?```ts\n([\s\S]*?)```/.exec(README)?.[1] ?? '';
    for (const line of [
      'app.use(httpMetrics().express);',
      'const server = app.listen(3000);',
      'installShutdownHooks(REGISTRY, { servers: [server] });',
    ]) {
      expect(first).toContain(line);
    }
    expect(EXAMPLE).toContain('installShutdownHooks(registry, { servers: [server] });');
    expect(EXAMPLE).toContain('app.use(httpMetrics({ registry }).express);');
  });
});
