/**
 * WinRS client (MS-WSMV 3.1.4.x): a cmd shell on the remote host, commands with streamed stdout/stderr, stdin, exit
 * code, signals. I/O goes through a WSManClient (src/wsman/client.ts).
 *
 *   const shell = await WinrsShell.open(wsman, { codepage: 65001, workingDirectory, environment, noProfile });
 *   const cmd = await shell.run('cmd.exe', ['/c', 'dir']);   // cmd.stdout / cmd.stderr: Node Readables (async-iterable)
 *   cmd.stdin.write(...); cmd.stdin.end();  or await cmd.write(bytes) / await cmd.end()
 *   const code = await cmd.exitCode;  await cmd.terminate(); await cmd.ctrlC();
 *   await shell.close();
 * Round trips for a short command: Create, Command, Receive (until Done), Delete. The terminate Signal is skipped
 * when the command is already Done (sent only when aborting). Receive w:TimedOut faults are retried silently.
 * Output is streamed with backpressure: the next Receive goes out only when the consumer has read what was delivered.
 */
import { Readable, Writable } from 'node:stream';
import { AbortError, LocalProtocolError, OutcomeUnknownError, WSManFaultError } from '../errors.js';
import { isEnvelopeTooLargeFault, type WSManClient } from '../wsman/client.js';
import { isTimedOutFault, type Envelope } from '../wsman/envelope.js';
import { Action } from '../wsman/ns.js';
import {
  SHELL_CMD_URI,
  SIGNAL,
  commandLineBody,
  parseCommandResponse,
  parseCreateResponse,
  parseReceiveResponse,
  receiveBody,
  sendBody,
  shellBody,
  signalBody,
} from '../winrs/messages.js';

export interface ShellOpenOptions {
  /** default 65001 (UTF-8) */
  codepage?: number;
  workingDirectory?: string;
  environment?: Record<string, string>;
  noProfile?: boolean;
  /** seconds */
  idleTimeout?: number;
  resourceUri?: string;
  signal?: AbortSignal;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** WINRS_SKIP_CMD_SHELL (default false) */
  skipCmdShell?: boolean;
  /** WINRS_CONSOLEMODE_STDIN (default true) */
  consoleModeStdin?: boolean;
  /** send `args` (and the command) exactly as given, for callers that quote them themselves (default: quoteArg) */
  rawArguments?: boolean;
  /**
   * the command's whole stdin, known before it starts (e.g. empty: a caller whose input is /dev/null): sent with
   * End="true" before the first Receive, on the same connection (no second connection for a Send while the Receive
   * long-polls). For small inputs: a Send waits for the command to take its bytes.
   */
  stdin?: Uint8Array;
}

/**
 * Quote one argument for a remote command line (msvcrt rules, what CommandLineToArgvW undoes; also right for POSIX sh
 * in plain cases): plain words and paths go as they are, anything else in double quotes with `\` and `"` escaped.
 */
