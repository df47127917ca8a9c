/**
 * `winrm-ts run -H HOST [connection flags] [--cwd D] [--env K=V]... [--codepage N] -- COMMAND ARGS...`
 * Runs one command in a WinRS cmd shell: remote stdout -> stdout, stderr -> stderr, local stdin -> the command
 * (EOF is sent as End="true"), exits with the remote exit code. One operand is sent as a whole command line;
 * several are joined with quoting where needed (msvcrt rules; plain POSIX sh cases too). A failure (e.g. a connection
 * lost while the command ran: OutcomeUnknownError) exits non-zero; Ctrl+C terminates the command and exits 130; in
 * every case the remote shell is deleted (best effort, bounded).
 */
import type { Command } from 'commander';
import { fstatSync, statSync } from 'node:fs';
// the modules behind the public API (src/index.ts), not index.js itself: `run` starts without ssh2, the endpoint or PSRP
import { connect } from '../../client/client.js';
import { addConnectionOptions, collect, connectionFromOptions, type ConnectionFlags } from '../options.js';
import { addFanoutOptions, exitWith, runFanout, runSpecFromFlags, wantsRunFanout } from '../fanout-run.js';

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('run a command on a WinRM host (WinRS cmd shell) and exit with its exit code')
    .argument('<command...>', 'the command and its arguments (put them after --)')
    .addHelpText(
      'after',
      `
Examples:
  winrm-ts run -H win1 -u 'EXAMPLE\\alice' -- ipconfig /all
  echo data | winrm-ts run -H win1 -u 'EXAMPLE\\alice' -- findstr a      # stdin goes to the command
  winrm-ts run -H win1 -u 'EXAMPLE\\alice' --auth credssp --delegate-to wsman/win1 -- whoami   # the double hop
  winrm-ts run -H @hosts.txt -u 'EXAMPLE\\alice' --json -- hostname      # many hosts, NDJSON`,
    );
  addConnectionOptions(cmd)
    .option('--cwd <dir>', 'working directory on the host')
    .option('--env <K=V>', 'environment variable for the remote shell (repeatable)', collect)
    .option('--codepage <n>', 'console code page (default 65001 = UTF-8)')
    .option('--no-profile', 'do not load the user profile (WINRS_NOPROFILE)')
    .action(async (words: string[], flags: ConnectionFlags & { cwd?: string; env?: string[]; codepage?: string; profile?: boolean }) => {
      // many hosts (-H a,b,c / -H @file), --json or --queue: src/cli/fanout-run.ts
      if (wantsRunFanout(flags)) {
        await exitWith(await runFanout(words, flags));
        return;
      }
      // --env / --codepage / --cwd / --no-profile: read once, the same way for one host and for many
      const { environment, codepage, cwd, noProfile } = runSpecFromFlags(words, flags);
      const client = connect(await connectionFromOptions(flags));
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      let code = 1;
      try {
        const shell = await client.openShell({ codepage, workingDirectory: cwd, environment, noProfile, signal: ac.signal });
        try {
          const [command, ...rest] = words;
          // one operand is a whole command line; several are quoted where needed by the library (quoteArg)
          // stdin known to be empty (/dev/null, an empty file): its end goes with the command, before the first Receive
          const noInput = stdinIsEmpty();
          const run = await shell.run(command!, rest, { signal: ac.signal, stdin: noInput ? new Uint8Array() : undefined });
          run.stdout.pipe(process.stdout, { end: false });
          run.stderr.pipe(process.stderr, { end: false });
          const stdin = noInput ? undefined : process.stdin;
          const onIn = (d: Buffer) => {
            stdin?.pause();
            run.write(d).then(
              () => stdin?.resume(),
              () => undefined,
            );
          };
          const onEnd = () => {
            void run.end().catch(() => undefined);
          };
          stdin?.on('data', onIn);
          stdin?.once('end', onEnd);
          stdin?.on('error', () => undefined);
          try {
            code = await run.exitCode.catch((e: unknown) => {
              if (ac.signal.aborted) {
                process.stderr.write('winrm-ts: interrupted; the remote command was terminated\n');
                return 130;
              }
              throw e;
            });
            await Promise.all([drained(run.stdout), drained(run.stderr)]);
          } finally {
            if (stdin) {
              stdin.off('data', onIn);
              stdin.off('end', onEnd);
              stdin.pause();
              if (typeof (stdin as { unref?: () => void }).unref === 'function') (stdin as { unref: () => void }).unref();
            }
          }
        } finally {
          // whatever happened, delete the shell on the host (its processes end with it): best effort, bounded; a lost
          // connection is replaced by a new one for this
          await shell.close({ signal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) }).catch(() => undefined);
        }
      } catch (e) {
        if (!ac.signal.aborted) throw e;
        process.stderr.write('winrm-ts: interrupted\n');
        code = 130;
      } finally {
        client.close();
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
      process.exitCode = code >= 0 && code <= 255 ? code : code & 0xff || 1;
      await new Promise<void>((r) => process.stdout.write('', () => r()));
      // stdin may keep the event loop alive (an open pipe nobody writes to): we are done
      setImmediate(() => process.exit(process.exitCode as number));
    });
  addFanoutOptions(cmd, { queue: true });
}

/** True when this process's stdin is /dev/null or an empty regular file (its end is known before the command starts). */
function stdinIsEmpty(): boolean {
  try {
    const st = fstatSync(0);
    if (st.isFile()) return st.size === 0;
    return st.isCharacterDevice() && st.rdev === statSync('/dev/null').rdev;
  } catch {
    return false;
  }
}

/** How long the shell's Delete may take after a failure or Ctrl+C. */
const CLEANUP_TIMEOUT_MS = 10_000;

function drained(r: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean }): Promise<void> {
  if (r.readableEnded || r.destroyed) return Promise.resolve();
  return new Promise((res) => {
    r.once('end', () => res());
    r.once('close', () => res());
  });
}
