/**
 * `winrm-ts worker --queue redis://HOST:PORT [--queue-name NAME] [--throttle N] [--lock-duration S] [--delegate-to P]`
 * Processes the fan-out jobs that `winrm-ts run --queue` submits (src/cli/queue/). Run any number of workers on any
 * number of machines. The password comes from this process's WINRM_PASSWORD, never from the queue.
 */
import type { Command } from 'commander';
import { DEFAULT_THROTTLE, InvalidArgumentError } from '../../index.js';
import { collect } from '../options.js';

const pos = (name: string, int: boolean) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n)))
    throw new InvalidArgumentError(`${name} must be a positive ${int ? 'integer' : 'number'}, got ${v}`);
  return n;
};

export function register(program: Command): void {
  program
    .command('worker')
    .description('process fan-out jobs from a BullMQ queue on Redis (submitted by run --queue)')
    .requiredOption('--queue <redis-url>', 'the Redis server: redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://')
    .option('--queue-name <name>', 'BullMQ queue name', 'winrm-ts')
    .option('--throttle <n>', `hosts at a time (default ${DEFAULT_THROTTLE})`, pos('--throttle', true))
    .option('--lock-duration <s>', "seconds before a silent worker's jobs count as lost (default 30)", pos('--lock-duration', false))
    .option(
      '--delegate-to <pattern>',
      'CredSSP: allow delegating credentials to wsman/HOST (repeatable; also WINRM_TS_DELEGATE_TO)',
      collect,
    )
    .option('--allow-unencrypted', 'let jobs that ask for it send Basic credentials over plain HTTP (a job alone cannot)')
    .option('--quiet', 'no per-job log lines')
    .action(
      async (f: {
        queue: string;
        queueName?: string;
        throttle?: number;
        lockDuration?: number;
        delegateTo?: string[];
        allowUnencrypted?: boolean;
        quiet?: boolean;
      }) => {
        const { runWorker } = await import('../queue/worker.js');
        process.exitCode = await runWorker(f);
        setImmediate(() => process.exit(process.exitCode as number));
      },
    );
}
