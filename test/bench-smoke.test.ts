/**
 * The benchmark suite must keep running: its smoke mode (tiny sizes, seconds, every group) exits 0
 * and writes a complete latest.json/latest.md/latest.svg. Nothing here looks at speed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeChild, runTs } from './system/processes.js';

const GROUPS = ['hot', 'flush', 'scrape', 'e2e', 'processes', 'cluster', 'shared'];

interface SmokeReport {
  mode: string;
  groups: string[];
  failures: string[];
  environment: { node: string; cpu: string; redis: string };
  targets: Array<{ figure: string; met: boolean | null }>;
  results: Record<string, { tables: Array<{ rows: unknown[] }>; figures: Record<string, unknown> }>;
}

const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('benchmark suite (smoke mode)', () => {
  it('runs every group and writes latest.json, latest.md and latest.svg', { timeout: 240_000 }, async () => {
    const result = await runTs('bench/index.ts', ['--smoke', '--out', out], { timeoutMs: 230_000 });
    expect(result.code, describeChild(result)).toBe(0);

    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as SmokeReport;
    expect(report.mode).toBe('smoke');
    expect(report.failures).toEqual([]);
    expect(report.groups).toEqual(GROUPS);
    expect(Object.keys(report.results).sort()).toEqual([...GROUPS].sort());
    for (const group of GROUPS) {
      const { tables, figures } = report.results[group]!;
      expect(tables.length, group).toBeGreaterThan(0);
      for (const table of tables) expect(table.rows.length, group).toBeGreaterThan(0);
      expect(Object.keys(figures).length, group).toBeGreaterThan(0);
    }
    expect(report.environment.node).toBe(process.version);
    expect(report.environment.redis).toMatch(/^\d+\.\d+/);
    expect(report.targets.length).toBeGreaterThan(10);
    // Smoke sizes judge no target: CI never gates on speed.
    expect(report.targets.every((t) => t.met === null)).toBe(true);
    // Correctness is not speed: totals across worker processes must be exact even here.
    expect(report.results.processes!.figures.all_exact).toBe(true);

    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    for (const group of GROUPS) expect(md).toContain(`## ${group}`);
    expect(existsSync(join(out, 'latest.svg'))).toBe(true);
    expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });
});
