/**
 * The buffer layer on its own: the flush threshold, the swap (`take()`), and bucket lookup.
 * Cells are written the way the hot path writes them: change the value, then `touch()` the cell
 * if it is not already dirty. A flush clears `d` when it drains a cell; tests do the same.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { slotOf } from '../../src/buffer/buckets.js';
import { AddCell, GaugeCell, type Cell } from '../../src/buffer/cells.js';
import { DeltaBuffer } from '../../src/buffer/delta-buffer.js';
import { SeriesStore } from '../../src/buffer/series-store.js';
import type { FamilyKind } from '../../src/core/family.js';
import { encodeBatch } from '../../src/flush/encode.js';
import { Keys } from '../../src/redis/keys.js';
import { Counter } from '../../src/index.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';
import { localRegistry } from './local.js';

function addStore(
  buffer: DeltaBuffer,
  name = 'c',
  labelNames: string[] = ['id'],
  extra: { internal?: boolean; maxSeries?: number; onLimit?: () => void } = {},
): SeriesStore<AddCell> {
  return new SeriesStore<AddCell>({
    meta: { v: LAYOUT_VERSION, name, kind: 'counter', help: 'h', labelNames },
    labelNames,
    buffer,
    maxSeries: extra.maxSeries ?? 1000,
    maxLabelValueLength: 4096,
    create: (key) => new AddCell(key),
    onLimit: extra.onLimit ?? ((): void => {}),
    internal: extra.internal ?? false,
  });
}

function gaugeStore(buffer: DeltaBuffer, kind: FamilyKind = 'gauge'): SeriesStore<GaugeCell> {
  return new SeriesStore<GaugeCell>({
    meta: { v: LAYOUT_VERSION, name: 'g', kind, help: 'h', labelNames: ['a'] },
    labelNames: ['a'],
    buffer,
    maxSeries: 1000,
    maxLabelValueLength: 4096,
    create: (key) => new GaugeCell(key),
    onLimit: () => {},
  });
}

/** Add `value` to the series `id`, as `counter.inc({ id }, value)` does. */
function write(store: SeriesStore<AddCell>, id: string, value = 1): AddCell {
  const cell = store.fromValues([id]);
  cell.v += value;
  if (!cell.d) store.touch(cell);
  return cell;
}

/** What a flush does with the cells it took: read them and mark them clean. */
function drain(cells: readonly Cell[]): void {
  for (const cell of cells) {
    cell.d = false;
    cell.fresh = false;
  }
}

