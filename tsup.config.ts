import { defineConfig, type Options } from 'tsup';

const shared: Options = {
  entry: ['src/index.ts'],
  // stripInternal: members marked `@internal` (Registry.register, the metrics' store, child
  // constructors, HistogramChild.addBuckets) stay out of the published declarations.
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  target: 'node20',
  outDir: 'dist',
};

export default defineConfig([
  // The CLI (`bin`) ships as ESM only: it is run, never required.
  { ...shared, entry: ['src/index.ts', 'src/cli.ts'], format: ['esm'], clean: true },
  // p-queue ships ESM only: bundle it into the CommonJS build so `require()` works on every Node 20
  // (before 20.19 Node cannot require ESM; after, tsup's interop would see a namespace, not the class).
  { ...shared, format: ['cjs'], noExternal: ['p-queue'] },
]);
