/**
 * Result tables: raw values (kept in latest.json) plus a format per column, rendered as aligned
 * plain text for the terminal and as Markdown for latest.md. The ratio column comes first.
 */

/** How a column's raw values are shown. */
export type Format =
  'text' | 'ratio' | 'ns' | 'us' | 'ms' | 'bytes' | 'bytesPerCall' | 'int' | 'rate' | 'bool' | 'pct';

export interface Column {
  /** Key of the value in each row (and in latest.json). */
  readonly key: string;
  /** Header as printed; the unit is part of the formatted cell. */
  readonly header: string;
  readonly format: Format;
}

export type Value = string | number | boolean | null;
export type Row = Readonly<Record<string, Value>>;

export interface Table {
  readonly id: string;
  readonly title: string;
  readonly columns: readonly Column[];
  readonly rows: readonly Row[];
  /** How to read the table: what was measured, the baseline, caveats. */
  readonly notes?: readonly string[];
}

function significant(value: number, digits: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 10 ** digits) return Math.round(value).toLocaleString('en-US');
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(abs)));
  return value.toFixed(Math.min(decimals, 6));
}

function grouped(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Format one raw value for display. */
export function formatValue(value: Value | undefined, format: Format): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'yes' : 'NO';
  if (!Number.isFinite(value)) return String(value);
  switch (format) {
    case 'ratio':
      return `${significant(value, 3)}×`;
    case 'ns':
      return value >= 1000 ? `${grouped(value)} ns` : `${significant(value, 3)} ns`;
    case 'us':
      return `${significant(value, 3)} µs`;
    case 'ms':
      return value >= 100 ? `${grouped(value)} ms` : `${significant(value, 3)} ms`;
    case 'bytes':
      if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(2)} MiB`;
      if (value >= 1024) return `${(value / 1024).toFixed(1)} KiB`;
      return `${grouped(value)} B`;
    case 'bytesPerCall':
      return `${value.toFixed(2)} B`;
    case 'int':
      return grouped(value);
    case 'rate':
      if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M/s`;
      if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k/s`;
      return `${significant(value, 3)} /s`;
    case 'pct':
      return `${(value * 100).toFixed(1)} %`;
    case 'bool':
      return value !== 0 ? 'yes' : 'NO';
    case 'text':
      return String(value);
  }
}

function cells(table: Table): string[][] {
  return table.rows.map((row) => table.columns.map((c) => formatValue(row[c.key], c.format)));
}

function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return right ? fill + text : text + fill;
}

/** Aligned plain text for the terminal. */
export function renderText(table: Table): string {
  const body = cells(table);
  const widths = table.columns.map((c, i) =>
    Math.max(width(c.header), ...body.map((row) => width(row[i] ?? ''))),
  );
  const right = table.columns.map((c) => c.format !== 'text');
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => pad(cell, widths[i]!, right[i]!))
      .join('  ')
      .trimEnd();
  const out = [
    table.title,
    line(table.columns.map((c) => c.header)),
    widths.map((w) => '─'.repeat(w)).join('  '),
  ];
  for (const row of body) out.push(line(row));
  for (const note of table.notes ?? []) out.push(`  · ${note}`);
  return `${out.join('\n')}\n`;
}

function escapeMd(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** A Markdown table with a heading and notes. */
export function renderMarkdown(table: Table, level = 3): string {
  const body = cells(table);
  const out = [`${'#'.repeat(level)} ${table.title}`, ''];
  out.push(`| ${table.columns.map((c) => escapeMd(c.header)).join(' | ')} |`);
  out.push(`|${table.columns.map((c) => (c.format === 'text' ? ':---' : '---:')).join('|')}|`);
  for (const row of body) out.push(`| ${row.map(escapeMd).join(' | ')} |`);
  if (table.notes !== undefined && table.notes.length > 0) {
    out.push('');
    for (const note of table.notes) out.push(`- ${note}`);
  }
  return `${out.join('\n')}\n`;
}
