import { EXIT, type Command } from '../io.js';

/** `gitward user`: placeholder until its issue lands. */
export const user: Command = async (_argv, io) => {
  io.stderr.write('gitward user: not implemented yet\n');
  return EXIT.usage;
};
