import { EXIT, type Command } from '../io.js';

/** `gitward serve`: placeholder until its issue lands. */
export const serve: Command = async (_argv, io) => {
  io.stderr.write('gitward serve: not implemented yet\n');
  return EXIT.usage;
};
