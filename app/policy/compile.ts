import type { CompiledPolicy, GitwardConfig } from '../config/types.js';

/** Compiles the validated config into an immutable policy; a decision is then a lookup. */
export function compilePolicy(config: GitwardConfig): CompiledPolicy {
  throw new Error(`compilePolicy is not implemented yet (${config.file})`);
}
