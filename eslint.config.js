// Lint: typescript-eslint's recommended rules everywhere, and one rule that matters for
// correctness: the storage logic gets time, randomness and timers only through the runtime
// interfaces (client/src/runtime.ts), so the simulator can run it deterministically.
import tseslint from 'typescript-eslint';

const IO_EDGES = [
  'storage/transport/**',
  'storage/engine/lmdb.ts',
  'storage/real-runtime.ts',
  'client/src/transport/**',
  'client/src/client.ts',
  'client/src/auth/identity-file.ts',
];

const why = 'storage logic takes time, randomness and timers from the Clock and Random interfaces (client/src/runtime.ts)';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'dist/**', 'client/dist/**', '.scratch/**', 'examples/**/generated/**', 'examples/web/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // tests read GraphQL responses as loosely typed JSON
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['storage/**/*.ts', 'client/src/**/*.ts'],
    ignores: IO_EDGES,
    rules: {
      'no-restricted-globals': ['error', ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'performance'].map((name) => ({ name, message: why }))],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: why },
        { object: 'Math', property: 'random', message: why },
        { object: 'process', property: 'hrtime', message: why },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date']", message: why }],
    },
  },
);
