/**
 * Exemplar labels: their public type, and the validation and rendering (`trace_id="…"`) every
 * observation with an exemplar goes through before anything is recorded.
 */
import { escapeLabelValue } from '../core/escape.js';
import { describeValue, hasLoneSurrogate, isLabelName } from '../core/validate.js';

/**
 * The labels of an exemplar: a trace id and, optionally, more labels (`spanId`, …). `traceId` and
 * `spanId` are exposed as `trace_id` and `span_id`, the names OpenMetrics and Prometheus use;
 * other names are exposed as given and must be valid label names.
 */
export type ExemplarLabels = {
  /** The trace the observation belongs to; exposed as `trace_id`. */
  readonly traceId: string;
} & Readonly<Record<string, string>>;

/** OpenMetrics: the label names and values of an exemplar add up to at most 128 UTF-8 characters. */
export const MAX_EXEMPLAR_CHARS = 128;

const RENAMED: Readonly<Record<string, string>> = { traceId: 'trace_id', spanId: 'span_id' };

/** Unicode code points in a well-formed string (a surrogate pair is one character). */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

/**
 * Validate an exemplar label set and render it as exposition text (`trace_id="abc",span_id="x"`).
 * Throws for anything OpenMetrics would reject, naming the metric.
 */
export function renderExemplarLabels(metric: string, exemplar: unknown): string {
  if (typeof exemplar !== 'object' || exemplar === null || Array.isArray(exemplar)) {
    throw new TypeError(
      `Metric "${metric}": an exemplar must be a label object such as { traceId: "…" }, got ${describeValue(exemplar)}`,
    );
  }
  const record = exemplar as Record<string, unknown>;
  if (typeof record.traceId !== 'string' || record.traceId === '') {
    throw new TypeError(
      `Metric "${metric}": an exemplar needs a non-empty string traceId, got ${describeValue(record.traceId)}`,
    );
  }
  let out = '';
  let chars = 0;
  const seen = new Set<string>();
  for (const name of Object.keys(record)) {
    const value = record[name];
    const label = RENAMED[name] ?? name;
    if (seen.has(label)) {
      throw new TypeError(
        `Metric "${metric}": exemplar label "${label}" is given twice (${JSON.stringify(name)})`,
      );
    }
    seen.add(label);
    if (!isLabelName(label) || label.startsWith('__')) {
      throw new TypeError(`Metric "${metric}": invalid exemplar label name ${JSON.stringify(name)}`);
    }
    if (typeof value !== 'string' || hasLoneSurrogate(value)) {
      throw new TypeError(
        `Metric "${metric}": exemplar label "${name}" must be a well-formed string, got ${describeValue(value)}`,
      );
    }
    chars += label.length + codePoints(value);
    out += `${out === '' ? '' : ','}${label}="${escapeLabelValue(value)}"`;
  }
  if (chars > MAX_EXEMPLAR_CHARS) {
    throw new RangeError(
      `Metric "${metric}": an exemplar's label names and values may hold at most ${MAX_EXEMPLAR_CHARS} characters (OpenMetrics), got ${chars}`,
    );
  }
  return out;
}
