/**
 * The API reference (typedoc.json: src/index.ts → docs/api) must keep building from the TSDoc:
 * TypeDoc runs without emitting anything and must report no error and no warning (an undocumented
 * member, a reference to something not exported, a broken link).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, describeChild, run } from '../system/processes.js';

const TYPEDOC = join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

describe('API reference', () => {
  it('typedoc builds it from the TSDoc of src/index.ts without errors or warnings', async () => {
    expect(existsSync(TYPEDOC), `${TYPEDOC} is missing: run npm install (typedoc is a devDependency)`).toBe(
      true,
    );
    const result = await run(process.execPath, [TYPEDOC, '--emit', 'none'], { timeoutMs: 60_000 });
    const output = `${result.stdout}\n${result.stderr}`.replace(ANSI, '');
    expect(
      output.split('\n').filter((line) => line.startsWith('[error]') || line.startsWith('[warning]')),
      describeChild(result),
    ).toEqual([]);
    expect(result.code, describeChild(result)).toBe(0);
  });
});
