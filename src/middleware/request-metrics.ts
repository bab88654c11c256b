/**
 * What every framework adapter of `httpMetrics()` shares: the options and their validation, the
 * two request metrics, the label values (method, route, status) with the route-cardinality
 * guard, and the record step an adapter calls once per finished request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expectRegistry } from '../core/registry-check.js';
import { describeValue, hasLoneSurrogate, isMetricName } from '../core/validate.js';
import { Counter, type CounterChild } from '../metrics/counter.js';
import { defaultRegistry, type MetricRegistry } from '../metrics/default-registry.js';
import { Histogram, type HistogramChild } from '../metrics/histogram.js';
import { metricsHandler, type MetricsHandler, type MetricsHandlerOptions } from '../http.js';

/** The two series of one label set, bound. */
interface BoundSeries {
  readonly requests: CounterChild;
  readonly duration: HistogramChild<HttpLabel>;
}

/** A label of the request metrics. */
export type HttpLabel = 'method' | 'route' | 'status';

const LABELS: readonly HttpLabel[] = Object.freeze(['method', 'route', 'status']);

/** Options of `httpMetrics()`. */
export interface HttpMetricsOptions {
  /**
   * The registry both metrics record into, and that `metricsPath` serves.
   * @default REGISTRY
   */
  readonly registry?: MetricRegistry;
  /**
   * Prepended to both metric names (`myapp_` gives `myapp_http_requests_total`).
   * @default ""
   */
  readonly prefix?: string;
  /**
   * Upper bounds (seconds) of the duration histogram's buckets; `+Inf` is always added.
   * @default DEFAULT_BUCKETS
   */
  readonly buckets?: readonly number[];
  /**
   * The labels both metrics carry, a subset of `method`, `route` and `status`.
   * @default ["method", "route", "status"]
   */
  readonly labels?: readonly HttpLabel[];
  /**
   * Record the status as its class (`2xx`, `4xx`, ...) instead of the code.
   * @default false
   */
  readonly statusClass?: boolean;
  /**
   * The `route` label of a `node:http` request, from its path (no query string). Express and
   * Fastify use their route template instead. The default replaces segments that look like ids
   * (digits, UUIDs, ULIDs, hex strings of 16 or more characters) with `:id`.
   */
  readonly normalizePath?: (path: string, req: IncomingMessage) => string;
  /**
   * The `route` label of a request that matched no route, and of new routes past `maxRoutes`.
   * @default "<unmatched>"
   */
  readonly unmatchedRoute?: string;
  /**
   * Distinct `route` values this process keeps; past it, new values become `unmatchedRoute`.
   * @default 500
   */
  readonly maxRoutes?: number;
  /**
   * Requests not to record: exact paths and regular expressions tested against the path (no
   * query string), or a function of the request that returns `true` to skip it.
   * @default []
   */
  readonly exclude?: ReadonlyArray<string | RegExp> | ((req: IncomingMessage) => boolean);
  /**
   * The path that serves the registry's merged metrics (never recorded); `false` serves nothing.
   * @default "/metrics"
   */
  readonly metricsPath?: string | false;
  /**
   * Options of the `metricsHandler()` that serves `metricsPath`.
   * @default {}
   */
  readonly metricsHandler?: MetricsHandlerOptions;
}

/** Methods recorded as themselves; any other becomes `OTHER`. */
const METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'CONNECT',
  'TRACE',
]);

/**
 * Route values longer than this are recorded as `unmatchedRoute`: a registry refuses (throws on)
 * label values past its `maxLabelValueLength`, and a throw in a response listener would crash.
 */
const MAX_ROUTE_LENGTH = 512;

const ID_SEGMENT =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[0-7][0-9a-hjkmnp-tv-z]{25})$/i;

/** A URL's path: everything before the query string (or fragment). */
export function pathOf(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

/**
 * Call `done` once when the response ends: sent, or the client hung up first.
 */
export function onceEnded(res: ServerResponse, done: () => void): void {
  // 'close' comes once either way: after 'finish' for a response that was sent, alone for a
  // client that hung up first. (One listener, not two: the request path is hot.)
  res.once('close', done);
}

/** The default `normalizePath`: id-like segments (digits, UUIDs, ULIDs, long hex) become `:id`. */
export function normalizeIds(path: string): string {
  return path
    .split('/')
    .map((segment) => (ID_SEGMENT.test(segment) ? ':id' : segment))
    .join('/');
}

function fail(option: string, expected: string, value: unknown): never {
  throw new TypeError(`Expected \`${option}\` to be ${expected}, got ${describeValue(value)}`);
}

function validateLabels(value: unknown): readonly HttpLabel[] {
  if (value === undefined) return LABELS;
  if (!Array.isArray(value)) fail('labels', 'an array of "method", "route", "status"', value);
  const seen = new Set<HttpLabel>();
  for (const label of value as unknown[]) {
    if (!LABELS.includes(label as HttpLabel) || seen.has(label as HttpLabel)) {
      fail('labels', 'distinct names among "method", "route", "status"', label);
    }
    seen.add(label as HttpLabel);
  }
  // Always in the documented order, whatever order they were given in.
  return LABELS.filter((label) => seen.has(label));
}

function validateBuckets(value: unknown): readonly number[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) fail('buckets', 'a non-empty array of numbers', value);
  const bounds = value as unknown[];
  for (const bound of bounds) {
    if (typeof bound !== 'number' || Number.isNaN(bound) || bound === -Infinity) {
      fail('buckets', 'an array of finite numbers', bound);
    }
  }
  if (new Set(bounds).size !== bounds.length) fail('buckets', 'an array of distinct numbers', value);
  if (!bounds.some((b) => b !== Infinity)) fail('buckets', 'an array with a finite bound', value);
  return bounds as number[];
}

