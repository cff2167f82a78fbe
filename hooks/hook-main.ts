// The process entry of the dispatcher, run by the launcher hooks/gitward-hook as
// `node dist/hooks/hook-main.js HOOK`.
let dispatch: typeof import('./dispatch.js');
try {
  dispatch = require('./dispatch.js') as typeof import('./dispatch.js');
} catch {
  // Fail closed, in one line: a hook's stderr reaches the pusher, a stack trace must not.
  process.stderr.write(
    process.argv[2] === 'post-receive'
      ? 'gitward: the push was applied, but its audit lines were not written: ' +
          'the gitward hook dispatcher could not be loaded\n'
      : 'gitward: push refused: the gitward hook dispatcher could not be loaded (is gitward built?)\n',
  );
  process.exit(1);
}
dispatch.main();
