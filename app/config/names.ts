import { GIT_SUFFIX, MAX_REPO_NAME_BYTES, REPO_NAME_SEGMENT } from '../request/repo-name.js';

/** One path segment of a repo or group name: the grammar of URL repo names (ARCHITECTURE.md §2). */
export const NAME_SEGMENT = REPO_NAME_SEGMENT;

/** Longest repo path accepted, in bytes: the same limit as URL repo names. */
export const MAX_REPO_PATH_BYTES = MAX_REPO_NAME_BYTES;

/** The suffix that marks a repo key in the `repos:` tree, as in URLs and on disk. */
export { GIT_SUFFIX };

/** The names of the hook plugins gitward ships, sorted; others are named in `hooks.plugins`. */
const BUILTIN_HOOK_NAMES = ['branch-flow', 'branch-protect'] as const;
/** A built-in hook plugin's name: plugins/registry.ts must have exactly these (its type says so). */
export type BuiltinHookPluginName = (typeof BUILTIN_HOOK_NAMES)[number];
/**
 * The hook plugins gitward ships. A list here rather than the registry's keys: config validation
 * does not import the plugin registry (ARCHITECTURE.md §8).
 */
export const BUILTIN_HOOK_PLUGIN_NAMES: readonly string[] = Object.freeze([...BUILTIN_HOOK_NAMES]);

/**
 * Why `segment` is not a valid repo or group name segment, or null when it is.
 * Same rules as URL repo names: `[A-Za-z0-9][A-Za-z0-9._-]*`, no `..`, no `.git` suffix.
 */
export function segmentProblem(segment: string): string | null {
  if (segment === '') return 'empty name';
  if (!NAME_SEGMENT.test(segment))
    return `bad name "${segment}": use A-Z a-z 0-9 . _ - and start with a letter or digit`;
  if (segment.includes('..')) return `bad name "${segment}": ".." is not allowed`;
  if (segment.endsWith(GIT_SUFFIX)) return `bad name "${segment}": only a repo key ends in .git, once`;
  return null;
}

/**
 * Parses a repo name as written in `gitward access` or `tests:` (with or without `.git`): the
 * canonical name without `.git`, or why it is not a valid repo name.
 */
export function parseRepoPath(name: string): { ok: true; repo: string } | { ok: false; problem: string } {
  const repo = name.endsWith(GIT_SUFFIX) ? name.slice(0, -GIT_SUFFIX.length) : name;
  if (repo === '') return { ok: false, problem: 'empty repo name' };
  for (const seg of repo.split('/')) {
    const p = segmentProblem(seg);
    if (p) return { ok: false, problem: p };
  }
  if (Buffer.byteLength(repo, 'utf8') > MAX_REPO_PATH_BYTES)
    return { ok: false, problem: `repo name longer than ${MAX_REPO_PATH_BYTES} bytes` };
  return { ok: true, repo };
}
