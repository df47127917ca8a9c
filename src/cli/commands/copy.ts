/**
 * `winrm-ts copy [connection flags] LOCAL... REMOTE` (Copy-Item -ToSession) and the pieces `fetch` shares with it:
 * the transfer flags, opening the Session through the `ps` session sources (WinRM, --ssh, --local), the progress
 * bar (cli-progress, on a terminal only), `--json` NDJSON events, `--timeout`. Uses only the public API.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import {
  AbortError,
  InvalidArgumentError,
  Session,
  TimeoutError,
  type TransferEvent,
  type TransferResult,
  type TransferOptions,
} from '../../index.js';
import { SESSION_SOURCES, type PsFlags } from './ps.js';
import { addSshOptions } from './ps-ssh.js';
import { addWinrmOptions } from './ps-winrm.js';
import { isHostList } from '../hosts.js';
import { checkTransferFanout, transferDoneEvent, transferFanout, transferSummary } from '../fanout-transfer.js';

export interface TransferFlags extends PsFlags {
  resume?: boolean;
  json?: boolean;
  quiet?: boolean;
  progress?: boolean;
  timeout?: number;
  chunkSize?: number;
  window?: number;
  throttle?: number;
}

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got ${v}`);
  return n;
};

/** The transfer flags and the connection flags of `ps` (WinRM, --ssh, --local). */
export function addTransferOptions(cmd: Command): Command {
  cmd
    .option('--no-resume', 'start every file over instead of continuing a matching partial file')
    .option('--json', 'print progress and results as NDJSON events on stdout (no bar)')
    .option('-q, --quiet', 'no progress bar and no summary')
    .option(
      '--timeout <s>',
      'give up when the whole transfer takes longer (seconds; the partial file is kept for --resume)',
      positive('--timeout'),
    )
    .option('--chunk-size <bytes>', 'bytes per chunk (default: fitted to the envelope / fragment size)', positive('--chunk-size'))
    .option('--window <n>', 'chunks in flight (default 8)', positive('--window'))
    .option(
      '--throttle <n>',
      'many hosts (-H a,b,c or -H @hosts.txt): hosts at a time (default 32; --timeout then applies to each host)',
      positive('--throttle'),
    )
    .option('--local', 'use a local PowerShell process (pwsh -s) as the "remote" side')
    .option('--pwsh <path>', 'pwsh to start for --local');
  addWinrmOptions(cmd);
  addSshOptions(cmd);
  return cmd;
}

