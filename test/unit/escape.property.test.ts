/**
 * Property tests for everything that escapes or encodes text: label values, HELP text, the
 * rendered label key (a Redis field and exposition text at once) and whole exposition output.
 * The sample-line parser below is written from the text-format grammar, independently of src/.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeHelp,
  escapeHelpOpenMetrics,
  escapeLabelValue,
  parseLabels,
  renderLabels,
  unescapeLabelValue,
} from '../../src/core/escape.js';
import { formatFamilies, type FamilyData, type ExpositionFormat } from '../../src/export/text-format.js';
import type { FamilyKind, FamilyMeta } from '../../src/core/family.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Characters that matter to the formats, mixed with ordinary and astral ones. */
const AWKWARD = [
  '\\',
  '"',
  '\n',
  'n',
  '\r',
  '\t',
  ',',
  '=',
  '{',
  '}',
  '#',
  ' ',
  'a',
  'é',
  '😀',
  '\u2028',
  '\0',
];
const awkwardString = fc.string({ unit: fc.constantFrom(...AWKWARD), maxLength: 12 });
/** Any well-formed string: full Unicode code points, graphemes, or awkward characters. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  awkwardString,
);
const labelName = fc
  .stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,6}$/)
  .filter((n) => !n.startsWith('__') && n !== 'le' && n !== 'gauge_index');
const labelNames = fc.uniqueArray(labelName, { minLength: 1, maxLength: 4 });

// ---------------------------------------------------------------------------------------------
// An independent reader of the text formats' sample lines

interface Sample {
  readonly name: string;
  readonly labels: Array<[string, string]>;
  readonly value: string;
}

/** Parse `name{a="x",b="y"} value` strictly; throws on anything the grammar does not allow. */
function parseSample(line: string): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (nameMatch === null) throw new SyntaxError(`no metric name in ${JSON.stringify(line)}`);
  const name = nameMatch[0];
  let i = name.length;
  const labels: Array<[string, string]> = [];
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const label = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (label === null) throw new SyntaxError(`bad label name at ${i} in ${JSON.stringify(line)}`);
      i += label[0].length;
      if (line.slice(i, i + 2) !== '="') throw new SyntaxError(`expected =" at ${i}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new SyntaxError('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i + 1];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new SyntaxError(`invalid escape \\${String(e)}`);
          i += 2;
          continue;
        }
        if (c === '\n') throw new SyntaxError('raw line feed in a label value');
        value += c;
        i++;
      }
      i++;
      labels.push([label[0], value]);
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new SyntaxError(`expected , or } at ${i}`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new SyntaxError(`expected a space before the value in ${JSON.stringify(line)}`);
  const value = line.slice(i + 1);
  if (!/^\S+$/.test(value)) throw new SyntaxError(`bad value ${JSON.stringify(value)}`);
  return { name, labels, value };
}

/** Invert HELP escaping (`\\`, `\n`, and in OpenMetrics `\"`); throws on any other escape. */
function unescapeHelp(text: string, openMetrics: boolean): string {
  return text.replace(/\\(.)/gs, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && openMetrics) return '"';
    throw new SyntaxError(`invalid HELP escape \\${c}`);
  });
}

/** Every `\` starts one of the allowed escapes and every `"` is escaped. */
function onlyAllowedEscapes(text: string, allowed: string, quoteMustBeEscaped: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (!allowed.includes(text[i + 1] ?? '')) return false;
      i++;
    } else if (c === '"' && quoteMustBeEscaped) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

