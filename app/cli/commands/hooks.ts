import { EXIT, type Command } from '../io.js';

/** `gitward hooks`: placeholder until its issue lands. */
export const hooks: Command = async (_argv, io) => {
  io.stderr.write('gitward hooks: not implemented yet\n');
  return EXIT.usage;
};
