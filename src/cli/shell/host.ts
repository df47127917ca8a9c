/**
 * The shell's PowerShell host (what ConsoleHost is for Enter-PSSession): text from Out-Default and Write-Host goes
 * to the terminal with its colours, errors/warnings/verbose/debug lines to stderr in PowerShell's colours, Read-Host,
 * Read-Host -AsSecureString (no echo), Get-Credential and PromptForChoice are asked through the line editor, and
 * Write-Progress draws a bar. The window size the remote formatter uses is the terminal's, kept up to date.
 */
import { ps, psCredential, type PSHostHandler, type PromptChoice, type PSValue } from '../../index.js';
import type { LineEditor } from './editor.js';
import { ProgressView } from './progress.js';

/** ConsoleColor (0 Black … 15 White) → SGR foreground code; background is +10. */
const SGR = [30, 34, 32, 36, 31, 35, 33, 37, 90, 94, 92, 96, 91, 95, 93, 97];
const DEFAULT_FG = 7;
const DEFAULT_BG = 0;

export interface ShellHost extends PSHostHandler {
  /** the code of a remote `exit N` ($host.SetShouldExit), once asked */
  exitCode: number | undefined;
  /** questions and prompts of the running command are cancelled through this signal */
  signal: AbortSignal | undefined;
  /** the command ended: clear the progress bar, finish a partial line */
  commandEnded(): void;
}

