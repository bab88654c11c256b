/**
 * Strict readers of the exposition text for the system tests: a parser of the Prometheus text
 * format 0.0.4 that throws on anything malformed, and a checker of OpenMetrics 1.0 that lists every
 * violation of its ABNF and of the family/suffix rules it can see.
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** What a text exposition holds. */
export interface Exposition {
  readonly samples: readonly Sample[];
  readonly help: ReadonlyMap<string, string>;
  readonly type: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function unescapeHelp(text: string, quotes: boolean): string {
  return text.replace(/\\(.)/g, (all, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\') return '\\';
    if (quotes && c === '"') return '"';
    return all;
  });
}

/** Parse a number as the text formats spell it. */
export function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new SyntaxError(`bad number ${text}`);
  return Number(text);
}

/**
 * Parse `{a="x",b="y"}` starting at `line[start]` (the `{`); returns the labels and the index after
 * the `}`. Only the three escapes of the formats are accepted.
 */
function parseLabelSet(
  line: string,
  start: number,
  trailingComma: boolean,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  let first = true;
  for (;;) {
    if (line[i] === '}') {
      if (!first && !trailingComma && line[i - 1] === ',') throw new SyntaxError('trailing comma');
      return { labels, end: i + 1 };
    }
    if (!first) {
      if (line[i] !== ',') throw new SyntaxError(`expected , or } at ${i}`);
      i++;
      if (line[i] === '}' && trailingComma) continue;
    }
    first = false;
    const name = LABEL_NAME.exec(line.slice(i))?.[0];
    if (name === undefined) throw new SyntaxError(`bad label name at ${i}`);
    i += name.length;
    if (line.slice(i, i + 2) !== '="') throw new SyntaxError(`expected =" after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new SyntaxError('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const e = line[i + 1];
        if (e === 'n') value += '\n';
        else if (e === '\\' || e === '"') value += e;
        else throw new SyntaxError(`bad escape \\${String(e)} in label value`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (Object.hasOwn(labels, name)) throw new SyntaxError(`label ${name} repeated`);
    labels[name] = value;
  }
}

/** Parse one sample line (`name{labels} value`); throws on anything else. */
function parseSample(line: string, trailingComma: boolean): Sample & { valueText: string } {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) throw new SyntaxError('bad metric name');
  let i = name.length;
  let labels: Record<string, string> = {};
  if (line[i] === '{') ({ labels, end: i } = parseLabelSet(line, i, trailingComma));
  if (line[i] !== ' ') throw new SyntaxError('expected a space before the value');
  const rest = line.slice(i + 1).split(' ');
  if (rest.length > 2 || rest[0] === undefined) throw new SyntaxError('bad value/timestamp');
  return { name, labels, value: parseValue(rest[0]), valueText: rest[0] };
}

/** Parse Prometheus text format 0.0.4, throwing with the line number on anything malformed. */
export function parseText(text: string): Exposition {
  if (text !== '' && !text.endsWith('\n')) throw new SyntaxError('exposition does not end with a newline');
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, n) => {
    try {
      if (line.trim() === '') return;
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
        if (m === null) return; // a plain comment
        const [, kind, name, rest] = m as unknown as [string, string, string, string];
        if (kind === 'HELP') {
          if (help.has(name)) throw new SyntaxError(`second HELP for ${name}`);
          help.set(name, unescapeHelp(rest, false));
        } else {
          if (!/^(counter|gauge|histogram|summary|untyped)$/.test(rest))
            throw new SyntaxError(`bad type ${rest}`);
          if (type.has(name)) throw new SyntaxError(`second TYPE for ${name}`);
          type.set(name, rest);
        }
        return;
      }
      const { name, labels, value } = parseSample(line, true);
      samples.push({ name, labels, value });
    } catch (error) {
      throw new SyntaxError(`line ${n + 1}: ${(error as Error).message}: ${JSON.stringify(line)}`);
    }
  });
  return { samples, help, type };
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** The samples named `name` whose labels include every pair of `labels`. */
export function samplesOf(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Sample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample with exactly these labels; throws if there is none or several. */
export function valueOf(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const found = exposition.samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  if (found.length !== 1) {
    throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`);
  }
  return found[0]!.value;
}

/** Like `valueOf`, but `undefined` when the series is absent. */
export function maybeValueOf(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const found = exposition.samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  if (found.length > 1) throw new Error(`several samples ${name}${JSON.stringify(labels)}`);
  return found[0]?.value;
}

const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['', '_count', '_sum', '_created'],
  stateset: [''],
  info: ['_info'],
  unknown: [''],
};

// OpenMetrics 1.0 ABNF pieces (https://github.com/OpenObservability/OpenMetrics, "ABNF").
const OM_NUMBER =
  /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN])$/;
const OM_ESCAPED = /^(?:[^\\"\n]|\\[\\"n])*$/;

/**
 * Check an OpenMetrics 1.0 text exposition. Returns the problems found (empty: valid as far as
 * this checker sees): the ABNF of every line, `# EOF` at the end, one contiguous family per name,
 * sample names matching their family's type (counters only `_total`/`_created`), histogram `le`
 * and cumulative buckets ending in `+Inf` equal to `_count`, units matching names.
 */
