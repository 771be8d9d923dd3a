// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.trellis/**', '**/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // One rule book (product.md §2–§3): who may do what is decided in shared/src/policy only.
    files: ['services/*/src/**/*.ts', 'shared/src/**/*.ts'],
    ignores: ['shared/src/policy/**'],
    rules: {
      'no-restricted-syntax': ['error', ...roleComparisons()],
      'no-restricted-imports': [
        'error',
        ...['@trellis/shared', '@trellis/shared/policy'].map((name) => ({
          name,
          importNames: ['atLeast', 'outranks', 'rank', 'highestRole', 'roleAt'],
          message: 'Compare roles in shared/src/policy (a catalogue action and decide()), not here.',
        })),
      ],
    },
  },
);

/** Selectors for a role compared by hand: `role === 'ADMIN'`, `['OWNER', …].includes(role)`, `case 'LEAD':`. */
function roleComparisons() {
  const role = '/^(OWNER|ADMIN|MANAGER|LEAD|MEMBER|CONTRIBUTOR|VIEWER)$/';
  const message = 'Role comparisons live in shared/src/policy: decide an action from the catalogue instead.';
  return [
    `BinaryExpression[operator=/^[!=]==?$/][right.value=${role}]`,
    `BinaryExpression[operator=/^[!=]==?$/][left.value=${role}]`,
    `CallExpression[callee.property.name='includes'][callee.object.type='ArrayExpression']:has(Literal[value=${role}])`,
    `SwitchCase[test.value=${role}]`,
  ].map((selector) => ({ selector, message }));
}
