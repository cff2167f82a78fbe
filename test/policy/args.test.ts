import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgs } from '../../app/cli/args.js';
import { UsageError } from '../../app/errors.js';

const SPEC = { config: { type: 'string', short: 'c' }, all: { type: 'boolean' } } as const;

test('parseArgs (node:util): --name value, --name=value, -c value, flags, and -- ending options', () => {
  const cases: [string[], { positionals: string[]; options: Record<string, string | boolean> }][] = [
    [['a', '--config', 'x.yaml', 'b'], { positionals: ['a', 'b'], options: { config: 'x.yaml' } }],
    [['--config=x.yaml'], { positionals: [], options: { config: 'x.yaml' } }],
    [['-c', 'x.yaml', '--all'], { positionals: [], options: { config: 'x.yaml', all: true } }],
    [['--', '--all', '-c'], { positionals: ['--all', '-c'], options: {} }],
    [['-'], { positionals: ['-'], options: {} }],
  ];
  for (const [argv, want] of cases) assert.deepEqual(parseArgs(argv, SPEC), want, argv.join(' '));
});

test('parseArgs: unknown options, missing values and values on flags are usage errors that name the option', () => {
  const cases: [string[], RegExp][] = [
    [['--nope'], /Unknown option '--nope'/],
    [['-z'], /Unknown option '-z'/],
    [['--config'], /Option '-c, --config <value>' argument missing/],
    [['--all=yes'], /Option '--all' does not take an argument/],
    [['--config', '--all'], /Option '--config' argument is ambiguous/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(
      () => parseArgs(argv, SPEC),
      (err: unknown) => err instanceof UsageError && re.test(err.message) && !err.message.includes('\n'),
      argv.join(' '),
    );
  }
});
