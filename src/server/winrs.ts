/**
 * The endpoint's WinRS cmd shell (ResourceURI http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd),
 * answering as Windows does (response shapes of test_winrs_*.yml). Commands run through `/bin/sh -c` with the
 * command line = command + arguments joined by spaces (so pywinrm's run_cmd works); a leading `cmd /c` or
 * `cmd.exe /c` is dropped; WINRS_SKIP_CMD_SHELL=TRUE runs the executable directly (no shell).
 * Receive is a long poll: it returns as soon as output is there (coalescing briefly so that a short command's output
 * and its exit travel in one reply), when the command ends, or with w:TimedOut after OperationTimeout.
 * Output is bounded: the child is paused while more than 4 MiB wait for the client.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { buildResponse, parseDuration } from '../wsman/envelope.js';
import { Action } from '../wsman/ns.js';
import {
  SHELL_CMD_URI, SIGNAL, commandResponseBody, createResponseBody, parseCommandLineRequest, parseReceiveRequest,
  parseSendRequest, parseShellRequest, parseSignalRequest, receiveResponseBody, sendResponseBody, signalResponseBody,
  type StreamChunk,
} from '../winrs/messages.js';
import { RemoteProtocolError } from '../errors.js';
import { childEnv, type LogonSession } from './logon.js';
import { faults, WsmanFault, type WsmanRequest } from './dispatch.js';
import { waitUntil } from './wait.js';
import { ProcessGroups, spawnForLogon } from './spawn.js';

const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const COALESCE_MS = 50;


class ServerCommand {
  readonly id = randomUUID().toUpperCase();
  child: ChildProcess | undefined;
  private queue: Array<{ name: string; data: Buffer }> = [];
  private queued = 0;
  private paused = false;
  finished = false;
  reported = false;
  exitCode = 0;
  private waiters = new Set<() => void>();

  constructor(readonly shell: ServerShell) {}

  startedAt = Date.now();

  start(child: ChildProcess): void {
    this.child = child;
    this.startedAt = Date.now();
    const onData = (name: string) => (d: Buffer) => {
      this.queue.push({ name, data: d });
      this.queued += d.length;
      if (this.queued > HIGH_WATER && !this.paused) { this.paused = true; child.stdout?.pause(); child.stderr?.pause(); }
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

  wake(): void { for (const w of this.waiters) w(); }

  get queuedBytes(): number { return this.queued; }

  get hasData(): boolean { return this.queued > 0 || this.queue.length > 0; }

  /** Wait until predicate holds or ms pass or the signal aborts. */
  wait(pred: () => boolean, ms: number, signal: AbortSignal): Promise<void> {
    return waitUntil(pred, this.waiters, ms, signal);
  }

  /** Take up to `budget` bytes of output in arrival order. */
  take(budget: number): StreamChunk[] {
    const out: StreamChunk[] = [];
    while (this.queue.length && budget > 0) {
      const head = this.queue[0]!;
      const last = out[out.length - 1];
      let piece: Buffer;
      if (head.data.length <= budget) { piece = head.data; this.queue.shift(); } else { piece = head.data.subarray(0, budget); head.data = head.data.subarray(budget); }
      budget -= piece.length + 120;
      this.queued -= piece.length;
      if (last && last.name === head.name && !last.end) last.data = Buffer.concat([last.data, piece]);
      else out.push({ name: head.name, commandId: this.id, data: piece, end: false });
    }
    if (this.paused && this.queued < LOW_WATER && this.child) { this.paused = false; this.child.stdout?.resume(); this.child.stderr?.resume(); }
    return out;
  }

  /** ctrl_c: SIGINT to the process group. A signal that lands in the first moments after spawn can hit the shell
   *  between fork and exec of its child and be deferred, so a young command gets a second SIGINT shortly after. */
  interrupt(): void {
    this.kill('SIGINT');
    const age = Date.now() - this.startedAt;
    if (age < 250) setTimeout(() => { if (!this.finished) this.kill('SIGINT'); }, 250 - age).unref();
  }

  kill(sig: NodeJS.Signals): void {
    const c = this.child;
    if (!c?.pid) return;
    try { process.kill(-c.pid, sig); } catch { try { c.kill(sig); } catch { /* gone */ } }
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
  constructor(readonly owner: LogonSession, readonly cwd: string | undefined, readonly env: Record<string, string>, readonly inputStreams: string, readonly outputStreams: string) {}
  close(): void { for (const c of this.commands.values()) c.kill('SIGKILL'); this.commands.clear(); this.groups.killAll(); }
}

