/**
 * The fan-out job queue: BullMQ on Redis (loaded lazily: only `run --queue` and `worker` import this).
 *
 *  - `run --queue redis://HOST:PORT` (the submitter) adds one BullMQ job per host to the queue (default name
 *    `winrm-ts`) and reads that run's results from a Redis stream, `<queue>:run:<runId>`, printing them as a local
 *    fan-out does. It does no WinRM itself.
 *  - `winrm-ts worker --queue ...` processes jobs: for each it marks the job started (`SET <queue>:started:<jobId>
 *    NX`), runs the command on the host and appends the host's lines and final result to the run's stream.
 *  - No secret goes into Redis: a job carries the user name and the connection settings, never a password. Workers
 *    take the password from their own environment (WINRM_PASSWORD) and CredSSP's delegate list from their own
 *    --delegate-to / WINRM_TS_DELEGATE_TO (a job cannot widen where a worker hands its credentials).
 *  - A worker that dies: BullMQ sees its jobs' locks expire (--lock-duration) and puts them back in the queue. A job
 *    that had not been marked started simply runs on another worker. A job that had been started is reported for
 *    its host as "outcome unknown" and is not run again (the command may or may not have run), unless the submitter
 *    gave --retry-lost.
 */
import { hostname } from 'node:os';
import { InvalidArgumentError } from '../../index.js';
import type { RunSpec } from '../fanout-spec.js';

export const DEFAULT_QUEUE = 'winrm-ts';
export const JOB_VERSION = 1;

/** What a job carries: connection settings without any secret, the command, where to report. */
export interface QueueJob {
  v: number;
  runId: string;
  /** the host as given (PSComputerName) and its index in the run */
  host: string;
  index: number;
  /** the Redis stream results go to */
  stream: string;
  retryLost: boolean;
  conn: {
    port?: number;
    https?: boolean;
    username?: string;
    auth?: string;
    encryption?: 'auto' | 'always' | 'never';
    ca?: string;
    fingerprint?: string;
    insecure?: boolean;
    allowUnencrypted?: boolean;
    credsspMinVersion?: number;
    connectTimeout?: number;
    operationTimeout?: number;
    readTimeout?: number;
    hostTimeout?: number;
  };
  spec: RunSpec;
}

/** One entry of a run's result stream (field `e`, JSON). `i` is the host's index. */
export type QueueEvent =
  | { t: 'start'; i: number; w: string }
  | { t: 'line'; i: number; s: 'stdout' | 'stderr'; l: string }
  | { t: 'exit'; i: number; c: number }
  | { t: 'error'; i: number; code: string; m: string; unknown?: boolean };

export const streamKey = (queue: string, runId: string) => `${queue}:run:${runId}`;
export const startedKey = (queue: string, jobId: string) => `${queue}:started:${jobId}`;
/** results and markers expire after a day even when nobody collects them */
export const KEEP_SECONDS = 86400;

export function workerId(): string {
  return `${hostname()}:${process.pid}`;
}

/** Check a --queue URL; returns it. */
export function queueUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new InvalidArgumentError(`--queue must be a Redis URL like redis://HOST:PORT, got ${u}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new InvalidArgumentError(`--queue must be a redis:// or rediss:// URL, got ${url.protocol}`);
  return u;
}

/** A URL fit for messages: no password. */
export function safeUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(bad URL)';
  }
}

type BullMQ = typeof import('bullmq');
type IORedisCtor = typeof import('ioredis').Redis;

/** BullMQ and ioredis, imported only when a queue is used (CLI start-up stays fast). */
export async function loadQueueLibs(): Promise<{ bullmq: BullMQ; Redis: IORedisCtor }> {
  const [bullmq, ioredis] = await Promise.all([import('bullmq'), import('ioredis')]);
  return { bullmq, Redis: ioredis.Redis };
}

/** ioredis options: BullMQ workers need maxRetriesPerRequest null; a down Redis is reported, not retried forever silently. */
export function redisOptions(onError: (e: Error) => void): Record<string, unknown> {
  let reported = false;
  return {
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => {
      if (!reported && times >= 3) {
        reported = true;
        onError(new Error('cannot reach Redis (still trying)'));
      }
      return Math.min(times * 200, 2000);
    },
  };
}