describe('DeltaBuffer flush threshold', () => {
  it('calls onThreshold synchronously, once, when the number of changed series reaches it', () => {
    const onThreshold = vi.fn();
    const buffer = new DeltaBuffer<SeriesStore>(3, onThreshold);
    const store = addStore(buffer);
    write(store, '1');
    write(store, '2');
    expect(onThreshold).not.toHaveBeenCalled();
    write(store, '3');
    expect(onThreshold).toHaveBeenCalledTimes(1);
    write(store, '4');
    write(store, '5');
    expect(onThreshold).toHaveBeenCalledTimes(1);
    expect(buffer.size).toBe(5);
  });

  it('counts series, not operations: more writes to a dirty series do not count', () => {
    const onThreshold = vi.fn();
    const buffer = new DeltaBuffer<SeriesStore>(2, onThreshold);
    const store = addStore(buffer);
    for (let i = 0; i < 100; i++) write(store, '1');
    expect(buffer.size).toBe(1);
    expect(onThreshold).not.toHaveBeenCalled();
  });

  it('starts counting again after take(), and calls onThreshold again at the next crossing', () => {
    const onThreshold = vi.fn();
    const buffer = new DeltaBuffer<SeriesStore>(2, onThreshold);
    const store = addStore(buffer);
    write(store, '1');
    write(store, '2');
    expect(onThreshold).toHaveBeenCalledTimes(1);
    for (const s of buffer.take()) drain(s.take().cells);
    expect(buffer.size).toBe(0);
    write(store, '1');
    expect(onThreshold).toHaveBeenCalledTimes(1);
    write(store, '2');
    expect(onThreshold).toHaveBeenCalledTimes(2);
  });

  it('calls onThreshold once past the threshold until the next take(), then at the next change', () => {
    const onThreshold = vi.fn();
    const buffer = new DeltaBuffer<SeriesStore>(2, onThreshold);
    const store = addStore(buffer);
    for (const id of ['1', '2', '3', '4']) write(store, id);
    expect(onThreshold).toHaveBeenCalledTimes(1);
    // A failed flush gives its stores back with more than the threshold in them: the next
    // change (not only the one that lands exactly on the threshold) signals again.
    const taken = buffer.take();
    buffer.requeue(taken);
    expect(buffer.size).toBe(4);
    expect(onThreshold).toHaveBeenCalledTimes(1);
    write(store, '5');
    expect(onThreshold).toHaveBeenCalledTimes(2);
    write(store, '6');
    expect(onThreshold).toHaveBeenCalledTimes(2);
  });

  it("does not count the library's own (internal) metrics", () => {
    const onThreshold = vi.fn();
    const buffer = new DeltaBuffer<SeriesStore>(1, onThreshold);
    const internal = addStore(buffer, 'self', ['id'], { internal: true });
    write(internal, '1');
    write(internal, '2');
    expect(buffer.size).toBe(0);
    expect(onThreshold).not.toHaveBeenCalled();
    // ...but they still ride along with the next flush.
    expect(buffer.take()).toEqual([internal]);
  });

  it('a registry without Redis records past its threshold without throwing or reporting', () => {
    const { registry, errors } = localRegistry({ flushThreshold: 2 });
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['id'], registry });
    expect(() => {
      for (let i = 0; i < 10; i++) c.inc({ id: String(i) });
    }).not.toThrow();
    expect(registry.undeliveredSeries).toBe(10);
    expect(errors).toEqual([]);
  });
});

describe('the swap (take)', () => {
  it('hands each changed store to the flusher once, in the order of its first change', () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const a = addStore(buffer, 'a');
    const b = addStore(buffer, 'b');
    write(b, '1');
    write(a, '1');
    write(b, '2');
    expect(buffer.take()).toEqual([b, a]);
    expect(buffer.take()).toEqual([]);
  });

  it('lists each changed cell once, however often it was written', () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = addStore(buffer);
    const one = write(store, '1');
    write(store, '1', 2);
    const two = write(store, '2');
    const taken = store.take();
    expect(taken.cells).toEqual([one, two]);
    expect(one.v).toBe(3);
    expect(store.take().cells).toEqual([]);
  });

  it('lists a cell again when it changes after a flush drained it', () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = addStore(buffer);
    const cell = write(store, '1');
    drain(store.take().cells);
    buffer.take();
    write(store, '1');
    expect(buffer.take()).toEqual([store]);
    expect(store.take().cells).toEqual([cell]);
  });

  it('records removed series by their rendered key, and a reset', () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = addStore(buffer, 'c', ['a', 'b']);
    store.remove(['x"y', 'z']);
    expect(buffer.take()).toEqual([store]);
    expect(store.take()).toEqual({
      reset: false,
      removed: ['a="x\\"y",b="z"'],
      cells: [],
      epoch: expect.any(Number) as number,
    });
    store.remove(['p', 'q']);
    store.reset();
    const taken = store.take();
    expect(taken.reset).toBe(true);
    expect(taken.removed).toEqual([]);
  });

  it('a removal of an unseen series alone makes the store due for a flush', () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = addStore(buffer);
    store.remove(['never-written']);
    expect(buffer.size).toBe(1);
    expect(buffer.take()).toEqual([store]);
  });

  it('a metric without labels has its one series from the start', () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = addStore(buffer, 'single', []);
    expect(store.size).toBe(1);
    expect(buffer.take()).toEqual([store]);
    expect(store.take().cells).toEqual([store.single]);
  });

  it('the cardinality limit refuses a series and calls onLimit once', () => {
    const onLimit = vi.fn();
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = addStore(buffer, 'c', ['id'], { maxSeries: 1, onLimit });
    write(store, '1');
    write(store, '2');
    write(store, '3');
    expect(store.size).toBe(1);
    expect(store.dropped).toBe(2);
    expect(onLimit).toHaveBeenCalledTimes(1);
    // Refused writes never reach the buffer.
    expect(buffer.size).toBe(1);
    expect(store.take().cells.map((c) => c.key)).toEqual(['id="1"']);
  });
});