export function quoteArg(a: string): string {
  if (a !== '' && !/[\s"'&|<>;()^`$*?!{}[\]#~%]/.test(a)) return a; // plain words and paths go as they are
  let out = '"';
  let bs = 0;
  for (const ch of a) {
    if (ch === '\\') {
      bs++;
      continue;
    }
    if (ch === '"') {
      out += '\\'.repeat(bs * 2 + 1) + '"';
      bs = 0;
      continue;
    }
    out += '\\'.repeat(bs) + ch;
    bs = 0;
  }
  return out + '\\'.repeat(bs * 2) + '"';
}

/**
 * The command line `run(command, args)` sends: with arguments, the command and each argument are quoted where needed
 * (quoteArg) and the host joins them with spaces; without arguments, `command` is the whole command line as given.
 */
export function commandLineParts(command: string, args: string[] = [], raw = false): { command: string; args: string[] } {
  if (raw || !args.length) return { command, args };
  return { command: quoteArg(command), args: args.map(quoteArg) };
}

export class WinrsShell {
  private closed = false;
  private constructor(
    readonly wsman: WSManClient,
    readonly shellId: string,
    readonly resourceUri: string,
  ) {}

  static async open(wsman: WSManClient, o: ShellOpenOptions = {}): Promise<WinrsShell> {
    const uri = o.resourceUri ?? SHELL_CMD_URI;
    const options = [{ name: 'WINRS_CODEPAGE', value: String(o.codepage ?? 65001) }];
    if (o.noProfile !== undefined) options.unshift({ name: 'WINRS_NOPROFILE', value: o.noProfile ? 'TRUE' : 'FALSE' });
    const env = await wsman.invoke(
      Action.Create,
      uri,
      shellBody({ environment: o.environment, workingDirectory: o.workingDirectory, idleTimeout: o.idleTimeout }),
      { options, signal: o.signal },
    );
    return new WinrsShell(wsman, parseCreateResponse(env).shellId, uri);
  }

  get selectors(): Record<string, string> {
    return { ShellId: this.shellId };
  }

  /**
   * Start a command. With arguments, the command and each argument are quoted where needed (quoteArg: a space, quote
   * or shell character) and joined by spaces on the host, so `run('printf', ['%s|', 'a b'])` passes `a b` as one
   * argument; without arguments `command` is sent as a whole command line. `rawArguments` sends them unquoted.
   */
  async run(command: string, args: string[] = [], o: RunOptions = {}): Promise<WinrsCommand> {
    if (this.closed) throw new LocalProtocolError('the shell is closed');
    const line = commandLineParts(command, args, o.rawArguments);
    const env = await this.wsman.invoke(Action.Command, this.resourceUri, commandLineBody(line.command, line.args), {
      selectors: this.selectors,
      signal: o.signal,
      options: [
        { name: 'WINRS_CONSOLEMODE_STDIN', value: o.consoleModeStdin === false ? 'FALSE' : 'TRUE' },
        { name: 'WINRS_SKIP_CMD_SHELL', value: o.skipCmdShell ? 'TRUE' : 'FALSE' },
      ],
    });
    const cmd = new WinrsCommand(this, parseCommandResponse(env), o.signal);
    if (o.stdin) {
      try {
        await cmd.end(o.stdin);
      } catch (e) {
        await cmd.terminate().catch(() => undefined);
        throw e;
      }
    }
    cmd.start();
    return cmd;
  }

  /** Run to completion and collect the output (small outputs only; use run() to stream). */
  async exec(
    command: string,
    args: string[] = [],
    o: RunOptions & { input?: Uint8Array | string } = {},
  ): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const cmd = await this.run(command, args, o);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    cmd.stdout.on('data', (d: Buffer) => out.push(d));
    cmd.stderr.on('data', (d: Buffer) => err.push(d));
    if (o.input !== undefined) await cmd.end(typeof o.input === 'string' ? Buffer.from(o.input) : o.input);
    const exitCode = await cmd.exitCode;
    await Promise.all([finished(cmd.stdout), finished(cmd.stderr)]);
    return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode };
  }

  async close(o: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.wsman.invoke(Action.Delete, this.resourceUri, '', { selectors: this.selectors, signal: o.signal });
  }
}

function finished(r: Readable): Promise<void> {
  if (r.readableEnded || r.destroyed) return Promise.resolve();
  return new Promise((res) => {
    r.once('end', res);
    r.once('close', res);
    r.once('error', () => res());
  });
}

export class WinrsCommand {
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Node Writable for stdin (end() sends End="true") */
  readonly stdin: Writable;
  readonly exitCode: Promise<number>;
  private resolveExit!: (n: number) => void;
  private rejectExit!: (e: Error) => void;
  private done = false;
  private wanted: (() => void) | undefined;
  private sendChain: Promise<void> = Promise.resolve();
  private stdinEnded = false;
  private readonly abort = new AbortController();