const MiB = 1024 * 1024;
export function human(n: number): string {
  if (n >= 1024 * MiB) return `${(n / (1024 * MiB)).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
function clock(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--:--';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const x = Math.floor(s % 60);
  return h
    ? `${h}:${String(m).padStart(2, '0')}:${String(x).padStart(2, '0')}`
    : `${String(m).padStart(2, '0')}:${String(x).padStart(2, '0')}`;
}

/** How progress is shown: a bar on a terminal, NDJSON with --json, nothing otherwise. */
export function progressReporter(flags: TransferFlags): {
  onProgress?: (ev: TransferEvent) => void;
  finish(r: TransferResult | undefined, verb: string): void;
} {
  if (flags.json) {
    return {
      onProgress: (ev) => process.stdout.write(JSON.stringify(ev) + '\n'),
      finish: (r) => {
        if (r) process.stdout.write(JSON.stringify(transferDoneEvent(r)) + '\n');
      },
    };
  }
  if (flags.quiet || !process.stderr.isTTY) return { finish: () => undefined };
  let bar: cliProgress.SingleBar | undefined;
  let name = '';
  return {
    onProgress: (ev) => {
      if (ev.type === 'start') {
        bar = new cliProgress.SingleBar(
          {
            format:
              ev.totalBytes === undefined
                ? '{done} | {rate} | {name}'
                : '{bar} {percentage}% | {done} of {all} | {rate} | ETA {etah} | {name}',
            stream: process.stderr,
            hideCursor: true,
            barsize: 24,
            fps: 8,
            etaBuffer: 1,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(ev.totalBytes ?? 1, ev.resumedBytes, {
          done: human(ev.resumedBytes),
          all: human(ev.totalBytes ?? 0),
          rate: '-',
          etah: '--:--',
          name: '',
        });
      } else if (ev.type === 'file') {
        name = ev.local === '-' ? ev.remote : ev.local;
        const w = 32;
        if (name.length > w) name = '…' + name.slice(-w + 1);
      } else if (ev.type === 'progress') {
        bar?.update(ev.totalBytes === undefined ? 0 : ev.doneBytes, {
          done: human(ev.doneBytes),
          rate: `${human(ev.bytesPerSecond)}/s`,
          etah: clock(ev.etaSeconds),
          name,
        });
      }
    },
    finish: (r, verb) => {
      bar?.stop();
      if (r) process.stderr.write(transferSummary(r, verb, human) + '\n');
    },
  };
}

/**
 * Open the session for the flags, run `work`, close. `--timeout` covers everything (connecting included) and
 * turns into a TimeoutError; Ctrl+C stops the remote pipeline (partial files stay for a later resume).
 */
export async function withTransferSession(
  flags: TransferFlags,
  verb: string,
  work: (s: Session, o: TransferOptions) => Promise<TransferResult>,
): Promise<number> {
  const source = SESSION_SOURCES.find((s) => s.matches(flags));
  if (!source) throw new InvalidArgumentError('say where the remote side is: -H HOST (WinRM), --ssh -H HOST, or --local');
  const ac = new AbortController();
  const onSig = (sig: NodeJS.Signals) =>
    ac.abort(new AbortError(`the ${verb} was interrupted (${sig}); run it again to resume from the partial file`));
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const timer = flags.timeout
    ? setTimeout(
        () =>
          ac.abort(
            new TimeoutError(`the ${verb} did not finish within ${flags.timeout} s (the partial file is kept: run it again to resume)`),
          ),
        flags.timeout * 1000,
      )
    : undefined;
  const report = progressReporter(flags);
  let session: Session | undefined;
  let result: TransferResult | undefined;
  try {
    // no session key exchange: a transfer sends no SecureString, and the RSA key costs both ends CPU
    session = await Session.open({ ...(await source.options(flags)), exchangeKeys: false, signal: ac.signal });
    result = await work(session, {
      resume: flags.resume !== false,
      signal: ac.signal,
      onProgress: report.onProgress,
      chunkSize: flags.chunkSize !== undefined ? Math.floor(flags.chunkSize) : undefined,
      window: flags.window !== undefined ? Math.floor(flags.window) : undefined,
    });
  } catch (e) {
    if (ac.signal.aborted && ac.signal.reason instanceof Error) throw ac.signal.reason;
    throw e;
  } finally {
    report.finish(result, verb === 'copy' ? 'copied' : 'fetched');
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    await session?.close().catch(() => undefined);
  }
  return 0;
}

export function register(program: Command): void {
  const cmd = program
    .command('copy')
    .description('copy local files or directories to the remote host over PSRP (Copy-Item -ToSession): resumable, SHA-256 verified')
    .argument(
      '<paths...>',
      'LOCAL... REMOTE: local files / directories (or - for stdin), then the remote path (a directory to copy into, or the new name)',
    )
    .addHelpText(
      'after',
      "\nExamples:\n  winrm-ts copy -H host -u 'EXAMPLE\\alice' ./app.zip C:\\deploy\\\n  winrm-ts copy --ssh -H host -u alice " +
        "./site /srv/www/site\n  tar c dir | winrm-ts copy -H host -u 'EXAMPLE\\alice' - C:\\tmp\\dir.tar",
    );
  addTransferOptions(cmd);
  cmd.action(async (paths: string[], flags: TransferFlags) => {
    if (paths.length < 2) throw new InvalidArgumentError('give LOCAL... REMOTE: at least one local path and the remote path');
    const remote = paths[paths.length - 1]!;
    const locals = paths.slice(0, -1);
    if (locals.includes('-') && locals.length > 1) throw new InvalidArgumentError('- (stdin) is the only source when given');
    if (isHostList(flags.host as string | undefined) && !flags.local) {
      // many hosts: src/cli/fanout-transfer.ts
      checkTransferFanout('copy', locals, remote);
      await transferFanout(flags, 'copy', human, (s, o) => s.copy(locals, remote, o));
      return;
    }
    process.exitCode = await withTransferSession(flags, 'copy', (s, o) => s.copy(locals[0] === '-' ? process.stdin : locals, remote, o));
  });
}
