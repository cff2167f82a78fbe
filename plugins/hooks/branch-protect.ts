import {
  ACCEPT,
  assertKnownKeys,
  HookOptionsError,
  isPlainObject,
  reject,
  type HookPlugin,
  type HookPluginFactory,
  type HookUpdate,
  type HookVerdict,
} from '../../hooks/hook-plugin.js';
import { matchesAny, parsePrincipal, type KnownNames } from '../../app/principals.js';
import { compileRefGlob, refGlobCovers, refGlobProblem } from '../../hooks/ref-glob.js';
import { compileOtherRefGlob, otherRefPatternProblem, type RefGrants } from '../../hooks/ref-namespace.js';
import type { Identity } from '../../app/types.js';

const BRANCH_ACTIONS = ['push', 'force', 'create', 'delete'] as const;
const TAG_ACTIONS = ['create', 'move', 'delete'] as const;
type BranchAction = (typeof BRANCH_ACTIONS)[number];
type TagAction = (typeof TAG_ACTIONS)[number];

type Section = 'branches' | 'tags' | 'refs';

interface Rule<A extends string> {
  readonly section: Section;
  readonly pattern: string;
  readonly matches: (name: string) => boolean;
  /** Who may do each action; an absent action falls back as documented on the factory. */
  readonly allow: Readonly<Partial<Record<A, readonly string[]>>>;
}

function parseRules<A extends string>(
  section: Section,
  value: unknown,
  actions: readonly A[],
  at: string,
  known: KnownNames | undefined,
): Rule<A>[] {
  if (value === undefined || value === null) return [];
  if (!isPlainObject(value)) throw new HookOptionsError(`${at}.${section}: a mapping of name patterns is required`);
  const rules: Rule<A>[] = [];
  for (const [pattern, body] of Object.entries(value)) {
    const node = `${at}.${section}."${pattern}"`;
    const problem = section === 'refs' ? otherRefPatternProblem(pattern) : refGlobProblem(pattern);
    if (problem) throw new HookOptionsError(`${node}: ${problem}`);
    if (!isPlainObject(body))
      throw new HookOptionsError(`${node}: a mapping of ${actions.join('/')} lists is required`);
    assertKnownKeys(body, actions, node);
    const allow: Partial<Record<A, readonly string[]>> = {};
    for (const action of actions) {
      const list = body[action];
      if (list === undefined) continue;
      if (!Array.isArray(list)) throw new HookOptionsError(`${node}.${action}: a list of principals is required`);
      for (const [i, p] of list.entries()) {
        if (typeof p !== 'string') {
          const kinds = 'user, @group, $authenticated, $all, $anonymous, $local';
          throw new HookOptionsError(`${node}.${action}[${i}]: ${JSON.stringify(p)} is not a principal (${kinds})`);
        }
        // Validated like a grant: the same grammar, and an unknown user or group is an error.
        const r = parsePrincipal(p, 'hook', known);
        if (!r.ok) throw new HookOptionsError(`${node}.${action}[${i}]: ${r.problem}`);
      }
      allow[action] = Object.freeze([...(list as string[])]);
    }
    const matches = section === 'refs' ? compileOtherRefGlob(pattern) : compileRefGlob(pattern);
    rules.push({ section, pattern, matches, allow: Object.freeze(allow) });
  }
  return rules;
}

/**
 * A YAML mapping reaches plugins as a JavaScript object, whose digits-only keys ("2024") are
 * enumerated first whatever their place in the file: https://tc39.es/ecma262/#sec-ordinaryownpropertykeys
 */
const ARRAY_INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;
/** The largest array index; a longer run of digits is an ordinary key that keeps its place. */
const MAX_ARRAY_INDEX = 2 ** 32 - 2;

const noun = (r: Rule<string>): string => (r.section === 'branches' ? 'branch' : r.section === 'tags' ? 'tag' : 'ref');

/**
 * Rules are tried in file order, and order matters between rules that match a same name: refuses
 * a digits-only pattern that another rule also matches, since its place in the file is lost (see
 * ARRAY_INDEX_KEY).
 */
