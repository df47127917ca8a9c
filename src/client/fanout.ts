/**
 * Fan-out: one async job per host, at most `throttle` hosts at a time, results as one async stream.
 *
 *   for await (const ev of fanout(['a', 'b:5986'], async (host, { signal, emit }) => {
 *     const c = connect({ ...base, host });  try { ... await emit({ line }) ... return exitCode; } finally { c.close(); }
 *   }, { throttle: 32, timeoutMs: 60_000, signal })) { ... }
 *
 * Events, per host in this order: `start`, any number of `data` (what the job emitted), then exactly one of `done`
 * (the job's return value) or `error` (what it threw, or a TimeoutError/AbortError when its deadline or the caller's
 * signal ended it). One host that hangs or fails never holds back the others: each job has its own AbortSignal, its
 * own deadline, and its error is reported as that host's event.
 *
 * Memory is bounded: the stream holds at most `bufferSize` undelivered events in all; a job whose `emit()` would go
 * past that waits (backpressure) until the consumer has read, so a slow consumer slows the producers instead of
 * growing a queue. A host's cost is therefore its job's own state plus at most one pending event.
 *
 * When the consumer stops early (break / return from for-await), or `signal` aborts, every running job is aborted
 * and no new job starts; hosts that never started are reported with an AbortError.
 */
import { AbortError, TimeoutError, WinRMError } from '../errors.js';

export interface FanoutContext<D> {
  /** aborted on the host's deadline, the caller's signal, or when the consumer stops reading */
  signal: AbortSignal;
  /** index of the host in the input list */
  index: number;
  /** deliver one item for this host (resolves when there is room in the stream) */
  emit(data: D): Promise<void>;
}

export type FanoutJob<D, R> = (host: string, ctx: FanoutContext<D>) => Promise<R>;

export interface FanoutOptions {
  /** hosts at a time (default 32) */
  throttle?: number;
  /** per-host deadline in ms for the whole job (default none: the job's own connect/operation timeouts apply) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** undelivered events held at most (default 256) */
  bufferSize?: number;
}

export type FanoutEvent<D, R> =
  | { type: 'start'; host: string; index: number }
  | { type: 'data'; host: string; index: number; data: D }
  | { type: 'done'; host: string; index: number; result: R; ms: number }
  | { type: 'error'; host: string; index: number; error: Error; ms: number };

export const DEFAULT_THROTTLE = 32;

/** Run `job` for every host, `throttle` at a time; yields every host's events as they happen. */
export function fanout<D, R>(hosts: readonly string[], job: FanoutJob<D, R>, o: FanoutOptions = {}): AsyncIterable<FanoutEvent<D, R>> {
  const throttle = o.throttle ?? DEFAULT_THROTTLE;
  if (!Number.isInteger(throttle) || throttle < 1) throw new RangeError(`throttle must be a positive integer, got ${throttle}`);
  const bufferSize = Math.max(1, o.bufferSize ?? 256);
  return {
    [Symbol.asyncIterator](): AsyncIterator<FanoutEvent<D, R>> {
      const queue: FanoutEvent<D, R>[] = [];
      // producers waiting for room (each resolves when the consumer has taken an event)
      const roomWaiters: Array<() => void> = [];
      let wake: (() => void) | undefined;
      let next = 0;
      let running = 0;
      let finished = 0;
      let stopped = false;
      const controllers = new Set<AbortController>();
      const stop = new AbortController();
      const onOuterAbort = () => stopAll(new AbortError('the fan-out was aborted'));
      if (o.signal?.aborted) queueMicrotask(onOuterAbort);
      else o.signal?.addEventListener('abort', onOuterAbort, { once: true });

      const push = (ev: FanoutEvent<D, R>) => {
        queue.push(ev);
        const w = wake;
        wake = undefined;
        w?.();
      };
      const room = (): Promise<void> => {
        if (queue.length < bufferSize || stopped) return Promise.resolve();
        return new Promise((r) => roomWaiters.push(r));
      };
      const releaseRoom = () => {
        while (roomWaiters.length && (queue.length < bufferSize || stopped)) roomWaiters.shift()!();
      };

      function stopAll(reason: Error): void {
        if (stopped) return;
        stopped = true;
        stop.abort(reason);
        for (const c of controllers) c.abort(reason);
        releaseRoom();
        // hosts that never started: reported, never run
        while (next < hosts.length) {
          const i = next++;
          push({ type: 'error', host: hosts[i]!, index: i, error: reason, ms: 0 });
          finished++;
        }
        const w = wake;
        wake = undefined;
        w?.();
      }

      const launch = () => {
        while (!stopped && running < throttle && next < hosts.length) {
          const index = next++;
          running++;
          void runOne(hosts[index]!, index).finally(() => {
            running--;
            finished++;
            launch();
            const w = wake;
            wake = undefined;
            w?.();
          });
        }
      };

      async function runOne(host: string, index: number): Promise<void> {
        const ac = new AbortController();
        controllers.add(ac);
        const t0 = Date.now();
        let timer: NodeJS.Timeout | undefined;
        const deadline =
          o.timeoutMs !== undefined && o.timeoutMs > 0
            ? new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                  const e = new TimeoutError(
                    `${host}: no result within ${o.timeoutMs! / 1000} s (the per-host time limit); the host may be slow or hung`,
                  );
                  ac.abort(e);
                  reject(e);
                }, o.timeoutMs);
              })
            : undefined;
        deadline?.catch(() => undefined);
        const aborted = new Promise<never>((_, reject) => {
          if (ac.signal.aborted) reject(ac.signal.reason);
          else ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true });
        });
        aborted.catch(() => undefined);
        push({ type: 'start', host, index });
        try {
          const ctx: FanoutContext<D> = {
            signal: ac.signal,
            index,
            emit: async (data) => {
              if (ac.signal.aborted) throw asError(ac.signal.reason);
              await room();
              if (ac.signal.aborted) throw asError(ac.signal.reason);
              push({ type: 'data', host, index, data });
            },
          };
          // a job that ignores its signal still cannot hold this host's slot past the deadline / abort
          const result = await Promise.race([job(host, ctx), aborted, ...(deadline ? [deadline] : [])]);
          push({ type: 'done', host, index, result, ms: Date.now() - t0 });
        } catch (e) {
          push({ type: 'error', host, index, error: asError(e), ms: Date.now() - t0 });
        } finally {
          if (timer) clearTimeout(timer);
          controllers.delete(ac);
        }
      }

      launch();
      return {
        async next(): Promise<IteratorResult<FanoutEvent<D, R>>> {
          for (;;) {
            const ev = queue.shift();
            if (ev) {
              releaseRoom();
              return { value: ev, done: false };
            }
            if (finished >= hosts.length && running === 0) {
              cleanup();
              return { value: undefined, done: true };
            }
            await new Promise<void>((r) => {
              wake = r;
            });
          }
        },
        async return(): Promise<IteratorResult<FanoutEvent<D, R>>> {
          stopAll(new AbortError('the fan-out was stopped by its consumer'));
          queue.length = 0;
          cleanup();
          return { value: undefined, done: true };
        },
      };

      function cleanup(): void {
        o.signal?.removeEventListener('abort', onOuterAbort);
      }
    },
  };
}

function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new WinRMError(String(e));
}
