// Writes src/schema.ts (the types of every operation, by openapi-typescript) from a running
// gateway's merged document:
//   node clients/typescript/scripts/generate.ts http://127.0.0.1:8080
// The SDK's own test regenerates them from the suite it starts and fails when the committed files
// differ (the types drifted from the API): then run this against `npm start` and commit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generated } from './schema-text.ts';

const root = join(import.meta.dirname, '..');
const gateway = process.argv[2] ?? 'http://127.0.0.1:8080';
const document = (await (await fetch(`${gateway}/api/openapi.json`)).json()) as Record<string, unknown>;
const schema = await generated(document);
writeFileSync(join(root, 'src', 'schema.ts'), schema);
const operations = Object.values(document.paths as Record<string, object>).reduce(
  (n, path) => n + Object.keys(path).length,
  0,
);
console.log(`wrote src/schema.ts: ${operations} operations`);
