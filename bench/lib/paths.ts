import { fileURLToPath } from 'node:url';

/** The repository root (where `tsx`, `src/` and `bench/` are). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where results go unless `--out <dir>` or BENCH_RESULTS_DIR says otherwise. */
export const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
