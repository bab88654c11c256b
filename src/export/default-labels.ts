/**
 * `registry.setDefaultLabels()`: labels the serving registry adds to every series it exposes
 * (prom-client's default labels), whichever process recorded them. Checked once when set; added
 * to each sample line as it is rendered, after the family's own labels are known — a family that
 * has a label of the same name keeps its own value, as in prom-client.
 */
import { renderLabels } from '../core/escape.js';
import type { FamilyMeta } from '../core/family.js';
import { describeValue, hasLoneSurrogate, isLabelName } from '../core/validate.js';

/** Label names a default may not take: they mean something in the exposition. */
const RESERVED = new Set(['le', 'quantile', 'gauge_index']);

export class DefaultLabels {
  /** Name, value pairs in the order given. */
  readonly pairs: ReadonlyArray<readonly [string, string]>;

  constructor(labels: unknown) {
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
      throw new TypeError(
        `Expected default labels to be an object of label values, got ${describeValue(labels)}`,
      );
    }
    const pairs: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(labels as Record<string, unknown>)) {
      if (!isLabelName(name) || name.startsWith('__') || RESERVED.has(name)) {
        throw new TypeError(
          `Default label name ${JSON.stringify(name)} is not allowed: it must match [a-zA-Z_][a-zA-Z0-9_]*, not start with "__", and not be le, quantile or gauge_index`,
        );
      }
      if ((typeof value !== 'string' && typeof value !== 'number') || hasLoneSurrogate(String(value))) {
        throw new TypeError(
          `Default label "${name}": a value must be a string or a number, got ${describeValue(value)}`,
        );
      }
      pairs.push([name, String(value)]);
    }
    this.pairs = pairs;
  }

  /** The rendered `k="v",…` this family's series get ('' when none applies). */
  renderedFor(meta: FamilyMeta): string {
    const own = new Set(meta.labelNames);
    const pairs = this.pairs.filter(([name]) => !own.has(name));
    return renderLabels(
      pairs.map(([name]) => name),
      pairs.map(([, value]) => value),
    );
  }
}

/** Whether a character code belongs to a metric name. */
function nameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 58;
}

/** `text` (whole sample lines) with `rendered` labels put first in every sample's label set. */
export function withDefaultLabels(text: string, rendered: string): string {
  if (rendered === '') return text;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || line.charCodeAt(0) === 35 /* # */) continue;
    let end = 0;
    while (end < line.length && nameChar(line.charCodeAt(end))) end++;
    lines[i] =
      line[end] === '{'
        ? `${line.slice(0, end + 1)}${rendered}${line[end + 1] === '}' ? '' : ','}${line.slice(end + 1)}`
        : `${line.slice(0, end)}{${rendered}}${line.slice(end)}`;
  }
  return lines.join('\n');
}
