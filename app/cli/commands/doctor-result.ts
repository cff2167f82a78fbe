/** ok: passed; warn: could not be checked (not a failure); fail: failed (exit 1). */
export type CheckLevel = 'ok' | 'warn' | 'fail';

/** The outcome of one check. */
export interface CheckResult {
  readonly name: string;
  readonly level: CheckLevel;
  /** What happened, one line. */
  readonly detail: string;
  /** The likely cause and the setting to look at (fail), or what to check by hand (warn). */
  readonly cause?: string;
}