function assertOrderKnown(rules: readonly Rule<string>[], at: string): void {
  for (const r of rules) {
    if (!ARRAY_INDEX_KEY.test(r.pattern) || Number(r.pattern) > MAX_ARRAY_INDEX) continue;
    const other = rules.find((o) => o !== r && o.matches(r.pattern));
    if (other) {
      throw new HookOptionsError(
        `${at}.${r.section}."${r.pattern}": a digits-only pattern loses its place in the file ` +
          '(YAML keys reach plugins as JavaScript object keys), ' +
          `and "${other.pattern}" also matches ${noun(r)} ${r.pattern}, ` +
          `so which rule decides would not be the file's order; narrow "${other.pattern}" or drop one of them`,
      );
    }
  }
}

/** One line per rule that never applies because an earlier rule matches every name it matches. */
function shadowedRules(rules: readonly Rule<string>[], at: string): string[] {
  const out: string[] = [];
  rules.forEach((r, j) => {
    const earlier = rules.slice(0, j).find((e) => refGlobCovers(e.pattern, r.pattern));
    if (earlier) {
      out.push(
        `${at}.${r.section}."${r.pattern}": never applies: every ${noun(r)} it matches is matched first by ` +
          `"${earlier.pattern}" (the first matching rule decides; put the narrower rule above the broader one)`,
      );
    }
  });
  return out;
}

/** Who may do `action` under a branch rule: unlisted push/create are free, unlisted force/delete are nobody. */
function branchAllowed(rule: Rule<BranchAction>, action: BranchAction, identity: Identity): boolean {
  const a = rule.allow;
  switch (action) {
    case 'push':
      // Whoever may force may also fast-forward.
      return a.push === undefined || matchesAny(identity, a.push) || matchesAny(identity, a.force ?? []);
    case 'create':
      return a.create !== undefined
        ? matchesAny(identity, a.create)
        : a.push === undefined || matchesAny(identity, a.push);
    case 'force':
      return matchesAny(identity, a.force ?? []);
    case 'delete':
      return matchesAny(identity, a.delete ?? []);
  }
}

/** Who may do `action` under a tag rule: unlisted create is free, unlisted move/delete are nobody. */
function tagAllowed(rule: Rule<TagAction>, action: TagAction, identity: Identity): boolean {
  const list = rule.allow[action];
  if (action === 'create') return list === undefined || matchesAny(identity, list);
  return matchesAny(identity, list ?? []);
}

const ACTION_WORDS: Readonly<Record<string, string>> = {
  push: 'push to',
  force: 'force-push (non-fast-forward) to',
  create: 'create',
  delete: 'delete',
  move: 'move',
};

function refusal(rule: Rule<string>, action: string, update: HookUpdate): HookVerdict {
  const what = update.refType === 'tag' ? 'tag' : update.refType === 'branch' ? 'branch' : 'ref';
  return reject(
    `${rule.section}."${rule.pattern}".${action}`,
    `you may not ${ACTION_WORDS[action] ?? action} ${what} ${update.name}`,
  );
}

/**
 * `branch-protect`: who may change which branches and tags, by whole-name glob (`*` within a
 * segment, `**` across segments; `main` is never `feature/main`).
 * ```yaml
 * branches:
 *   main: {push: ["@release"], force: [], create: ["@release"], delete: []}
 *   "release/**": {push: ["@release"]}
 * tags: {"v*": {create: ["@release"], move: [], delete: []}, "**": {}}
 * ```
 * Branches: `push` (fast-forward; absent = anyone with write), `force` (non-fast-forward; absent =
 * nobody; force implies push), `create` (absent = the `push` list), `delete` (absent = nobody).
 * Tags: `create` (absent = anyone), `move` and `delete` (absent = nobody). For each ref, the first
 * rule of its section (in file order) whose pattern matches decides; later rules are not consulted.
 * Branches and tags matched by no rule are accepted (the ACL's write permission rules them).
 * `refs` rules (full names outside refs/heads/ and refs/tags/, e.g. `"refs/notes/*"`) take the
 * branch actions with the branch defaults; a ref outside heads and tags that no `refs` rule
 * matches is refused by the dispatcher itself (hooks/ref-namespace.ts), so `refs/replace/*` is
 * refused unless a rule names it. A rule that an earlier one shadows whole is one of the plugin's
 * `warnings()` (`gitward check` prints them).
 */
