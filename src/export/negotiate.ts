/**
 * Content negotiation: picks the exposition format (text 0.0.4 or OpenMetrics 1.0) for an HTTP
 * `Accept` header, as Prometheus negotiates it.
 */

import type { ExpositionFormat } from './text-format.js';

interface MediaRange {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
  readonly q: number;
}

function parseRange(part: string): MediaRange | undefined {
  const [rawType = '', ...rawParams] = part.split(';');
  const type = rawType.trim().toLowerCase();
  if (!/^[^/\s]+\/[^/\s]+$/.test(type)) return undefined;
  const params = new Map<string, string>();
  let q = 1;
  for (const raw of rawParams) {
    const eq = raw.indexOf('=');
    if (eq < 0) continue;
    const name = raw.slice(0, eq).trim().toLowerCase();
    const value = raw
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (name === 'q') {
      // RFC 9110 qvalue: 0 to 1 with at most three decimals; a malformed weight drops the range.
      if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) return undefined;
      q = Number(value);
    } else {
      params.set(name, value);
    }
  }
  return { type, params, q };
}

/**
 * The weight a header gives a media type: that of the most specific matching range (`type/sub`
 * over `type/*` over the any-type wildcard; the highest weight among equally specific ones), 0 when
 * none matches.
 */
function weightOf(ranges: readonly MediaRange[], type: string): number {
  const [major] = type.split('/');
  let best = -1;
  let specificity = -1;
  for (const range of ranges) {
    const level = range.type === type ? 2 : range.type === `${major}/*` ? 1 : range.type === '*/*' ? 0 : -1;
    if (level < 0) continue;
    if (level > specificity) {
      specificity = level;
      best = range.q;
    } else if (level === specificity) {
      best = Math.max(best, range.q);
    }
  }
  return Math.max(best, 0);
}

/**
 * Pick the exposition format for an HTTP `Accept` header, as Prometheus negotiates it:
 * OpenMetrics 1.0 only when `application/openmetrics-text` (without a version, or
 * `version=1.0.0`) is listed explicitly with a weight above 0 that is at least that of
 * `text/plain`; anything else — no header, only wildcards, malformed input — gets text format 0.0.4,
 * which every scraper understands. Pure and total: it never throws.
 *
 * @example
 * negotiateFormat('application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3');
 * // → 'openmetrics'
 */
export function negotiateFormat(acceptHeader?: string): ExpositionFormat {
  if (typeof acceptHeader !== 'string' || !acceptHeader.toLowerCase().includes('openmetrics')) return 'text';
  const ranges: MediaRange[] = [];
  for (const part of acceptHeader.split(',')) {
    const range = parseRange(part);
    if (range !== undefined) ranges.push(range);
  }
  let openMetrics = 0;
  for (const range of ranges) {
    if (range.type !== 'application/openmetrics-text') continue;
    const version = range.params.get('version');
    if (version === undefined || version === '1.0.0') openMetrics = Math.max(openMetrics, range.q);
  }
  if (openMetrics <= 0) return 'text';
  const text = weightOf(ranges, 'text/plain');
  return openMetrics >= text ? 'openmetrics' : 'text';
}
