import path from 'node:path';
import type { DispatchIO } from './dispatch-io.js';
import { Refusal } from './refusal.js';
import { runGit } from './repo-reader.js';

/**
 * The config file: GITWARD_CONFIG, else the repo's `gitward.config` git setting. The `git config`
 * process starts at once, so that it runs while the dispatcher loads the rest; the result is read
 * (and a missing setting refuses the push) only when the caller needs the file.
 */
export function startConfigPath(
  io: Pick<DispatchIO, 'env' | 'cwd'>,
  gitEnv: Record<string, string>,
): () => Promise<string> {
  if (io.env.GITWARD_CONFIG) {
    const file = path.resolve(io.cwd, io.env.GITWARD_CONFIG);
    return () => Promise.resolve(file);
  }
  const found = runGit(['config', '--get', 'gitward.config'], io.cwd, gitEnv).then((r) => {
    const value = r.stdout.trim();
    if (r.code !== 0 || value === '') {
      throw new Refusal(
        'gitward: push refused: no gitward config for this repo ' +
          '(set GITWARD_CONFIG, or `git config gitward.config FILE` in the repo)',
      );
    }
    return path.resolve(io.cwd, value);
  });
  // Not asked for (gitward's plan served): its failure is nobody's business.
  found.catch(() => undefined);
  return () => found;
}
