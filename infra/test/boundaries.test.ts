import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';

const repo = join(import.meta.dirname, '..', '..');
const tree = mkdtempSync(join(tmpdir(), 'trellis-boundaries-'));
after(() => rmSync(tree, { recursive: true, force: true }));

function file(path: string, text: string): void {
  mkdirSync(dirname(join(tree, path)), { recursive: true });
  writeFileSync(join(tree, path), text);
}

/** `npm run check:deps`'s rules, run over a small tree seeded with one violation of each. */
function cruise(): { ok: boolean; output: string } {
  try {
    const output = execFileSync(
      join(repo, 'node_modules', '.bin', 'depcruise'),
      ['services', 'shared', '--config', join(repo, '.dependency-cruiser.cjs')],
      { cwd: tree, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { ok: true, output };
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: string }).stdout ?? err) };
  }
}

test('the dependency rules catch a service importing another, shared importing a service, a route reaching a model, a cycle', () => {
  file(
    'tsconfig.json',
    JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true, noEmit: true } }),
  );
  file('services/a/src/app.ts', "import { b } from '../../b/src/b.ts';\nexport const a = b;\n");
  file('services/b/src/b.ts', 'export const b = 1;\n');
  file('shared/src/index.ts', "import { b } from '../../services/b/src/b.ts';\nexport const s = b;\n");
  file('services/b/src/things/things.model.ts', 'export const Thing = {};\n');
  file(
    'services/b/src/things/things.routes.ts',
    "import { Thing } from './things.model.ts';\nexport const r = Thing;\n",
  );
  file('services/b/src/x.ts', "import { y } from './y.ts';\nexport const x = () => y;\n");
  file('services/b/src/y.ts', "import { x } from './x.ts';\nexport const y = () => x;\n");
  const { ok, output } = cruise();
  assert.equal(ok, false, output);
  for (const rule of [
    'no-service-to-service',
    'shared-not-to-services',
    'routes-not-to-stores',
    'no-circular',
  ])
    assert.match(output, new RegExp(`error ${rule}`), rule);
});

test('the rule-book lint rule catches roles compared by hand outside shared/src/policy, and only there', async () => {
  const { ESLint } = await import('eslint');
  const eslint = new ESLint({ cwd: repo });
  const seeded = [
    "export const a = (role: string) => role === 'ADMIN';",
    "export const b = (role: string) => ['OWNER', 'MANAGER'].includes(role);",
    "export const c = (role: string) => { switch (role) { case 'LEAD': return 1; default: return 0; } };",
    "import { atLeast } from '@trellis/shared';\nexport const d = atLeast;",
  ];
  for (const code of seeded) {
    const [inService] = await eslint.lintText(code, { filePath: join(repo, 'services/work/src/seeded.ts') });
    const rules = inService?.messages.map((m) => m.ruleId);
    assert.ok(
      rules?.some((r) => r === 'no-restricted-syntax' || r === 'no-restricted-imports'),
      `${code} → ${JSON.stringify(rules)}`,
    );
    const [inPolicy] = await eslint.lintText(code, { filePath: join(repo, 'shared/src/policy/seeded.ts') });
    assert.deepEqual(
      inPolicy?.messages.filter((m) => m.ruleId?.startsWith('no-restricted')),
      [],
      `${code} is allowed in shared/src/policy`,
    );
  }
});
