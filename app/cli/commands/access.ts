import { EXIT, type Command } from '../io.js';

/** `gitward access`: placeholder until its issue lands. */
export const access: Command = async (_argv, io) => {
  io.stderr.write('gitward access: not implemented yet\n');
  return EXIT.usage;
};
