/**
 * `metricsHandler()`: a `node:http` request listener that serves a registry's merged metrics,
 * negotiating the format, compressing with gzip and answering 503 when a scrape fails.
 */
import { once } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip, gzip } from 'node:zlib';
import { PrometheusRedisError } from './core/errors.js';
import { negotiateFormat } from './export/negotiate.js';
import { withTimeout } from './redis/connection.js';
import { expectRegistry } from './core/registry-check.js';
import { describeValue, validateBoolean, validatePositiveInteger } from './core/validate.js';
import type { Registry } from './registry.js';

const gzipAsync = promisify(gzip);

/** Options of `metricsHandler()`. */
export interface MetricsHandlerOptions {
  /**
   * Longest a scrape may take (flush, Redis read, rendering). Past it the request is answered
   * `503` instead of waiting on an unreachable Redis; keep it below the scraper's own timeout.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * Compress the response with gzip when the request's `Accept-Encoding` allows it.
   * @default true
   */
  readonly gzip?: boolean;
  /**
   * Answer OpenMetrics 1.0 to scrapers that ask for it. `false` serves the text format 0.0.4 to
   * everyone (as prom-client does), whatever the `Accept` header says.
   * @default true
   */
  readonly openMetrics?: boolean;
  /**
   * In OpenMetrics answers, the `_created` sample of each counter, histogram and summary series.
   * Prometheus (2.x, and 3.x without `created_timestamp_zero_ingestion`) stores every one as a
   * series of its own; `false` leaves them out.
   * @default true
   */
  readonly created?: boolean;
}

/**
 * The longest a scrape may take for this request: `timeoutMs`, or less when the scraper says it
 * gives up sooner (Prometheus sends its `scrape_timeout` as `X-Prometheus-Scrape-Timeout-Seconds`).
 * The answer is then due a little before the scraper's deadline — a tenth of it, at most half a
 * second — so that the 503 and its reason reach Prometheus instead of a bare timeout.
 */
export function scrapeBudgetMs(timeoutMs: number, header: string | string[] | undefined): number {
  const value = Number(Array.isArray(header) ? header[0] : header);
  if (header === undefined || !(value > 0) || !Number.isFinite(value)) return timeoutMs;
  const scraperMs = value * 1000;
  return Math.max(1, Math.min(timeoutMs, Math.floor(scraperMs - Math.min(500, scraperMs / 10))));
}

/** A `node:http` request listener that serves the merged metrics; it never rejects. */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Whether an `Accept-Encoding` header allows gzip (explicitly, or through `*`, with a weight above 0). */
function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let explicit: number | undefined;
  let wildcard: number | undefined;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q >= 0)) continue;
    if (coding === 'gzip' || coding === 'x-gzip') explicit = Math.max(explicit ?? 0, q);
    else if (coding === '*') wildcard = q;
  }
  return (explicit ?? wildcard ?? 0) > 0;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

function send(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  body: Buffer | string,
  head: boolean,
): void {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'Content-Length': payload.length });
  res.end(head ? undefined : payload);
}

/**
 * A request listener that answers with the merged metrics of every process sharing the
 * registry's prefix (what `registry.metrics()` returns), for `node:http` and frameworks that expose
 * Node's request and response:
 *
 * - `GET` and `HEAD` (same status and headers, no body); other methods get `405` with `Allow`.
 * - The format follows the `Accept` header (see `negotiateFormat`): OpenMetrics 1.0 for scrapers
 *   that prefer it, text format 0.0.4 otherwise; `Content-Type` says which.
 * - gzip when `Accept-Encoding` allows it (compressed off the main thread by `node:zlib`).
 * - `503` with a one-line `text/plain` reason when the scrape fails or outlasts `timeoutMs`
 *   (Redis unreachable, for instance); the request never hangs. A Prometheus scrape says how long
 *   it waits (`X-Prometheus-Scrape-Timeout-Seconds`): when that is shorter, the 503 comes before
 *   it, so Prometheus records the reason rather than its own timeout.
 *
 * It does not look at the path: mount it on the route you want. Any object with the registry's
 * `metrics()` and `contentTypeFor()` will do.
 *
 * @example
 * // node:http
 * const handler = metricsHandler(registry);
 * createServer((req, res) => {
 *   if (req.url === '/metrics') void handler(req, res);
 *   else res.writeHead(404).end();
 * }).listen(9464);
 *
 * // Express
 * app.get('/metrics', metricsHandler(registry));
 *
 * // Fastify: hand it the raw request and response
 * const handler = metricsHandler(registry);
 * fastify.get('/metrics', (request, reply) => {
 *   reply.hijack();
 *   return handler(request.raw, reply.raw);
 * });
 */
