/**
 * A flush cut into chunks (src/flush/encode.ts): bounded by field updates, a series never split,
 * consecutive sequence numbers, each chunk carrying the metadata of the families it writes.
 */
import { describe, expect, it } from 'vitest';
import { AddCell, HistogramCell } from '../../src/buffer/cells.js';
import { DeltaBuffer } from '../../src/buffer/delta-buffer.js';
import { SeriesStore } from '../../src/buffer/series-store.js';
import type { FamilyKind } from '../../src/core/family.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';
import { encodeBatch, type EncodedBatch } from '../../src/flush/encode.js';
import { Keys } from '../../src/redis/keys.js';

function store<C extends AddCell | HistogramCell>(
  buffer: DeltaBuffer,
  name: string,
  kind: FamilyKind,
  create: (key: string) => C,
): SeriesStore<C> {
  return new SeriesStore<C>({
    meta: {
      v: LAYOUT_VERSION,
      name,
      kind,
      help: 'h',
      labelNames: ['id'],
      ...(kind === 'histogram' ? { buckets: [1, 2, 3] } : {}),
    },
    labelNames: ['id'],
    buffer,
    maxSeries: 100_000,
    maxLabelValueLength: 4096,
    create,
    onLimit: () => {},
  });
}

function context(chunkUpdates: number) {
  let seq = 10;
  return {
    keys: new Keys('unit'),
    processId: 'p1',
    tokenTtlSeconds: 60,
    expireSeconds: 60,
    gaugeFamilies: [],
    chunkUpdates,
    nextSeq: () => ++seq,
  };
}

/** The sections of a chunk's arguments: [op, family, arg, payload] (after KEYS, ARGV[1..12], metadata). */
function sections(chunk: EncodedBatch): string[][] {
  const args = chunk.args.map(String);
  const metaCount = Number(args[4 + 10]);
  const out: string[][] = [];
  for (let p = 4 + 12 + 3 * metaCount; p < args.length; p += 4) out.push(args.slice(p, p + 4));
  return out;
}

function metadataNames(chunk: EncodedBatch): string[] {
  const args = chunk.args.map(String);
  const metaCount = Number(args[4 + 10]);
  return Array.from({ length: metaCount }, (_, i) => args[4 + 12 + 3 * i]!);
}

/** Label keys written by a chunk's data sections (op, key). */
function recordsOf(chunk: EncodedBatch, op: string): string[] {
  return sections(chunk)
    .filter((s) => s[0] === op)
    .flatMap((s) => s[3]!.split('\n').filter((_, i) => i % (op === 'H' ? 3 : 2) === 0 && _ !== ''));
}

describe('a flush in chunks', () => {
  it('cuts counters at the bound, with consecutive sequence numbers and every series once', async () => {
    const buffer = new DeltaBuffer<SeriesStore>(1_000_000, () => {});
    const c = store(buffer, 'c', 'counter', (key) => new AddCell(key));
    for (let i = 0; i < 2500; i++) {
      const cell = c.fromValues([String(i)]);
      cell.v = 1;
      cell.fresh = false;
      c.touch(cell);
    }
    const chunks = await encodeBatch(buffer.take(), [], context(1000));
    expect(chunks.map((chunk) => chunk.seq)).toEqual([11, 12, 13]);
    expect(chunks.map((chunk) => chunk.series)).toEqual([1000, 1000, 500]);
    const written = chunks.flatMap((chunk) => recordsOf(chunk, 'I'));
    expect(written).toHaveLength(2500);
    expect(new Set(written).size).toBe(2500);
    // Each chunk checks the metadata of the family it writes.
    for (const chunk of chunks) expect(metadataNames(chunk)).toEqual(['c']);
  });

  it('never splits a histogram series: its buckets, sum and count go in one chunk', async () => {
    const buffer = new DeltaBuffer<SeriesStore>(1_000_000, () => {});
    const h = store(buffer, 'h', 'histogram', (key) => new HistogramCell(key, 5));
    for (let i = 0; i < 300; i++) {
      const cell = h.fromValues([String(i)]);
      cell.counts.fill(1);
      cell.sum = 2;
      cell.fresh = false;
      h.touch(cell);
    }
    // Each series costs 6 field updates (5 buckets and the sum): 7 is passed after 2 series.
    const chunks = await encodeBatch(buffer.take(), [], context(7));
    expect(chunks).toHaveLength(150);
    for (const chunk of chunks) {
      const records = sections(chunk).filter((s) => s[0] === 'H');
      expect(records).toHaveLength(1);
      const lines = records[0]![3]!.split('\n');
      // field \n sum \n spec, per series: every bucket of the series is in its spec.
      expect(lines.length).toBe(2 * 3 + 1);
      expect(lines[2]).toBe('0:1,1:1,2:1,3:1,4:1');
    }
  });

  it('sends metadata-only families in the first chunk, and an empty flush as one chunk', async () => {
    const buffer = new DeltaBuffer<SeriesStore>(1_000_000, () => {});
    const quiet = store(buffer, 'quiet', 'counter', (key) => new AddCell(key));
    const empty = await encodeBatch(buffer.take(), [quiet], context(10));
    expect(empty).toHaveLength(1);
    expect(metadataNames(empty[0]!)).toEqual(['quiet']);
    expect(sections(empty[0]!)).toEqual([]);

    const c = store(buffer, 'c', 'counter', (key) => new AddCell(key));
    for (let i = 0; i < 25; i++) {
      const cell = c.fromValues([String(i)]);
      cell.v = 1;
      cell.fresh = false;
      c.touch(cell);
    }
    const chunks = await encodeBatch(buffer.take(), [quiet], context(10));
    expect(chunks.map(metadataNames)).toEqual([['quiet', 'c'], ['c'], ['c']]);
  });

  it('splits a big remove() between chunks, each series whole', async () => {
    const buffer = new DeltaBuffer<SeriesStore>(1_000_000, () => {});
    const h = store(buffer, 'h', 'histogram', (key) => new HistogramCell(key, 5));
    for (let i = 0; i < 100; i++) h.touch(h.fromValues([String(i)]));
    buffer.take().forEach((s) => s.take());
    for (let i = 0; i < 100; i++) h.remove([String(i)]);
    const chunks = await encodeBatch(buffer.take(), [], context(50));
    const removals = chunks.map((chunk) => sections(chunk).filter((s) => s[0] === 'D'));
    expect(chunks.length).toBeGreaterThan(5);
    const fields = removals.flat().flatMap((s) => s[3]!.split('\n').filter((f) => f !== ''));
    // Every field of every series, each once; no chunk holds part of a series.
    expect(new Set(fields).size).toBe(fields.length);
    for (const section of removals.flat()) {
      const perKey = new Map<string, number>();
      for (const f of section[3]!.split('\n').filter((x) => x !== '')) {
        const key = f.split('|')[0]!;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
      }
      expect(new Set(perKey.values()).size).toBe(1);
    }
    expect(new Set(fields.map((f) => f.split('|')[0])).size).toBe(100);
  });
});
