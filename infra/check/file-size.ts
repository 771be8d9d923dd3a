// npm run check:size — no source file of a service or of shared grows past LIMIT lines: split it by
// use case instead (CONTRIBUTING.md). Prints the largest five.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const LIMIT = 400;
const root = join(import.meta.dirname, '..', '..');

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
for (const { path, lines } of sizes.slice(0, 5)) console.log(`  ${String(lines).padStart(5)}  ${path}`);
const over = sizes.filter(({ lines }) => lines > LIMIT);
if (over.length > 0) {
  console.error(over.map(({ path, lines }) => `✖ ${path}: ${lines} lines; split it by use case`).join('\n'));
  process.exit(1);
}
console.log(`✓ ${sizes.length} files, none over ${LIMIT} lines`);
