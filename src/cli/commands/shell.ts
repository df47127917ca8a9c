/**
 * `winrm-ts shell -H HOST [connection flags] | --ssh -H HOST -u USER | --local`: an interactive PowerShell session on
 * one runspace pool, as Enter-PSSession gives (src/cli/shell/repl.ts). Every connection flag of `ps` applies (WinRM
 * auths including CredSSP, --ssh, --local). Uses only the public API.
 */
import type { Command } from 'commander';
import { InvalidArgumentError, Session, type SessionOptions } from '../../index.js';
import { addSshOptions, SSH_SESSION_SOURCE } from './ps-ssh.js';
import { addWinrmOptions, WINRM_SESSION_SOURCE } from './ps-winrm.js';
import { LineEditor } from '../shell/editor.js';
import { shellHost } from '../shell/host.js';
import { historyFile, loadHistory, saveHistory } from '../shell/history.js';
import { remoteCompletion, shellLoop } from '../shell/repl.js';

interface ShellFlags {
  local?: boolean;
  pwsh?: string;
  host?: string;
  ssh?: boolean;
  history?: boolean;
  [flag: string]: unknown;
}

const SOURCES: Array<{ matches(f: ShellFlags): boolean; options(f: ShellFlags): Promise<SessionOptions> | SessionOptions }> = [
  SSH_SESSION_SOURCE,
  WINRM_SESSION_SOURCE,
  { matches: (f) => !!f.local, options: (f) => ({ transport: 'process', pwsh: f.pwsh }) },
];

export function register(program: Command): void {
  const cmd = program
    .command('shell')
    .description('an interactive PowerShell session on the host (Enter-PSSession): prompt, history, Tab completion, Ctrl+C stops a command')
    .option('--local', 'a local PowerShell process (pwsh -s) instead of a remote host')
    .option('--pwsh <path>', 'pwsh to start for --local (default: $WINRM_TS_PWSH, the peer install, or PATH)')
    .option('--no-history', 'do not read or write the history file ($XDG_CONFIG_HOME/winrm-ts/history/HOST)');
  addWinrmOptions(cmd);
  addSshOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Keys: Enter runs the line (an open brace, paren, quote or here-string continues on a ">> " line; an empty line ends
it), Tab completes from the remote (TabExpansion2), Up/Down walk the history, Ctrl+C stops the running command (the
session stays) or drops the typed line, Ctrl+D or \`exit\` leaves. Colours on a terminal; NO_COLOR turns them off.

Example:
  winrm-ts shell -H server1 -u 'CORP\\alice'          # WinRM, Negotiate
  winrm-ts shell -H server1 -u alice --auth credssp --delegate-to wsman/server1
  winrm-ts shell --ssh -H server2 -u alice          # PSRP over SSH
  winrm-ts shell --local                            # a local pwsh`,
  );
  cmd.action(async (flags: ShellFlags) => {
    process.exitCode = await runShell(flags);
  });
}

export async function runShell(flags: ShellFlags): Promise<number> {
  const source = SOURCES.find((s) => s.matches(flags));
  if (!source) throw new InvalidArgumentError('say where to open the shell: -H HOST (WinRM), --ssh -H HOST, or --local');
  const label = flags.local && !flags.host ? 'localhost' : hostLabel(String(flags.host));
  const opts = await source.options(flags); // may prompt for a password (before the line editor takes the terminal)
  const color = !!process.stdout.isTTY && !process.env.NO_COLOR;
  const file = flags.history === false ? undefined : historyFile(flags.local && !flags.host ? 'localhost' : String(flags.host));
  let session: Session | undefined;
  const editor = new LineEditor({
    history: file ? loadHistory(file) : [],
    complete: (before) => (session ? remoteCompletion(session, before) : Promise.resolve({ matches: [], replace: '' })),
  });
  const host = shellHost(editor, { color });
  // Ctrl+C while connecting gives up
  const opening = new AbortController();
  editor.onInterrupt = () => opening.abort();
  try {
    session = await Session.open({ ...opts, host, signal: opening.signal });
  } catch (e) {
    editor.close();
    if (opening.signal.aborted) {
      process.stderr.write('winrm-ts: interrupted\n');
      return 130;
    }
    throw e;
  }
  let warned = false;
  const save = () => {
    if (!file) return;
    const err = saveHistory(file, editor.history);
    if (err && !warned) {
      warned = true;
      process.stderr.write(`winrm-ts: warning: the history was not saved (${err.message})\n`);
    }
  };
  try {
    if (!color) await session.invoke('if ($PSStyle) { $PSStyle.OutputRendering = "PlainText" }').catch(() => undefined);
    return await shellLoop({ session, editor, host, label, afterCommand: save });
  } finally {
    save();
    editor.close();
    await session.close().catch(() => undefined);
    process.stdin.unref?.();
  }
}

/** The computer name of -H as the prompt shows it (no port, no brackets, no user). */
function hostLabel(h: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(h) ?? /^([^:]+)(?::\d+)?$/.exec(h);
  return m ? m[1]! : h;
}
