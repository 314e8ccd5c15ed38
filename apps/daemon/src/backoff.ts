/** How a failing pair waits before its next attempt. */
export interface BackoffPolicy {
  /** The first wait, in ms. */
  baseMs: number;
  /** No wait is longer than this, in ms. */
  maxMs: number;
}

/** 2 s, then doubling up to 5 minutes: a server back within seconds is not made to wait minutes. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 2000, maxMs: 5 * 60_000 };

/**
 * The wait before attempt `failures + 1`: exponential, capped, with "equal jitter" (half fixed, half
 * random), so that the pairs of one server that failed together (it restarted) do not all come back
 * in the same second, while no wait is shorter than half its step.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random) {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}
