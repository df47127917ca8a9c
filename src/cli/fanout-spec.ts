/**
 * What the many-hosts runner (src/cli/fanout-run.ts) and the queue (src/cli/queue/) share: the fan-out flags, the
 * job a host runs, and stdout back-pressure.
 */

export interface FanoutFlags {
  throttle?: number;
  group?: boolean;
  json?: boolean;
  hostTimeout?: number;
  queue?: string;
  queueName?: string;
  retryLost?: boolean;
}

/** What a run job carries: everything a worker needs except secrets. */
export interface RunSpec {
  words: string[];
  cwd?: string;
  environment: Record<string, string>;
  codepage: number;
  noProfile?: boolean;
}

/** Wait while stdout's buffer is full (a slow reader slows the hosts down instead of growing memory). */
export async function stdoutRoom(): Promise<void> {
  if (process.stdout.writableNeedDrain)
    await new Promise<void>((r) => {
      process.stdout.once('drain', r);
      process.stdout.once('close', r);
    });
}
