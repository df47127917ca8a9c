/**
 * The endpoint's long-poll wait (WS-Man Receive): resolve once `ready()` holds — re-checked each time the owner
 * calls the waiters in `waiters` (its wake()) — or after `ms`, or when `signal` aborts. Never rejects.
 */
export function waitUntil(ready: () => boolean, waiters: Set<() => void>, ms: number, signal: AbortSignal): Promise<void> {
  if (ready() || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      waiters.delete(check);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const check = () => {
      if (ready()) done();
    };
    const timer = setTimeout(done, ms);
    waiters.add(check);
    signal.addEventListener('abort', done, { once: true });
  });
}
