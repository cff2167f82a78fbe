import { EXIT, type Command } from '../io.js';

/** `gitward doctor`: placeholder until its issue lands. */
export const doctor: Command = async (_argv, io) => {
  io.stderr.write('gitward doctor: not implemented yet\n');
  return EXIT.usage;
};
