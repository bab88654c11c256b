/**
 * e2e: a node:http server (bench/e2e-server.ts, its own process) loaded with autocannon on
 * loopback. One server serves every variant on its own path, so they share a process, a warm JIT
 * and the same run; rounds rotate the order of the variants, and the figure is the median of
 * rounds. Latencies of every response are recorded with HdrHistogram.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import autocannon, { type Result } from 'autocannon';
import type { GroupContext, GroupResult } from '../lib/group.js';
import { Latencies, median } from '../lib/measure.js';
import { benchPrefix, connect, deleteKeys, prefixPattern } from '../lib/redis.js';
import type { Row, Table } from '../lib/table.js';
import { ROOT } from '../lib/paths.js';

const VARIANTS = [
  { id: 'none', name: 'no metrics' },
  { id: 'lib', name: 'this library' },
  { id: 'mw', name: 'this library, httpMetrics() middleware' },
  { id: 'prom', name: 'prom-client' },
  { id: 'redis', name: 'awaited Redis write per request' },
] as const;
type Variant = (typeof VARIANTS)[number]['id'];

async function startServer(redisUrl: string, prefix: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/e2e-server.ts', redisUrl, prefix], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`e2e server exited early (code ${String(code)})`);
  });
  const first = once(lines, 'line').then(([line]) => (JSON.parse(line as string) as { port: number }).port);
  const port = await Promise.race([first, exited]);
  exited.catch(() => {});
  return { child, port };
}

async function serverCpuMs(base: string): Promise<{ ms: number; errors: string[] }> {
  const response = await fetch(`${base}/_cpu`);
  const body = (await response.json()) as { user: number; system: number; errors: string[] };
  return { ms: (body.user + body.system) / 1000, errors: body.errors };
}

async function load(
  url: string,
  connections: number,
  duration: number,
  latencies: Latencies | undefined,
): Promise<Result> {
  const instance = autocannon({ url, connections, duration, timeout: 10 });
  if (latencies !== undefined) {
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.recordMs(responseTime));
  }
  return await instance;
}

export async function run(context: GroupContext): Promise<GroupResult> {
  const { durationS, rounds, connections, warmupS } = context.config.e2e;
  const prefix = benchPrefix('e2e');
  const { child, port } = await startServer(context.redisUrl, prefix);
  const base = `http://127.0.0.1:${port}`;
  const rps: Record<Variant, number[]> = { none: [], lib: [], mw: [], prom: [], redis: [] };
  const cpuUs: Record<Variant, number[]> = { none: [], lib: [], mw: [], prom: [], redis: [] };
  const latencies = Object.fromEntries(VARIANTS.map((v) => [v.id, new Latencies()])) as Record<
    Variant,
    Latencies
  >;
  let failures = 0;
  try {
    if (warmupS > 0) {
      context.log(`e2e: warm-up ${warmupS} s per variant`);
      for (const v of VARIANTS) await load(`${base}/${v.id}`, connections, warmupS, undefined);
    }
    for (let r = 0; r < rounds; r++) {
      const order = [...VARIANTS.slice(r % VARIANTS.length), ...VARIANTS.slice(0, r % VARIANTS.length)];
      context.log(`e2e: round ${r + 1}/${rounds}: ${order.map((v) => v.id).join(', ')} × ${durationS} s`);
      for (const v of order) {
        const before = await serverCpuMs(base);
        const result = await load(`${base}/${v.id}`, connections, durationS, latencies[v.id]);
        const after = await serverCpuMs(base);
        const ok = result['2xx'];
        failures += result.errors + result.timeouts + result.non2xx;
        rps[v.id].push(ok / result.duration);
        cpuUs[v.id].push(((after.ms - before.ms) * 1000) / Math.max(1, ok));
      }
    }
    const { errors } = await serverCpuMs(base);
    if (errors.length > 0) throw new Error(`e2e server reported: ${errors.join('; ')}`);
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    const admin = connect(context.redisUrl);
    await deleteKeys(admin, prefixPattern(prefix));
    await deleteKeys(admin, prefixPattern(`${prefix}-mw`));
    admin.disconnect();
  }

  /** Median over rounds of the per-round ratio (pairs measured seconds apart drift together). */
  const paired = (a: Variant, b: Variant): number => median(rps[a].map((x, i) => x / rps[b][i]!));
  const figures: Record<string, number | boolean | null> = { failed_requests: failures };
  const rows: Row[] = VARIANTS.map((v) => {
    const s = latencies[v.id].summary();
    const medianRps = median(rps[v.id]);
    const ratio = paired(v.id, 'none');
    figures[`${v.id}.rps`] = medianRps;
    figures[`${v.id}.vs_none`] = ratio;
    figures[`${v.id}.p50_ms`] = s.p50;
    figures[`${v.id}.p99_ms`] = s.p99;
    figures[`${v.id}.p999_ms`] = s.p999;
    figures[`${v.id}.max_ms`] = s.max;
    figures[`${v.id}.cpu_us_per_request`] = median(cpuUs[v.id]);
    figures[`${v.id}.cpu_vs_none`] = median(cpuUs[v.id]) / median(cpuUs.none);
    return {
      ratio,
      cpuRatio: median(cpuUs[v.id]) / median(cpuUs.none),
      variant: v.name,
      rps: medianRps,
      p50: s.p50,
      p99: s.p99,
      p999: s.p999,
      max: s.max,
      cpu: median(cpuUs[v.id]),
    };
  });
  figures['lib.vs_prom'] = paired('lib', 'prom');
  const table: Table = {
    id: 'e2e',
    title:
      'e2e — node:http requests/s with a counter and a histogram recorded per request (autocannon, loopback)',
    columns: [
      { key: 'ratio', header: 'ratio (req/s vs no metrics)', format: 'ratio' },
      { key: 'cpuRatio', header: 'CPU/request vs no metrics', format: 'ratio' },
      { key: 'variant', header: 'variant', format: 'text' },
      { key: 'rps', header: 'requests/s', format: 'rate' },
      { key: 'p50', header: 'p50', format: 'ms' },
      { key: 'p99', header: 'p99', format: 'ms' },
      { key: 'p999', header: 'p99.9', format: 'ms' },
      { key: 'max', header: 'max', format: 'ms' },
      { key: 'cpu', header: 'server CPU/request', format: 'us' },
    ],
    rows,
    notes: [
      `${connections} connections, ${rounds} round(s) of ${durationS} s per variant, order rotated per round; requests/s is the median of rounds, the ratio the median of per-round ratios.`,
      "The library flushes in the background at its default flushIntervalMs (1 s) to the suite's Redis.",
      'The awaited-Redis variant sends one pipeline (counter + histogram writes) per request and answers after the reply.',
      `Latency: every response, HdrHistogram. Failed requests (errors, timeouts, non-2xx): ${failures}.`,
      'Server CPU/request (process.cpuUsage() of the server around each run) is far less sensitive than requests/s to other load on a shared machine.',
    ],
  };
  return { group: 'e2e', tables: [table], figures };
}