export function metricsHandler(
  registry: Pick<Registry, 'metrics' | 'contentTypeFor'> & Partial<Pick<Registry, 'metricsStream'>>,
  options: MetricsHandlerOptions = {},
): MetricsHandler {
  expectRegistry('registry', registry, ['metrics', 'contentTypeFor']);
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected metricsHandler options to be an object, got ${describeValue(options)}`);
  }
  const timeoutMs = validatePositiveInteger('timeoutMs', options.timeoutMs ?? 10_000);
  const compress = validateBoolean('gzip', options.gzip ?? true);
  const openMetrics = validateBoolean('openMetrics', options.openMetrics ?? true);
  const created = validateBoolean('created', options.created ?? true);

  return async (req, res) => {
    // The body of a request is never needed; drain it so keep-alive connections stay usable.
    req.resume();
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    try {
      if (method !== 'GET' && !head) {
        const headers = { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' };
        send(res, 405, headers, `Method ${method} not allowed: use GET or HEAD\n`, false);
        return;
      }
      const format = openMetrics ? negotiateFormat(req.headers.accept) : 'text';
      const budgetMs = scrapeBudgetMs(timeoutMs, req.headers['x-prometheus-scrape-timeout-seconds']);
      const deadline = Date.now() + budgetMs;
      const late =
        budgetMs < timeoutMs
          ? `the scrape did not finish within ${budgetMs} ms (the scraper's timeout, X-Prometheus-Scrape-Timeout-Seconds, less a margin)`
          : `the scrape did not finish within timeoutMs (${timeoutMs} ms)`;
      const within = <T>(step: Promise<T>): Promise<T> =>
        withTimeout(step, Math.max(1, deadline - Date.now()), () => new PrometheusRedisError(late));
      const render = { format, created };
      const pieces = (registry.metricsStream?.(render) ?? wholeText(registry.metrics(render)))[
        Symbol.asyncIterator
      ]();
      // Up to STREAM_AFTER bytes the scrape is gathered and sent whole (with its length); past
      // it, the rest streams as it is read. Failing before anything is sent answers 503.
      const gathered: string[] = [];
      let size = 0;
      let done = false;
      try {
        while (size < STREAM_AFTER) {
          const step = await within(pieces.next());
          if (step.done === true) {
            done = true;
            break;
          }
          gathered.push(step.value);
          size += step.value.length;
        }
      } catch (error) {
        void pieces.return?.();
        const headers = { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' };
        send(res, 503, headers, `Metrics unavailable: ${oneLine(error)}\n`, head);
        return;
      }
      const headers: OutgoingHttpHeaders = {
        'Content-Type': registry.contentTypeFor(format),
        'Cache-Control': 'no-store',
        Vary: 'Accept, Accept-Encoding',
      };
      const zip = compress && acceptsGzip(req.headers['accept-encoding']);
      if (zip) headers['Content-Encoding'] = 'gzip';
      if (done) {
        let body = Buffer.from(gathered.join(''), 'utf8');
        if (zip) body = await gzipAsync(body);
        send(res, 200, headers, body, head);
        return;
      }
      res.writeHead(200, headers);
      if (head) {
        void pieces.return?.();
        res.end();
        return;
      }
      await streamRest(res, zip, gathered, pieces, within);
    } catch {
      // Only a broken connection or a failed compression lands here: there is nobody left to tell.
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  };
}

/** Bytes (about) of a scrape gathered and sent whole before the handler streams the rest. */
const STREAM_AFTER = 64 * 1024;

/** `metrics()` as a one-piece stream, for a registry-like object without `metricsStream`. */
async function* wholeText(text: Promise<string>): AsyncGenerator<string> {
  yield await text;
}

/**
 * Send what was gathered, then every further piece as it comes (gzipped when `zip`), minding
 * backpressure. A piece that fails (Redis gone, past the deadline) destroys the response: the
 * client sees a broken transfer, never a short scrape that looks whole.
 */
async function streamRest(
  res: ServerResponse,
  zip: boolean,
  gathered: readonly string[],
  pieces: AsyncIterator<string>,
  within: <T>(step: Promise<T>) => Promise<T>,
): Promise<void> {
  const sink: Writable = zip ? createGzip() : res;
  if (zip) sink.pipe(res);
  const write = async (text: string): Promise<void> => {
    if (!sink.write(text)) await once(sink, 'drain');
  };
  try {
    for (const text of gathered) await write(text);
    for (;;) {
      const step = await within(pieces.next());
      if (step.done === true) break;
      await write(step.value);
    }
    sink.end();
    await finished(res);
  } catch (error) {
    void pieces.return?.();
    res.destroy(error as Error);
    if (zip) sink.destroy();
  }
}
