import { EXIT, type Command } from '../io.js';

/** `gitward repo`: placeholder until its issue lands. */
export const repo: Command = async (_argv, io) => {
  io.stderr.write('gitward repo: not implemented yet\n');
  return EXIT.usage;
};
