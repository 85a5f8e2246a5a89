/** At most `requests` request starts in any rolling window of `windowMs` (NVD: 5 or 50 per 30 s). */
export interface RateLimit {
  requests: number;
  windowMs: number;
}

export interface RollingWindowLimiter {
  /** Resolves when a request may start, with how long the caller waited (ms). Callers are served FIFO. */
  acquire(): Promise<number>;
}

/**
 * Rolling window, not fixed buckets: the start times of the last `requests` requests are kept, and a new
 * request waits until the oldest of them is `windowMs` old. So no window of that length, wherever it
 * begins, ever holds more than `requests` starts (a fixed bucket allows twice that across a boundary).
 * Acquisitions are chained so that concurrent callers take turns and never both see the same free slot.
 */
export function createRollingWindowLimiter(
  limit: RateLimit,
  clock: () => number,
  sleep: (ms: number) => Promise<void>,
): RollingWindowLimiter {
  if (!(limit.requests >= 1) || !(limit.windowMs > 0)) {
    throw new RangeError(`invalid rate limit: ${limit.requests} requests per ${limit.windowMs} ms`);
  }
  const starts: number[] = [];
  let tail: Promise<unknown> = Promise.resolve();

  async function take(): Promise<number> {
    let waited = 0;
    // Each pass either takes a slot or sleeps until the oldest start leaves the window.
    for (;;) {
      const now = clock();
      while (starts.length > 0 && (starts[0] as number) <= now - limit.windowMs) starts.shift();
      if (starts.length < limit.requests) {
        starts.push(now);
        return waited;
      }
      const wait = Math.max(1, (starts[0] as number) + limit.windowMs - now);
      await sleep(wait);
      waited += wait;
    }
  }

  return {
    acquire() {
      const turn = tail.then(take);
      tail = turn.catch(() => undefined);
      return turn;
    },
  };
}
