import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

/**
 * Writes a generated file; with `--check` on the command line (npm run check) only compares it with the
 * committed one and exits 1 when that is stale.
 */
export function writeOrCheck(file: string, text: string): void {
  const name = relative(process.cwd(), file);
  if (!process.argv.includes('--check')) {
    writeFileSync(file, text);
    console.log(`wrote ${name}`);
    return;
  }
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // Missing: stale.
  }
  if (current !== text) {
    console.error(`✖ ${name} is stale: run \`npm run docs:events\` and commit it`);
    process.exit(1);
  }
  console.log(`✓ ${name} is current`);
}
