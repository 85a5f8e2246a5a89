/** Statuses retried everywhere; 403 joins them on hosts that use it for throttling (NVD). */
export const retryableStatuses: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/**
 * Exponential backoff with full jitter: a uniformly random wait between 0 and
 * min(maxDelayMs, baseDelayMs * 2^(retry - 1)), so that clients throttled together do not return together.
 * `retry` counts from 1; `random` returns a number in [0, 1).
 */
export function backoffDelay(
  retry: number,
  policy: { baseDelayMs: number; maxDelayMs: number },
  random: () => number,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(random() * ceiling);
}

/**
 * `Retry-After` in milliseconds from `now`: delay-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`; a date in the past means "now"). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
