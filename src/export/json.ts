/**
 * The merged state as prom-client's JSON (`metric.get()`, `registry.getMetricsAsJSON()`): each
 * family rendered as text 0.0.4, the sample lines parsed back into values. Built whole in
 * memory: for tests and small JSON endpoints, not for scraping a million series.
 */
import type { MetricObject, MetricValue } from '../core/registry-api.js';
import { parseLabels } from '../core/escape.js';
import { jsonHeadOf, type FamilyKind } from '../core/family.js';
import { withDefaultLabels, type DefaultLabels } from './default-labels.js';
import { renderFamily, type FamilyData } from './text-format.js';

/** Every family of `families` as prom-client's JSON, in their order. */
export async function familiesAsJson(
  families: AsyncIterable<FamilyData>,
  defaults?: DefaultLabels,
): Promise<MetricObject[]> {
  const out: MetricObject[] = [];
  for await (const family of families) {
    const values: MetricValue[] = [];
    const head = jsonHeadOf(family.meta);
    const extra = defaults?.renderedFor(family.meta) ?? '';
    const add = (text: string): void => {
      for (const line of withDefaultLabels(text, extra).split('\n')) {
        if (line !== '' && !line.startsWith('#')) values.push(parseSample(line, head.name, family.meta.kind));
      }
    };
    if ('streamed' in family && family.streamed !== undefined) {
      for await (const text of family.streamed) add(text);
    } else {
      for (const text of renderFamily(family, 'text')) add(text);
    }
    out.push({ ...head, values });
  }
  return out;
}

/** One text 0.0.4 sample line (as renderFamily writes it) as a value of family `sample`. */
function parseSample(line: string, sample: string, kind: FamilyKind): MetricValue {
  const open = line.indexOf('{');
  const cut = line.lastIndexOf(' ');
  const name = open < 0 ? line.slice(0, cut) : line.slice(0, open);
  const labels: Record<string, string | number> = {};
  if (open >= 0) {
    for (const [label, value] of parseLabels(line.slice(open + 1, line.lastIndexOf('}', cut)))) {
      // prom-client's numbers: a histogram bucket's bound, a summary's quantile (and only those).
      const numeric =
        (label === 'le' && value !== '+Inf' && name === `${sample}_bucket`) ||
        (label === 'quantile' && name === sample && kind === 'summary');
      labels[label] = numeric ? Number(value) : value;
    }
  }
  const value = parseValue(line.slice(cut + 1));
  return name === sample ? { value, labels } : { value, labels, metricName: name };
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}
