import path from 'node:path';
import type { HookCheckContext, HookLogger, RepoReader } from '../../hooks/hook-plugin.js';
import { loadHookPlugins } from '../../hooks/load-hook-plugins.js';
import { describeUpdate } from '../../hooks/receive-input.js';
import type { CompiledPolicy } from '../config/types.js';
import { hookSettingsFor } from '../policy/hook-settings.js';
import type { Identity } from '../types.js';

/** What a push can do to a ref, by kind of ref (the actions branch-protect names). */
const ACTIONS = {
  branch: ['create', 'push', 'force', 'delete'],
  tag: ['create', 'move', 'delete'],
  other: ['create', 'update', 'delete'],
} as const;

/** Object names for the synthetic updates: never looked up, only compared with the zero name. */
const OLD = '1'.repeat(40);
const NEW = '2'.repeat(40);
const ZERO = '0'.repeat(40);

/** One plugin's answer for one action: the same under any history, or one that depends on it. */
export type ActionOutcome =
  | { readonly kind: 'allowed' }
  | { readonly kind: 'refused'; readonly rule: string; readonly message: string }
  /** Decided by the commits pushed (branch-flow's ancestry): allowed only when they are already there. */
  | { readonly kind: 'depends'; readonly rule: string; readonly message: string };

/** What one hook plugin in force says about the ref. */
export interface PluginExplanation {
  readonly plugin: string;
  /** `file:line` of the setting in force for the repo. */
  readonly where: string;
  /** The rule of its options that decides this ref (`ruleFor`); null when none applies or it cannot say. */
  readonly rule: string | null;
  readonly actions: readonly { readonly action: string; readonly outcome: ActionOutcome }[];
}

const SILENT: HookLogger = { log: () => undefined };

/**
 * Runs the hook plugins in force for `repo` — the plugins' own `check`, as a push would — on
 * synthetic updates of `ref` by `identity`: every action (create, fast-forward push, force,
 * delete; for tags create, move, delete). Each is asked twice, once with the pushed commits
 * already on the branches a rule wants them on and once without, so an answer that depends on
 * the commits (branch-flow) shows as `depends`.
 */
export async function explainRef(
  policy: CompiledPolicy,
  repo: string,
  ref: string,
  identity: Identity,
): Promise<PluginExplanation[]> {
  const config = policy.config;
  const plugins = await loadHookPlugins(hookSettingsFor(policy, repo), config.hooks, path.dirname(config.file), SILENT);
  const refType = describeUpdate(OLD, NEW, ref).refType;
  const out: PluginExplanation[] = [];
  for (const { plugin, where } of plugins) {
    const actions: { action: string; outcome: ActionOutcome }[] = [];
    for (const action of ACTIONS[refType]) {
      const update = describeUpdate(action === 'create' ? ZERO : OLD, action === 'delete' ? ZERO : NEW, ref);
      const verdicts = [];
      for (const onTheWay of [true, false]) {
        const git: RepoReader = {
          refBefore: async () => OLD,
          isAncestor: async () => onTheWay,
          isFastForward: async () => action !== 'force',
        };
        const ctx: HookCheckContext = { repo, identity, git, updates: [update] };
        verdicts.push(await plugin.check(update, ctx));
      }
      const [good, bad] = verdicts as [(typeof verdicts)[number], (typeof verdicts)[number]];
      let outcome: ActionOutcome;
      if (good.kind === 'accept' && bad.kind === 'accept') outcome = { kind: 'allowed' };
      else if (good.kind === 'reject') outcome = { kind: 'refused', rule: good.rule, message: good.message };
      else if (bad.kind === 'reject') outcome = { kind: 'depends', rule: bad.rule, message: bad.message };
      else outcome = { kind: 'allowed' };
      actions.push({ action, outcome });
    }
    const rule = plugin.ruleFor?.(describeUpdate(OLD, NEW, ref)) ?? null;
    out.push({ plugin: plugin.name, where, rule, actions });
  }
  return out;
}