  constructor(
    readonly shell: WinrsShell,
    readonly commandId: string,
    signal?: AbortSignal,
  ) {
    const wake = () => {
      const w = this.wanted;
      this.wanted = undefined;
      w?.();
    };
    this.stdout = new Readable({ read: wake, highWaterMark: 1 << 20 });
    this.stderr = new Readable({ read: wake, highWaterMark: 1 << 20 });
    this.stdin = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.write(chunk).then(() => cb(), cb);
      },
      final: (cb) => {
        this.end().then(() => cb(), cb);
      },
    });
    this.exitCode = new Promise<number>((res, rej) => {
      this.resolveExit = res;
      this.rejectExit = rej;
    });
    this.exitCode.catch(() => {
      /* surfaced to whoever awaits it */
    });
    if (signal) {
      const onAbort = () => {
        void this.terminate().catch(() => undefined);
        this.fail(new AbortError());
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      this.exitCode.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined);
    }
  }

  get isDone(): boolean {
    return this.done;
  }

  /** max raw bytes per Send so the envelope stays under MaxEnvelopeSize (base64: 4/3) */
  private get maxSend(): number {
    return Math.max(1024, Math.floor((this.shell.wsman.maxEnvelopeSize - 4096) / 4) * 3);
  }

  start(): void {
    void this.receiveLoop();
  }

  private fail(e: Error): void {
    if (this.done) return;
    this.done = true;
    this.abort.abort();
    // only error streams somebody listens to (an unhandled 'error' would crash the process)
    for (const r of [this.stdout, this.stderr]) r.destroy(r.listenerCount('error') ? e : undefined);
    this.rejectExit(e);
  }

  private receiveOnce(): Promise<Envelope> {
    const ws = this.shell.wsman;
    return ws.invoke(Action.Receive, this.shell.resourceUri, receiveBody(this.commandId), {
      selectors: this.shell.selectors,
      signal: this.abort.signal,
      options: [{ name: 'WSMAN_CMDSHELL_OPTION_KEEPALIVE', value: 'TRUE' }],
      cutBase64: 'Stream', // stream data decoded from the reply's bytes, outside the XML parser
    });
  }

  private get wantsMore(): boolean {
    return this.stdout.readableLength < this.stdout.readableHighWaterMark && this.stderr.readableLength < this.stderr.readableHighWaterMark;
  }

  private async receiveLoop(): Promise<void> {
    // the next Receive goes out before this reply's output is handed to the consumer (written to stdout...), so the
    // host prepares the next reply meanwhile; at most one reply is in flight, and only while the consumer keeps up
    let next: Promise<Envelope> | undefined;
    try {
      while (!this.done) {
        let env;
        try {
          if (next) {
            const p = next;
            next = undefined;
            env = await p;
          } else {
            // backpressure: wait until the consumer wants more
            while (!this.wantsMore && !this.done)
              await new Promise<void>((r) => {
                this.wanted = r;
              });
            if (this.done) return;
            env = await this.receiveOnce();
          }
        } catch (e) {
          if (isTimedOutFault(e)) continue; // long poll ended without output: ask again
          throw e;
        }
        const r = parseReceiveResponse(env);
        const finished = r.state?.state === 'Done';
        if (!finished && !this.done && this.wantsMore) {
          next = this.receiveOnce();
          next.catch(() => undefined);
        }
        for (const s of r.streams) {
          if (s.commandId && s.commandId.toUpperCase() !== this.commandId.toUpperCase()) continue;
          const target = s.name === 'stderr' ? this.stderr : this.stdout;
          if (s.data.length) target.push(Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength));
        }
        if (finished) {
          this.done = true;
          this.stdout.push(null);
          this.stderr.push(null);
          this.resolveExit(r.state!.exitCode ?? 0);
          return;
        }
      }
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /** Send stdin bytes (split to fit MaxEnvelopeSize). Serialized per command. */
  write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    return this.enqueue(bytes, false);
  }

  /** Send the last stdin bytes (optional) with End="true". */
  end(data?: Uint8Array | string): Promise<void> {
    if (this.stdinEnded) return this.sendChain;
    this.stdinEnded = true;
    const bytes = data === undefined ? new Uint8Array() : typeof data === 'string' ? Buffer.from(data) : data;
    return this.enqueue(bytes, true);
  }

  private enqueue(bytes: Uint8Array, end: boolean): Promise<void> {
    const ws = this.shell.wsman;
    const p = this.sendChain.then(async () => {
      if (this.done) return; // the command finished: nothing reads stdin any more
      let off = 0;
      let resized = false;
      do {
        const max = this.maxSend;
        const chunk = bytes.subarray(off, Math.min(off + max, bytes.length));
        const last = off + chunk.length >= bytes.length;
        const used = ws.maxEnvelopeSize;
        try {
          await ws.invoke(Action.Send, this.shell.resourceUri, sendBody(this.commandId, chunk, end && last), {
            selectors: this.shell.selectors,
            signal: this.abort.signal,
          });
          off += chunk.length;
        } catch (e) {
          if (this.done) return;
          // larger than the host's MaxEnvelopeSize: refused unprocessed, so it is safe to send again, once, re-split to
          // the host's size (read from the fault or winrm/config)
          if (!resized && isEnvelopeTooLargeFault(e) && (await ws.learnEnvelopeSize(e, used, this.abort.signal)) !== undefined) {
            resized = true;
            continue;
          }
          // the command ended while we were sending (Windows: InvalidSelectors on a finished command)
          if (e instanceof WSManFaultError && e.wsmanFaultCode === 2150858843) return;
          // input lost on the way (the connection dropped after the Send went out): the command's stdin is in an
          // unknown state, so the command fails rather than finish on partial input
          if (e instanceof OutcomeUnknownError) this.fail(e);
          throw e;
        }
      } while (off < bytes.length);
    });
    this.sendChain = p.catch(() => undefined);
    return p;
  }

  async signal(code: string): Promise<void> {
    await this.shell.wsman.invoke(Action.Signal, this.shell.resourceUri, signalBody(this.commandId, code), {
      selectors: this.shell.selectors,
    });
  }

  /** Stop the command (skipped when it is already Done). */
  async terminate(): Promise<void> {
    if (this.done) return;
    await this.signal(SIGNAL.terminate);
  }

  async ctrlC(): Promise<void> {
    if (this.done) return;
    await this.signal(SIGNAL.ctrl_c);
  }
}
