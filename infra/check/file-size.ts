// npm run check:size — no source file of a service or of shared grows past LIMIT lines (issue: a
// codebase a newcomer can live in). Prints the largest five. Files still waiting for their split are
// listed with the size they have: they may shrink, not grow, and leave the list once under the limit.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const LIMIT = 400;
const root = join(import.meta.dirname, '..', '..');

/** To split by use case (see CONTRIBUTING.md), with their line counts when this list was written. */
const SPLIT_PENDING: Record<string, number> = {
  'services/work/src/projects/projects.service.ts': 626,
  'services/governance/src/invitations/invitations.service.ts': 567,
  'services/work/src/tasks/tasks.service.ts': 558,
  'services/work/src/sprints/sprints.service.ts': 483,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const dirs = [
  join(root, 'shared', 'src'),
  ...readdirSync(join(root, 'services')).map((service) => join(root, 'services', service, 'src')),
];
const sizes = dirs
  .flatMap(sources)
  .map((path) => ({ path: relative(root, path), lines: readFileSync(path, 'utf8').split('\n').length - 1 }))
  .sort((a, b) => b.lines - a.lines);

console.log(`largest source files (limit ${LIMIT} lines):`);
for (const { path, lines } of sizes.slice(0, 5))
  console.log(`  ${String(lines).padStart(5)}  ${path}${SPLIT_PENDING[path] ? '  (split pending)' : ''}`);

const problems: string[] = [];
for (const { path, lines } of sizes) {
  const pending = SPLIT_PENDING[path];
  if (lines > LIMIT && pending === undefined)
    problems.push(`${path}: ${lines} lines (limit ${LIMIT}); split it by use case`);
  if (pending !== undefined && lines > pending)
    problems.push(`${path}: grew to ${lines} lines (was ${pending}); split it instead`);
  if (pending !== undefined && lines <= LIMIT)
    problems.push(`${path}: ${lines} lines now; take it off SPLIT_PENDING`);
}
for (const path of Object.keys(SPLIT_PENDING))
  if (!sizes.some((s) => s.path === path)) problems.push(`${path}: gone; take it off SPLIT_PENDING`);
if (problems.length > 0) {
  console.error(problems.map((p) => `✖ ${p}`).join('\n'));
  process.exit(1);
}
console.log(`✓ ${sizes.length} files; ${Object.keys(SPLIT_PENDING).length} still to split`);
