/**
 * The published declarations hold only what users call. The test emits them the way the build
 * does (tsup, with tsup.config.ts's `dts` settings, into a temporary directory), then checks two
 * things: internals (`Registry.register`, the metrics' store, child constructors, `addBuckets`,
 * the storage types) are absent, and a consumer file compiles against them — its
 * `// @ts-expect-error` lines fail the compile if an internal comes back into reach.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Options } from 'tsup';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import configs from '../../tsup.config.js';
import { ROOT } from '../system/processes.js';

const CHILDREN = ['CounterChild', 'GaugeChild', 'CommonGaugeChild', 'HistogramChild', 'SummaryChild'];

/** Uses the public API as users do; each `@ts-expect-error` marks something users must not reach. */
const CONSUMER = `
import {
  CommonGauge, Counter, Gauge, GaugeLike, Histogram, Metric, Registry, Summary, TimedMetric,
  type CounterChild, type EndTimer, type GaugeChild, type HistogramChild,
} from './index.js';

const registry = new Registry({ prefix: 'types' });
const labelNames = ['q'] as const;
const counter = new Counter({ name: 'c_total', help: 'h', labelNames, registry });
const gauge = new Gauge({ name: 'g', help: 'h', labelNames, registry });
const common = new CommonGauge({ name: 'cg', help: 'h', labelNames, registry });
const histogram = new Histogram({ name: 'h', help: 'h', labelNames, registry });
const summary = new Summary({ name: 's', help: 'h', labelNames, registry });

const counterChild: CounterChild = counter.labels('a');
counterChild.inc();
const gaugeChild: GaugeChild<'q'> = gauge.labels({ q: 'a' });
gaugeChild.setToCurrentTime();
const histogramChild: HistogramChild<'q'> = histogram.labels('a');
histogramChild.observe(1);
common.labels('a').dec(2);
summary.labels('a').observe(1);

// Every timer has one shape, as in prom-client.
export const ends: EndTimer<'q'>[] = [
  gauge.startTimer(), gauge.labels('a').startTimer(),
  common.startTimer({ q: 'a' }), common.labels('a').startTimer(),
  histogram.startTimer(), histogram.labels('a').startTimer(),
  summary.startTimer(), summary.labels('a').startTimer(),
];
export const timed = [
  gauge.timeit(() => 1, { q: 'a' }), common.timeit(() => 1, { q: 'a' }),
  histogram.timeit(() => 1, { q: 'a' }), summary.labels('a').timeit(() => 1),
];

// The abstract bases are values: instanceof works on every metric.
export const isMetric: boolean = counter instanceof Metric && gauge instanceof GaugeLike && summary instanceof TimedMetric;
// A metric's registry is the Registry it was given, with its public API.
export const scraped: Promise<string> = counter.registry.metrics();
export const flushed: Promise<void> = histogram.registry.flush();
export const processId: string = gauge.registry.processId;
// @ts-expect-error a registry-shaped object is no Registry
new Counter({ name: 'x_total', help: 'h', registry: { prefix: 'x' } });
// @ts-expect-error a metric's registry keeps register internal too
counter.registry.register;

// @ts-expect-error children are types: users get them from labels()
export const made = new (await import('./index.js')).CounterChild();
// @ts-expect-error Registry.register is internal
registry.register;
// @ts-expect-error HistogramChild.addBuckets is internal
histogramChild.addBuckets([1], 1);
// @ts-expect-error a metric's store is internal
gauge.store;
// @ts-expect-error FamilyMeta is a storage type
export type Meta = import('./index.js').FamilyMeta;
`;

let dir: string;
let declarations: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prc-declarations-'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const dts = (configs as Options[])[0]!.dts;
  await build({
    config: false,
    silent: true,
    entry: [join(ROOT, 'src/index.ts')],
    format: ['esm'],
    outDir: dir,
    tsconfig: join(ROOT, 'tsconfig.json'),
    dts: { ...(typeof dts === 'object' ? dts : {}), only: true },
  });
  declarations = readFileSync(join(dir, 'index.d.ts'), 'utf8');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'consumer.ts'), CONSUMER);
}, 180_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('the published declarations', () => {
  it('declare no internal member or storage type', () => {
    for (const internal of [
      // A declaration of the method (not `fastify.register(…)` in an example).
      /(?<!\.)\bregister\s*[<(]/,
      /\baddCollect\b/,
      /\baddBuckets\b/,
      /\bstore\b\s*:/,
      /\bFamilyMeta\b/,
      /\bSeriesStore\b/,
      /\b(Add|Gauge|Histogram|Summary)Cell\b/,
      /\brecordSeconds\b/,
      /\blabelsOf\b/,
      /\bchild\s*\(/,
      /\bBound[A-Z]\w*/,
    ]) {
      expect(declarations, `index.d.ts matches ${internal}`).not.toMatch(internal);
    }
  });

  it('export the child classes as types only', () => {
    const exported = /export \{([^}]*)\};\s*$/.exec(declarations)?.[1] ?? '';
    const names = exported.split(',').map((name) => name.trim());
    for (const child of CHILDREN) expect(names, child).toContain(`type ${child}`);
  });

  it('let a consumer call the public API, and nothing internal', () => {
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      skipLibCheck: false,
    };
    const program = ts.createProgram([join(dir, 'consumer.ts')], options);
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file === undefined || !d.file.fileName.includes('/node_modules/'))
      .map((d) => {
        const where = d.file
          ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
          : '';
        return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(errors).toEqual([]);
  });
});
