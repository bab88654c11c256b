/**
 * The Fastify 5 plugin of `httpMetrics()`: an `onRequest` hook notes when each request started,
 * an `onResponse` (or, for a client that hung up, `onRequestAbort`) hook records it under its
 * route template, and a route serves `metricsPath`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf, type RequestRecorder } from './request-metrics.js';

/** The parts of a Fastify request the plugin reads (`fastify` is not a dependency). */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  readonly method: string;
  /** `url` is the route template (`/users/:id`, prefix included), undefined for the 404 handler. */
  readonly routeOptions: { readonly url?: string | undefined };
}

/** The parts of a Fastify reply the plugin uses. */
export interface FastifyReplyLike {
  readonly raw: ServerResponse;
  readonly statusCode: number;
  hijack(): unknown;
}

type Done = (error?: Error) => void;
type Hook = (request: FastifyRequestLike, reply: FastifyReplyLike, done: Done) => void;

/** The parts of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  addHook(name: 'onRequest' | 'onResponse', hook: Hook): unknown;
  addHook(name: 'onRequestAbort', hook: (request: FastifyRequestLike, done: Done) => void): unknown;
  route(options: {
    method: string[];
    url: string;
    handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<void>;
  }): unknown;
}

/** A Fastify plugin that applies to the whole app: `await fastify.register(http.fastify)`. */
export type FastifyPlugin = (
  instance: FastifyInstanceLike,
  options: unknown,
  done: (error?: Error) => void,
) => void;

/** The plugin recording into `recorder`. */
export function fastifyPlugin(recorder: RequestRecorder): FastifyPlugin {
  const handler = recorder.handler;
  const metricsPath = recorder.metricsPath;
  const plugin: FastifyPlugin = (instance, _options, done) => {
    // Requests still to record, with their start and reply; the metrics path and excluded
    // requests are never added. Recording deletes the entry, so a request is recorded once.
    const pending = new WeakMap<FastifyRequestLike, { start: number; reply: FastifyReplyLike }>();
    const record = (request: FastifyRequestLike): void => {
      const entry = pending.get(request);
      if (entry === undefined) return;
      pending.delete(request);
      recorder.record(request.method, request.routeOptions.url, entry.reply.statusCode, entry.start);
    };
    instance.addHook('onRequest', (request, reply, next) => {
      const start = performance.now();
      try {
        if (!recorder.skips(pathOf(request.raw.url), request.raw)) pending.set(request, { start, reply });
      } catch (error) {
        next(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      next();
    });
    instance.addHook('onResponse', (request, _reply, next) => {
      record(request);
      next();
    });
    // A client that hung up before the reply: Fastify runs no onResponse hook for it.
    instance.addHook('onRequestAbort', (request, next) => {
      record(request);
      next();
    });
    if (handler !== undefined && metricsPath !== false) {
      instance.route({
        method: ['GET', 'HEAD'],
        url: metricsPath,
        handler: (request, reply) => {
          reply.hijack();
          return handler(request.raw, reply.raw);
        },
      });
    }
    done();
  };
  // What fastify-plugin sets: no encapsulation, so the hooks see every route of the app.
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  Object.defineProperty(plugin, Symbol.for('fastify.display-name'), { value: 'prometheus-redis-client' });
  return plugin;
}
