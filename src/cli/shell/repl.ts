/**
 * The interactive loop of `winrm-ts shell` (Enter-PSSession): show the remote `prompt` as `[HOST]: PS path> `, read
 * a line (continuing with `>> ` while the remote parser says the input is incomplete), run it in the session's
 * runspace piped to Out-Default (errors merged, as PowerShell's console does) so the remote side formats the text
 * and it arrives through the host, and go on until `exit` or Ctrl+D. Ctrl+C stops the running pipeline (PSRP
 * stop) and keeps the session; at a prompt it drops the typed line. Tab completes through TabExpansion2.
 */
import { AbortError, PSInvocationState, type ClixmlValue, type Session } from '../../index.js';
import type { LineEditor, Completion } from './editor.js';
import type { ShellHost } from './host.js';

export interface ShellLoopOptions {
  session: Session;
  editor: LineEditor;
  host: ShellHost;
  /** what the prompt shows in brackets (the computer name) */
  label: string;
  /** after each command (history saving) */
  afterCommand?: () => void;
}

const text = (v: ClixmlValue): string =>
  typeof v === 'string' ? v : v === null ? '' : String((v as { toStringValue?: string }).toStringValue ?? v);

/** The remote prompt, as Enter-PSSession shows it; PowerShell's default when `prompt` fails or returns nothing. */
export async function remotePrompt(session: Session, label: string): Promise<string> {
  let p = '';
  try {
    const r = await session.invokePipeline({ statements: [[{ cmd: 'prompt', isScript: true }]], addToHistory: false });
    p = r.output.map(text).join('');
  } catch {
    /* the default below */
  }
  if (!p) p = 'PS> ';
  return `[${label}]: ${p}`;
}

/** Whether PowerShell's parser says the input goes on (an open brace, paren, quote or here-string). */
export async function incompleteInput(session: Session, input: string): Promise<boolean> {
  // only text that can be incomplete goes to the remote parser (one round trip saved on most lines)
  if (!/[{(["'@`|]/.test(input) && !/[`|,]\s*$/.test(input)) return false;
  const r = await session.invoke(
    'param($s) $e = $null; $null = [System.Management.Automation.Language.Parser]::ParseInput($s, [ref]$null, [ref]$e); ' +
      '[bool]@($e | Where-Object IncompleteInput).Count',
    { args: [input] },
  );
  return r.output[0] === true;
}

/** Tab: the remote's CommandCompletion (TabExpansion2) for the text before the cursor. */
export async function remoteCompletion(session: Session, before: string): Promise<Completion> {
  const r = await session.invoke(
    'param($s) $r = TabExpansion2 -inputScript $s -cursorColumn $s.Length; $r.ReplacementIndex; $r.ReplacementLength; foreach ' +
      '($m in $r.CompletionMatches) { $m.CompletionText }',
    { args: [before] },
  );
  const [index, length, ...matches] = r.output;
  const i = Number(index ?? 0);
  const n = Number(length ?? 0);
  if (!Number.isInteger(i) || i < 0 || i > before.length) return { matches: [], replace: '' };
  return { matches: matches.map(text), replace: before.slice(i, Math.min(before.length, i + n)) };
}

/**
 * Show terminating errors as PowerShell's console does (its error view: `Exception: boom`, `ParserError: ...`):
 * they are the newest entries of the remote $Error, formatted there; the local text when that is not possible (a
 * restricted endpoint).
 */
async function showErrors(session: Session, host: ShellHost, failures: string[]): Promise<void> {
  const width = host.ui?.rawUI?.bufferSize?.width ?? 120;
  let formatted = '';
  try {
    const r = await session.invokePipeline({
      statements: [
        [
          {
            cmd:
              'param($n, $w) if ($Error.Count -ge $n) { ($Error[($n - 1)..0] | ForEach-Object { if ($_ -is ' +
              '[System.Management.Automation.IContainsErrorRecord]) { $_.ErrorRecord } else { $_ } } | Out-String -Width ' +
              '$w).Trim("`r`n") }',
            isScript: true,
            args: [
              { name: null, value: failures.length },
              { name: null, value: width },
            ],
          },
        ],
      ],
      addToHistory: false,
    });
    formatted = r.output.map(text).join('\n');
  } catch {
    /* the local text below */
  }
  if (formatted.trim()) host.ui!.writeErrorLine!(formatted);
  else for (const f of failures) host.ui!.writeErrorLine!(f);
}

const CLEAR = /^\s*(clear|cls|clear-host)\s*;?\s*$/i;
const EXIT = /^\s*exit(?:\s+(-?\d+))?\s*;?\s*$/i;

/** Run the loop; resolves with the process exit code (0 after `exit` or Ctrl+D, N after `exit N`). */
export async function shellLoop(o: ShellLoopOptions): Promise<number> {
  const { session, editor, host } = o;
  let running: AbortController | undefined;
  editor.onInterrupt = () => {
    if (running) {
      running.abort();
      return;
    }
    editor.cancelLine();
  };
  for (;;) {
    // read one entry (several lines while the parser says it is incomplete)
    const prompt = await remotePrompt(session, o.label);
    let entry: string | undefined;
    try {
      editor.completing = true;
      const first = await editor.ask(prompt);
      if (first === undefined) {
        editor.write('\n');
        return 0;
      }
      entry = first;
      editor.completing = false;
      while (entry.trim() && (await incompleteInput(session, entry))) {
        const more = await editor.ask('>> ');
        if (more === undefined) {
          editor.write('\n');
          return 0;
        }
        if (more === '') break; // an empty line ends the entry, as in PowerShell's console
        entry += '\n' + more;
      }
    } catch (e) {
      if (e instanceof AbortError) continue; // Ctrl+C at the prompt: a new prompt
      throw e;
    } finally {
      editor.completing = false;
    }
    if (!entry.trim()) continue;
    const exit = EXIT.exec(entry);
    if (exit) return exit[1] !== undefined ? Number(exit[1]) : 0;
    // Clear-Host clears this terminal (the remote one has none)
    if (CLEAR.test(entry)) {
      if (editor.terminal) editor.write('\x1b[H\x1b[2J\x1b[3J');
      continue;
    }

    running = new AbortController();
    host.signal = running.signal;
    // errors that did not go through Out-Default (a terminating error: throw, -ErrorAction Stop, a parse error)
    const failures: string[] = [];
    try {
      for await (const ev of session.streamPipeline(
        {
          statements: [
            [
              { cmd: entry, isScript: true, useLocalScope: false, mergeToOutput: { error: true } },
              { cmd: 'Out-Default', useLocalScope: true },
            ],
          ],
          addToHistory: true,
        },
        { signal: running.signal },
      )) {
        if (ev.type === 'error') failures.push(text(ev.record));
        else if (ev.type === 'state' && ev.state === PSInvocationState.Failed && ev.error !== undefined) failures.push(text(ev.error));
      }
      if (failures.length) await showErrors(session, host, failures);
    } catch (e) {
      if (!(e instanceof AbortError)) {
        host.commandEnded();
        throw e;
      }
    } finally {
      running = undefined;
      host.signal = undefined;
      host.commandEnded();
      o.afterCommand?.();
    }
    if (host.exitCode !== undefined) return host.exitCode;
  }
}
