/**
 * The CLI's PowerShell host: Read-Host, Read-Host -AsSecureString (no echo on a TTY), PromptForChoice,
 * Get-Credential, Write-Host and Write-Progress, answered on the terminal (prompts on stderr, answers from stdin;
 * stdin may also be a pipe of answers, one per line).
 */
import { createInterface, type Interface } from 'node:readline';
import { ps, psCredential, type PSHostHandler, type PromptChoice, type PSValue } from '../../index.js';
import { readHidden } from '../options.js';

export function cliHost(opts: { json: boolean; onExit: (code: number) => void }): PSHostHandler & { dispose(): void } {
  let rl: Interface | undefined;
  const lines: string[] = [];
  const waiters: Array<(l: string | undefined) => void> = [];
  let eof = false;
  const reader = () => {
    if (!rl) {
      rl = createInterface({ input: process.stdin, terminal: false });
      rl.on('line', (l) => {
        const w = waiters.shift();
        if (w) w(l);
        else lines.push(l);
      });
      const mine = rl;
      rl.on('close', () => {
        if (rl !== mine) return;
        eof = true;
        for (const w of waiters.splice(0)) w(undefined);
      });
    }
  };
  const readLine = async (prompt: string, _secret = false): Promise<string> => {
    process.stderr.write(prompt);
    reader();
    const l = lines.length ? lines.shift() : eof ? undefined : await new Promise<string | undefined>((r) => waiters.push(r));
    if (l === undefined) throw new Error('no answer: stdin is closed (the script asked for input)');
    return l;
  };
  const readSecret = async (prompt: string): Promise<string> => {
    const stdin = process.stdin;
    if (!stdin.isTTY) return readLine(prompt, true);
    // the line reader must not see the secret: detach it while reading raw keys
    if (rl) {
      const r = rl;
      rl = undefined;
      r.close();
    }
    return readHidden(prompt, () => new Error('cancelled'));
  };
  const choiceText = (choices: PromptChoice[], def: number) =>
    choices
      .map((c, i) => {
        const m = /&(.)/.exec(c.label);
        return `[${m ? m[1]!.toUpperCase() : i}] ${c.label.replace('&', '')}${i === def ? ' (default)' : ''}`;
      })
      .join('  ');
  const out = opts.json ? process.stderr : process.stdout;
  return {
    setShouldExit: (c) => opts.onExit(c),
    ui: {
      readLine: () => readLine(''),
      readLineAsSecureString: () => readSecret(''),
      write: (t) => {
        out.write(t);
      },
      writeLine: (t) => {
        out.write(t + '\n');
      },
      writeErrorLine: (t) => {
        process.stderr.write(t + '\n');
      },
      writeWarningLine: (t) => {
        process.stderr.write(`WARNING: ${t}\n`);
      },
      writeVerboseLine: (t) => {
        process.stderr.write(`VERBOSE: ${t}\n`);
      },
      writeDebugLine: (t) => {
        process.stderr.write(`DEBUG: ${t}\n`);
      },
      writeProgress: () => {
        /* progress bars are not drawn */
      },
      prompt: async (caption, message, fields) => {
        if (caption || message) process.stderr.write(`${[caption, message].filter(Boolean).join('\n')}\n`);
        const out: Record<string, PSValue> = {};
        for (const f of fields) {
          const label = `${f.label || f.name}: `;
          if (/SecureString$/.test(f.parameterType)) out[f.name] = ps.secureString(await readSecret(label));
          else if (/PSCredential$/.test(f.parameterType)) {
            const u = (await readLine('User: ')).trim();
            out[f.name] = psCredential(u, await readSecret(`Password for ${u}: `));
          } else out[f.name] = await readLine(label);
        }
        return out;
      },
      promptForChoice: async (caption, message, choices, def) => {
        for (;;) {
          const a = (await readLine(`${caption ? caption + '\n' : ''}${message}\n${choiceText(choices, def)}: `)).trim();
          if (!a) return def;
          const i = choices.findIndex(
            (c, n) =>
              String(n) === a ||
              (/&(.)/.exec(c.label)?.[1] ?? '').toLowerCase() === a.toLowerCase() ||
              c.label.replace('&', '').toLowerCase() === a.toLowerCase(),
          );
          if (i >= 0) return i;
        }
      },
      promptForCredential: async (caption, message, userName) => {
        if (caption || message) process.stderr.write(`${caption}\n${message}\n`);
        const u = userName || (await readLine('User: ')).trim();
        const p = await readSecret(`Password for ${u}: `);
        return { userName: u, password: p };
      },
    },
    dispose: () => {
      rl?.close();
      process.stdin.unref?.();
    },
  };
}
