/**
 * `winrm-ts ps --local | -H HOST | --ssh -H HOST  -c SCRIPT | -f FILE | --cmd NAME [--param K=V] [-- ARGS...] [--json]`:
 * run PowerShell through PSRP. Text output is PowerShell's own formatting, done in the remote runspace (the command
 * is followed by Out-Default, as in Enter-PSSession and `pwsh -c`; src/cli/format.ts): tables, lists, error views
 * on stderr, line by line. `--json` prints each output object as one JSON line instead. Arguments bind as pwsh
 * takes them and stdin is the pipeline's input (src/cli/format-args.ts). The exit code is non-zero when the
 * pipeline had errors (or the script's `exit N`). The transport is chosen from the flags by `SESSION_SOURCES`.
 * Uses only the public API.
 */
import type { Command } from 'commander';
import {
  AbortError,
  InvalidArgumentError,
  PSInvocationState,
  Session,
  toPlain,
  type PSHostHandler,
  type PSValue,
  type SessionOptions,
  type InvokeEvent,
} from '../../index.js';
import { cliHost } from './ps-host.js';
import { addSshOptions, SSH_SESSION_SOURCE } from './ps-ssh.js';
import { addWinrmOptions, WINRM_SESSION_SOURCE } from './ps-winrm.js';
import { addFanoutOptions, exitWith } from '../fanout-run.js';
import { psFanout, wantsPsFanout } from '../fanout-ps.js';
import {
  colorWanted,
  formatError,
  formatValue,
  formattedPipeline,
  isMissingCommand,
  outputWidth,
  remoteErrorView,
  textHost,
} from '../format.js';
import { commandOf, readsPipelineInput, scriptOf, stdinJson, stdinLines } from '../format-args.js';

export interface PsFlags {
  local?: boolean;
  pwsh?: string;
  command?: string;
  file?: string;
  json?: boolean;
  cmd?: string;
  param?: string[];
  inputJson?: boolean;
  inputLines?: boolean;
  [flag: string]: unknown;
}

/** How `ps` turns flags into Session.open options. The first source whose `matches` is true is used. */
export interface PsSessionSource {
  name: string;
  matches(flags: PsFlags): boolean;
  options(flags: PsFlags): Promise<SessionOptions> | SessionOptions;
}
export const SESSION_SOURCES: PsSessionSource[] = [
  SSH_SESSION_SOURCE,
  WINRM_SESSION_SOURCE,
  { name: 'local', matches: (f) => !!f.local, options: (f) => ({ transport: 'process', pwsh: f.pwsh }) },
];

export function register(program: Command): void {
  const cmd = program
    .command('ps')
    .description('run PowerShell through PSRP (--local: a local pwsh -s process)')
    .argument('[args...]', 'arguments (after --) as pwsh -File takes them: -Name value, -Switch, positional values')
    .option('--local', 'run against a local PowerShell process (pwsh -s) over the OutOfProc transport')
    .option('--pwsh <path>', 'pwsh to start for --local (default: $WINRM_TS_PWSH, else pwsh on PATH)')
    .option('-c, --command <script>', 'the script to run')
    .option('-f, --file <file.ps1>', 'a local script file to run (its param() block takes the arguments after --)')
    .option('--cmd <name>', 'command mode: run this command, not a script (NoLanguage / JEA endpoints); see --param')
    .option(
      '--param <name=value>',
      'a parameter of --cmd (repeatable; NAME alone is a switch)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--input-json', 'stdin is JSON or NDJSON: each value is one pipeline input object')
    .option(
      '--input-lines',
      'stdin lines are pipeline input (default: when stdin is not a terminal and the script reads $input or has a process block)',
    )
    .option('--json', "print each output object as one JSON line (NDJSON) instead of PowerShell's formatted text");
  addWinrmOptions(cmd);
  addSshOptions(cmd);
  cmd.action(async (args: string[], flags: PsFlags) => {
    if (wantsPsFanout(flags)) {
      await exitWith(await psFanout(args, flags));
      return;
    } // many hosts: src/cli/fanout-ps.ts
    process.exitCode = await runPs(args, flags);
  });
  addFanoutOptions(cmd, { queue: false });
  cmd.addHelpText(
    'after',
    `
Examples:
  winrm-ts ps -H win1 -u 'EXAMPLE\\alice' -c 'Get-Service | Select-Object -First 5'
  winrm-ts ps -H win1 -u 'EXAMPLE\\alice' -f deploy.ps1 -- -Version 2.1 -Force   # as pwsh -File binds them
  printf 'a\\nb\\n' | winrm-ts ps --local -c '$input | ForEach-Object { $_.ToUpper() }'
  winrm-ts ps -H win1 -u 'EXAMPLE\\alice' --json -c 'Get-Process | Select-Object -First 3 Name, Id'
  winrm-ts ps -H jea1 -u 'EXAMPLE\\alice' --configuration-name JEA --cmd Get-Date --param Format=o`,
  );
}

