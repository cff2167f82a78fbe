/** Settings of the failed-login limiter (config `brute_force`). */
export interface BruteForceSettings {
  /** Failures from one client address, within the window, after which attempts are throttled. */
  readonly maxFailures: number;
  readonly windowSeconds: number;
}

/**
 * Counts failed logins per client address in a sliding window. Once an address has
 * `maxFailures` failures in the window, it is throttled until the oldest of them leaves the
 * window. A success does not reset the count: an attacker holding one valid account must not be
 * able to wipe the record of guesses at another.
 *
 * The counts outlive config reloads: one limiter belongs to the process (the reloading runtime
 * creates it once), and each call is given the settings of the config in force, so a reload can
 * neither wipe the record nor leave old settings behind. When the settings change, the failures
 * already counted are judged by the new ones on the next call: a shorter window forgets failures
 * older than it, a lower `maxFailures` can throttle at once, a higher one allows more attempts.
 * Failures that a shorter window already forgot do not come back when it grows again.
 */
export interface BruteForceLimiter {
  /** Seconds until `address` may try again under `settings`, or 0 when it may try now. */
  retryAfter(address: string, settings: BruteForceSettings): number;
  /** Records one failed login from `address`; `settings` bound what is kept. */
  fail(address: string, settings: BruteForceSettings): void;
  /** How many addresses `retryAfter` would refuse now under `settings` (the metrics' gauge). */
  throttledCount(settings: BruteForceSettings): number;
}

/** Most client addresses tracked at once: bounds memory under a spray from many addresses. */
const MAX_TRACKED_ADDRESSES = 100_000;

/** The settings as numbers the limiter can use: `off` when either is 0 (or less). */
function normalise(settings: BruteForceSettings): { max: number; windowMs: number; off: boolean } {
  const windowMs = Math.max(0, settings.windowSeconds) * 1000;
  const max = Math.max(0, Math.floor(settings.maxFailures));
  return { max, windowMs, off: max === 0 || windowMs === 0 };
}

/** Creates an empty limiter; `now` is the clock in ms (tests fake it). `maxFailures` 0 turns it off. */
export function createBruteForceLimiter(now: () => number = Date.now): BruteForceLimiter {
  // Per address, the times of its recent failures, oldest first (at most `max` kept).
  const failures = new Map<string, number[]>();
  const live = (address: string, t: number, windowMs: number): number[] => {
    const list = failures.get(address);
    if (!list) return [];
    while (list.length > 0 && t - (list[0] as number) >= windowMs) list.shift();
    if (list.length === 0) failures.delete(address);
    return list;
  };
  return {
    retryAfter(address, settings) {
      const { max, windowMs, off } = normalise(settings);
      if (off) return 0;
      const t = now();
      const list = live(address, t, windowMs);
      if (list.length < max) return 0;
      const oldest = list[list.length - max] as number;
      return Math.max(1, Math.ceil((oldest + windowMs - t) / 1000));
    },
    fail(address, settings) {
      const { max, windowMs, off } = normalise(settings);
      if (off) return;
      const t = now();
      const list = live(address, t, windowMs);
      list.push(t);
      if (list.length > max) list.splice(0, list.length - max);
      // Re-insert so the Map's first key is the address that failed least recently.
      failures.delete(address);
      failures.set(address, list);
      while (failures.size > MAX_TRACKED_ADDRESSES) failures.delete(failures.keys().next().value as string);
    },
    throttledCount(settings) {
      const { max, windowMs, off } = normalise(settings);
      if (off) return 0;
      const t = now();
      let n = 0;
      for (const address of [...failures.keys()]) if (live(address, t, windowMs).length >= max) n++;
      return n;
    },
  };
}
