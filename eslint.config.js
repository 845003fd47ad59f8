// Lint rules. The layer rule: src/core is pure (no I/O, timers, clocks, randomness) and
// imports nothing outside core/, so that the simulator and unit tests drive production code.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The node shell stays split by concern: a file of src/node/ past 400 lines holds two of them.
    files: ['src/node/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 400 }] },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'child_process', 'http', 'net', 'os', 'crypto'], message: 'core is pure: no I/O modules' },
          { group: ['../*', '!../core/*'], message: 'core imports nothing outside src/core' },
        ],
      }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'performance', 'process', 'fetch'],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'core takes time from its inputs' },
        { object: 'Math', property: 'random', message: 'core takes no randomness' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date']", message: 'core takes time from its inputs' }],
    },
  },
);