/** Pipeline input from stdin: --input-json, --input-lines, or lines when stdin is piped and the script reads input. */
function stdinInput(script: string | undefined, flags: PsFlags): AsyncIterable<PSValue> | undefined {
  if (flags.inputJson) return stdinJson();
  if (flags.inputLines) return stdinLines();
  if (!process.stdin.isTTY && script !== undefined && readsPipelineInput(script)) return stdinLines();
  return undefined;
}

export async function runPs(args: string[], flags: PsFlags): Promise<number> {
  const script = await scriptOf(args, flags);
  const source = SESSION_SOURCES.find((s) => s.matches(flags));
  if (!source) throw new InvalidArgumentError('say where to run: --local (a local pwsh), or -H HOST for WinRM');
  const json = !!flags.json;
  const width = outputWidth();
  const input = stdinInput(script, flags);
  let exitRequest: number | undefined;
  const base = cliHost({
    json,
    onExit: (c) => {
      exitRequest = c;
    },
  });
  const text = json ? undefined : textHost(base, { width, color: colorWanted(), stdinIsInput: input !== undefined });
  const host: PSHostHandler & { dispose(): void } = text ?? base;
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let session: Session;
  try {
    session = await Session.open({ ...(await source.options(flags)), host, signal: ac.signal });
  } catch (e) {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    host.dispose();
    if (input) process.stdin.destroy();
    if (ac.signal.aborted) {
      process.stderr.write('winrm-ts: interrupted\n');
      return 130;
    }
    throw e;
  }
  let hadErrors = false;
  let stopped = false;
  let failure: { error?: unknown } | undefined;
  try {
    const cmd = await commandOf(session, script, args, flags);
    let formatted = !json;
    let seen = 0;
    for (;;) {
      const spec = formatted ? formattedPipeline(cmd) : { statements: [[cmd]] };
      failure = undefined;
      for await (const ev of session.streamPipeline(spec, { input, signal: ac.signal })) {
        seen++;
        if (ev.type === 'state' && ev.state === PSInvocationState.Stopped) stopped = true;
        if (ev.type === 'state' && ev.state === PSInvocationState.Failed) {
          failure = { error: ev.error };
          hadErrors = true;
          continue;
        }
        if (emit(ev, json)) hadErrors = true;
      }
      // an endpoint without Out-Default (a bare restricted configuration): print the objects here instead
      if (formatted && failure && seen === 1 && !input && isMissingCommand(failure.error as never, 'Out-Default')) {
        formatted = false;
        seen = 0;
        hadErrors = false;
        continue;
      }
      break;
    }
    if (failure) {
      const view = formatted ? await remoteErrorView(session, failure.error as never, width) : undefined;
      const lines = view ?? (failure.error !== undefined ? [formatError(failure.error as never)] : []);
      for (const l of lines) {
        if (text) text.ui!.writeErrorLine!(l);
        else process.stderr.write(l + '\n');
      }
    }
  } catch (e) {
    // Ctrl+C: the Stopped state already said so; the AbortError that follows is not printed again
    if (!(e instanceof AbortError && ac.signal.aborted)) throw e;
    if (!stopped) process.stderr.write('winrm-ts: the pipeline was stopped\n');
    hadErrors = true;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    // stdin still open after the pipeline ended (the script stopped reading it) must not keep the process alive
    if (input) process.stdin.destroy();
    // the pool is closed on the host in every case (WinRM: Delete, bounded by the transport; a lost connection is
    // replaced for it), so no PowerShell is left behind
    await session.close().catch(() => undefined);
    host.dispose();
  }
  if (ac.signal.aborted) return 130; // Ctrl+C, as for `run` (the shell's convention: 128 + SIGINT)
  if (exitRequest !== undefined) return exitRequest;
  return hadErrors || (text?.state.errorLines ?? 0) > 0 ? 1 : 0;
}

/** Print one event; returns true when it is an error. */
function emit(ev: InvokeEvent, json: boolean): boolean {
  switch (ev.type) {
    case 'output':
      if (json) process.stdout.write(JSON.stringify(toPlain(ev.value)) + '\n');
      else {
        const t = formatValue(ev.value);
        if (t !== undefined) process.stdout.write(t + '\n');
      }
      return false;
    case 'error':
      process.stderr.write(formatError(ev.record) + '\n');
      return true;
    // warnings, verbose, debug and Write-Host text reach the terminal through the host (WriteWarningLine, WriteLine ...)
    // exactly as the server's preferences decide; the records themselves are not printed again
    case 'warning':
    case 'verbose':
    case 'debug':
    case 'information':
      return false;
    case 'progress':
      return false;
    case 'state':
      if (ev.state === PSInvocationState.Stopped) {
        process.stderr.write('winrm-ts: the pipeline was stopped\n');
        return true;
      }
      return false;
  }
}
