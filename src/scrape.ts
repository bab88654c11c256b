/**
 * A registry's reads of the merged state: the exposition (whole, or as a stream) and prom-client's
 * JSON, each after flushing the calling process's own deltas and within `flushTimeoutMs`.
 */
import { RedisConfigurationError, RedisUnavailableError } from './core/errors.js';
import type { MetricObject, MetricsOptions } from './core/registry-api.js';
import { describeValue, validateBoolean } from './core/validate.js';
import type { DefaultLabels } from './export/default-labels.js';
import { familiesAsJson } from './export/json.js';
import { streamFamilies, type RenderOptions } from './export/read.js';
import {
  OPENMETRICS_CONTENT_TYPE,
  TEXT_CONTENT_TYPE,
  renderStream,
  type ExpositionFormat,
} from './export/text-format.js';
import { holdProcess, keepAlive, whenReady, withTimeout, type RedisClient } from './redis/connection.js';
import type { Keys } from './redis/keys.js';

/** What a scrape needs from its registry. */
export interface ScrapeHost {
  readonly keys: Keys;
  readonly flushTimeoutMs: number;
  /** The connection; throws `RedisUnavailableError` saying why there is none. */
  connection(): RedisClient;
  /** Flush this process's deltas. */
  flush(): Promise<void>;
  /** Whether the flusher already reported `error` through `onError`. */
  reported(error: unknown): boolean;
  report(error: Error): void;
  /** The labels `setDefaultLabels` gave, if any. */
  defaults(): DefaultLabels | undefined;
}

/** `metrics()` options, checked; `fallback` is the format when they name none. */
export function renderOf(options: MetricsOptions, fallback: ExpositionFormat = 'text'): RenderOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected metrics() options to be an object, got ${describeValue(options)}`);
  }
  const format = options.format ?? fallback;
  if (format !== 'text' && format !== 'openmetrics') {
    throw new TypeError(`Expected \`format\` to be "text" or "openmetrics", got ${JSON.stringify(format)}`);
  }
  return { format, created: validateBoolean('created', options.created ?? true) };
}

/**
 * The family names a lookup by `name` reads: the name itself and, for `<name>_total`, the
 * counter family it may be (counters are stored without `_total`).
 */
export function familyNamesOf(name: string): string[] {
  return name.endsWith('_total') ? [name, name.slice(0, -'_total'.length)] : [name];
}

/** The format `setContentType(type)` names; throws for any other content type. */
export function formatOfContentType(type: unknown): ExpositionFormat {
  if (type === TEXT_CONTENT_TYPE) return 'text';
  if (type === OPENMETRICS_CONTENT_TYPE) return 'openmetrics';
  throw new TypeError(
    `Expected a content type of Registry.PROMETHEUS_CONTENT_TYPE or Registry.OPENMETRICS_CONTENT_TYPE, got ${describeValue(type)}`,
  );
}

export class Scraper {
  readonly #host: ScrapeHost;
  /** The format of a read whose options name none (`setContentType`). */
  format: ExpositionFormat = 'text';

  constructor(host: ScrapeHost) {
    this.#host = host;
  }

  /** The exposition of `names` (every family when empty), whole. */
  async text(options: MetricsOptions, names: readonly string[] = []): Promise<string> {
    const render = renderOf(options, this.format);
    return this.#within(async (redis) => {
      const parts: string[] = [];
      for await (const part of this.#render(redis, names, render)) parts.push(part);
      return parts.join('');
    });
  }

  /** The exposition as it is read, piece by piece. */
  stream(options: MetricsOptions): AsyncIterable<string> {
    const render = renderOf(options, this.format);
    const scrape = async function* (this: Scraper): AsyncGenerator<string> {
      // The connection is unref()'d: hold the process while the stream is read (a script that
      // awaits a scrape must not exit half-way), until it ends or is given up.
      const release = holdProcess();
      try {
        yield* this.#render(await this.#before(), [], render);
      } finally {
        release();
      }
    };
    return scrape.call(this);
  }

  /** prom-client's JSON of `names` (every family when empty). */
  json(names: readonly string[] = []): Promise<MetricObject[]> {
    return this.#within((redis) =>
      familiesAsJson(this.#families(redis, names, { format: 'text' }), this.#host.defaults()),
    );
  }

  /** `read` after the flush, failing once `flushTimeoutMs` has passed. */
  async #within<T>(read: (redis: RedisClient) => Promise<T>): Promise<T> {
    const redis = await this.#before();
    const ms = this.#host.flushTimeoutMs;
    return keepAlive(
      withTimeout(
        read(redis),
        ms,
        () => new RedisUnavailableError(`Redis did not answer the scrape within flushTimeoutMs (${ms} ms)`),
      ),
    );
  }

  /** Flush this process's own deltas (a scrape shows them), and wait for the connection. */
  async #before(): Promise<RedisClient> {
    const host = this.#host;
    const redis = host.connection();
    await host.flush().catch((error: unknown) => {
      // Unreachable Redis: the flush already waited for it; reading would only wait again.
      // A database Redis refused: reading would read another one.
      if (error instanceof RedisUnavailableError || error instanceof RedisConfigurationError) throw error;
      if (!host.reported(error)) host.report(error as Error);
    });
    await whenReady(redis, host.flushTimeoutMs);
    return redis;
  }

  #families(redis: RedisClient, names: readonly string[], render: RenderOptions) {
    return streamFamilies(redis, this.#host.keys, names, render, ({ error }) => this.#host.report(error));
  }

  #render(redis: RedisClient, names: readonly string[], render: RenderOptions): AsyncGenerator<string> {
    return renderStream(this.#families(redis, names, render), render.format, this.#host.defaults());
  }
}