describe('a removed series is not written back by the same flush', () => {
  const context = {
    keys: new Keys('unit'),
    processId: 'p1',
    tokenTtlSeconds: 60,
    expireSeconds: 60,
    gaugeFamilies: ['g'],
    chunkUpdates: 1000,
    nextSeq: () => 1,
  };
  const occurrences = (args: ReadonlyArray<string | Buffer>, needle: string): number =>
    args.map(String).join('\n').split(needle).length - 1;

  it('counter: remove() after inc() sends only the removal', async () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = addStore(buffer, 'c', ['a']);
    write(store, 'keep');
    write(store, 'gone', 5);
    store.remove(['gone']);
    const { args } = (await encodeBatch(buffer.take(), [], context))[0]!;
    // The removal deletes the series' field (D) and its creation time (K); nothing writes it back.
    expect(occurrences(args, 'a="gone"')).toBe(2);
    expect(args.map(String)).toContain('K');
    // The kept series: its increment and its creation (op C).
    expect(occurrences(args, 'a="keep"')).toBe(2);
    expect(args.map(String)).toContain('C');
  });

  it('gauge: remove() after set() sends only the removal', async () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = gaugeStore(buffer);
    for (const a of ['keep', 'gone']) {
      const cell = store.fromValues([a]);
      cell.v = 5;
      if (!cell.d) store.touch(cell);
    }
    store.remove(['gone']);
    const { args } = (await encodeBatch(buffer.take(), [], context))[0]!;
    expect(occurrences(args, 'a="gone"')).toBe(1);
  });

  it('gauge: reset() after set() writes none of the old series', async () => {
    const buffer = new DeltaBuffer<SeriesStore>(1000, () => {});
    const store = gaugeStore(buffer);
    const cell = store.fromValues(['old']);
    cell.v = 5;
    store.reset();
    const { args } = (await encodeBatch(buffer.take(), [], context))[0]!;
    expect(occurrences(args, 'a="old"')).toBe(0);
  });
});

describe('slotOf (bucket lookup)', () => {
  const bounds = fc
    .uniqueArray(fc.double({ noNaN: true, noDefaultInfinity: true }), {
      minLength: 1,
      maxLength: 40,
      comparator: 'SameValueZero',
    })
    .map((b) => b.sort((x, y) => x - y));

  it('returns the first bucket whose bound is >= the value, or the +Inf slot', () => {
    fc.assert(
      fc.property(bounds, fc.double({ noNaN: true }), (b, value) => {
        const expected = b.findIndex((bound) => value <= bound);
        expect(slotOf(new Float64Array(b), value)).toBe(expected === -1 ? b.length : expected);
      }),
      { numRuns: 500 },
    );
  });

  it("puts a value equal to a bound in that bound's bucket (le is inclusive)", () => {
    fc.assert(
      fc.property(
        bounds.chain((b) => fc.tuple(fc.constant(b), fc.nat({ max: b.length - 1 }))),
        ([b, i]) => {
          expect(slotOf(new Float64Array(b), b[i]!)).toBe(i);
        },
      ),
      { numRuns: 300 },
    );
  });
});