/** The cmd-shell resource. One instance per endpoint. */
export class WinrsExecutor {
  readonly shells = new Map<string, ServerShell>();
  /** Shells nobody used for their IdleTimeOut are closed (their commands killed), as Windows does. */
  private readonly reaper = setInterval(() => this.reap(), 30_000).unref();

  reap(now = Date.now()): void {
    for (const [id, sh] of this.shells) {
      if (now - sh.lastUsed > sh.idleMs) { sh.close(); this.shells.delete(id); sh.owner.unref(); }
    }
  }

  async handle(req: WsmanRequest): Promise<string> {
    const { env } = req;
    switch (env.action) {
      case Action.Create: return this.create(req);
      case Action.Delete: return this.delete(req);
      case Action.Command: return this.command(req);
      case Action.Send: return this.send(req);
      case Action.Receive: return this.receive(req);
      case Action.Signal: return this.signal(req);
      default: throw faults.actionNotSupported(env.action ?? '(none)');
    }
  }

  closeAll(): void { clearInterval(this.reaper); for (const s of this.shells.values()) { s.close(); s.owner.unref(); } this.shells.clear(); }

  private shellFor(req: WsmanRequest): ServerShell {
    const id = req.env.selectors.get('ShellId');
    const shell = id ? this.shells.get(id.toUpperCase()) : undefined;
    if (!shell) throw faults.invalidSelectors('shell');
    const a = shell.owner.identity; const b = req.session.identity;
    if (a.user.toLowerCase() !== b.user.toLowerCase() || a.domain.toLowerCase() !== b.domain.toLowerCase()) throw faults.accessDenied();
    shell.lastUsed = Date.now();
    return shell;
  }

  private create(req: WsmanRequest): string {
    let spec;
    try { spec = parseShellRequest(req.env.payload); } catch (e) { throw faults.invalidBody((e as Error).message); }
    if (spec.workingDirectory && !isDir(spec.workingDirectory)) {
      throw faults.provider(2147942667, 'The directory name is invalid. ', 'w:InternalError');
    }
    const shell = new ServerShell(req.session, spec.workingDirectory, spec.environment, spec.inputStreams.join(' '), spec.outputStreams.join(' '));
    const idle = parseDuration(spec.idleTimeout);
    if (idle && idle > 0) shell.idleMs = idle;
    req.session.ref();
    this.shells.set(shell.id, shell);
    return buildResponse(Action.CreateResponse, req.env.messageId, createResponseBody({
      shellId: shell.id, address: req.endpoint.url, owner: req.session.identity.user, clientIp: req.clientIp,
      idleTimeout: idleTimeout(spec.idleTimeout), inputStreams: shell.inputStreams, outputStreams: shell.outputStreams, resourceUri: SHELL_CMD_URI,
      environment: spec.environment, workingDirectory: spec.workingDirectory,
    }));
  }

  private delete(req: WsmanRequest): string {
    const shell = this.shellFor(req);
    shell.close();
    this.shells.delete(shell.id);
    shell.owner.unref();
    return buildResponse(Action.DeleteResponse, req.env.messageId, '');
  }

