/**
 * The path tricks of the traversal regression, shared by the proxy-mode test and the sidecar
 * (nginx auth_request) test. The config they assume: anonymous reads everything but `secret`
 * (ann only); repos `x` and `secret` exist; dumb HTTP is off.
 */
export const ADV = 'info/refs?service=git-upload-pack';

/** [what, raw request path, expected status] */
export const PATH_TRICKS: ReadonlyArray<readonly [string, string, number]> = [
  // Double encoding: decoded once, `%2e%2e` is not a name.
  ['double-encoded ..', `/%252e%252e/secret.git/${ADV}`, 400],
  ['double-encoded .. inside', `/x/%252e%252e/secret.git/${ADV}`, 400],
  ['double-encoded ../ in one segment', `/%252e%252e%252fsecret.git/${ADV}`, 400],
  ['double-encoded letter', `/%2573ecret.git/${ADV}`, 400],
  ['double-encoded slash', `/x%252fsecret.git/${ADV}`, 400],
  // Overlong and look-alike UTF-8 for "." and "/".
  ['overlong UTF-8 dots', `/%c0%ae%c0%ae/secret.git/${ADV}`, 400],
  ['overlong UTF-8 dots inside', `/x/%c0%ae%c0%ae/secret.git/${ADV}`, 400],
  ['overlong UTF-8 slash', `/x%c0%afsecret.git/${ADV}`, 400],
  ['three-byte overlong dot', `/%e0%80%ae%e0%80%ae/secret.git/${ADV}`, 400],
  ['fullwidth dots', `/%ef%bc%8e%ef%bc%8e/secret.git/${ADV}`, 400],
  ['one-dot leader', `/%e2%80%a4%e2%80%a4/secret.git/${ADV}`, 400],
  ['fraction slash', `/x%e2%81%84secret.git/${ADV}`, 400],
  // Mixed case: another name (case-sensitive disk), never the secret repo.
  ['mixed-case .GIT', `/secret.GIT/${ADV}`, 404],
  ['mixed-case .Git', `/secret.Git/${ADV}`, 404],
  ['upper-case name', `/SECRET.git/${ADV}`, 404],
  // Trailing dots and spaces.
  ['trailing dot after .git', `/secret.git./${ADV}`, 404],
  ['trailing dot without .git', `/secret./${ADV}`, 404],
  ['trailing encoded space', `/secret.git%20/${ADV}`, 400],
  ['encoded space before .git', `/secret%20.git/${ADV}`, 400],
  ['trailing tab', `/secret.git%09/${ADV}`, 400],
  ['trailing NUL', `/secret.git%00/${ADV}`, 400],
  ['trailing dot-space', `/secret.%20/${ADV}`, 400],
  // Empty and dot segments.
  ['double slash before', `//secret.git/${ADV}`, 400],
  ['double slash after', `/secret.git//${ADV}`, 400],
  ['dot segment', `/./secret.git/${ADV}`, 400],
  ['encoded dot segment', `/%2e/secret.git/${ADV}`, 400],
  // Git internals as repo names or inside a repo.
  ['repo named HEAD', `/HEAD/${ADV}`, 404],
  ['repo named objects', `/objects.git/${ADV}`, 404],
  ['repo named refs', `/refs/${ADV}`, 404],
  ['repo named info', `/info/${ADV}`, 404],
  ['repo named hooks', `/hooks.git/${ADV}`, 404],
  ['repo named config', `/config/${ADV}`, 404],
  ['HEAD inside a repo', `/secret.git/HEAD/${ADV}`, 400],
  ['objects inside a repo', `/secret.git/objects/${ADV}`, 400],
  ['refs inside a repo', `/secret.git/refs/heads/${ADV}`, 400],
  ['dumb HEAD (dumb HTTP off)', '/secret.git/HEAD', 400],
  ['dumb packs list (dumb HTTP off)', '/x.git/objects/info/packs', 400],
  ['repo config file', '/x.git/config', 400],
  ['hook file', '/x.git/hooks/pre-receive', 400],
  // The route itself disguised.
  ['encoded ? in route', '/x.git/info/refs%3fservice=git-upload-pack', 400],
  ['path parameter on route', '/x.git/info/refs;x?service=git-upload-pack', 400],
  ['encoded route slash', '/x.git/info%2frefs?service=git-upload-pack', 400],
  ['backslash separators', `/x%5c..%5csecret.git/${ADV}`, 400],
  // Decoded exactly once: the ACL sees the decoded name, so the secret stays protected.
  ['encoded letter reaches the ACL as secret', `/%73ecret.git/${ADV}`, 401],
  ['encoded .git suffix reaches the ACL as secret', `/secret%2egit/${ADV}`, 401],
  ['plain secret (control)', `/secret.git/${ADV}`, 401],
];
