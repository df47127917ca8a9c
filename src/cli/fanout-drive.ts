/**
 * What the many-hosts commands (`run`, `ps`, `copy` / `fetch` over a host list) share around src/client/fanout.ts:
 * the password read once for the whole list, Ctrl+C / SIGTERM stopping every host, and the events printed through
 * a FanoutPrinter with stdout back-pressure (a slow reader slows the hosts down instead of growing memory).
 */
import type { FanoutEvent } from '../client/fanout.js';
import { errorOutcome, type FanoutPrinter, type HostOutcome } from './fanout-output.js';
import { stdoutRoom } from './fanout-spec.js';
import { hostFlags } from './hosts.js';
import { askPassword } from './options.js';

/** Flags the password question looks at. */
interface PasswordFlags {
  user?: unknown;
  password?: unknown;
  ssh?: unknown;
  sshKey?: unknown;
  [flag: string]: unknown;
}

/**
 * Ask for the password once, for every host of the list, when a user is given (on the command line or by a profile
 * of the config file) and no password is: not with -p, WINRM_PASSWORD, or an SSH key / agent. Sets `f.password`.
 */
export async function passwordForList(f: PasswordFlags, hosts: readonly string[]): Promise<void> {
  const withUser = f.user ? f : hosts.map((h) => hostFlags(f, h)).find((x) => x.user);
  const user = withUser?.user as string | undefined;
  if (!user || f.password !== undefined || process.env.WINRM_PASSWORD !== undefined) return;
  if (f.ssh && (f.sshKey || process.env.SSH_AUTH_SOCK)) return;
  f.password = await askPassword(user, withUser!);
}

/**
 * Run `start` with an abort signal that Ctrl+C and SIGTERM fire (with `reason` when given), for as long as it runs.
 */
export async function untilInterrupted<T>(start: (signal: AbortSignal) => Promise<T>, reason?: () => Error): Promise<T> {
  const ac = new AbortController();
  const onSig = () => ac.abort(reason?.());
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  try {
    return await start(ac.signal);
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

/** How a command prints its hosts' data and results. */
export interface FanoutHandlers<D, R> {
  data?(host: string, data: D): void;
  done(host: string, result: R): HostOutcome;
  /** What a host's failure becomes (default: its error's code and message). */
  error?(host: string, error: unknown): HostOutcome;
}

/** Print every event of a fan-out through `printer`; returns the fan-out's exit code (0: every host succeeded). */
export async function printFanout<D, R>(
  events: AsyncIterable<FanoutEvent<D, R>>,
  printer: FanoutPrinter,
  h: FanoutHandlers<D, R>,
): Promise<number> {
  for await (const ev of events) {
    switch (ev.type) {
      case 'start':
        printer.start(ev.host);
        break;
      case 'data':
        h.data?.(ev.host, ev.data);
        break;
      case 'done':
        printer.finish(ev.host, h.done(ev.host, ev.result));
        break;
      case 'error':
        printer.finish(ev.host, h.error ? h.error(ev.host, ev.error) : errorOutcome(ev.error));
        break;
    }
    await stdoutRoom();
  }
  return printer.close();
}
