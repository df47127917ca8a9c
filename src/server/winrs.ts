/**
 * The endpoint's WinRS cmd shell (ResourceURI http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd),
 * answering as Windows does (response shapes of test_winrs_*.yml). Commands run through `/bin/sh -c` with the
 * command line = command + arguments joined by spaces (so pywinrm's run_cmd works); a leading `cmd /c` or
 * `cmd.exe /c` is dropped; WINRS_SKIP_CMD_SHELL=TRUE runs the executable directly (no shell).
 * Receive is a long poll: it returns as soon as output is there (coalescing briefly so that a short command's output
 * and its exit travel in one reply), when the command ends, or with w:TimedOut after OperationTimeout.
 * Output is bounded: the child is paused while more than 4 MiB wait for the client. Input is bounded too: stdin
 * buffered for a command that does not read beyond `maxStdinBufferBytes` makes Send wait (up to its
 * OperationTimeout) and then fault w:TimedOut, as a Windows Send on a full pipe does; Delete frees it.
 * Quotas (src/server/limits.ts): MaxShellsPerUser is checked by the server before Create; IdleTimeout is the default
 * and the maximum idle time of a shell; MaxProcessesPerShell / MaxMemoryPerShellMB are enforced by sampling /proc.
 */
import { existsSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { buildResponse, parseDuration, responseEnvelopeParts } from '../wsman/envelope.js';
import { Action } from '../wsman/ns.js';
import {
  SHELL_CMD_URI,
  SIGNAL,
  commandResponseBody,
  createResponseBody,
  parseCommandLineRequest,
  parseReceiveRequest,
  parseSendRequest,
  parseShellRequest,
  parseSignalRequest,
  receiveResponseBytes,
  sendResponseBody,
  signalResponseBody,
  type StreamChunk,
} from '../winrs/messages.js';
import { RemoteProtocolError } from '../errors.js';
import { childEnv, type LogonSession } from './logon.js';
import { faults, WsmanFault, type WsmanRequest } from './dispatch.js';
import { waitUntil } from './wait.js';
import { ProcessGroups, accountOf, accountPath, directArgv, spawnForLogon, type LogonChild } from './spawn.js';
import { DEFAULT_LIMITS, SessionScanner, quotaFaults, userKey, type EndpointLimits } from './limits.js';

const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const COALESCE_MS = 50;

class ServerCommand {
  readonly id = randomUUID().toUpperCase();
  child: LogonChild | undefined;
  private queue: Array<{ name: string; data: Buffer }> = [];
  private queued = 0;
  private paused = false;
  finished = false;
  reported = false;
  exitCode = 0;
  private waiters = new Set<() => void>();

  constructor(readonly shell: ServerShell) {}

  startedAt = Date.now();

  start(child: LogonChild): void {
    this.child = child;
    this.startedAt = Date.now();
    const onData = (name: string) => (d: Buffer) => {
      this.queue.push({ name, data: d });
      this.queued += d.length;
      if (this.queued > HIGH_WATER && !this.paused) {
        this.paused = true;
        child.stdout?.pause();
        child.stderr?.pause();
      }
      this.wake();
    };
    child.stdout?.on('data', onData('stdout'));
    child.stderr?.on('data', onData('stderr'));
    child.stdin?.on('error', () => undefined); // EPIPE when the command does not read stdin
    child.on('close', (code, sig) => {
      this.exitCode = code ?? (sig ? 128 + (signalNumber(sig) ?? 15) : 1);
      this.finished = true;
      this.child = undefined;
      this.wake();
    });
  }

  wake(): void {
    for (const w of this.waiters) w();
  }

  /** A line from the endpoint itself on the command's stderr (e.g. a quota stopped it). */
  note(text: string): void {
    const d = Buffer.from(text, 'utf8');
    this.queue.push({ name: 'stderr', data: d });
    this.queued += d.length;
    this.wake();
  }

  /** Bytes of stdin accepted but not yet taken by the process (Node's buffer; the pipe's 64 KiB not counted). */
  get stdinBuffered(): number {
    return this.child?.stdin?.writableLength ?? 0;
  }

  /** Release everything: the process group is killed, stdin and output buffers are dropped. */
  dispose(): void {
    this.kill('SIGKILL');
    try {
      this.child?.stdin?.destroy();
    } catch {
      /* gone */
    }
    this.queue = [];
    this.queued = 0;
    this.wake();
  }

  get queuedBytes(): number {
    return this.queued;
  }

  get hasData(): boolean {
    return this.queued > 0 || this.queue.length > 0;
  }

  /** Wait until predicate holds or ms pass or the signal aborts. */
  wait(pred: () => boolean, ms: number, signal: AbortSignal): Promise<void> {
    return waitUntil(pred, this.waiters, ms, signal);
  }

  /** Take up to `budget` bytes of output in arrival order. */
  take(budget: number): StreamChunk[] {
    const out: StreamChunk[] = [];
    // consecutive pieces of one stream become one chunk (its parts: not joined, encoded piece by piece)
    const runs: Buffer[][] = [];
    while (this.queue.length && budget > 0) {
      const head = this.queue[0]!;
      const last = out[out.length - 1];
      let piece: Buffer;
      if (head.data.length <= budget) {
        piece = head.data;
        this.queue.shift();
      } else {
        piece = head.data.subarray(0, budget);
        head.data = head.data.subarray(budget);
      }
      budget -= piece.length + 120;
      this.queued -= piece.length;
      if (last && last.name === head.name && !last.end) runs[runs.length - 1]!.push(piece);
      else {
        out.push({ name: head.name, commandId: this.id, data: piece, end: false });
        runs.push([piece]);
      }
    }
    for (let i = 0; i < out.length; i++) if (runs[i]!.length > 1) out[i] = joinedLater(out[i]!, runs[i]!);
    if (this.paused && this.queued < LOW_WATER && this.child) {
      this.paused = false;
      this.child.stdout?.resume();
      this.child.stderr?.resume();
    }
    return out;
  }

  /** ctrl_c: SIGINT to the process group. A signal that lands in the first moments after spawn can hit the shell
   *  between fork and exec of its child and be deferred, so a young command gets a second SIGINT shortly after. */
  interrupt(): void {
    this.kill('SIGINT');
    const age = Date.now() - this.startedAt;
    if (age < 250)
      setTimeout(() => {
        if (!this.finished) this.kill('SIGINT');
      }, 250 - age).unref();
  }

  kill(sig: NodeJS.Signals): void {
    const c = this.child;
    if (!c?.pid) return;
    try {
      process.kill(-c.pid, sig);
    } catch {
      try {
        c.kill(sig);
      } catch {
        /* gone */
      }
    }
  }
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 } as Record<string, number>)[sig];
}

