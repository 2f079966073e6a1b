// ESLint (flat config): type-checked typescript-eslint rules, import cycles, and the workflow sandbox's import rules.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no drivers, no worker/client/activity
// runtime (type imports of those are fine), like temporalio/samples-typescript's workflow lint rules.
const ALLOWED_NODE_BUILTINS = new Set(['assert']);

// The layers import one way (docs/architecture.md): workflows/ -> (types of) activities/ -> shared/ <- client/.
// Paths are matched on the import specifier: every file outside a folder is reached through "../".
const outside = (folder) => `^(\\.\\./)+${folder}(/|$)`;
// What of workflows/ the client side may import: the contract (types, messages, the spec schema), never a workflow.
const WORKFLOW_CONTRACT = '(messages|types|spec|search-attributes|outsystems/(messages|types))$';
const workflowImplementations = {
  regex: `^(\\.\\./)+workflows(/index)?$|^(\\.\\./)+workflows/(?!${WORKFLOW_CONTRACT}|spec/)`,
  allowTypeImports: true,
  message:
    'Import only the contract of workflows/ here (types, messages, spec, outsystems/types and outsystems/messages), ' +
    'never a workflow implementation: it belongs to the worker.',
};
const activityImplementations = {
  regex: outside('activities'),
  allowTypeImports: true,
  message: 'Import no activity implementation here (types only): activities run in the worker.',
};
// Bare names here (fs, path, child_process, http, net, os, crypto, ...); every `node:*` name is banned by a pattern.
const nodeBuiltins = builtinModules.filter(
  (m) => !m.startsWith('_') && !m.startsWith('node:') && !ALLOWED_NODE_BUILTINS.has(m),
);

export default defineConfig(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.cutover/**', 'test-artifacts/**'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js', '.cjs', '.mjs', '.json'] })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          // Activity results in recorded histories name a replica set's slot `color` (before the rename).
          selector: "MemberExpression[property.name='slot']",
          message: "Read a replica set's slot with slotOf() (activities/ports): older histories call it `color`.",
        },
      ],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'Workflow code runs in the Temporal sandbox: no Node built-ins (use an activity).',
            })),
            ...['@temporalio/worker', '@temporalio/client', '@temporalio/activity'].map((name) => ({
              name,
              allowTypeImports: true,
              message: 'Workflow code may only import @temporalio/workflow (and types from the other packages).',
            })),
          ],
          patterns: [
            {
              group: ['node:*', ...[...ALLOWED_NODE_BUILTINS].map((m) => `!node:${m}`)],
              message: 'Workflow code runs in the Temporal sandbox: no Node built-ins (use an activity).',
            },
            {
              group: ['**/activities/drivers', '**/activities/drivers/**'],
              message: 'Workflow code must not import drivers: go through the ports (proxyActivities).',
            },
            {
              regex: '(^|/)activities(/index)?$',
              allowTypeImports: true,
              message:
                'Import only types from the activities barrel (`import type * as activities`): it pulls in drivers.',
            },
            {
              // Of activities/, workflows use the ports' and errors' pure vocabulary (names, error types) only.
              regex: `${outside('activities')}(?!(ports|errors)$)`,
              allowTypeImports: true,
              message:
                'Workflow code imports values only from workflows/ (and activities/ports, activities/errors); ' +
                'import types of the rest, and call activities through proxyActivities.',
            },
            {
              regex: `${outside('(client|worker|shared|examples|bench|scripts|test)')}`,
              allowTypeImports: true,
              message: 'Workflow code imports only workflows/ (the client, worker and shared/ are Node-side).',
            },
            {
              // @marcbachmann/cel-js: the CEL parser of analysis conditions (pure JS, no dependencies, no I/O).
              regex: '^(?![./]|@temporalio/(workflow|common)$|zod$|@marcbachmann/cel-js$)',
              allowTypeImports: true,
              message:
                'Workflow code imports only @temporalio/workflow (and @temporalio/common, zod, @marcbachmann/cel-js) of the packages: ' +
                'anything else may not be deterministic.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: outside('client'),
              message:
                'Activities never import client/ (the hook server, the CLI): put what both need in shared/, and reach ' +
                'Temporal through the activity context.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['client/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [activityImplementations, workflowImplementations] },
      ],
    },
  },
  {
    // Node-side code both sides need (path confinement, result files, atomic writes): it imports neither side.
    files: ['shared/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            activityImplementations,
            workflowImplementations,
            { regex: outside('(client|worker)'), message: 'shared/ imports neither the client nor the worker.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // jest's expect(...) matchers and mocks are typed loosely; these fight ordinary test code.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Plain JavaScript config and launcher files are not in a tsconfig project: lint them without type information.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