export function shellHost(editor: LineEditor, o: { color: boolean; out?: NodeJS.WriteStream; err?: NodeJS.WriteStream }): ShellHost {
  const out = o.out ?? process.stdout;
  const err = o.err ?? process.stderr;
  const progress = new ProgressView(err);
  // the text after the last newline written to the terminal (a prompt written with Write-Host -NoNewline): the line
  // editor redraws its line, so that text becomes the start of the question's prompt
  let partial = '';
  const size = () => ({ width: out.columns || 120, height: out.rows || 50 });
  const rawUI = {
    foregroundColor: DEFAULT_FG,
    backgroundColor: DEFAULT_BG,
    cursorPosition: { x: 0, y: 0 },
    windowPosition: { x: 0, y: 0 },
    cursorSize: 25,
    bufferSize: { width: size().width, height: 9001 },
    windowSize: size(),
    maxWindowSize: size(),
    maxPhysicalWindowSize: size(),
    windowTitle: 'winrm-ts',
  };
  out.on?.('resize', () => {
    const s = size();
    rawUI.bufferSize.width = s.width;
    rawUI.windowSize = s;
    rawUI.maxWindowSize = s;
    rawUI.maxPhysicalWindowSize = s;
  });
  const paint = (text: string, fg?: number, bg?: number) => {
    if (!o.color || !text) return text;
    const codes: number[] = [];
    if (fg !== undefined && fg !== DEFAULT_FG && SGR[fg] !== undefined) codes.push(SGR[fg]!);
    if (bg !== undefined && bg !== DEFAULT_BG && SGR[bg] !== undefined) codes.push(SGR[bg]! + 10);
    return codes.length ? `\x1b[${codes.join(';')}m${text}\x1b[0m` : text;
  };
  const emit = (stream: NodeJS.WriteStream, text: string) => {
    if (!text) return;
    if (progress.active) progress.clear();
    stream.write(text);
    const nl = text.lastIndexOf('\n');
    partial = nl < 0 ? partial + text : text.slice(nl + 1);
  };
  const ask = async (prompt: string, secret = false): Promise<string> => {
    if (progress.active) progress.clear();
    const lead = partial;
    partial = '';
    if (lead) out.write('\r');
    const a = await editor.ask(lead + prompt, { history: false, secret, signal: host.signal });
    if (a === undefined) throw new Error('no answer: the input ended (Ctrl+D)');
    return a;
  };
  const lines = (text: string) => {
    if (text) emit(out, text.endsWith('\n') ? text : text + '\n');
  };
  const choiceLine = (choices: PromptChoice[], defaults: number[]) => {
    const keys = choices.map((c, i) => (/&(.)/.exec(c.label)?.[1] ?? String(i)).toUpperCase());
    const parts = choices.map((c, i) => `[${keys[i]}] ${c.label.replace('&', '')}`);
    const def = defaults.length ? ` (default is "${defaults.map((d) => keys[d]).join(',')}")` : '';
    return { keys, text: `${parts.join('  ')}  [?] Help${def}: ` };
  };
  const pick = (choices: PromptChoice[], keys: string[], a: string): number => {
    const t = a.trim().toLowerCase();
    return choices.findIndex((c, i) => keys[i]!.toLowerCase() === t || c.label.replace('&', '').toLowerCase() === t);
  };
  const help = (choices: PromptChoice[], keys: string[]) =>
    lines(choices.map((c, i) => `${keys[i]} - ${c.helpMessage || c.label.replace('&', '')}`).join('\n'));
  const host: ShellHost = {
    exitCode: undefined,
    signal: undefined,
    commandEnded: () => {
      progress.clear();
      if (partial) {
        out.write('\n');
        partial = '';
      }
    },
    setShouldExit: (c) => {
      host.exitCode = c;
    },
    ui: {
      rawUI,
      write: (t, c) => emit(out, paint(t, c?.foreground, c?.background)),
      writeLine: (t, c) => emit(out, paint(t, c?.foreground, c?.background) + '\n'),
      writeErrorLine: (t) => emit(err, paint(t, 12) + '\n'),
      writeWarningLine: (t) => emit(err, paint(`WARNING: ${t}`, 14) + '\n'),
      writeVerboseLine: (t) => emit(err, paint(`VERBOSE: ${t}`, 14) + '\n'),
      writeDebugLine: (t) => emit(err, paint(`DEBUG: ${t}`, 14) + '\n'),
      writeProgress: (_id, record) => {
        if (partial) {
          out.write('\n');
          partial = '';
        }
        progress.update(record);
      },
      readLine: () => ask(''),
      readLineAsSecureString: () => ask('', true),
      prompt: async (caption, message, fields) => {
        lines([caption, message].filter(Boolean).join('\n'));
        const answers: Record<string, PSValue> = {};
        for (const f of fields) {
          const label = f.label || f.name;
          if (/SecureString$/.test(f.parameterType)) answers[f.name] = ps.secureString(await ask(label ? `${label}: ` : '', true));
          else if (/PSCredential$/.test(f.parameterType)) {
            const u = (await ask('User: ')).trim();
            answers[f.name] = psCredential(u, await ask(`Password for user ${u}: `, true));
          } else answers[f.name] = await ask(label ? `${label}: ` : '');
        }
        return answers;
      },
      promptForChoice: async (caption, message, choices, def) => {
        lines([caption, message].filter(Boolean).join('\n'));
        const { keys, text } = choiceLine(choices, def >= 0 ? [def] : []);
        for (;;) {
          const a = await ask(text);
          if (!a.trim() && def >= 0) return def;
          if (a.trim() === '?') {
            help(choices, keys);
            continue;
          }
          const i = pick(choices, keys, a);
          if (i >= 0) return i;
        }
      },
      promptForChoiceMultipleSelection: async (caption, message, choices, defs) => {
        lines([caption, message].filter(Boolean).join('\n'));
        const { keys, text } = choiceLine(choices, defs);
        const chosen: number[] = [];
        lines(text.replace(/: $/, ''));
        for (let n = 0; ; n++) {
          const a = await ask(`Choice[${n}]: `);
          if (!a.trim()) return chosen.length ? chosen : defs;
          if (a.trim() === '?') {
            help(choices, keys);
            continue;
          }
          const i = pick(choices, keys, a);
          if (i >= 0) chosen.push(i);
        }
      },
      promptForCredential: async (caption, message, userName) => {
        lines([caption, message].filter(Boolean).join('\n'));
        const u = userName || (await ask('User: ')).trim();
        return { userName: u, password: await ask(`Password for user ${u}: `, true) };
      },
    },
  };
  return host;
}