export function checkOpenMetrics(text: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith('# EOF\n')) problems.push('does not end with "# EOF\\n"');
  const lines = text.split('\n');
  if (lines.pop() !== '') problems.push('no final line feed');
  const eof = lines.indexOf('# EOF');
  if (eof !== lines.length - 1) problems.push(`"# EOF" at line ${eof + 1} of ${lines.length}`);
  const seenFamilies = new Set<string>();
  let family: { name: string; type: string; help: boolean; unit: boolean; samples: boolean } | undefined;
  const seenSeries = new Set<string>();
  // Histogram bookkeeping per label set (without le): cumulative buckets and the count.
  let buckets = new Map<string, Array<[number, number]>>();
  let counts = new Map<string, number>();

  const closeFamily = (): void => {
    if (family?.type !== 'histogram') return;
    for (const [series, list] of buckets) {
      const les = list.map(([le]) => le);
      if (les.at(-1) !== Infinity) problems.push(`${family.name}{${series}}: last bucket is not +Inf`);
      for (let i = 1; i < list.length; i++) {
        if (!(list[i]![0] > list[i - 1]![0])) problems.push(`${family.name}{${series}}: le not increasing`);
        if (list[i]![1] < list[i - 1]![1]) problems.push(`${family.name}{${series}}: buckets not cumulative`);
      }
      const count = counts.get(series);
      if (count !== list.at(-1)?.[1]) {
        problems.push(
          `${family.name}{${series}}: _count ${String(count)} != +Inf bucket ${String(list.at(-1)?.[1])}`,
        );
      }
    }
  };

  lines.forEach((line, index) => {
    if (index === eof) return;
    const at = `line ${index + 1} ${JSON.stringify(line)}`;
    if (line === '') return void problems.push(`${at}: empty line`);
    if (line.startsWith('#')) {
      const m = /^# (TYPE|HELP|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (m === null) return void problems.push(`${at}: not a metric descriptor`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (family?.name !== name) {
        closeFamily();
        buckets = new Map();
        counts = new Map();
        if (seenFamilies.has(name)) problems.push(`${at}: family ${name} appears twice`);
        seenFamilies.add(name);
        family = { name, type: 'unknown', help: false, unit: false, samples: false };
      }
      if (family.samples) problems.push(`${at}: descriptor after samples`);
      if (kind === 'TYPE') {
        if (!Object.hasOwn(SUFFIXES, rest)) problems.push(`${at}: bad type`);
        family.type = rest;
      } else if (kind === 'HELP') {
        if (family.help) problems.push(`${at}: second HELP`);
        family.help = true;
        if (!OM_ESCAPED.test(rest)) problems.push(`${at}: HELP is not an escaped-string`);
      } else {
        if (family.unit) problems.push(`${at}: second UNIT`);
        family.unit = true;
        if (!/^[a-zA-Z0-9_:]*$/.test(rest)) problems.push(`${at}: bad unit`);
        if (rest !== '' && !name.endsWith(`_${rest}`))
          problems.push(`${at}: name does not end with _${rest}`);
      }
      return;
    }
    let sample: Sample & { valueText: string };
    try {
      sample = parseSample(line, false);
    } catch (error) {
      return void problems.push(`${at}: ${(error as Error).message}`);
    }
    if (!OM_NUMBER.test(sample.valueText)) problems.push(`${at}: value is not an OpenMetrics number`);
    if (family === undefined) return void problems.push(`${at}: sample outside a family`);
    family.samples = true;
    const suffix = sample.name.startsWith(family.name) ? sample.name.slice(family.name.length) : undefined;
    if (suffix === undefined || !(SUFFIXES[family.type] ?? []).includes(suffix)) {
      return void problems.push(
        `${at}: sample ${sample.name} does not belong to ${family.type} ${family.name}`,
      );
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seenSeries.has(key)) problems.push(`${at}: duplicate series`);
    seenSeries.add(key);
    if (family.type === 'counter' && suffix === '_total' && !(sample.value >= 0)) {
      problems.push(`${at}: negative or NaN counter`);
    }
    if (family.type === 'histogram') {
      const { le, ...rest } = sample.labels;
      const series = JSON.stringify(Object.entries(rest).sort());
      if (suffix === '_bucket') {
        if (le === undefined) return void problems.push(`${at}: bucket without le`);
        if (le !== '+Inf' && !/^[+-]?(\d+\.\d*|\.\d+|\d+)(e[+-]?\d+)?$/.test(le)) {
          return void problems.push(`${at}: le ${le} is not a canonical number`);
        }
        if (le !== '+Inf' && !/[.e]/.test(le)) {
          problems.push(`${at}: le ${le} is not in canonical form (needs a decimal point)`);
        }
        const list = buckets.get(series) ?? [];
        list.push([parseValue(le), sample.value]);
        buckets.set(series, list);
      } else if (le !== undefined) {
        problems.push(`${at}: le on a non-bucket sample`);
      } else if (suffix === '_count') {
        counts.set(series, sample.value);
      }
    }
  });
  closeFamily();
  return problems;
}
