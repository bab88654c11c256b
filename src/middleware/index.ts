/**
 * `httpMetrics()`: request metrics (`http_requests_total`, `http_request_duration_seconds`) for
 * Express 5, Fastify 5 and `node:http`, sharing one pair of metrics per call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter } from '../metrics/counter.js';
import type { Histogram } from '../metrics/histogram.js';
import { expressMiddleware, type ExpressMiddleware } from './express.js';
import { fastifyPlugin, type FastifyPlugin } from './fastify.js';
import { wrapListener, type NodeRequestListener } from './node-http.js';
import { RequestRecorder, type HttpMetricsOptions } from './request-metrics.js';

export type { HttpMetricsOptions } from './request-metrics.js';

/** What `httpMetrics()` returns: one adapter per framework, all recording into the same metrics. */
export interface HttpMetrics {
  /** Express 5 middleware: `app.use(http.express)` before the routes. Serves `metricsPath` too. */
  readonly express: ExpressMiddleware;
  /** Fastify 5 plugin for the whole app: `await fastify.register(http.fastify)`. Serves `metricsPath` too. */
  readonly fastify: FastifyPlugin;
  /** `node:http`: `createServer(http.wrap(listener))`; the wrapper serves `metricsPath` itself. */
  readonly wrap: (listener: NodeRequestListener) => (req: IncomingMessage, res: ServerResponse) => void;
  /** `http_requests_total`. */
  readonly requests: Counter<'method' | 'route' | 'status'>;
  /** `http_request_duration_seconds`. */
  readonly duration: Histogram<'method' | 'route' | 'status'>;
}

/**
 * Request metrics for an HTTP server: a counter `http_requests_total` and a histogram
 * `http_request_duration_seconds` (labels `method`, `route`, `status`), created in the registry,
 * plus the adapters that record into them and serve `metricsPath`. Call it once per registry.
 *
 * ```ts
 * const http = httpMetrics({ registry });
 * app.use(http.express);                  // Express 5
 * await fastify.register(http.fastify);   // Fastify 5
 * createServer(http.wrap(listener));      // node:http
 * ```
 */
export function httpMetrics(options: HttpMetricsOptions = {}): HttpMetrics {
  const recorder = new RequestRecorder(options);
  return Object.freeze({
    express: expressMiddleware(recorder),
    fastify: fastifyPlugin(recorder),
    wrap: (listener: NodeRequestListener) => wrapListener(recorder, listener),
    requests: recorder.requests,
    duration: recorder.duration,
  });
}
