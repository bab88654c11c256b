/** Validation of names, options and recorded values; every message names the metric and the value. */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** A label name (series labels, exemplar labels, label filters, stored metadata). */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const REDIS_URL = /^rediss?:\/\//;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    typeof value === 'symbol' ||
    value === undefined ||
    value === null
  )
    return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  return Array.isArray(value) ? 'an array' : typeof value === 'function' ? 'a function' : 'an object';
}

/** `value` for messages: JSON for strings, plain for numbers, the kind for objects. */
export { show as describeValue };

/** Whether `name` is a valid label name, `[a-zA-Z_][a-zA-Z0-9_]*` (the `__` prefix is checked apart). */
/** Whether `name` has a metric name's syntax (`[a-zA-Z_:][a-zA-Z0-9_:]*`). */
export function isMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

/** Whether `text` holds a lone surrogate: not well-formed Unicode, so not encodable as UTF-8. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** Whether `url` names a Redis server: a `redis://` or `rediss://` URL. */
export function isRedisUrl(url: string): boolean {
  return REDIS_URL.test(url);
}

export function validateMetricName(name: unknown): string {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new TypeError(`Invalid metric name ${show(name)}: expected to match ${String(METRIC_NAME)}`);
  }
  if (name.startsWith('__'))
    throw new TypeError(`Invalid metric name "${name}": the "__" prefix is reserved`);
  return name;
}

export function validateHelp(metric: string, help: unknown): string {
  if (typeof help !== 'string')
    throw new TypeError(`Metric "${metric}": help must be a string, got ${show(help)}`);
  return help;
}

export function validateLabelNames(
  metric: string,
  labelNames: unknown,
  reserved: readonly string[],
): readonly string[] {
  if (labelNames === undefined) return [];
  if (!Array.isArray(labelNames)) {
    throw new TypeError(
      `Metric "${metric}": labelNames must be an array of strings, got ${show(labelNames)}`,
    );
  }
  const seen = new Set<string>();
  for (const label of labelNames as unknown[]) {
    if (typeof label !== 'string' || !isLabelName(label)) {
      throw new TypeError(
        `Metric "${metric}": invalid label name ${show(label)}: expected to match ${String(LABEL_NAME)}`,
      );
    }
    if (label.startsWith('__')) {
      throw new TypeError(`Metric "${metric}": label name "${label}" uses the reserved "__" prefix`);
    }
    if (reserved.includes(label)) {
      throw new TypeError(`Metric "${metric}": label name "${label}" is reserved for this metric type`);
    }
    if (seen.has(label)) throw new TypeError(`Metric "${metric}": label name "${label}" appears twice`);
    seen.add(label);
  }
  return Object.freeze([...(labelNames as string[])]);
}

/** Buckets: finite, distinct upper bounds; sorted numerically; a trailing +Inf is implied. */
export function validateBuckets(metric: string, buckets: unknown): readonly number[] {
  if (!Array.isArray(buckets)) {
    throw new TypeError(`Metric "${metric}": buckets must be an array of numbers, got ${show(buckets)}`);
  }
  const bounds = (buckets as unknown[]).filter((b) => b !== Infinity);
  for (const b of bounds) {
    if (typeof b !== 'number' || !Number.isFinite(b)) {
      throw new RangeError(`Metric "${metric}": bucket bounds must be finite numbers, got ${show(b)}`);
    }
  }
  const sorted = (bounds as number[]).slice().sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      throw new RangeError(`Metric "${metric}": bucket bound ${sorted[i]} appears twice`);
    }
  }
  if (sorted.length === 0)
    throw new RangeError(`Metric "${metric}": at least one finite bucket bound is required`);
  return Object.freeze(sorted.map((b) => (Object.is(b, -0) ? 0 : b)));
}

export function validatePositiveInteger(option: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`Expected \`${option}\` to be an integer from ${min} and up, got ${show(value)}`);
  }
  return value;
}

/** A boolean option. */
export function validateBoolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`Expected \`${option}\` to be a boolean, got ${show(value)}`);
  return value;
}

/** A value for a gauge, a summary or a histogram: any finite number. */
export function badValue(metric: string, what: string, value: unknown): never {
  if (typeof value !== 'number') {
    throw new TypeError(`Metric "${metric}": ${what} must be a number, got ${show(value)}`);
  }
  throw new RangeError(`Metric "${metric}": ${what} must be a finite number, got ${show(value)}`);
}

/** A counter increment or value: finite and not negative. */
export function badIncrement(metric: string, what: string, value: unknown): never {
  if (typeof value === 'number' && value < 0) {
    throw new RangeError(`Metric "${metric}": counters only go up; ${what} must be >= 0, got ${value}`);
  }
  return badValue(metric, what, value);
}
