/**
 * The processes group's workload, shared by bench/worker.ts (which records it) and the group
 * (which derives the exact totals Redis must hold from each worker's iteration count).
 */

export const ROUTES = [
  '/',
  '/login',
  '/api/users',
  '/api/orders',
  '/api/items',
  '/health',
  '/static',
  '/search',
];
export const METHODS = ['GET', 'POST'];
export const STATUSES = ['200', '201', '404', '500'];
/** Observation values, spread over the default buckets. */
export const VALUES = Array.from({ length: 64 }, (_, i) => 0.001 * 1.15 ** i);
/** A worker increments its marker counter this often during the library phase. */
export const MARKER_MS = 20;
/** Metric calls per loop iteration: bound inc(), inc({3 labels}), observe({route}, v). */
export const OPS_PER_ITERATION = 3;

export interface PhaseResult {
  readonly iterations: number;
  readonly ms: number;
}

export interface WorkerReport {
  readonly worker: string;
  /** `markers`: wall time (ms since the epoch, fractional) of each marker increment. */
  readonly lib: PhaseResult & { readonly markers: readonly number[] };
  readonly peer: PhaseResult;
  readonly errors: readonly string[];
}

/** How many of the first `n` iterations fall on residue `r` of a cycle of `period`. */
function share(n: number, period: number, r: number): number {
  return Math.floor(n / period) + (r < n % period ? 1 : 0);
}

/** Expected exposition samples (`name{labels}` → value) after all workers' library phases. */
export function expectedTotals(reports: readonly WorkerReport[]): Map<string, number> {
  const expected = new Map<string, number>();
  const add = (key: string, value: number): void => {
    expected.set(key, (expected.get(key) ?? 0) + value);
  };
  for (const report of reports) {
    const n = report.lib.iterations;
    add(`bench_proc_ops_total{worker="${report.worker}"}`, n);
    add(`bench_proc_marker_total{worker="${report.worker}"}`, report.lib.markers.length);
    for (let c = 0; c < 64; c++) {
      const key = `route="${ROUTES[c & 7]}",method="${METHODS[(c >> 3) & 1]}",status="${STATUSES[(c >> 4) & 3]}"`;
      add(`bench_proc_requests_total{${key}}`, share(n, 64, c));
    }
    for (let r = 0; r < 8; r++) add(`bench_proc_latency_seconds_count{route="${ROUTES[r]}"}`, share(n, 8, r));
  }
  return expected;
}

/** Parse exposition text into `name{labels}` → value (comments skipped). */
export function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}