export const createBranchProtectPlugin: HookPluginFactory = (options, ctx) => {
  const at = `${ctx.where}: ${ctx.name}`;
  assertKnownKeys(options, ['branches', 'tags', 'refs'], at);
  const branches = parseRules('branches', options.branches, BRANCH_ACTIONS, at, ctx.known);
  const tags = parseRules('tags', options.tags, TAG_ACTIONS, at, ctx.known);
  const refs = parseRules('refs', options.refs, BRANCH_ACTIONS, at, ctx.known);
  assertOrderKnown(branches, at);
  assertOrderKnown(tags, at);
  const plugin: HookPlugin = {
    name: ctx.name,
    async check(update, c) {
      if (update.refType === 'branch') {
        const rule = branches.find((r) => r.matches(update.name));
        if (rule === undefined) return ACCEPT;
        let action: BranchAction;
        if (update.kind === 'create') action = 'create';
        else if (update.kind === 'delete') action = 'delete';
        else action = (await c.git.isFastForward(update)) ? 'push' : 'force';
        return branchAllowed(rule, action, c.identity) ? ACCEPT : refusal(rule, action, update);
      }
      if (update.refType === 'tag') {
        const rule = tags.find((r) => r.matches(update.name));
        if (rule === undefined) return ACCEPT;
        const action: TagAction = update.kind === 'create' ? 'create' : update.kind === 'delete' ? 'delete' : 'move';
        return tagAllowed(rule, action, c.identity) ? ACCEPT : refusal(rule, action, update);
      }
      const rule = refs.find((r) => r.matches(update.ref));
      // Not ours: the dispatcher refuses a ref outside heads and tags that no plugin governs.
      if (rule === undefined) return ACCEPT;
      let action: BranchAction;
      if (update.kind === 'create') action = 'create';
      else if (update.kind === 'delete') action = 'delete';
      // Such a ref may name a tree or a blob: git cannot call that a fast-forward, so it is a force.
      else action = (await c.git.isFastForward(update).catch(() => false)) ? 'push' : 'force';
      return branchAllowed(rule, action, c.identity) ? ACCEPT : refusal(rule, action, update);
    },
    governsRef: (ref) => refs.some((r) => r.matches(ref)),
    warnings: () => [...shadowedRules(branches, at), ...shadowedRules(tags, at), ...shadowedRules(refs, at)],
    ruleFor(update) {
      // The same lookup as check: the first rule of the ref's section whose pattern matches.
      const rule =
        update.refType === 'branch'
          ? branches.find((r) => r.matches(update.name))
          : update.refType === 'tag'
            ? tags.find((r) => r.matches(update.name))
            : refs.find((r) => r.matches(update.ref));
      return rule === undefined ? null : `${rule.section}."${rule.pattern}"`;
    },
  };
  return plugin;
};

/**
 * What a branch-protect setting grants, as git's own receive checks see it (ref-namespace.ts
 * `receiveLocks`): whether any branch rule lets someone force or delete, and the `refs` patterns.
 * `options` is a setting the config load has validated; anything else counts as granting nothing.
 */
export function branchProtectGrants(options: Readonly<Record<string, unknown>> | undefined): RefGrants {
  const sections = (key: string): Array<Record<string, unknown>> => {
    const v = options?.[key];
    return isPlainObject(v) ? Object.values(v).filter(isPlainObject) : [];
  };
  const granted = (action: string): boolean =>
    sections('branches').some((r) => Array.isArray(r[action]) && r[action].length > 0);
  const refs = options?.refs;
  // git's receive.denyNonFastForwards and receive.denyDeletes look at refs/heads/ only.
  return {
    force: granted('force'),
    delete: granted('delete'),
    otherRefPatterns: isPlainObject(refs) ? Object.keys(refs) : [],
  };
}
