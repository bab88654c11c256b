import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('label lookup without code generation', () => {
  it('works under --disallow-code-generation-from-strings (generic lookup path)', () => {
    const script = `
      import { Counter, Registry } from './src/index.ts';
      const registry = new Registry({ prefix: 'nocodegen', selfMetrics: false });
      const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['a', 'b'], registry });
      for (let i = 0; i < 1000; i++) c.inc({ a: 'x', b: i % 2 });
      c.inc({ a: 'x', b: '1' }, 10);
      let threw = '';
      try { c.inc({ a: 'x', b: '1', extra: 'no' }); } catch (e) { threw = e.message; }
      console.log(JSON.stringify({ one: c.labels('x', 1) !== undefined, threw }));
    `;
    const run = spawnSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', cwd: process.cwd() },
    );
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim()) as { one: boolean; threw: string };
    expect(out.one).toBe(true);
    expect(out.threw).toMatch(/has no label "extra"/);
  });
});
