/**
 * `Registry.merge(registries)`: one exposition of several registries (several prefixes, or
 * Redis servers), for one endpoint — prom-client's `Registry.merge`. Each is read in turn; a
 * family name two of them hold fails the read, naming it (two families of one name would make
 * the exposition invalid), as prom-client's merge refuses them.
 */
import { PrometheusRedisError } from './core/errors.js';
import type { MetricObject, MetricsOptions } from './core/registry-api.js';
import { describeValue } from './core/validate.js';
import { TEXT_CONTENT_TYPE, contentTypeOf, type ExpositionFormat } from './export/text-format.js';

/** What a merge reads from each registry. */
export interface Mergeable {
  /** The registry's exposition, piece by piece. */
  metricsStream(options?: MetricsOptions): AsyncIterable<string>;
  /** The registry's families in prom-client's JSON shape. */
  getMetricsAsJSON(): Promise<MetricObject[]>;
}

/** Several registries read as one, for `metricsHandler` and JSON endpoints. */
export class MergedRegistry {
  /** Content type of the default (text 0.0.4) exposition. */
  readonly contentType = TEXT_CONTENT_TYPE;
  readonly #registries: readonly Mergeable[];

  constructor(registries: readonly Mergeable[]) {
    if (!Array.isArray(registries) || registries.length === 0) {
      throw new TypeError(
        `Expected Registry.merge() to be given an array of registries, got ${describeValue(registries)}`,
      );
    }
    for (const registry of registries as unknown[]) {
      const candidate = registry as Partial<Mergeable> | null;
      if (
        typeof candidate?.metricsStream !== 'function' ||
        typeof candidate.getMetricsAsJSON !== 'function'
      ) {
        throw new TypeError(`Registry.merge(): ${describeValue(registry)} is not a registry`);
      }
    }
    this.#registries = registries.slice();
  }

  /** Content type for a format. */
  contentTypeFor(format: ExpositionFormat): string {
    return contentTypeOf(format);
  }

  /** Every registry's exposition, one after the other, as one stream. */
  metricsStream(options: MetricsOptions = {}): AsyncIterable<string> {
    const registries = this.#registries;
    return (async function* () {
      const seen = new Set<string>();
      const openMetrics = options.format === 'openmetrics';
      for (const registry of registries) {
        for await (const piece of registry.metricsStream(options)) {
          if (openMetrics && piece === '# EOF\n') continue;
          for (const match of piece.matchAll(/^# TYPE (\S+) /gm)) {
            if (seen.has(match[1]!)) throw duplicate(match[1]!);
            seen.add(match[1]!);
          }
          yield piece;
        }
      }
      if (openMetrics) yield '# EOF\n';
    })();
  }

  /** `metricsStream()`, whole. */
  async metrics(options: MetricsOptions = {}): Promise<string> {
    const parts: string[] = [];
    for await (const piece of this.metricsStream(options)) parts.push(piece);
    return parts.join('');
  }

  /** Every registry's families in prom-client's JSON shape. */
  async getMetricsAsJSON(): Promise<MetricObject[]> {
    const all: MetricObject[] = [];
    const seen = new Set<string>();
    for (const registry of this.#registries) {
      for (const family of await registry.getMetricsAsJSON()) {
        if (seen.has(family.name)) throw duplicate(family.name);
        seen.add(family.name);
        all.push(family);
      }
    }
    return all;
  }
}

function duplicate(name: string): PrometheusRedisError {
  // Every registry exports the library's own metrics unless told not to.
  const own = name.startsWith('prometheus_redis_client_')
    ? ": it is one of the library's own metrics, which every registry exports — create all but one of the merged registries with `selfMetrics: false`"
    : '';
  return new PrometheusRedisError(
    `Registry.merge(): a family named "${name}" is in more than one of the merged registries${own}`,
  );
}
