import path from 'node:path';
import type { HookCheckContext, HookLogger, HookPlugin, HookUpdate } from './hook-plugin.js';

/** Updates checked at once: each may run a few git processes; a mirror push has hundreds. */
const CHECK_CONCURRENCY = 8;

/** A plugin instance ready to run, with where its setting came from. */
export interface LoadedHookPlugin {
  readonly plugin: HookPlugin;
  /** `file:line` of the setting in force. */
  readonly where: string;
}

/** One plugin's refusal of one update. */
export interface Rejection {
  readonly plugin: string;
  readonly rule: string;
  readonly message: string;
  readonly where: string;
}

/** What the plugins said about one update. */
export interface UpdateOutcome {
  readonly update: HookUpdate;
  readonly rejections: readonly Rejection[];
  /** Plugins that threw on this update (the stack is logged, never shown). */
  readonly failures: readonly string[];
}

/**
 * Runs every plugin, in order, on every update of the push: no early exit, so a refused ref is
 * found wherever it sits in the push. A plugin that throws counts as a failure of that update.
 */
export async function runChecks(
  plugins: readonly LoadedHookPlugin[],
  ctx: HookCheckContext,
  log: HookLogger,
): Promise<UpdateOutcome[]> {
  const outcomes: UpdateOutcome[] = new Array<UpdateOutcome>(ctx.updates.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ctx.updates.length) {
      const i = next++;
      const update = ctx.updates[i] as HookUpdate;
      const rejections: Rejection[] = [];
      const failures: string[] = [];
      for (const { plugin, where } of plugins) {
        try {
          const v = await plugin.check(update, ctx);
          if (v.kind === 'reject') rejections.push({ plugin: plugin.name, rule: v.rule, message: v.message, where });
          else if (v.kind !== 'accept') throw new Error(`plugin returned an unknown verdict ${JSON.stringify(v)}`);
        } catch (err) {
          failures.push(plugin.name);
          log.log('error', 'hook.plugin-failed', {
            plugin: plugin.name,
            ref: update.ref,
            error: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
          });
        }
      }
      outcomes[i] = { update, rejections, failures };
    }
  };
  await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, ctx.updates.length) }, worker));
  return outcomes;
}

/** `file:line` shortened to the file's base name: the client learns the line, not server paths. */
export function shortWhere(where: string): string {
  const m = /^(.*):(\d+)$/.exec(where);
  return m ? `${path.basename(m[1] as string)}:${m[2] as string}` : path.basename(where);
}

/**
 * The lines shown to the pusher: one per rejected ref (its first refusal: ref, plugin, rule,
 * config node, message), and one line if any plugin failed. Never the user's groups or the config.
 */
export function clientLines(outcomes: readonly UpdateOutcome[]): string[] {
  const lines: string[] = [];
  for (const o of outcomes) {
    const r = o.rejections[0];
    if (r)
      lines.push(
        `gitward: ${o.update.ref} rejected by ${r.plugin} (rule ${r.rule}, ${shortWhere(r.where)}): ${r.message}`,
      );
  }
  const failed = outcomes.filter((o) => o.failures.length > 0);
  if (failed.length > 0) {
    const names = [...new Set(failed.flatMap((o) => o.failures))].join(', ');
    const count = `${failed.length} ref update(s)`;
    lines.push(`gitward: push refused: hook plugin ${names} failed on ${count}; the details are in the server log`);
  }
  return lines;
}