class ServerShell {
  readonly id = randomUUID().toUpperCase();
  readonly commands = new Map<string, ServerCommand>();
  lastUsed = Date.now();
  idleMs = 7_200_000;
  /** every command's process group: what a command left running dies with the shell */
  readonly groups = new ProcessGroups();
  /** requests on this shell being processed (a shell is not idle while a Receive waits) */
  busy = 0;
  idleTimer: NodeJS.Timeout | undefined;
  readonly ownerKey: string;
  constructor(
    readonly owner: LogonSession,
    readonly cwd: string | undefined,
    readonly env: Record<string, string>,
    readonly inputStreams: string,
    readonly outputStreams: string,
  ) {
    this.ownerKey = userKey(owner.identity);
  }
  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const c of this.commands.values()) c.dispose();
    this.commands.clear();
    this.groups.killAll();
  }
}

/** The cmd-shell resource. One instance per endpoint. */
export class WinrsExecutor {
  readonly shells = new Map<string, ServerShell>();
  private readonly touched = new WeakMap<WsmanRequest, ServerShell>();
  private sampler: NodeJS.Timeout | undefined;
  private closed = false;
  /** the /proc scan shared by the MaxProcessesPerShell check and the sampler */
  readonly scanner = new SessionScanner();

  constructor(
    readonly limits: EndpointLimits = DEFAULT_LIMITS,
    private readonly log: (line: string) => void = () => undefined,
    private readonly sampleMs = 1000,
  ) {}

