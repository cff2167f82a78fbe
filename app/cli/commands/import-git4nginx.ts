import { EXIT, type Command } from '../io.js';

/** `gitward import-git4nginx`: placeholder until its issue lands. */
export const importGit4nginx: Command = async (_argv, io) => {
  io.stderr.write('gitward import-git4nginx: not implemented yet\n');
  return EXIT.usage;
};
