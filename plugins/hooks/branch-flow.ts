import {
  ACCEPT,
  assertKnownKeys,
  HookOptionsError,
  reject,
  type HookPlugin,
  type HookPluginFactory,
} from '../../hooks/hook-plugin.js';

/** A branch name in a flow: a plain git branch name, no glob characters. */
const BRANCH = /^(?!\/)(?!.*\/\/)(?!.*\.\.)(?!.*\/$)[A-Za-z0-9._/-]+$/;

/**
 * `branch-flow`: promotion order between branches, e.g. `flow: [dev, staging, main]`. A new tip of
 * branch N (update or creation) must already be reachable from branch N−1 as it was before this
 * push, so one push cannot carry a commit past a stage. Decisions (README "branch-flow"):
 * - the first branch and branches outside the flow are free; names match whole (`feature/main`
 *   is not `main`);
 * - if branch N−1 does not exist, branch N cannot be created or moved (fail closed);
 * - only reachability is checked: moving a branch back (a non-fast-forward) is for `branch-protect`
 *   (`force`) and `receive.denyNonFastforwards`;
 * - deletions, tags and other refs are not its business and are accepted (`branch-protect` rules them).
 */
export const createBranchFlowPlugin: HookPluginFactory = (options, ctx) => {
  assertKnownKeys(options, ['flow'], `${ctx.where}: ${ctx.name}`);
  const flow = options.flow;
  if (!Array.isArray(flow) || flow.length < 2) {
    throw new HookOptionsError(`${ctx.where}: ${ctx.name}.flow: a list of at least two branch names is required`);
  }
  const seen = new Set<string>();
  for (const [i, b] of flow.entries()) {
    if (typeof b !== 'string' || !BRANCH.test(b) || b.startsWith('refs/')) {
      throw new HookOptionsError(`${ctx.where}: ${ctx.name}.flow[${i}]: ${JSON.stringify(b)} is not a branch name`);
    }
    if (seen.has(b)) throw new HookOptionsError(`${ctx.where}: ${ctx.name}.flow[${i}]: "${b}" appears twice`);
    seen.add(b);
  }
  const stages = flow as string[];
  const plugin: HookPlugin = {
    name: ctx.name,
    async check(update, c) {
      if (update.refType !== 'branch' || update.kind === 'delete') return ACCEPT;
      const n = stages.indexOf(update.name);
      if (n <= 0) return ACCEPT;
      const prev = stages[n - 1] as string;
      const rule = `flow ${prev} -> ${update.name}`;
      const prevTip = await c.git.refBefore(`refs/heads/${prev}`);
      if (prevTip === null)
        return reject(rule, `${update.name} can only take commits that are on ${prev}, and ${prev} does not exist yet`);
      if (await c.git.isAncestor(update.newSha, prevTip)) return ACCEPT;
      return reject(
        rule,
        `the new tip of ${update.name} is not on ${prev}; push it to ${prev} first (in an earlier push)`,
      );
    },
    ruleFor(update) {
      const n = update.refType === 'branch' ? stages.indexOf(update.name) : -1;
      return n <= 0 ? null : `flow ${stages[n - 1] as string} -> ${update.name}`;
    },
  };
  return plugin;
};
