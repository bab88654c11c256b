/**
 * `httpMetrics().wrap()` for `node:http`: a request listener around the application's own that
 * serves `metricsPath` and records every other request under its normalised path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeValue } from '../core/validate.js';
import { onceEnded, pathOf, type RequestRecorder } from './request-metrics.js';

/** A `node:http` request listener, as `createServer()` takes (it may return a promise). */
export type NodeRequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** `listener`, recording into `recorder` and serving the metrics path itself. */
export function wrapListener(
  recorder: RequestRecorder,
  listener: NodeRequestListener,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof listener !== 'function') {
    throw new TypeError(
      `Expected \`listener\` to be a request listener function, got ${describeValue(listener)}`,
    );
  }
  const handler = recorder.handler;
  return (req, res) => {
    const path = pathOf(req.url);
    if (handler !== undefined && recorder.servesMetrics(path)) {
      void handler(req, res);
      return;
    }
    if (!recorder.skips(path, req)) {
      const start = performance.now();
      // Normalised up front: a normalizePath that throws fails this request, as the listener would.
      const route: unknown = recorder.normalizePath(path, req);
      if (typeof route !== 'string') {
        throw new TypeError(
          `Expected \`normalizePath\` to return a string for ${JSON.stringify(path)}, got ${describeValue(route)}`,
        );
      }
      onceEnded(res, () => recorder.record(req.method, route, res.statusCode, start));
    }
    listener(req, res);
  };
}
