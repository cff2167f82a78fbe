/**
 * Dependency rules of gitward (ARCHITECTURE.md, "Dependencies point one way"); `npm run lint:deps`,
 * run by `npm test` before the tests. Only the TypeScript sources count; tests and benches may
 * reach anywhere.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A module never depends on itself through others.',
      from: { path: '^(app|hooks|plugins|protocol)/' },
      to: { circular: true },
    },
    {
      name: 'hook-protocol-in-one-module',
      severity: 'error',
      comment:
        'What gitward hands the hooks and reads back lives in protocol/: the server (app/) reaches the hook ' +
        'dispatcher only through it. Exceptions: the config check creates hook plugins from their settings ' +
        '(check-hook-settings), `gitward access --ref` runs the plugins in force as a push would (load-hook-plugins, ' +
        'hook-plugin), and gitward parses the ref update lines the post-receive launcher keeps (receive-input).',
      from: { path: '^app/' },
      to: {
        path: '^hooks/',
        pathNot: '^hooks/(check-hook-settings|receive-input|load-hook-plugins|hook-plugin)\\.ts$',
      },
    },
    {
      name: 'protocol-is-below-hooks',
      severity: 'error',
      comment: 'The protocol module depends on neither side of it: not the hooks, not the server or CLI.',
      from: { path: '^protocol/' },
      to: { path: '^(hooks|plugins)/|^app/(cli|routes|backend|identity|audit|server|compose|reload)' },
    },
    {
      name: 'policy-types-are-a-leaf',
      severity: 'error',
      comment: 'The config and policy types import nothing but other type modules.',
      from: { path: '^app/(config/types|types)\\.ts$' },
      to: { path: '^(app|hooks|plugins|protocol)/', pathNot: '^app/(config/types|types)\\.ts$' },
    },
    {
      name: 'config-does-not-import-plugins',
      severity: 'error',
      comment: 'Loading and validating the config never loads the plugin registry or a plugin.',
      from: { path: '^app/config/' },
      to: { path: '^plugins/|^app/identity/plugin-loader\\.ts$|^hooks/load-hook-plugins\\.ts$' },
    },
    {
      name: 'hooks-do-not-import-the-server',
      severity: 'error',
      comment:
        'The dispatcher starts cold on every push: it never loads the HTTP server, routes, CLI or backend runner.',
      from: { path: '^hooks/' },
      to: { path: '^app/(server|compose|reload|routes|cli|backend|audit|identity)' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
  },
};
