/** `serve`: the standalone exporter, an HTTP server for the merged metrics of one prefix in Redis. */
import { createServer } from 'node:http';

import { metricsHandler } from '../http.js';

import { Registry } from '../registry.js';
import { VERSION } from '../core/version.js';
import { DEFAULT_PREFIX } from '../options.js';
import { BIN, UsageError, warn, parse, text, common, integer, redact, help } from './shared.js';
import { clusterClient } from './connect.js';

export async function serve(args: string[]): Promise<number | undefined> {
  const values = parse(args, {
    redis: { type: 'string' },
    prefix: { type: 'string' },
    cluster: { type: 'boolean' },
    port: { type: 'string' },
    host: { type: 'string' },
    path: { type: 'string' },
    'timeout-ms': { type: 'string' },
    'text-only': { type: 'boolean' },
    'no-created': { type: 'boolean' },
  });
  if (values.help === true) return help('serve');
  const { url, prefix, cluster } = common(values);
  const port = integer('--port', text(values, 'port'), 9464, 0, 65535);
  const timeoutMs = integer('--timeout-ms', text(values, 'timeout-ms'), 10_000, 1, 3_600_000);
  const host = text(values, 'host') ?? '127.0.0.1';
  const path = text(values, 'path') ?? '/metrics';
  if (!path.startsWith('/')) throw new UsageError(`--path must start with "/", got ${JSON.stringify(path)}`);
  let lastError = '';
  const report = (error: Error): void => {
    // One line per distinct problem, not one per scrape while Redis is down.
    if (error.message === lastError) return;
    lastError = error.message;
    warn(`${BIN}: ${error.message}`);
  };
  // A cluster client keeps reconnecting, as the registry's own connection to one Redis does.
  const client = cluster ? clusterClient(url, false) : undefined;
  client?.on('error', report);
  const registry = new Registry({
    redis: client ?? url,
    prefix,
    selfMetrics: false,
    // A scrape waits this long for a reconnecting Redis; keeping it under the scrape timeout
    // makes the 503 name the real cause ("Redis is not reachable") rather than the timeout.
    flushTimeoutMs: Math.max(1, Math.min(5000, Math.floor(timeoutMs / 3))),
    onError: report,
  });
  const handler = metricsHandler(watchEmpty(registry, prefix), {
    timeoutMs,
    openMetrics: values['text-only'] !== true,
    created: values['no-created'] !== true,
  });
  const server = createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    if (route === path) {
      void handler(req, res);
      return;
    }
    const body =
      route === '/' ? `${BIN} ${VERSION}: metrics of prefix "${prefix}" at ${path}\n` : 'Not found\n';
    res.writeHead(route === '/' ? 200 : 404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`)));
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  warn(`${BIN}: serving prefix "${prefix}" from ${redact(url)} at http://${shown}:${bound}${path}`);
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void registry.close().then(() => client?.disconnect());
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return undefined;
}

/**
 * The registry as the handler sees it, saying on stderr when a whole scrape came back without a
 * single family — a wrong `--prefix` (or `--redis`, or database) answers an empty 200 that
 * Prometheus takes as healthy. Said once, and again after the prefix held families meanwhile.
 */
function watchEmpty(
  registry: Registry,
  prefix: string,
): Pick<Registry, 'metrics' | 'metricsStream' | 'contentTypeFor'> {
  let warned = false;
  const seen = (text: string): boolean => text !== '' && text !== '# EOF\n';
  const check = (any: boolean): void => {
    if (any) warned = false;
    else if (!warned) {
      warned = true;
      warn(
        `${BIN}: prefix "${prefix}" holds no metric families: the scrape is empty. Is --prefix the one ` +
          `the registries use (their \`prefix\` option; "${DEFAULT_PREFIX}" by default)? ` +
          `'${BIN} inspect' lists what a prefix holds.`,
      );
    }
  };
  return {
    contentTypeFor: (format) => registry.contentTypeFor(format),
    metrics: async (options) => {
      const text = await registry.metrics(options);
      check(seen(text));
      return text;
    },
    metricsStream: (options) =>
      (async function* () {
        let any = false;
        for await (const piece of registry.metricsStream(options)) {
          any ||= seen(piece);
          yield piece;
        }
        check(any);
      })(),
  };
}
