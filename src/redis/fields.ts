/**
 * The hash-field layout: the one module that builds and parses the fields of a family's hashes
 * (keys.ts names the hashes themselves). The Lua scripts in lua/ write and read the same layout;
 * their contract tests (test/integration/lua-contract.test.ts) pin it.
 *
 * A series' label key is its rendered label set (`a="x",b="y"`, see core/escape.ts): either
 * empty or ending with `"`, and never holding a raw line feed or an unescaped `"`. Every other
 * field is `<label key>|<suffix>` with a suffix free of `"` — so whether a field is a bare label
 * key or a suffixed one is decided by its last character alone, and `|` splits at the last one.
 *
 * | family                   | field                       | value                              |
 * |--------------------------|-----------------------------|------------------------------------|
 * | counter, common gauge    | `<key>`                     | the value                          |
 * | counter, histogram, summary (in the `cr:` hash) | `<key>` (`<key>|created` as a scrape reads it) | creation time, s |
 * | histogram                | `<key>|s`, `<key>|c`        | sum, count                         |
 * | histogram                | `<key>|<slot>`              | non-cumulative count of bucket slot (last slot: `+Inf`) |
 * | histogram                | `<key>|e<slot>`             | "<µs> <value> <labels>": the bucket's latest exemplar |
 * | summary                  | `<key>|s`, `<key>|c`        | sum, count                         |
 * | summary quantile window  | `<key>|<token>`             | sketch bucket count (core/sketch-mapping.ts tokens) |
 * | per-process gauge        | `<key>`                     | this process's value               |
 * | gauge, aggregate `last`  | `<key>|t`                   | server time of the write, µs       |
 */

/** Separates a label key from its suffix. */
export const SEPARATOR = '|';
/** Suffix of a histogram's or summary's sum. */
export const SUM = 's';
/** Suffix of a histogram's or summary's count. */
export const COUNT = 'c';
/** Suffix of a `last` gauge's write time. */
export const TIME = 't';
/** Suffix a scrape gives creation times (`<key>|created`) when it returns them with data. */
export const CREATED = 'created';
/** First character of a histogram exemplar suffix (`e<slot>`). */
export const EXEMPLAR = 'e';

/** `<key>|created`: how a scrape returns a creation time. */
export const CREATED_SUFFIX = `${SEPARATOR}${CREATED}`;
/** `<key>|t`. */
const TIME_SUFFIX = `${SEPARATOR}${TIME}`;

/** Whether `field` is a bare label key (a series' own field): empty, or ending with `"`. */
export function isLabelKey(field: string): boolean {
  return field === '' || field.charCodeAt(field.length - 1) === 34; /* " */
}

/** `<key>|<suffix>`. */
export function subField(key: string, suffix: string): string {
  return `${key}${SEPARATOR}${suffix}`;
}

/** The label key of a suffixed field (`a="x"|s` → `a="x"`); a bare label key is its own. */
export function labelKeyOf(field: string): string {
  if (isLabelKey(field)) return field;
  const bar = field.lastIndexOf(SEPARATOR);
  return bar < 0 ? field : field.slice(0, bar);
}

/** Whether `field` is a creation time as a scrape returns it (`<key>|created`). */
export function isCreatedField(field: string): boolean {
  // Scrapes test every counter field: its last character rules out every label key (see above)
  // before the suffix is compared.
  return field.charCodeAt(field.length - 1) === 100 /* d */ && field.endsWith(CREATED_SUFFIX);
}

/** Whether `field` is a `last` gauge's write time (`<key>|t`). */
export function isTimeField(field: string): boolean {
  return field.endsWith(TIME_SUFFIX);
}

/** The exemplar suffix of bucket `slot`. */
export function exemplarSuffix(slot: number): string {
  return `${EXEMPLAR}${slot}`;
}

/**
 * Every field a series of this family occupies in the family hash (what a remove deletes): the
 * label key itself, or its suffixed fields.
 */
export function seriesFields(
  family: { readonly kind: string; readonly buckets?: readonly number[]; readonly aggregate?: string },
  key: string,
): string[] {
  if (family.aggregate === 'last') return [key, subField(key, TIME)];
  if (family.kind !== 'histogram' && family.kind !== 'summary') return [key];
  const fields = [subField(key, SUM), subField(key, COUNT)];
  if (family.kind === 'histogram') {
    for (let slot = 0; slot <= (family.buckets?.length ?? 0); slot++) {
      fields.push(subField(key, String(slot)), subField(key, exemplarSuffix(slot)));
    }
  }
  return fields;
}

/** Whether a histogram suffix names a bucket's exemplar (`e<slot>`) rather than its count (`<slot>`). */
export function isExemplarSuffix(suffix: string): boolean {
  return suffix.charCodeAt(0) === 101; /* e */
}

/** The bucket slot a histogram suffix names: `3` and `e3` → 3; NaN when malformed. */
export function slotOf(suffix: string): number {
  return Number(isExemplarSuffix(suffix) ? suffix.slice(1) : suffix);
}

/** A suffixed field's two parts (see `splitField`). */
export interface FieldParts {
  key: string;
  suffix: string;
}

/**
 * Split a suffixed field into its label key and suffix, written into `into` (hot loops reuse one
 * object rather than allocate one per field); false, leaving `into` as it was, for a bare label key
 * (or a foreign field without a separator).
 */
export function splitField(field: string, into: FieldParts): boolean {
  if (isLabelKey(field)) return false;
  const bar = field.lastIndexOf(SEPARATOR);
  if (bar < 0) return false;
  into.key = field.slice(0, bar);
  into.suffix = field.slice(bar + 1);
  return true;
}

/** Fields of a process key (`proc:<id>`): the last applied batch, the gauge index, the last flush. */
export const PROCESS_FIELDS = Object.freeze({ seq: 'seq', gaugeIndex: 'idx', lastFlushMs: 't' });