  /** Shells of one user ("domain\\user", any case). */
  countShells(user: string): number {
    let n = 0;
    for (const s of this.shells.values()) if (s.ownerKey === user) n++;
    return n;
  }

  /** Figures for tests and the log: shells, running commands, stdin bytes buffered in the endpoint. */
  stats(): { shells: number; commands: number; stdinBufferedBytes: number } {
    let commands = 0;
    let stdin = 0;
    for (const s of this.shells.values())
      for (const c of s.commands.values()) {
        commands++;
        stdin += c.stdinBuffered;
      }
    return { shells: this.shells.size, commands, stdinBufferedBytes: stdin };
  }

  async handle(req: WsmanRequest): Promise<string | Buffer> {
    const { env } = req;
    try {
      switch (env.action) {
        case Action.Create:
          return this.create(req);
        case Action.Delete:
          return this.delete(req);
        case Action.Command:
          return await this.command(req);
        case Action.Send:
          return await this.send(req);
        case Action.Receive:
          return await this.receive(req);
        case Action.Signal:
          return this.signal(req);
        default:
          throw faults.actionNotSupported(env.action ?? '(none)');
      }
    } finally {
      const shell = this.touched.get(req);
      if (shell) {
        shell.busy--;
        shell.lastUsed = Date.now();
        if (this.shells.has(shell.id)) this.armIdle(shell);
      }
    }
  }

  closeAll(): void {
    this.closed = true;
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
    for (const s of this.shells.values()) {
      s.close();
      s.owner.unref();
    }
    this.shells.clear();
  }

  /** Shells nobody used for their IdleTimeOut are closed (their commands killed), as Windows does. */
  private armIdle(shell: ServerShell): void {
    if (shell.idleTimer) clearTimeout(shell.idleTimer);
    const left = Math.max(50, Math.min(shell.idleMs - (Date.now() - shell.lastUsed), 0x7fffffff));
    shell.idleTimer = setTimeout(() => {
      if (this.shells.get(shell.id) !== shell) return;
      if (shell.busy > 0 || Date.now() - shell.lastUsed < shell.idleMs) {
        this.armIdle(shell);
        return;
      }
      this.log(`${new Date().toISOString()} shell ${shell.id} of ${shell.owner.name} closed after IdleTimeout ${shell.idleMs} ms`);
      this.drop(shell);
    }, left).unref();
  }

  private drop(shell: ServerShell): void {
    shell.close();
    this.shells.delete(shell.id);
    shell.owner.unref();
  }

  private shellFor(req: WsmanRequest): ServerShell {
    const id = req.env.selectors.get('ShellId');
    const shell = id ? this.shells.get(id.toUpperCase()) : undefined;
    if (!shell) throw faults.invalidSelectors('shell');
    const a = shell.owner.identity;
    const b = req.session.identity;
    if (a.user.toLowerCase() !== b.user.toLowerCase() || a.domain.toLowerCase() !== b.domain.toLowerCase()) throw faults.accessDenied();
    shell.lastUsed = Date.now();
    if (!this.touched.has(req)) {
      this.touched.set(req, shell);
      shell.busy++;
    }
    return shell;
  }

