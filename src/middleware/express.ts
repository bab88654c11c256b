/**
 * The Express 5 middleware of `httpMetrics()`: serves `metricsPath`, and records every other
 * request when its response ends, under the route template Express matched (mount path included).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { onceEnded, pathOf, type RequestRecorder } from './request-metrics.js';

/** The parts of an Express request the middleware reads (`express` is not a dependency). */
interface ExpressRequest extends IncomingMessage {
  /** The path the current router is mounted at (`/api`), `''` at the app. */
  readonly baseUrl?: string;
  /** The URL as it arrived, before mounted routers trimmed `url`. */
  readonly originalUrl?: string;
  /** The route that matched, if any (`path` as declared: a string, a RegExp or an array). */
  route?: { readonly path?: unknown } | undefined;
}

/** An Express middleware: `app.use(http.express)`, before the routes. */
export type ExpressMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** A declared route path as a label: strings as given, a RegExp as `/source/flags`, arrays joined by `|`. */
function templateOf(path: unknown): string | undefined {
  if (typeof path === 'string') return path;
  if (path instanceof RegExp) return String(path);
  if (Array.isArray(path)) {
    const parts = (path as unknown[]).map(templateOf);
    return parts.every((part) => part !== undefined) ? parts.join('|') : undefined;
  }
  return undefined;
}

/** The full route template (`/api` + `/users/:id`), or undefined when no route matched. */
function routeOf(baseUrl: string | undefined, route: ExpressRequest['route']): string | undefined {
  if (route === undefined) return undefined;
  const template = templateOf(route.path);
  if (template === undefined) return undefined;
  const base = baseUrl ?? '';
  // `router.get('/')` mounted at `/api` answers `/api`: label it so, not `/api/`.
  return base !== '' && template === '/' ? base : base + template;
}

/** The middleware recording into `recorder`. */
export function expressMiddleware(recorder: RequestRecorder): ExpressMiddleware {
  const handler = recorder.handler;
  return (incoming, res, next) => {
    const req = incoming as ExpressRequest;
    const path = pathOf(req.originalUrl ?? req.url);
    if (handler !== undefined && recorder.servesMetrics(path)) {
      void handler(req, res);
      return;
    }
    if (!recorder.skips(path, req)) {
      const start = performance.now();
      // Express sets `req.route` when a route matches, with `baseUrl` its router's mount path
      // then. Read both at that moment: by the time the response ends, an error leaving a
      // mounted router has put `baseUrl` back to the parent's.
      let route: ExpressRequest['route'];
      let matched: string | undefined;
      Object.defineProperty(req, 'route', {
        configurable: true,
        enumerable: true,
        get: () => route,
        set: (value: ExpressRequest['route']) => {
          route = value;
          matched = routeOf(req.baseUrl, value) ?? matched;
        },
      });
      onceEnded(res, () => recorder.record(req.method, matched, res.statusCode, start));
    }
    next();
  };
}