describe('label value escaping', () => {
  it('unescapeLabelValue(escapeLabelValue(s)) === s for any well-formed string', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        expect(unescapeLabelValue(escapeLabelValue(s))).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });

  it('never leaves a raw line feed or an unescaped double quote, and uses only \\\\ \\" \\n', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const escaped = escapeLabelValue(s);
        expect(escaped).not.toContain('\n');
        expect(onlyAllowedEscapes(escaped, '\\"n', true)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('leaves strings without specials unchanged', () => {
    fc.assert(
      fc.property(
        anyString.filter((s) => !/[\\"\n]/.test(s)),
        (s) => {
          expect(escapeLabelValue(s)).toBe(s);
        },
      ),
    );
  });

  it('is injective', () => {
    fc.assert(
      fc.property(awkwardString, awkwardString, (a, b) => {
        expect(escapeLabelValue(a) === escapeLabelValue(b)).toBe(a === b);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('HELP escaping', () => {
  it('text format: escapes only \\ and line feed, and round-trips', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const escaped = escapeHelp(s);
        expect(escaped).not.toContain('\n');
        expect(onlyAllowedEscapes(escaped, '\\n', false)).toBe(true);
        expect(unescapeHelp(escaped, false)).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });

  it('OpenMetrics: also escapes the double quote, and round-trips', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const escaped = escapeHelpOpenMetrics(s);
        expect(escaped).not.toContain('\n');
        expect(onlyAllowedEscapes(escaped, '\\"n', true)).toBe(true);
        expect(unescapeHelp(escaped, true)).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('rendered label keys', () => {
  const namesAndTwoValueLists = labelNames.chain((names) =>
    fc.tuple(
      fc.constant(names),
      fc.array(awkwardString, { minLength: names.length, maxLength: names.length }),
      fc.array(awkwardString, { minLength: names.length, maxLength: names.length }),
    ),
  );

  it('renderLabels is injective: different value lists give different keys', () => {
    fc.assert(
      fc.property(namesAndTwoValueLists, ([names, a, b]) => {
        const same = a.every((v, i) => v === b[i]);
        expect(renderLabels(names, a) === renderLabels(names, b)).toBe(same);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps apart values crafted to look like another label set', () => {
    const names = ['a', 'b'];
    expect(renderLabels(names, ['x",b="y', ''])).not.toBe(renderLabels(names, ['x', 'y",b="']));
    expect(renderLabels(names, ['x\\', '"'])).not.toBe(renderLabels(names, ['x\\"', '']));
  });

  it('parseLabels(renderLabels(names, values)) round-trips', () => {
    fc.assert(
      fc.property(
        labelNames.chain((names) =>
          fc.tuple(
            fc.constant(names),
            fc.array(anyString, { minLength: names.length, maxLength: names.length }),
          ),
        ),
        ([names, values]) => {
          const rendered = renderLabels(names, values);
          const pairs = names.map((n, i): [string, string] => [n, values[i]!]);
          expect(parseLabels(rendered)).toEqual(pairs);
          // An independent reader agrees.
          expect(parseSample(`m{${rendered}} 1`).labels).toEqual(pairs);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('renders an empty label set as the empty string', () => {
    expect(renderLabels([], [])).toBe('');
    expect(parseLabels('')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Whole expositions

interface FamilySpec {
  readonly kind: FamilyKind;
  readonly help: string;
  readonly names: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

const familySpec = (
  help: fc.Arbitrary<string>,
  value: fc.Arbitrary<string>,
  names: fc.Arbitrary<string[]> = labelNames,
): fc.Arbitrary<FamilySpec> =>
  fc
    .record({
      kind: fc.constantFrom<FamilyKind>('counter', 'gauge', 'common_gauge', 'histogram', 'summary'),
      help,
      names,
    })
    .chain(({ kind, help: h, names }) =>
      fc
        .uniqueArray(fc.array(value, { minLength: names.length, maxLength: names.length }), {
          maxLength: 5,
          selector: (vs) => JSON.stringify(vs),
        })
        .map((rows) => ({ kind, help: h, names, rows })),
    );

const BUCKETS = [0.5, 1, 10];

/** FamilyData as the reader would produce it for a spec (per-process gauges get gauge_index). */
function buildFamily(name: string, spec: FamilySpec): FamilyData {
  const meta: FamilyMeta = {
    v: LAYOUT_VERSION,
    name,
    kind: spec.kind,
    help: spec.help,
    labelNames: [...spec.names],
    ...(spec.kind === 'histogram' ? { buckets: BUCKETS } : {}),
  };
  const keys = spec.rows.map((values) => renderLabels(spec.names, values));
  if (spec.kind === 'histogram') {
    return {
      meta: { ...meta, kind: 'histogram' },
      rows: keys.map((key, i) => ({ key, counts: [i, 1, 0, 2], sum: i + 0.5 })),
    };
  }
  if (spec.kind === 'summary') {
    return {
      meta: { ...meta, kind: 'summary' },
      rows: keys.map((key, i) => ({ key, count: i, sum: i / 2 })),
    };
  }
  if (spec.kind === 'gauge') {
    return { meta, rows: keys.map((key, i) => [`${key},gauge_index="${i % 2}"`, -i] as const) };
  }
  return { meta, rows: keys.map((key, i) => [key, i * 1.5] as const) };
}

function sampleLinesPerRow(kind: FamilyKind): number {
  if (kind === 'histogram') return BUCKETS.length + 3;
  if (kind === 'summary') return 2;
  return 1;
}

describe('exposition output', () => {
  it.each<ExpositionFormat>(['text', 'openmetrics'])(
    '%s: exactly one line per sample, each with exactly its own labels, whatever the values and HELP',
    (format) => {
      fc.assert(
        fc.property(fc.array(familySpec(anyString, anyString), { minLength: 1, maxLength: 3 }), (specs) => {
          const families = specs.map((spec, i) => buildFamily(`fam${i}`, spec));
          const text = formatFamilies(families, format);
          expect(text.endsWith('\n')).toBe(true);
          const lines = text.slice(0, -1).split('\n');

          let expected = format === 'openmetrics' ? 1 : 0;
          for (const spec of specs) {
            const headers = spec.help === '' ? 1 : 2; // an empty HELP is left out in both formats
            expected += headers + spec.rows.length * sampleLinesPerRow(spec.kind);
          }
          expect(lines).toHaveLength(expected);
          if (format === 'openmetrics') expect(lines.at(-1)).toBe('# EOF');

          let f = -1;
          let row = 0;
          let inRow = 0;
          for (const line of lines) {
            if (line.startsWith('# TYPE ')) {
              f++;
              row = 0;
              inRow = 0;
            }
            if (line.startsWith('# HELP ')) {
              const spec = specs[format === 'text' ? f + 1 : f]!;
              const body = line.slice(line.indexOf(' ', 7) + 1);
              expect(unescapeHelp(body, format === 'openmetrics')).toBe(spec.help);
            }
            if (line.startsWith('#')) continue;
            const spec = specs[f]!;
            const sample = parseSample(line);
            expect(sample.name.startsWith(`fam${f}`)).toBe(true);
            const own = sample.labels.filter(([n]) => n !== 'le' && n !== 'gauge_index');
            expect(own).toEqual(spec.names.map((n, i): [string, string] => [n, spec.rows[row]![i]!]));
            const extra = sample.labels.filter(([n]) => n === 'le' || n === 'gauge_index').map(([n]) => n);
            const isBucket = sample.name.endsWith('_bucket');
            expect(extra).toEqual([
              ...(spec.kind === 'gauge' ? ['gauge_index'] : []),
              ...(isBucket ? ['le'] : []),
            ]);
            if (++inRow === sampleLinesPerRow(spec.kind)) {
              row++;
              inRow = 0;
            }
          }
        }),
        { numRuns: 300 },
      );
    },
  );
});

// ---------------------------------------------------------------------------------------------
// promtool

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

describe('promtool', () => {
  it.skipIf(!hasPromtool)(
    'accepts text-format output with random awkward label values and HELP texts',
    () => {
      const names: Record<FamilyKind, string> = {
        counter: 'app_requests',
        gauge: 'app_queue_depth',
        common_gauge: 'app_workers',
        histogram: 'app_latency_seconds',
        summary: 'app_rpc_seconds',
      };
      // HELP must not be blank, or promtool's linter complains about a missing help text.
      const help = fc.tuple(anyString, anyString).map(([a, b]) => `Help ${a}${b}`);
      // Lower-case label names: the linter also wants snake_case labels.
      const lintCleanNames = fc.uniqueArray(
        labelName.map((n) => n.toLowerCase()).filter((n) => !n.startsWith('__') && n !== 'le'),
        { minLength: 1, maxLength: 3 },
      );
      const specs = fc
        .array(familySpec(help, anyString, lintCleanNames), { minLength: 1, maxLength: 5 })
        .map((list) => {
          const byKind = new Map<FamilyKind, FamilySpec>();
          for (const spec of list) byKind.set(spec.kind, spec);
          return [...byKind.values()];
        });
      fc.assert(
        fc.property(specs, (list) => {
          const text = formatFamilies(
            list.map((spec) => buildFamily(names[spec.kind], spec)),
            'text',
          );
          const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
          expect(
            result.status,
            `promtool: ${result.stdout}${result.stderr}\n--- input ---\n${JSON.stringify(text)}`,
          ).toBe(0);
        }),
        { numRuns: 50 },
      );
    },
  );
});
