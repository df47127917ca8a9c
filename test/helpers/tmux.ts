/**
 * Drive a terminal program as a person would: a private tmux server (its own socket) runs the command in a
 * 160x40 pane; keys are sent with `send-keys`, the screen is read with `capture-pane`. The environment (a
 * password in WINRM_PASSWORD) reaches the command through the tmux server's environment, never its argv.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasCommand } from './peers.js';

export const tmuxPresent = (): boolean => hasCommand('tmux');

export interface Terminal {
  /** tmux key names or literal text (`send('21*2', 'Enter')`, `send('C-c')`) */
  send(...keys: string[]): void;
  /** type text literally (no key-name lookup) */
  type(text: string): void;
  screen(): string;
  /** the screen with its colours (SGR escapes) */
  screenWithColors(): string;
  /** wait until the screen matches (polled); throws with the screen when it does not within `timeoutMs` */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  close(): void;
}

let n = 0;
export function startTerminal(
  command: string,
  o: { env?: NodeJS.ProcessEnv; cwd?: string; width?: number; height?: number } = {},
): Terminal {
  const sock = `wts-test-${process.pid}-${++n}`;
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', sock, '-f', '/dev/null', ...args], {
      encoding: 'utf8',
      env: { ...(o.env ?? process.env), TMUX: '' },
      cwd: o.cwd,
    });
  // the pane stays after the command ends (remain-on-exit), so its last screen and exit line can be read
  tmux(
    'new-session',
    '-d',
    '-s',
    't',
    '-x',
    String(o.width ?? 160),
    '-y',
    String(o.height ?? 40),
    `${command}; echo "EXITED $?"; sleep 600`,
  );
  const screen = () => tmux('capture-pane', '-p', '-t', 't');
  return {
    send: (...keys) => {
      tmux('send-keys', '-t', 't', ...keys);
    },
    type: (text) => {
      tmux('send-keys', '-t', 't', '-l', text);
    },
    screen,
    screenWithColors: () => tmux('capture-pane', '-p', '-e', '-t', 't'),
    async waitFor(re, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const s = screen();
        const m = re.exec(s);
        if (m) return m;
        if (Date.now() > end) throw new Error(`the screen never matched ${re}:\n${s.replace(/\n+$/, '')}`);
        await sleep(100);
      }
    },
    close: () => {
      try {
        tmux('kill-server');
      } catch {
        /* already gone */
      }
    },
  };
}