  private async command(req: WsmanRequest): Promise<string> {
    const shell = this.shellFor(req);
    let cl;
    try { cl = parseCommandLineRequest(req.env.payload); } catch (e) { throw faults.invalidBody((e as Error).message); }
    const skipShell = /^true$/i.test(req.env.options.get('WINRS_SKIP_CMD_SHELL') ?? '');
    const cmd = new ServerCommand(shell);
    // the logon's account and a clean environment (src/server/spawn.ts) + the client's variables + the logon's
    const env: Record<string, string> = { ...shell.env, ...await childEnv(shell.owner) };
    let file = cl.command; let args = cl.args;
    if (!skipShell) {
      let line = [cl.command, ...cl.args].join(' ');
      line = line.replace(/^\s*cmd(\.exe)?\s+\/c\s+/i, '');
      if (!line.trim()) throw faults.provider(87, 'The parameter is incorrect. ', 'w:InvalidParameter');
      file = '/bin/sh'; args = ['-c', line];
    }
    const child: ChildProcess = await spawnForLogon(shell.owner, file, args, { cwd: shell.cwd, env, groups: shell.groups }).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT'
        ? faults.provider(2147942402, 'The system cannot find the file specified. ')
        : faults.provider(2147942405, `The command could not be started: ${e.code ?? e.message} `);
    });
    cmd.start(child);
    shell.commands.set(cmd.id, cmd);
    return buildResponse(Action.CommandResponse, req.env.messageId, commandResponseBody(cmd.id));
  }

  private commandFor(shell: ServerShell, id: string | undefined): ServerCommand {
    const c = id ? shell.commands.get(id.toUpperCase()) : undefined;
    if (!c) throw faults.invalidSelectors('command');
    return c;
  }

  private send(req: WsmanRequest): string {
    const shell = this.shellFor(req);
    let streams;
    try { streams = parseSendRequest(req.env.payload); } catch (e) { throw faults.invalidBody((e as Error).message); }
    for (const s of streams) {
      const cmd = this.commandFor(shell, s.commandId);
      const stdin = cmd.child?.stdin;
      if (!stdin || stdin.destroyed || stdin.writableEnded) continue;
      if (s.data.length) stdin.write(Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength));
      if (s.end) stdin.end();
    }
    return buildResponse(Action.SendResponse, req.env.messageId, sendResponseBody());
  }

  private async receive(req: WsmanRequest): Promise<string> {
    const shell = this.shellFor(req);
    let r;
    try { r = parseReceiveRequest(req.env.payload); } catch (e) { throw faults.invalidBody((e as Error).message); }
    if (!r.commandId) throw faults.invalidParameter();
    const cmd = this.commandFor(shell, r.commandId);
    if (cmd.reported) throw faults.invalidSelectors('command');
    const started = Date.now();
    await cmd.wait(() => cmd.hasData || cmd.finished, req.operationTimeoutMs, req.signal);
    if (req.signal.aborted) throw new RemoteProtocolError('client went away');
    if (!cmd.hasData && !cmd.finished) throw faults.timedOut();
    // coalesce: a short command's output and its end travel together
    const budget = Math.max(1024, Math.floor((req.replyMaxEnvelopeSize - 3072) / 4) * 3 - 1024);
    if (!cmd.finished) await cmd.wait(() => cmd.finished || cmd.queuedBytes >= budget, Math.min(COALESCE_MS, Math.max(0, req.operationTimeoutMs - (Date.now() - started))), req.signal);
    const chunks = cmd.take(budget);
    let state;
    if (cmd.finished && !cmd.hasData) {
      chunks.push({ name: 'stdout', commandId: cmd.id, data: new Uint8Array(), end: true }, { name: 'stderr', commandId: cmd.id, data: new Uint8Array(), end: true });
      state = { commandId: cmd.id, state: 'Done', exitCode: cmd.exitCode };
      cmd.reported = true;
      shell.commands.delete(cmd.id);
    } else state = { commandId: cmd.id, state: 'Running' };
    return buildResponse(Action.ReceiveResponse, req.env.messageId, receiveResponseBody(chunks, state));
  }

  private signal(req: WsmanRequest): string {
    const shell = this.shellFor(req);
    let s;
    try { s = parseSignalRequest(req.env.payload); } catch (e) { throw faults.invalidBody((e as Error).message); }
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

/** IdleTimeOut as Windows echoes it: PT<seconds with 3 decimals>S (default 7200 s). */
function idleTimeout(raw: string | undefined): string {
  const ms = parseDuration(raw);
  return `PT${((ms && ms > 0 ? ms : 7_200_000) / 1000).toFixed(3)}S`;
}

function isDir(p: string): boolean { try { return existsSync(p) && statSync(p).isDirectory(); } catch { return false; } }

export { WsmanFault };
