// The structure rules of src/ (docs/architecture.md), checked on every `npm run lint`:
//  1. no import cycle between two files (type-only imports count: they are edges of the design);
//  2. no cycle between top-level units (each folder under src/ and each file at src/'s root);
//  3. each folder imports only the folders below it (LAYERS), and no folder imports a file at
//     src/'s root: those files are the top of the tree;
//  4. no source file (TypeScript or Lua, generated files aside) is over MAX_LINES lines, and each
//     opens with a comment that states its job.
// eslint's no-restricted-imports says rule 3 for editors (eslint.config.js); this script also
// finds cycles inside a folder, which no per-folder pattern can.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS } from './layers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

export const MAX_LINES = 400;

function walk(dir, ext) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path, ext);
    return name.endsWith(ext) && !name.endsWith('.generated.ts') ? [path] : [];
  });
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

const files = walk(src, '.ts');
const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const targets = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2];
    targets.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
  }
  graph.set(
    file,
    targets.filter((t) => graph.has(t) || files.includes(t)),
  );
}

const rel = (file) => relative(src, file).split(sep).join('/');
const unitOf = (file) => {
  const parts = rel(file).split('/');
  // A root file is a unit of its own, apart from a folder of the same name (cli.ts and cli/).
  return parts.length > 1 ? `${parts[0]}/` : parts[0];
};
const folderOf = (file) => {
  const parts = rel(file).split('/');
  return parts.length > 1 ? parts[0] : '@root';
};

/** Every cycle's first occurrence, found by depth-first search (Tarjan would give components). */
function cycles(nodes, edges) {
  const found = [];
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges(node)) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of nodes) if (!state.has(node)) visit(node);
  return found;
}

const problems = [];
for (const cycle of cycles(files, (f) => graph.get(f) ?? [])) {
  problems.push(`file cycle: ${cycle.map(rel).join(' -> ')}`);
}
const units = new Map();
for (const [file, targets] of graph) {
  const from = unitOf(file);
  if (!units.has(from)) units.set(from, new Set());
  for (const target of targets) if (unitOf(target) !== from) units.get(from).add(unitOf(target));
}
for (const cycle of cycles([...units.keys()], (u) => units.get(u) ?? [])) {
  problems.push(`unit cycle: ${cycle.join(' -> ')}`);
}
for (const [file, targets] of graph) {
  const from = folderOf(file);
  if (from === '@root') continue;
  const allowed = LAYERS[from];
  if (allowed === undefined) {
    problems.push(`${rel(file)}: folder "${from}" has no place in LAYERS (scripts/layers.mjs)`);
    continue;
  }
  for (const target of targets) {
    const to = folderOf(target);
    if (to !== from && !allowed.includes(to)) {
      problems.push(
        `${rel(file)} imports ${rel(target)}: ${from}/ may import only ${allowed.join(', ') || 'nothing'}`,
      );
    }
  }
}

/** The first line that is not a shebang or blank must open a comment (`//`, `/*`, Lua's `--`). */
const OPENING = /^(?:#![^\n]*\n)?\s*(?:\/\/|\/\*|--)/;
for (const file of [...files, ...walk(src, '.lua')]) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${rel(file)}: ${lines} lines, over ${MAX_LINES}: split it by job`);
  if (!OPENING.test(text)) problems.push(`${rel(file)}: no opening comment stating the file's job`);
}

if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(
  `imports: ${files.length} files, ${units.size} units, no cycles, layers respected, sizes and opening comments fine\n`,
);
