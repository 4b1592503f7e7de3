// Lint runs in `npm test`; type-aware rules catch floating promises on the request path.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.llm-sidecar/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // The layering (ARCHITECTURE.md): cli → {proxy, evaluator, dashboards, simulator} → shared. The
  // services never import each other, shared/ imports none of them, the simulated provider (the
  // demo's upstream, the tests' too) stands alone, and no product code imports the tests. Static
  // imports only: test/unit/import-graph.test.ts also checks dynamic import() and cycles.
  ...[
    ['proxy/**/*.ts', ['evaluator', 'dashboards', 'simulator', 'cli']],
    ['evaluator/**/*.ts', ['proxy', 'dashboards', 'simulator', 'cli']],
    ['dashboards/**/*.ts', ['proxy', 'evaluator', 'simulator', 'cli']],
    ['simulator/**/*.ts', ['proxy', 'evaluator', 'dashboards', 'cli']],
    ['shared/**/*.ts', ['proxy', 'evaluator', 'dashboards', 'simulator', 'cli']],
    ['cli/**/*.ts', []],
  ].map(([files, forbidden]) => ({
    files: [files],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...forbidden.map((dir) => ({ group: [`**/${dir}/**`, `../${dir}/*`, `../../${dir}/*`], message: `${files.split('/')[0]}/ must not import ${dir}/ (ARCHITECTURE.md: services share only shared/)` })),
            { group: ['**/test/**', '../test/*', '../../test/*'], message: 'product code must not import the tests' },
          ],
        },
      ],
    },
  })),
  {
    files: ['**/*.js', 'bin/*'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
