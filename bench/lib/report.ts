/** latest.json, latest.md and latest.svg of a run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GroupName, Mode } from '../config.js';
import type { TargetResult } from '../targets.js';
import { hotChart } from './chart.js';
import type { GroupResult } from './group.js';
import { renderMarkdown, type Table } from './table.js';

export interface Environment {
  readonly date: string;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  /** 1-minute load average when the run started and when it ended (other work on the machine). */
  readonly loadAverage: { readonly start: number; end: number };
  readonly redis: string;
  /** Where Redis ran: the suite's own server, or REDIS_URL. */
  readonly redisSource: 'own redis-server' | 'REDIS_URL';
  readonly redisBenchmark: boolean;
  readonly library: string;
  readonly commit: string;
  readonly packages: Readonly<Record<string, string>>;
}

export interface Report {
  readonly mode: Mode;
  readonly command: string;
  readonly groups: readonly GroupName[];
  readonly elapsedMs: number;
  readonly environment: Environment;
  readonly targets: readonly TargetResult[];
  readonly results: Partial<Record<GroupName, GroupResult>>;
  readonly failures: readonly string[];
}

export function targetsTable(targets: readonly TargetResult[]): Table {
  return {
    id: 'targets',
    title: 'Targets (issues 3 and 13) — this run',
    columns: [
      { key: 'status', header: 'met', format: 'text' },
      { key: 'figure', header: 'figure', format: 'text' },
      { key: 'target', header: 'target', format: 'text' },
      { key: 'measured', header: 'measured', format: 'text' },
    ],
    rows: targets.map((t) => ({
      status: t.met === null ? 'n/a' : t.met ? 'yes' : 'NO',
      figure: t.figure,
      target: t.target,
      measured: t.shown,
    })),
  };
}

function environmentTable(report: Report): Table {
  const e = report.environment;
  const rows = [
    ['command', `\`${report.command}\` (mode ${report.mode}, ${(report.elapsedMs / 1000).toFixed(0)} s)`],
    ['date', e.date],
    ['library', `${e.library} (${e.commit})`],
    ['Node', `${e.node} (V8 ${e.v8}), ${e.platform}`],
    ['CPU', `${e.cpu} × ${e.cores}, ${e.memoryGiB.toFixed(1)} GiB`],
    [
      'load average (1 min)',
      `${e.loadAverage.start.toFixed(2)} at start, ${e.loadAverage.end.toFixed(2)} at end`,
    ],
    [
      'Redis',
      `${e.redis} (${e.redisSource})${e.redisBenchmark ? ', redis-benchmark available' : ', no redis-benchmark'}`,
    ],
    [
      'peers and tools',
      Object.entries(e.packages)
        .map(([name, v]) => `${name} ${v}`)
        .join(', '),
    ],
  ];
  return {
    id: 'environment',
    title: 'Environment',
    columns: [
      { key: 'what', header: 'what', format: 'text' },
      { key: 'value', header: 'value', format: 'text' },
    ],
    rows: rows.map(([what, value]) => ({ what: what!, value: value! })),
  };
}

/** Write latest.json, latest.md (and latest.svg when the hot group ran) into `dir`. */
export function writeReport(dir: string, report: Report): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const jsonPath = join(dir, 'latest.json');
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  written.push(jsonPath);

  const hot = report.results.hot;
  let chart = '';
  if (hot?.chart !== undefined && hot.chart.length > 0) {
    const svgPath = join(dir, 'latest.svg');
    const e = report.environment;
    writeFileSync(
      svgPath,
      hotChart(hot.chart, `${e.cpu} × ${e.cores}, Node ${e.node}, mode ${report.mode}, ${e.date}`),
    );
    written.push(svgPath);
    chart = '![ns per call, this library vs prom-client](latest.svg)\n';
  }

  const md: string[] = ['# prometheus-redis-client — benchmark results', ''];
  md.push(renderMarkdown(environmentTable(report), 2));
  if (report.failures.length > 0) {
    md.push('## Failures', '', ...report.failures.map((f) => `- ${f}`), '');
  }
  md.push(renderMarkdown(targetsTable(report.targets), 2));
  if (chart !== '') md.push('## Hot path', '', chart);
  for (const group of report.groups) {
    const result = report.results[group];
    if (result === undefined) continue;
    md.push(`## ${group}`, '');
    for (const table of result.tables) md.push(renderMarkdown(table, 3));
  }
  const mdPath = join(dir, 'latest.md');
  writeFileSync(mdPath, md.join('\n'));
  written.push(mdPath);
  return written;
}
