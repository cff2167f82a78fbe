import type { KnownNames } from '../app/principals.js';
import type { Identity, RefUpdate } from '../app/types.js';

/** What a ref update does, from its old and new values. */
export type UpdateKind = 'create' | 'update' | 'delete';

/** Which namespace a ref is in: `refs/heads/…`, `refs/tags/…`, or anything else. */
export type RefType = 'branch' | 'tag' | 'other';

/** A ref update as hook plugins see it: the raw line of pre-receive plus what it means. */
export interface HookUpdate extends RefUpdate {
  readonly kind: UpdateKind;
  readonly refType: RefType;
  /** The name below `refs/heads/` or `refs/tags/`; the full ref for other refs. */
  readonly name: string;
}

/** Read-only view of the repository as it was before this push (plus the push's objects). */
export interface RepoReader {
  /** The sha a ref pointed to before this push, or null when it did not exist. */
  refBefore(ref: string): Promise<string | null>;
  /** True when commit `ancestor` is reachable from commit `descendant` (a commit reaches itself). */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /** True when the update moves the ref forward without losing commits (`old` reachable from `new`). */
  isFastForward(update: HookUpdate): Promise<boolean>;
}

/** What `check` is handed besides the update: who pushes where, and the repository. */
export interface HookCheckContext {
  /** Canonical repo name without `.git`, e.g. `web/site`. */
  readonly repo: string;
  /** The pusher. `source` is `local` for pushes made on the server without gitward's environment. */
  readonly identity: Identity;
  readonly git: RepoReader;
  /** Every update of this push, for plugins that need to see them together. */
  readonly updates: readonly HookUpdate[];
}

/** A plugin's answer for one update. `rule` names the part of its options that refused. */
export type HookVerdict =
  { readonly kind: 'accept' } | { readonly kind: 'reject'; readonly rule: string; readonly message: string };

/** A hook plugin instance (ARCHITECTURE.md §6): run on every update of a push, never stopping early. */
export interface HookPlugin {
  readonly name: string;
  check(update: HookUpdate, ctx: HookCheckContext): Promise<HookVerdict> | HookVerdict;
  /**
   * Optional: true when this plugin rules `ref`, a ref outside refs/heads/ and refs/tags/. Such a
   * ref is refused by the dispatcher itself unless some enabled plugin governs it (and `check`
   * then decides); without this method a plugin governs none.
   */
  governsRef?(ref: string): boolean;
  /**
   * Optional: what in the options is valid but almost surely not what the admin meant, one
   * `file:line: plugin.key: …` line each (a rule that can never apply, say). `gitward check`
   * prints these; the dispatcher never asks, so the work done here costs a push nothing.
   */
  warnings?(): readonly string[];
  /**
   * Optional: the part of the options that decides `update` (the rule `check` consults, such as
   * `branches."main"`), or null when none applies. `gitward access --ref` prints it; pushes never ask.
   */
  ruleFor?(update: HookUpdate): string | null;
}

/** Minimal structured log a hook plugin may write to. */
export interface HookLogger {
  log(level: 'error' | 'warn' | 'info' | 'debug', event: string, fields?: Record<string, unknown>): void;
}

/** What a hook plugin factory is handed besides its options. */
export interface HookPluginContext {
  /** The plugin's name as configured. */
  readonly name: string;
  /** `file:line` of the setting in force; every option error names it. */
  readonly where: string;
  /** Folder of the config file. */
  readonly configDir: string;
  readonly logger: HookLogger;
  /**
   * The config's users and groups, when the config is being loaded (`gitward check`, `gitward
   * serve`): a principal naming another is an option error, as in a grant (app/principals.ts
   * `parsePrincipal`). Absent at push time, when the loaded config was already checked.
   */
  readonly known?: KnownNames;
}

/**
 * A hook plugin factory: validates `options` strictly (unknown keys are errors naming
 * `ctx.where`) and returns the plugin. `enable` is removed by the dispatcher before the call.
 */
export type HookPluginFactory = (
  options: Readonly<Record<string, unknown>>,
  ctx: HookPluginContext,
) => HookPlugin | Promise<HookPlugin>;

/** A hook plugin's options are wrong; the message names the config node (`file:line`). */
export class HookOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HookOptionsError';
  }
}

/** The accepting verdict. */
export const ACCEPT: HookVerdict = Object.freeze({ kind: 'accept' });

/** A rejecting verdict for `rule` with a message safe to show the pusher. */
export function reject(rule: string, message: string): HookVerdict {
  return { kind: 'reject', rule, message };
}

/** Throws HookOptionsError when `value` has keys outside `allowed`; `at` names the node. */
export function assertKnownKeys(
  value: Readonly<Record<string, unknown>>,
  allowed: readonly string[],
  at: string,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new HookOptionsError(`${at}: unknown key "${key}" (allowed: ${allowed.join(', ')})`);
    }
  }
}

/** True when `value` is a plain object (a YAML mapping). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