function validateExclude(value: unknown): (path: string, req: IncomingMessage) => boolean {
  if (value === undefined) return () => false;
  if (typeof value === 'function') {
    const skip = value as (req: IncomingMessage) => unknown;
    return (_path, req) => skip(req) === true;
  }
  if (!Array.isArray(value)) fail('exclude', 'an array of strings and RegExps, or a function', value);
  const paths = new Set<string>();
  const patterns: RegExp[] = [];
  for (const entry of value as unknown[]) {
    if (typeof entry === 'string') paths.add(entry);
    else if (entry instanceof RegExp) patterns.push(entry);
    else fail('exclude', 'an array of strings and RegExps', entry);
  }
  // search() ignores `lastIndex`, so a /g or /y pattern gives the same answer every time.
  return (path) => paths.has(path) || patterns.some((pattern) => path.search(pattern) !== -1);
}

function validateMetricsPath(value: unknown): string | false {
  if (value === undefined) return '/metrics';
  if (value === false) return false;
  if (typeof value !== 'string' || !value.startsWith('/') || /[?#]/.test(value)) {
    fail('metricsPath', 'a path starting with "/" (no query string), or false', value);
  }
  return value;
}

/** The options, validated, with every default applied. */
interface Resolved {
  readonly registry: MetricRegistry;
  readonly prefix: string;
  readonly buckets: readonly number[] | undefined;
  readonly labels: readonly HttpLabel[];
  readonly statusClass: boolean;
  readonly normalizePath: (path: string, req: IncomingMessage) => string;
  readonly unmatchedRoute: string;
  readonly maxRoutes: number;
  readonly excluded: (path: string, req: IncomingMessage) => boolean;
  readonly metricsPath: string | false;
  readonly metricsHandler: MetricsHandlerOptions;
}

function resolveOptions(options: unknown): Resolved {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected httpMetrics options to be an object, got ${describeValue(options)}`);
  }
  const o = options as HttpMetricsOptions;
  const registry: unknown = o.registry ?? defaultRegistry();
  expectRegistry('registry', registry);
  const prefix: unknown = o.prefix ?? '';
  if (typeof prefix !== 'string' || (prefix !== '' && !isMetricName(prefix))) {
    fail('prefix', 'a metric-name prefix matching [a-zA-Z_:][a-zA-Z0-9_:]*', prefix);
  }
  const statusClass: unknown = o.statusClass ?? false;
  if (typeof statusClass !== 'boolean') fail('statusClass', 'a boolean', statusClass);
  const normalizePath: unknown = o.normalizePath ?? normalizeIds;
  if (typeof normalizePath !== 'function') fail('normalizePath', 'a function', normalizePath);
  const unmatchedRoute: unknown = o.unmatchedRoute ?? '<unmatched>';
  if (
    typeof unmatchedRoute !== 'string' ||
    unmatchedRoute === '' ||
    unmatchedRoute.length > MAX_ROUTE_LENGTH
  ) {
    fail('unmatchedRoute', `a non-empty string of at most ${MAX_ROUTE_LENGTH} characters`, unmatchedRoute);
  }
  const maxRoutes: unknown = o.maxRoutes ?? 500;
  if (typeof maxRoutes !== 'number' || !Number.isInteger(maxRoutes) || maxRoutes < 1) {
    fail('maxRoutes', 'an integer from 1 and up', maxRoutes);
  }
  const handlerOptions: unknown = o.metricsHandler ?? {};
  if (typeof handlerOptions !== 'object' || handlerOptions === null) {
    fail('metricsHandler', 'an object of metricsHandler options', handlerOptions);
  }
  return {
    registry: registry as MetricRegistry,
    prefix,
    buckets: validateBuckets(o.buckets),
    labels: validateLabels(o.labels),
    statusClass,
    normalizePath: normalizePath as Resolved['normalizePath'],
    unmatchedRoute,
    maxRoutes,
    excluded: validateExclude(o.exclude),
    metricsPath: validateMetricsPath(o.metricsPath),
    metricsHandler: handlerOptions,
  };
}

/**
 * The two request metrics and how a finished request is recorded into them; each adapter finds
 * the method, route and status its framework gives and calls `record()`.
 */
export class RequestRecorder {
  /** `http_requests_total`. */
  readonly requests: Counter<HttpLabel>;
  /** `http_request_duration_seconds`. */
  readonly duration: Histogram<HttpLabel>;
  /** The path that serves the metrics, or `false`. */
  readonly metricsPath: string | false;
  /** The handler serving `metricsPath` (undefined when it is `false`). */
  readonly handler: MetricsHandler | undefined;
  /** The `route` value of a request that matched no route. */
  readonly unmatchedRoute: string;
  /** The `normalizePath` option (the node:http route). */
  readonly normalizePath: (path: string, req: IncomingMessage) => string;
  readonly #options: Resolved;
  /** Route values seen so far, up to `maxRoutes`. */
  readonly #routes = new Set<string>();
  /** Bound series by label set (see `#children`). */
  readonly #bound = new Map<string, BoundSeries>();

  constructor(options: unknown) {
    const o = resolveOptions(options);
    this.#options = o;
    this.metricsPath = o.metricsPath;
    this.unmatchedRoute = o.unmatchedRoute;
    this.normalizePath = o.normalizePath;
    this.requests = new Counter({
      name: `${o.prefix}http_requests_total`,
      help: 'HTTP requests handled',
      labelNames: o.labels,
      registry: o.registry,
    });
    this.duration = new Histogram({
      name: `${o.prefix}http_request_duration_seconds`,
      help: 'Time from the request reaching the middleware to the end of its response',
      labelNames: o.labels,
      unit: 'seconds',
      registry: o.registry,
      ...(o.buckets === undefined ? {} : { buckets: o.buckets }),
    });
    this.handler = o.metricsPath === false ? undefined : metricsHandler(o.registry, o.metricsHandler);
  }

  /** Whether a request for `path` (no query string) is to be served the metrics. */
  servesMetrics(path: string): boolean {
    return path === this.metricsPath;
  }

  /** Whether a request for `path` (no query string) goes unrecorded: excluded, or the metrics. */
  skips(path: string, req: IncomingMessage): boolean {
    return path === this.metricsPath || this.#options.excluded(path, req);
  }

  /**
   * Record one request that started at `start` (`performance.now()`): its route template or
   * normalised path (undefined when it matched no route) and the status it was answered with.
   */
  record(method: string | undefined, route: string | undefined, status: number, start: number): void {
    const seconds = (performance.now() - start) / 1000;
    const labels: Partial<Record<HttpLabel, string>> = {};
    for (const label of this.#options.labels) {
      if (label === 'method') labels.method = this.#method(method);
      else if (label === 'route') labels.route = this.#route(route);
      else labels.status = this.#status(status);
    }
    const full = labels as Record<HttpLabel, string>;
    try {
      const children = this.#children(full);
      children.requests.inc();
      children.duration.observe(seconds);
    } catch {
      // A route the registry refuses as a label value (longer than its maxLabelValueLength):
      // this runs in a response listener, where a throw would take the process down. Recorded
      // under `unmatchedRoute` instead; if even that is refused, the request goes unrecorded.
      if (full.route === undefined || full.route === this.unmatchedRoute) return;
      try {
        this.record(method, undefined, status, start);
      } catch {
        // Nothing left to try: see above.
      }
    }
  }

  /**
   * The two series of a label set, bound once: a request then costs one map lookup instead of
   * two label-object lookups. At most `maxRoutes` × 10 label sets are kept bound (past that, the
   * series are looked up each time); bound children survive `reset()` and `remove()`.
   */
  #children(labels: Record<HttpLabel, string>): BoundSeries {
    const key = `${labels.method}\u0000${labels.route}\u0000${labels.status}`;
    let bound = this.#bound.get(key);
    if (bound === undefined) {
      bound = { requests: this.requests.labels(labels), duration: this.duration.labels(labels) };
      if (this.#bound.size < this.#options.maxRoutes * 10) this.#bound.set(key, bound);
    }
    return bound;
  }

  #method(method: string | undefined): string {
    const upper = (method ?? '').toUpperCase();
    return METHODS.has(upper) ? upper : 'OTHER';
  }

  #status(status: number): string {
    return this.#options.statusClass ? `${Math.trunc(status / 100)}xx` : String(status);
  }

  /** The route value, or `unmatchedRoute` when there is none, it is unusable, or too many are kept. */
  #route(route: string | undefined): string {
    if (route === undefined || route === this.unmatchedRoute) return this.unmatchedRoute;
    if (this.#routes.has(route)) return route;
    if (
      this.#routes.size >= this.#options.maxRoutes ||
      route.length > MAX_ROUTE_LENGTH ||
      hasLoneSurrogate(route)
    ) {
      return this.unmatchedRoute;
    }
    this.#routes.add(route);
    return route;
  }
}
