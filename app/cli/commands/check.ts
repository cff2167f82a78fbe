import { EXIT, type Command } from '../io.js';

/** `gitward check`: placeholder until its issue lands. */
export const check: Command = async (_argv, io) => {
  io.stderr.write('gitward check: not implemented yet\n');
  return EXIT.usage;
};
