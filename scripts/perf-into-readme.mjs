// Copies the target table of the last benchmark run (bench/results/latest.md) into README.md,
// between the PERF markers. Run after `npm run bench`: node scripts/perf-into-readme.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const md = readFileSync('bench/results/latest.md', 'utf8');
const env = md.match(/\| what \| value \|[\s\S]*?\n\n/)?.[0] ?? '';
const targets = md.match(/## Targets[^\n]*\n\n(\|[\s\S]*?)\n\n/)?.[1] ?? '';
const pick = (header) => md.match(new RegExp(`(\\| ${header}[\\s\\S]*?)\\n\\n`))?.[1] ?? '';
const block = [
  '<!-- PERF-TABLE -->',
  "From `npm run bench` on this project's 2-core CI machine (shared: absolute times wander, the",
  'ratios are measured side by side in the same run). `npm run bench:quick` takes under a minute;',
  '`npm run bench -- <group>` runs one group; every run writes `bench/results/latest.{json,md,svg}`.',
  'See [bench/README.md](bench/README.md) for what each group measures.',
  '',
  env.trim(),
  '',
  '**Targets**',
  '',
  targets.trim(),
  '',
  '**Hot path** (ns per call; bound children allocate nothing)',
  '',
  pick('ratio \\(lib/peer\\) \\| vs field add').trim(),
  '',
  '**Flush** (in chunks of at most `flushChunkUpdates` field updates, 2 in flight)',
  '',
  pick('speed-up vs multi').trim(),
  '',
  '**Scrape**',
  '',
  pick('ratio \\(lib/peer time\\)').trim(),
  '',
  '**End to end** (node:http, autocannon)',
  '',
  pick('ratio \\(req/s vs no metrics\\)').trim(),
  '',
  '**Redis Cluster** (3 local primaries; `shardBy: "metric"` beside one slot per registry)',
  '',
  pick('capacity vs one slot').trim(),
  '',
  '**The shared Redis** (longest single command in SLOWLOG, an unrelated client pinging every ms)',
  '',
  pick('workload \\| series \\| longest command').trim(),
  '<!-- /PERF-TABLE -->',
].join('\n');
const readme = readFileSync('README.md', 'utf8');
const next = readme.includes('<!-- /PERF-TABLE -->')
  ? readme.replace(/<!-- PERF-TABLE -->[\s\S]*?<!-- \/PERF-TABLE -->/, block)
  : readme.replace('<!-- PERF-TABLE -->', block);
writeFileSync('README.md', next);
