/**
 * The shell's line editor: node:readline on the terminal (editing keys, history, Tab), with what a PowerShell
 * console needs on top: questions that stay out of the history (Read-Host), secret questions with no echo,
 * Ctrl+C delivered to the shell (stop the running command / clear the line) and type-ahead kept for the next prompt.
 * Without a terminal (stdin piped) it reads plain lines.
 */
import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';
import { AbortError } from '../../index.js';

/** What a completion returns: the candidates and the text before the cursor they replace. */
export interface Completion {
  matches: string[];
  replace: string;
}

export interface EditorOptions {
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
  history?: string[];
  historySize?: number;
  /** Tab: candidates for the text before the cursor (only at the shell's own prompt) */
  complete?: (before: string) => Promise<Completion>;
}

interface Pending {
  resolve(line: string | undefined): void;
  reject(e: Error): void;
}

export class LineEditor {
  readonly terminal: boolean;
  private readonly rl: Interface;
  private readonly out: NodeJS.WriteStream;
  private muted = false;
  private pending: Pending | undefined;
  private readonly typeAhead: string[] = [];
  private closed = false;
  /** Tab completes only while this is true (the shell's own prompt, not Read-Host) */
  completing = false;
  /** Ctrl+C: the shell decides (stop the command, or clear the line) */
  onInterrupt: () => void = () => undefined;

  constructor(o: EditorOptions = {}) {
    const input = o.input ?? process.stdin;
    this.out = o.output ?? process.stdout;
    this.terminal = !!input.isTTY && !!this.out.isTTY;
    const real = this.out;
    // readline echoes through this stream; muted while a secret is typed
    const echo = new Writable({
      write: (c, _e, cb) => {
        if (!this.muted) real.write(c);
        cb();
      },
    }) as Writable & { columns?: number; rows?: number; isTTY?: boolean };
    Object.defineProperty(echo, 'columns', { get: () => real.columns ?? 80 });
    Object.defineProperty(echo, 'rows', { get: () => real.rows ?? 24 });
    echo.isTTY = this.terminal;
    real.on('resize', () => echo.emit('resize'));
    const complete = o.complete;
    this.rl = createInterface({
      input,
      output: echo,
      terminal: this.terminal,
      history: [...(o.history ?? [])],
      historySize: o.historySize ?? 1000,
      tabSize: 4,
      completer: complete
        ? (line: string, cb: (err: Error | null, r: [string[], string]) => void) => {
            if (!this.completing) {
              cb(null, [[], line]);
              return;
            }
            complete(line).then(
              (c) => cb(null, this.fit(c)),
              () => cb(null, [[], line]),
            );
          }
        : undefined,
    });
    this.rl.on('SIGINT', () => this.onInterrupt());
    this.rl.on('line', (l) => {
      const p = this.pending;
      if (p) {
        this.pending = undefined;
        p.resolve(l);
      } else this.typeAhead.push(l);
    });
    this.rl.on('close', () => {
      this.closed = true;
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(undefined);
    });
  }

  /**
   * Make readline's completion work for PowerShell's matches: readline inserts the common part after the text it
   * was given, so when the matches do not start with the replaced text as typed (case, quoting) that text is first
   * rewritten here to the matches' common prefix.
   */
  private fit(c: Completion): [string[], string] {
    if (!c.matches.length) return [[], c.replace];
    if (c.matches.every((m) => m.startsWith(c.replace))) return [c.matches, c.replace];
    let prefix = c.matches[0]!;
    for (const m of c.matches) {
      let i = 0;
      while (i < prefix.length && i < m.length && prefix[i]!.toLowerCase() === m[i]!.toLowerCase()) i++;
      prefix = prefix.slice(0, i);
    }
    if (c.matches.length === 1) prefix = c.matches[0]!;
    else if (prefix.length < c.replace.length) return [[], c.replace]; // nothing both safe and useful to insert
    for (let i = 0; i < c.replace.length; i++) this.rl.write(null as unknown as string, { name: 'backspace' });
    this.rl.write(prefix);
    return [c.matches.length === 1 ? [] : c.matches, prefix];
  }

  get isClosed(): boolean {
    return this.closed;
  }
  /** The history, newest first (readline's order). */
  get history(): string[] {
    return [...((this.rl as unknown as { history: string[] }).history ?? [])];
  }
  /** The text typed so far on the current line. */
  get line(): string {
    return this.rl.line;
  }

  /**
   * Show `prompt` and read one line. `history: false` keeps the answer out of the history (Read-Host), `secret`
   * hides what is typed. Resolves undefined at end of input (Ctrl+D); rejects with AbortError when `signal` fires.
   */
  ask(prompt: string, o: { history?: boolean; secret?: boolean; signal?: AbortSignal } = {}): Promise<string | undefined> {
    if (o.signal?.aborted) return Promise.reject(new AbortError('the question was cancelled'));
    if (this.typeAhead.length && !o.secret) {
      const l = this.typeAhead.shift()!;
      this.out.write(`${prompt}${l}\n`);
      return Promise.resolve(l);
    }
    if (this.closed) return Promise.resolve(undefined);
    const hist = (this.rl as unknown as { history: string[] }).history;
    const before = o.history === false || o.secret ? [...hist] : undefined;
    return new Promise<string | undefined>((resolve, reject) => {
      const settle = () => {
        o.signal?.removeEventListener('abort', onAbort);
        if (this.muted) {
          this.muted = false;
          if (this.terminal) this.out.write('\n');
        }
        if (before) hist.splice(0, hist.length, ...before);
      };
      const onAbort = () => {
        if (this.pending !== p) return;
        this.pending = undefined;
        this.discardLine();
        settle();
        reject(new AbortError('the question was cancelled'));
      };
      const p: Pending = {
        resolve: (l) => {
          settle();
          resolve(l);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      };
      this.pending = p;
      o.signal?.addEventListener('abort', onAbort, { once: true });
      if (o.secret && this.terminal) {
        this.out.write(prompt);
        this.rl.setPrompt('');
        this.muted = true;
        this.rl.prompt();
      } else {
        this.rl.setPrompt(prompt);
        this.rl.prompt();
      }
    });
  }

  /** Ctrl+C at a prompt: show ^C, drop the typed text; the open question rejects with AbortError. */
  cancelLine(): boolean {
    const p = this.pending;
    if (!p) {
      // keys typed before the prompt was drawn (type-ahead) are dropped the same way
      if (this.terminal && this.rl.line) this.discardLine();
      return false;
    }
    this.pending = undefined;
    this.discardLine();
    p.reject(new AbortError('the line was cancelled'));
    return true;
  }

  /** Drop the typed text without echo; the cursor moves to a new line. */
  private discardLine(): void {
    if (!this.terminal) return;
    const wasMuted = this.muted;
    this.rl.write(null as unknown as string, { ctrl: true, name: 'e' });
    if (!wasMuted) this.out.write('^C');
    this.muted = true;
    this.rl.write(null as unknown as string, { ctrl: true, name: 'u' });
    this.muted = false;
    this.out.write('\n');
  }

  /** Write text while no question is open (command output): goes straight to the terminal. */
  write(text: string): void {
    this.out.write(text);
  }

  close(): void {
    if (!this.closed) this.rl.close();
  }
}
