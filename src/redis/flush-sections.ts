/**
 * The sections of built flush arguments (op, family, third argument, payload; flush-4.lua's
 * header), taken apart for what a flush does when Redis refuses part of a chunk: one family's
 * sections taken out (a key of the wrong type), big payloads split record by record, and the
 * largest series dropped (an argument past proto-max-bulk-len).
 */
import { flushSectionStart, type FlushScriptArgs, type RawSections } from './scripts.js';

/**
 * The same flush arguments without `family`'s sections (a family whose key Redis holds with the
 * wrong type), and those sections, to be sent later by `heldFlushArgs`. Metadata stays.
 */
export function withoutFamily(
  args: FlushScriptArgs,
  family: string,
): { args: FlushScriptArgs; held: RawSections } {
  const first = flushSectionStart(args);
  const kept = args.slice(0, first);
  const held: Array<string | Buffer> = [];
  for (let at = first; at + 3 < args.length; at += 4) {
    const section = args.slice(at, at + 4);
    (args[at + 1] === family ? held : kept).push(...section);
  }
  return { args: kept as unknown as FlushScriptArgs, held };
}

/** Lines per record of each op's payload (flush-4.lua's header); the other ops carry none. */
const RECORD_LINES: Readonly<Record<string, number>> = {
  A: 2,
  I: 2,
  S: 2,
  G: 2,
  Q: 2,
  H: 3,
  T: 3,
  E: 3,
  D: 1,
  d: 1,
  R: 1,
  C: 1,
  K: 1,
};

/** Ops whose records are series' values (exemplars, sketch buckets, creation times ride along). */
const SERIES_OPS = new Set(['A', 'I', 'S', 'G', 'T', 'H']);

function bytesOf(arg: string | Buffer): number {
  return typeof arg === 'string' ? Buffer.byteLength(arg) : arg.length;
}

/** The records of a section's payload, each with its line feeds. */
function recordsOf(op: string, payload: string | Buffer): string[] {
  const lines = RECORD_LINES[op];
  if (lines === undefined) return [];
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  const records: string[] = [];
  let start = 0;
  let seen = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) {
    if (++seen === lines) {
      records.push(text.slice(start, at + 1));
      start = at + 1;
      seen = 0;
    }
  }
  return records;
}

/** Series a list of sections (4 arguments each) carries: records of the ops that write values. */
export function seriesOfSections(sections: ReadonlyArray<string | Buffer>): number {
  let series = 0;
  for (let at = 0; at + 3 < sections.length; at += 4) {
    const op = String(sections[at]);
    if (SERIES_OPS.has(op)) series += recordsOf(op, sections[at + 3]!).length;
  }
  return series;
}

/**
 * The same flush arguments with every section whose payload is over `bytes` split into
 * sections of one record each, in order (the script applies them alike); undefined when no
 * section needs it. For a batch Redis refuses outright (an argument past proto-max-bulk-len).
 */
export function withRecordsApart(args: FlushScriptArgs, bytes: number): FlushScriptArgs | undefined {
  const first = flushSectionStart(args);
  const out = args.slice(0, first);
  let split = false;
  for (let at = first; at + 3 < args.length; at += 4) {
    const [op, family, third, payload] = args.slice(at, at + 4) as [string, string, string, string | Buffer];
    const records = bytesOf(payload) > bytes ? recordsOf(op, payload) : [];
    if (records.length > 1) {
      split = true;
      for (const record of records) out.push(op, family, third, record);
    } else out.push(op, family, third, payload);
  }
  return split ? (out as unknown as FlushScriptArgs) : undefined;
}

/** A series taken out of a batch Redis refused outright (`withoutLargestRecord`). */
export interface RefusedRecord {
  readonly family: string;
  /** Its label key (the field of its value). */
  readonly labelKey: string;
  /** Bytes of its largest argument. */
  readonly bytes: number;
}

/**
 * The same flush arguments without the series whose one-record section is the largest argument
 * of the call (every section of that series in that family goes: values, exemplars, creation
 * time), or undefined when the largest argument is not such a section. `labelKeyOf` maps a
 * record's field to its series' label key (fields.ts).
 */
export function withoutLargestRecord(
  args: FlushScriptArgs,
  labelKeyOf: (field: string) => string,
): { args: FlushScriptArgs; refused: RefusedRecord } | undefined {
  const first = flushSectionStart(args);
  let largest = 0;
  let at = -1;
  for (let i = 0; i < args.length; i++) {
    const size = bytesOf(args[i]!);
    if (size > largest) [largest, at] = [size, i];
  }
  if (at < first || (at - first) % 4 !== 3) return undefined;
  const records = recordsOf(String(args[at - 3]), args[at]!);
  if (records.length !== 1) return undefined;
  const family = String(args[at - 2]);
  const fieldOf = (record: string): string => record.slice(0, record.indexOf('\n'));
  const labelKey = labelKeyOf(fieldOf(records[0]!));
  const out = args.slice(0, first);
  for (let i = first; i + 3 < args.length; i += 4) {
    const section = args.slice(i, i + 4);
    const one = String(section[1]) === family ? recordsOf(String(section[0]), section[3]!) : [];
    if (one.length === 1 && labelKeyOf(fieldOf(one[0]!)) === labelKey) continue;
    out.push(...section);
  }
  return { args: out as unknown as FlushScriptArgs, refused: { family, labelKey, bytes: largest } };
}
