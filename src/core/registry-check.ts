/**
 * The one check that an argument is a registry, for metric options, `metricsHandler` and
 * `collectDefaultMetrics`.
 * It is structural, not `instanceof`: when an ESM copy and a CommonJS copy of the library meet in
 * one process (a dual-package hazard), a Registry made by one copy is no instance of the other's
 * class, yet it works with either.
 */
import { describeValue } from './validate.js';

/** A method of `Registry` that a caller relies on. */
export type RegistryMethod = 'register' | 'metrics' | 'contentTypeFor';

/** What a whole Registry offers callers of this check (any copy of the library). */
const REGISTRY_METHODS: readonly RegistryMethod[] = Object.freeze(['register', 'metrics', 'contentTypeFor']);

/** Whether `value` is an object with each of `methods` as a function (any copy's Registry is). */
export function isRegistry(value: unknown, methods: readonly RegistryMethod[] = REGISTRY_METHODS): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function')
  );
}

/**
 * Throw a TypeError naming `parameter` and the value unless `value` is an object with each of
 * `methods` as a function.
 */
export function expectRegistry(
  parameter: string,
  value: unknown,
  methods: readonly RegistryMethod[] = REGISTRY_METHODS,
): void {
  if (!isRegistry(value, methods)) {
    throw new TypeError(`Expected \`${parameter}\` to be a Registry, got ${describeValue(value)}`);
  }
}
