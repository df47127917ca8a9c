/**
 * `winrm-ts copy -H a,b,c LOCAL... REMOTE` and `winrm-ts fetch -H a,b,c REMOTE... DIR`: one transfer per host, N
 * hosts at a time (src/client/fanout.ts), over WinRM or --ssh (one transport for the list). `copy` sends the same
 * files to every host; `fetch` puts each host's files into DIR/<host>/ (created). Each name of the list resolves
 * through the config file's profiles. The password is read once. No progress bar: one summary line per host
 * (`[host] copied ...`), or with --json one object per host with PSComputerName, then the hosts table on stderr.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortError, fanout, InvalidArgumentError, Session, TimeoutError, type TransferOptions, type TransferResult } from '../index.js';
import { errorOutcome, FanoutPrinter } from './fanout-output.js';
import { exitWith } from './fanout-run.js';
import { passwordForList, printFanout, untilInterrupted } from './fanout-drive.js';
import { parseHostList } from './hosts.js';
import { SSH_SESSION_SOURCE } from './commands/ps-ssh.js';
import { WINRM_SESSION_SOURCE } from './commands/ps-winrm.js';

/** The flags of `copy` / `fetch` this uses (commands/copy.ts TransferFlags). */
export interface TransferFanoutFlags {
  host?: unknown;
  user?: unknown;
  password?: unknown;
  ssh?: unknown;
  sshKey?: unknown;
  json?: boolean;
  resume?: boolean;
  timeout?: number;
  chunkSize?: number;
  window?: number;
  throttle?: number;
  [flag: string]: unknown;
}

/** A host name as a directory name: characters other than letters, digits, `.`, `_`, `-` become `_` (`10.0.0.5:5985` → `10.0.0.5_5985`). */
export function hostDirName(host: string): string {
  const s = host.replace(/[^A-Za-z0-9._-]/g, '_');
  return s === '.' || s === '..' ? s.replace(/\./g, '_') : s;
}

/** The `--json` event that ends a transfer: {"type":"done", files, directories, bytes, movedBytes, seconds, bytesPerSecond}. */
export function transferDoneEvent(r: TransferResult): Record<string, unknown> {
  return {
    type: 'done',
    files: r.files.length,
    directories: r.directories,
    bytes: r.bytes,
    movedBytes: r.movedBytes,
    seconds: Number(r.seconds.toFixed(3)),
    bytesPerSecond: Math.round(r.bytesPerSecond),
  };
}

/** The one-line result of a transfer (the text `copy` / `fetch` print when done). */
export function transferSummary(r: TransferResult, verbed: string, human: (n: number) => string): string {
  return (
    `${verbed} ${r.files.length} ` +
    `file${r.files.length === 1 ? '' : 's'}${r.directories ? ` in ${r.directories} director${r.directories === 1 ? 'y' : 'ies'}` : ''}, ` +
    `${human(r.bytes)} in ${r.seconds.toFixed(1)} s ` +
    `(${human(r.bytesPerSecond)}/s${r.movedBytes < r.bytes ? `, ${human(r.bytes - r.movedBytes)} resumed` : ''}), SHA-256 ` +
    `verified`
  );
}

/**
 * Run `work` on every host of the list. For `fetch`, `work` gets the host's own destination directory
 * (`localDir/<host>`, created). Ends the process with the fan-out exit code (0: every host succeeded).
 */
export async function transferFanout(
  flags: TransferFanoutFlags,
  verb: 'copy' | 'fetch',
  human: (n: number) => string,
  work: (s: Session, o: TransferOptions, hostDir?: string) => Promise<TransferResult>,
  localDir?: string,
): Promise<void> {
  const hosts = parseHostList(String(flags.host));
  const f: TransferFanoutFlags = { ...flags };
  await passwordForList(f, hosts); // once, for every host
  const source = f.ssh ? SSH_SESSION_SOURCE : WINRM_SESSION_SOURCE;
  const printer = new FanoutPrinter(hosts, { json: !!f.json, group: false });
  const interrupted = () => new AbortError(`the ${verb} was interrupted; run it again to resume from the partial files`);
  const code = await untilInterrupted(async (signal) => {
    const events = fanout<never, TransferResult>(
      hosts,
      async (host, ctx) => {
        const dir = localDir !== undefined ? join(localDir, hostDirName(host)) : undefined;
        if (dir) await mkdir(dir, { recursive: true });
        const opts = await source.options({ ...f, host } as never);
        const session = await Session.open({ ...opts, exchangeKeys: false, signal: ctx.signal });
        try {
          return await work(
            session,
            {
              resume: f.resume !== false,
              signal: ctx.signal,
              chunkSize: f.chunkSize !== undefined ? Math.floor(f.chunkSize) : undefined,
              window: f.window !== undefined ? Math.floor(f.window) : undefined,
            },
            dir,
          );
        } finally {
          await session.close().catch(() => undefined);
        }
      },
      { throttle: f.throttle ? Math.floor(f.throttle) : undefined, timeoutMs: f.timeout ? f.timeout * 1000 : undefined, signal },
    );
    return printFanout(events, printer, {
      done: (host, r) => {
        printer.object(host, transferDoneEvent(r), transferSummary(r, verb === 'copy' ? 'copied' : 'fetched', human));
        return { kind: 'ps', hadErrors: false };
      },
      error: (_host, e) =>
        errorOutcome(
          e instanceof TimeoutError
            ? new TimeoutError(
                `the ${verb} did not finish within ${f.timeout} s on this host (the partial file is kept: run it again to resume)`,
              )
            : e,
        ),
    });
  }, interrupted);
  await exitWith(code);
}

/** Checks before a many-hosts transfer: stdin / stdout cannot be shared by several hosts. */
export function checkTransferFanout(verb: 'copy' | 'fetch', sources: string[], dest: string): void {
  if (verb === 'copy' && sources.includes('-'))
    throw new InvalidArgumentError('many hosts: - (stdin) can be read only once; copy a file instead');
  if (verb === 'fetch' && dest === '-')
    throw new InvalidArgumentError("many hosts: fetch into a directory (each host's files go to DIR/<host>/), not - (stdout)");
}
