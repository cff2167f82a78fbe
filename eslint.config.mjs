// ESLint (flat config): typescript-eslint's recommended rules over the TypeScript, ESLint's over the
// few CommonJS scripts. Formatting is prettier's (.prettierrc.json); the one layout rule here is the
// 120-column limit in app/, plugins/ and hooks/, for the strings and comments prettier does not break.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Build output, installed packages and the demo's repos and state (git-ignored).
  { ignores: ['dist/', 'node_modules/', 'examples/repos/', 'examples/.state/'] },
  // A disable comment that no longer disables anything fails the run, so none outlives its reason.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // The hook dispatcher and the CLI load plugins and heavy modules lazily, with require().
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // CommonJS scripts run by Node directly: the launcher, the test runner, fixtures, bench preloads.
    files: ['**/*.js', '**/*.cjs', 'app/gitward'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    // ESLint core's max-len (deprecated in favour of @stylistic, still in ESLint 10): prettier wraps
    // code at 120 but leaves long strings, comments and regular expressions as they are.
    files: ['app/**', 'plugins/**', 'hooks/**'],
    rules: { 'max-len': ['error', { code: 120, ignoreUrls: true }] },
  },
);
