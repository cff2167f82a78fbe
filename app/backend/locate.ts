import { execFile } from 'node:child_process';
import path from 'node:path';

/**
 * The absolute path of git-http-backend: `$(git --exec-path)/git-http-backend`, asking the git
 * found on `pathEnv` (gitward's own PATH, passed explicitly; nothing else is inherited).
 */
export function findGitHttpBackend(pathEnv: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', ['--exec-path'], { env: { PATH: pathEnv } }, (err, stdout) => {
      if (err) reject(new Error(`cannot find git on PATH to locate git-http-backend: ${err.message}`));
      else resolve(path.join(stdout.trim(), 'git-http-backend'));
    });
  });
}