  private create(req: WsmanRequest): string {
    let spec;
    try {
      spec = parseShellRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    if (spec.workingDirectory && !isDir(spec.workingDirectory)) {
      throw faults.provider(2147942667, 'The directory name is invalid. ', 'w:InternalError');
    }
    const shell = new ServerShell(
      req.session,
      spec.workingDirectory,
      spec.environment,
      spec.inputStreams.join(' '),
      spec.outputStreams.join(' '),
    );
    shell.idleMs = effectiveIdleMs(spec.idleTimeout, this.limits.idleTimeoutMs);
    req.session.ref();
    this.shells.set(shell.id, shell);
    this.armIdle(shell);
    return buildResponse(
      Action.CreateResponse,
      req.env.messageId,
      createResponseBody({
        shellId: shell.id,
        address: req.endpoint.url,
        owner: req.session.identity.user,
        clientIp: req.clientIp,
        idleTimeout: `PT${(shell.idleMs / 1000).toFixed(3)}S`,
        inputStreams: shell.inputStreams,
        outputStreams: shell.outputStreams,
        resourceUri: SHELL_CMD_URI,
        environment: spec.environment,
        workingDirectory: spec.workingDirectory,
      }),
    );
  }

  private delete(req: WsmanRequest): string {
    const shell = this.shellFor(req);
    this.drop(shell);
    return buildResponse(Action.DeleteResponse, req.env.messageId, '');
  }

  private async command(req: WsmanRequest): Promise<string> {
    const shell = this.shellFor(req);
    let cl;
    try {
      cl = parseCommandLineRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    const skipShell = /^true$/i.test(req.env.options.get('WINRS_SKIP_CMD_SHELL') ?? '');
    // a recent /proc scan decides; a refusal only on a fresh one
    if (
      this.processesIn(shell) + 1 > this.limits.maxProcessesPerShell &&
      this.processesIn(shell, true) + 1 > this.limits.maxProcessesPerShell
    )
      throw quotaFaults.maxProcesses();
    const cmd = new ServerCommand(shell);
    // the logon's account and a clean environment (src/server/spawn.ts) + the client's variables + the logon's
    const env: Record<string, string> = { ...shell.env, ...(await childEnv(shell.owner)) };
    let file = cl.command;
    let args = cl.args;
    if (!skipShell) {
      let line = [cl.command, ...cl.args].join(' ');
      line = line.replace(/^\s*cmd(\.exe)?\s+\/c\s+/i, '');
      if (!line.trim()) throw faults.provider(87, 'The parameter is incorrect. ', 'w:InvalidParameter');
      // a line without shell syntax runs directly (what the shell would exec), anything else through /bin/sh -c
      const direct = directArgv(line, env.PATH ?? accountPath(accountOf(shell.owner)));
      if (direct) {
        file = direct[0]!;
        args = direct.slice(1);
      } else {
        file = '/bin/sh';
        args = ['-c', line];
      }
    }
    const child: LogonChild = await spawnForLogon(shell.owner, file, args, { cwd: shell.cwd, env, groups: shell.groups }).catch(
      (e: NodeJS.ErrnoException) => {
        throw e.code === 'ENOENT'
          ? faults.provider(2147942402, 'The system cannot find the file specified. ')
          : faults.provider(2147942405, `The command could not be started: ${e.code ?? e.message} `);
      },
    );
    cmd.start(child);
    shell.commands.set(cmd.id, cmd);
    if (!this.shells.has(shell.id) || this.closed) {
      cmd.dispose();
      throw faults.invalidSelectors('shell');
    }
    this.startSampler();
    return buildResponse(Action.CommandResponse, req.env.messageId, commandResponseBody(cmd.id));
  }

  private commandFor(shell: ServerShell, id: string | undefined): ServerCommand {
    const c = id ? shell.commands.get(id.toUpperCase()) : undefined;
    if (!c) throw faults.invalidSelectors('command');
    return c;
  }

  /** Send: stdin for a command. While more than maxStdinBufferBytes wait in the endpoint (the command does not
   *  read), the Send waits for the command to take some — up to its OperationTimeout — then faults w:TimedOut. */
  private async send(req: WsmanRequest): Promise<string> {
    const shell = this.shellFor(req);
    let streams;
    try {
      streams = parseSendRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    for (const s of streams) {
      const cmd = this.commandFor(shell, s.commandId);
      const stdin = cmd.child?.stdin;
      if (!stdin || stdin.destroyed || stdin.writableEnded) continue;
      if (s.data.length && stdin.writableLength + s.data.length > this.limits.maxStdinBufferBytes) {
        await waitDrain(stdin, this.limits.maxStdinBufferBytes - s.data.length, req.operationTimeoutMs, req.signal);
        if (req.signal.aborted) throw new RemoteProtocolError('client went away');
        if (stdin.destroyed || stdin.writableEnded) continue;
        if (stdin.writableLength > 0 && stdin.writableLength + s.data.length > this.limits.maxStdinBufferBytes) throw faults.timedOut();
      }
      if (s.data.length) stdin.write(Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength));
      if (s.end) stdin.end();
    }
    return buildResponse(Action.SendResponse, req.env.messageId, sendResponseBody());
  }

  // ---- MaxProcessesPerShell / MaxMemoryPerShellMB: /proc sampling over the commands' sessions ----

  private processesIn(shell: ServerShell, fresh = false): number {
    if (this.limits.maxProcessesPerShell >= 0x7fffffff) return 0;
    let n = 0;
    let scanned = false;
    for (const c of shell.commands.values())
      if (c.child?.pid && !c.finished) {
        if (!scanned) this.scanner.refresh(fresh); // no scan at all for a shell with nothing running
        scanned = true;
        n += this.scanner.get(c.child.pid).processes;
      }
    return n;
  }

  private startSampler(): void {
    if (this.sampler || this.closed) return;
    if (this.limits.maxProcessesPerShell >= 0x7fffffff && this.limits.maxMemoryPerShellMB >= 0x7fffffff) return;
    this.sampler = setInterval(() => this.sample(), this.sampleMs);
    this.sampler.unref();
  }

  /** One pass: count processes and resident memory per shell; stop commands of a shell over its quota. */
  sample(): void {
    const bySid = new Map<number, ServerCommand>();
    for (const sh of this.shells.values()) for (const c of sh.commands.values()) if (c.child?.pid && !c.finished) bySid.set(c.child.pid, c);
    if (!bySid.size) {
      if (this.sampler) clearInterval(this.sampler);
      this.sampler = undefined;
      return;
    }
    // a fresh scan: what it finds may stop commands (the per-Command check reuses it)
    const usage = this.scanner.refresh(true).snapshot();
    const maxBytes = this.limits.maxMemoryPerShellMB * 1024 * 1024;
    for (const sh of this.shells.values()) {
      const live = [...sh.commands.values()].filter((c) => c.child?.pid && !c.finished);
      if (!live.length) continue;
      let procs = 0;
      let rss = 0;
      for (const c of live) {
        const u = usage.get(c.child!.pid!);
        if (u) {
          procs += u.processes;
          rss += u.rssBytes;
        }
      }
      if (rss > maxBytes) {
        this.log(
          `${new Date().toISOString()} shell ${sh.id} of ${sh.owner.name}: ${Math.round(rss / 1048576)} MB resident exceeds ` +
            `MaxMemoryPerShellMB ${this.limits.maxMemoryPerShellMB}; its commands are stopped`,
        );
        for (const c of live) {
          c.note(
            `winrm-ts serve: the shell's processes use ${Math.round(rss / 1048576)} MB, over MaxMemoryPerShellMB ` +
              `(${this.limits.maxMemoryPerShellMB}); the command was stopped.\n`,
          );
          c.kill('SIGKILL');
        }
        continue;
      }
      // newest commands first until the shell is back within MaxProcessesPerShell
      for (const c of live.sort((a, b) => b.startedAt - a.startedAt)) {
        if (procs <= this.limits.maxProcessesPerShell) break;
        this.log(
          `${new Date().toISOString()} shell ${sh.id} of ${sh.owner.name}: ${procs} processes exceed MaxProcessesPerShell ` +
            `${this.limits.maxProcessesPerShell}; command ${c.id} is stopped`,
        );
        c.note(
          `winrm-ts serve: the shell runs ${procs} processes, over MaxProcessesPerShell (${this.limits.maxProcessesPerShell}); ` +
            `the command was stopped.\n`,
        );
        c.kill('SIGKILL');
        procs -= usage.get(c.child!.pid!)?.processes ?? 0;
      }
    }
  }

  private async receive(req: WsmanRequest): Promise<Buffer> {
    const shell = this.shellFor(req);
    let r;
    try {
      r = parseReceiveRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    if (!r.commandId) throw faults.invalidParameter();
    const cmd = this.commandFor(shell, r.commandId);
    if (cmd.reported) throw faults.invalidSelectors('command');
    const started = Date.now();
    await cmd.wait(() => cmd.hasData || cmd.finished, req.operationTimeoutMs, req.signal);
    if (req.signal.aborted) throw new RemoteProtocolError('client went away');
    if (!cmd.hasData && !cmd.finished) throw faults.timedOut();
    // coalesce: a short command's output and its end travel together
    const budget = Math.max(1024, Math.floor((req.replyMaxEnvelopeSize - 3072) / 4) * 3 - 1024);
    if (!cmd.finished)
      await cmd.wait(
        () => cmd.finished || cmd.queuedBytes >= budget,
        Math.min(COALESCE_MS, Math.max(0, req.operationTimeoutMs - (Date.now() - started))),
        req.signal,
      );
    const chunks = cmd.take(budget);
    let state;
    if (cmd.finished && !cmd.hasData) {
      chunks.push(
        { name: 'stdout', commandId: cmd.id, data: new Uint8Array(), end: true },
        { name: 'stderr', commandId: cmd.id, data: new Uint8Array(), end: true },
      );
      state = { commandId: cmd.id, state: 'Done', exitCode: cmd.exitCode };
      cmd.reported = true;
      shell.commands.delete(cmd.id);
    } else state = { commandId: cmd.id, state: 'Running' };
    const { head, tail } = responseEnvelopeParts(Action.ReceiveResponse, req.env.messageId);
    return receiveResponseBytes(head, chunks, state, tail); // built as bytes: the output's base64 never becomes one big string
  }

  private signal(req: WsmanRequest): string {
    const shell = this.shellFor(req);
    let s;
    try {
      s = parseSignalRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    const cmd = s.commandId ? shell.commands.get(s.commandId.toUpperCase()) : undefined;
    // a Signal for a finished (already reported) command is accepted silently, as pywinrm's cleanup expects
    if (cmd) {
      const code = s.code.toLowerCase();
      if (code === SIGNAL.terminate.toLowerCase()) cmd.kill('SIGKILL');
      else if (code === SIGNAL.ctrl_c.toLowerCase()) cmd.interrupt();
      else if (code === SIGNAL.ctrl_break.toLowerCase()) cmd.kill('SIGTERM');
      else throw faults.provider(87, 'The parameter is incorrect. ', 'w:InvalidParameter');
    } else if (!s.commandId) throw faults.invalidSelectors('command');
    return buildResponse(Action.SignalResponse, req.env.messageId, signalResponseBody());
  }
}

/** `c` with its bytes in `parts` (encoded as they are by receiveResponseBytes) and `data` joined only if read. */
function joinedLater(c: StreamChunk, parts: Buffer[]): StreamChunk {
  let joined: Buffer | undefined;
  return {
    name: c.name,
    commandId: c.commandId,
    end: c.end,
    parts,
    get data() {
      return (joined ??= Buffer.concat(parts));
    },
  };
}

/** A shell's idle timeout: the client's IdleTimeOut capped by the endpoint's IdleTimeout (which is also the default),
 *  at least 1000 ms (Windows' minimum). */
export function effectiveIdleMs(raw: string | undefined, maxMs: number): number {
  const ms = parseDuration(raw);
  return Math.max(1000, Math.min(ms && ms > 0 ? ms : maxMs, maxMs));
}

/** Resolve once the writable's buffer is at most `target` bytes, after `ms`, or when `signal` aborts. */
function waitDrain(
  w: NodeJS.WritableStream & { writableLength: number; destroyed: boolean },
  target: number,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  if (w.writableLength <= Math.max(0, target) || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      w.off('drain', check);
      w.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const check = () => {
      if (w.writableLength <= Math.max(0, target)) done();
    };
    const timer = setTimeout(done, ms);
    w.on('drain', check);
    w.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function isDir(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export { WsmanFault };
