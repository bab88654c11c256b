// The layers of src/, bottom up: what each folder may import besides itself (docs/architecture.md).
// '@root' stands for the files at src/'s root, the top of the tree. Read by
// scripts/check-structure.mjs and by eslint.config.js (no-restricted-imports per folder).
export const LAYERS = {
  core: [],
  buffer: ['core'],
  redis: ['core'],
  metrics: ['core', 'buffer'],
  flush: ['core', 'buffer', 'redis'],
  export: ['core', 'redis'],
  cli: ['core', 'redis', 'export', '@root'],
  // Request metrics for HTTP frameworks: metric types, and the root's metricsHandler for /metrics.
  middleware: ['core', 'buffer', 'metrics', '@root'],
};

/** eslint `no-restricted-imports` patterns that forbid what LAYERS does not allow `folder`. */
export function forbiddenImports(folder) {
  const allowed = LAYERS[folder];
  const others = Object.keys(LAYERS).filter((f) => f !== folder && !allowed.includes(f));
  const patterns = others.map((other) => ({
    group: [`../${other}/*`, `../../${other}/*`],
    message: `src/${folder}/ may import only ${allowed.join(', ') || 'nothing'} (scripts/layers.mjs)`,
  }));
  if (!allowed.includes('@root')) {
    patterns.push({
      group: ['../*.js', '../../*.js'],
      message: `src/${folder}/ may not import src/'s root files: they are the top of the tree`,
    });
  }
  return patterns;
}
