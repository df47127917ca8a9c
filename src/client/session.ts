/**
 * Session: a PowerShell runspace pool on a server (≈ PSSession). Transport-agnostic: it drives the sans-IO
 * ClientRunspacePool and uses a PoolTransport for I/O, chosen by name in one table below ('process' = a local
 * `pwsh -s`, 'wsman' = WinRM, 'ssh' = the SSH `powershell` subsystem); an application can add its own with
 * `registerSessionTransport`, or pass a PoolTransport instance.
 *
 * ```ts
 * const s = await Session.open({ transport: 'process' });
 * const r = await s.invoke('param($a) $a * 2', { args: [21] });   // r.output[0] === 42
 * for await (const ev of s.stream('1..3')) console.log(ev);
 * await s.close();
 * ```
 */
import { generateKeyPair } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  AbortError,
  InvalidArgumentError,
  LocalProtocolError,
  RemoteCommandError,
  TimeoutError,
  TransportError,
  WinRMError,
} from '../errors.js';
import { PSObject, PSPrimitive, PSList, PSDict, type ClixmlValue, type PSValue } from '../clixml/index.js';
import { ClientRunspacePool, type ClientPipeline } from '../psrp/pool.js';
import { RunspacePoolState, PSInvocationState } from '../psrp/state.js';
import type { HostCall, PSRPEvent } from '../psrp/events.js';
import type { CommandArgument, CommandSpec, HostInfoSpec, PipelineSpec } from '../psrp/messages.js';
import { hostMethod } from '../psrp/host-methods.js';
import type { RsaKeyPair } from '../psrp/crypto.js';
import { Queue } from '../psrp/queue.js';
import type { PoolTransport } from '../remoting/transport.js';
import { spawnPwshTransport } from '../remoting/process.js';
import { connectSsh } from '../remoting/ssh.js';
import { createWSManTransport, type WSManSessionOptions } from './wsman-session.js';
import { sshOptionsFrom, type SshSessionOptions } from './ssh-session.js';
import { answerHostCall, type PSHostHandler } from './host.js';
import type { InvokeEvent, InvokeOptions, InvokeResult } from './invoke.js';

export type { InvokeEvent, InvokeOptions, InvokeResult, InvokeStreams } from './invoke.js';
import {
  copyToRemote,
  fetchFromRemote,
  type CopyOptions,
  type CopySource,
  type FetchDestination,
  type FetchOptions,
  type TransferResult,
} from '../transfer/index.js';
export type { PSHostHandler } from './host.js';

/** Options of Session.open that every transport takes. */
export interface SessionCommonOptions {
  /** the default host that answers host calls (Read-Host, prompts, Write-Progress ...) */
  host?: PSHostHandler;
  minRunspaces?: number;
  maxRunspaces?: number;
  /**
   * do the session key exchange (MS-PSRP 3.1.4.11) while opening, so SecureStrings work both ways from the start.
   * Default: yes when the server speaks protocol >= 2.2 (one round trip; the RSA pair is generated while the pool
   * opens). `false`: only lazily, when the client first sends a SecureString (server-sent SecureStrings then fail).
   */
  exchangeKeys?: boolean;
  /**
   * receive backpressure: when a stream() consumer leaves more than this many events unread, the Session stops
   * reading from the transport (OutOfProc: `pwsh -s` stdio; SSH once its channel can pause) and resumes at half.
   * Default 1024. The WS-Man transport does not pause: it keeps one Receive long poll per running pipeline until
   * the command is Done (header of src/remoting/wsman-transport.ts), so there unread events are bounded only by
   * what the pipeline produces.
   */
  maxBufferedEvents?: number;
  /** give up opening after this long (default 120 s: pwsh can take several seconds to start on a busy machine) */
  openTimeoutMs?: number;
  signal?: AbortSignal;
}

/** `transport: 'process'` (the default): a local `pwsh -s` over stdio. */
export interface ProcessSessionOptions extends SessionCommonOptions {
  transport?: 'process';
  /** path to pwsh (default: WINRM_TS_PWSH, else pwsh on PATH) */
  pwsh?: string;
  /** extra arguments for pwsh (before `-s`) */
  pwshArgs?: string[];
  /** PSRP fragment size in bytes */
  fragmentSize?: number;
}

/** `transport: 'wsman'`: PowerShell remoting over WinRM (src/client/wsman-session.ts). */
export interface WSManSessionOpenOptions extends SessionCommonOptions, Omit<WSManSessionOptions, 'signal'> {
  transport: 'wsman';
}

/** `transport: 'ssh'`: the SSH `powershell` subsystem (src/client/ssh-session.ts). */
export interface SshSessionOpenOptions extends SessionCommonOptions, Omit<SshSessionOptions, 'signal'> {
  transport: 'ssh';
}

/** An application's own transport: a ready PoolTransport, or a function that makes one from these options. */
export interface CustomSessionOptions extends SessionCommonOptions {
  transport: PoolTransport | SessionTransportFactory;
}

/**
 * Options for Session.open, a union keyed on `transport`: each transport takes its own options, so a misspelt
 * transport name or an option of another transport does not compile.
 */
export type SessionOptions = ProcessSessionOptions | WSManSessionOpenOptions | SshSessionOpenOptions | CustomSessionOptions;

export type SessionTransportFactory = (opts: CustomSessionOptions) => PoolTransport | Promise<PoolTransport>;

/** The one place a transport is chosen. */
function openTransport(opts: SessionOptions): PoolTransport | Promise<PoolTransport> {
  const t = opts.transport;
  if (t === undefined || t === 'process') {
    const o = opts as ProcessSessionOptions;
    return spawnPwshTransport({ pwsh: o.pwsh, args: o.pwshArgs, fragmentSize: o.fragmentSize });
  }
  if (t === 'wsman') return createWSManTransport(opts as WSManSessionOpenOptions);
  if (t === 'ssh') return connectSsh(sshOptionsFrom(opts as SshSessionOpenOptions));
  if (typeof t === 'function') return t(opts as CustomSessionOptions);
  if (t && typeof t === 'object') return t;
  // only reachable from JavaScript or through a cast
  throw new InvalidArgumentError(
    `unknown session transport ${JSON.stringify(t)} (known: 'process', 'wsman', 'ssh', a PoolTransport or a function returning one)`,
  );
}

const STREAM_OF: Record<string, InvokeEvent['type']> = {
  Error: 'error',
  Warning: 'warning',
  Verbose: 'verbose',
  Debug: 'debug',
  Information: 'information',
  Progress: 'progress',
};

/** One pipeline's events flowing to its consumer. */
class Run {
  readonly buffer = new Queue<InvokeEvent>();
  private wake: (() => void) | undefined;
  finished = false;
  failure: Error | undefined;
  /** the failure is a stand-in for the connection error the transport reports next (onClose) */
  failureIsStandIn = false;
  /** the consumer left: events are dropped and no longer count for backpressure */
  abandoned = false;
  constructor(
    readonly pipeline: ClientPipeline,
    readonly host: PSHostHandler | undefined,
  ) {}
  push(e: InvokeEvent): void {
    if (this.abandoned) return;
    this.buffer.push(e);
    this.poke();
  }
  finish(err?: Error): void {
    this.failure ??= err;
    if (this.finished) return;
    this.finished = true;
    this.poke();
  }
  poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
  wait(): Promise<void> {
    return new Promise((r) => {
      this.wake = r;
    });
  }
}

const genKeyPair = promisify(generateKeyPair);

function hostInfoFor(host: PSHostHandler | undefined, useRunspaceHost: boolean): HostInfoSpec {
  if (!host) return { isHostNull: true, isHostUINull: true, isHostRawUINull: true, useRunspaceHost };
  return { isHostNull: false, isHostUINull: !host.ui, isHostRawUINull: !host.ui?.rawUI, useRunspaceHost, defaultData: host.ui?.rawUI };
}

function containsSecureString(v: unknown, depth = 0, seen = new Set<object>()): boolean {
  if (depth > 64 || v === null || typeof v !== 'object') return false;
  if (seen.has(v as object)) return false;
  seen.add(v as object);
  if (v instanceof PSPrimitive) return v.tag === 'SS';
  if (v instanceof PSObject) {
    for (const m of [v.adapted, v.extended]) for (const x of m.values()) if (containsSecureString(x, depth + 1, seen)) return true;
    if (v.value !== undefined && containsSecureString(v.value, depth + 1, seen)) return true;
    if (v.collection instanceof PSList) return v.collection.items.some((x) => containsSecureString(x, depth + 1, seen));
    if (v.collection instanceof PSDict)
      return v.collection.entries.some(([a, b]) => containsSecureString(a, depth + 1, seen) || containsSecureString(b, depth + 1, seen));
    return false;
  }
  if (Array.isArray(v)) return v.some((x) => containsSecureString(x, depth + 1, seen));
  if (v instanceof Map)
    return [...v].some(([a, b]) => containsSecureString(a, depth + 1, seen) || containsSecureString(b, depth + 1, seen));
  if (v instanceof Uint8Array || v instanceof Date) return false;
  return Object.values(v as object).some((x) => containsSecureString(x, depth + 1, seen));
}

/** Whether a SESSION_CAPABILITY protocolversion ("2.3") is at least major.minor. */
function protocolAtLeast(v: string | undefined, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(v ?? '');
  if (!m) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a > major || (a === major && b >= minor);
}

export class Session {
  private readonly runs = new Map<string, Run>();
  private readonly closings = new Set<Promise<void>>();
  private openWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private keyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** the key exchange in flight (one at a time, shared by every caller) */
  private keyExchange: Promise<void> | undefined;
  /** an RSA pair generated ahead (while the pool opens) */
  private pregenKeys: Promise<RsaKeyPair> | undefined;
  private closed = false;
  private connectionError: Error | undefined;
  /** backpressure: pause the transport above `highWater` unread events of one run, resume at `lowWater` */
  private highWater = 1024;
  private lowWater = 512;
  private readingPaused = false;

  private constructor(
    readonly pool: ClientRunspacePool,
    readonly transport: PoolTransport,
    readonly host: PSHostHandler | undefined,
  ) {}

  private setFlowLimit(n: number | undefined): void {
    if (n === undefined) return;
    if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError(`maxBufferedEvents must be an integer >= 2 (got ${n})`);
    this.highWater = n;
    this.lowWater = Math.floor(n / 2);
  }

  /** Receive backpressure (OutOfProc and any transport with pauseReading/resumeReading). */
  private updateFlow(): void {
    const t = this.transport as PoolTransport & { pauseReading?(): void; resumeReading?(): void };
    if (!t.pauseReading || !t.resumeReading) return;
    let max = 0;
    for (const r of this.runs.values()) if (!r.abandoned && r.buffer.length > max) max = r.buffer.length;
    if (!this.readingPaused && max > this.highWater && !this.closed && !this.connectionError) {
      this.readingPaused = true;
      t.pauseReading();
    } else if (this.readingPaused && (max <= this.lowWater || this.closed || this.connectionError)) {
      this.readingPaused = false;
      t.resumeReading();
    }
  }
  /** Events received but not yet read by stream() consumers (all pipelines). */
  get bufferedEvents(): number {
    let n = 0;
    for (const r of this.runs.values()) n += r.buffer.length;
    return n;
  }
  /** Whether the session stopped reading from the transport because a consumer fell behind. */
  get receivePaused(): boolean {
    return this.readingPaused;
  }

  /** The consumer of `run` left (or the session is closing): its events no longer hold the transport back. */
  private abandon(run: Run): void {
    run.abandoned = true;
    this.updateFlow();
  }

  /** Open a runspace pool over the chosen transport. */
  static async open(opts: SessionOptions = {}): Promise<Session> {
    const transport = await openTransport(opts);
    const pool = new ClientRunspacePool({
      minRunspaces: opts.minRunspaces,
      maxRunspaces: opts.maxRunspaces,
      host: hostInfoFor(opts.host, false),
    });
    const s = new Session(pool, transport, opts.host);
    s.setFlowLimit(opts.maxBufferedEvents);
    transport.attach(pool, { onData: () => s.drain(), onClose: (e) => s.onClose(e) });
    if (opts.exchangeKeys !== false) {
      s.pregenKeys = genKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 }) as unknown as Promise<RsaKeyPair>;
      s.pregenKeys.catch(() => undefined);
    }
    const opened = new Promise<void>((resolve, reject) => {
      s.openWaiter = { resolve, reject };
    });
    const onAbort = () => {
      const err = new AbortError('opening the session was aborted');
      s.openWaiter?.reject(err);
      for (const w of s.keyWaiters.splice(0)) w.reject(err); // the key exchange of open
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const limit = opts.openTimeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      const err = new TimeoutError(
        `the PowerShell session did not open within ${limit / 1000} s over '${transport.kind}': is the server a ` +
          `PowerShell remoting endpoint?`,
      );
      s.openWaiter?.reject(err);
      for (const w of s.keyWaiters.splice(0)) w.reject(err);
    }, limit);
    try {
      if (opts.signal?.aborted) throw new AbortError('opening the session was aborted');
      pool.open();
      await transport.openPool({ signal: opts.signal });
      await opened;
      if (opts.exchangeKeys === true || (opts.exchangeKeys === undefined && protocolAtLeast(pool.serverProtocolVersion, 2, 2)))
        await s.ensureSessionKey();
    } catch (e) {
      await transport.close().catch(() => undefined);
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
    return s;
  }

  get state(): RunspacePoolState {
    return this.pool.state;
  }

  /** Run a script and collect everything it produced. */
  async invoke(script: string, opts: InvokeOptions = {}): Promise<InvokeResult> {
    return collect(this.stream(script, opts));
  }

  /** Run a pipeline of statements/commands (see streamPipeline) and collect everything it produced. */
  async invokePipeline(
    spec: PipelineSpec,
    opts: Omit<InvokeOptions, 'parameters' | 'args' | 'mergeErrorToOutput' | 'isCommand'> = {},
  ): Promise<InvokeResult> {
    return collect(this.streamPipeline(spec, opts));
  }

  /** Run a local .ps1 on the server (Invoke-Command -FilePath): its text becomes the script, args bind to its param() block. */
  async invokeFile(path: string, opts: InvokeOptions = {}): Promise<InvokeResult> {
    const text = (await readFile(path, 'utf8')).replace(/^\uFEFF/, '');
    return this.invoke(text, opts);
  }

  /** Copy-Item -ToSession: local files / directories, or a stream, to `remote` (resumable, SHA-256 verified; src/transfer). */
  copy(source: CopySource, remote: string, opts?: CopyOptions): Promise<TransferResult> {
    return copyToRemote(this, source, remote, opts);
  }

  /** Copy-Item -FromSession: remote files / directories to a local path, or one file to a stream (src/transfer). */
  fetch(remote: string | string[], dest: FetchDestination, opts?: FetchOptions): Promise<TransferResult> {
    return fetchFromRemote(this, remote, dest, opts);
  }

  /** Yield a run's events as they arrive (resuming the transport below the low-water mark); throw its failure. */
  private async *drainRun(run: Run): AsyncGenerator<InvokeEvent, void, undefined> {
    for (;;) {
      while (run.buffer.length) {
        const ev = run.buffer.shift()!;
        if (this.readingPaused && run.buffer.length <= this.lowWater) this.updateFlow();
        yield ev;
      }
      if (run.finished) break;
      await run.wait();
    }
    if (run.failure) throw run.failure;
  }

  /** Run a script and yield its events as they arrive (output, streams, then a final state). */
  stream(script: string, opts: InvokeOptions = {}): AsyncGenerator<InvokeEvent, void, undefined> {
    // one generator between the events and the consumer (each level of yield* costs promises per event)
    return this.runPipeline(() => {
      this.checkUsable();
      if (typeof script !== 'string' || !script.length) throw new InvalidArgumentError('the script is empty');
      const args: CommandArgument[] = [];
      for (const [k, v] of Object.entries(opts.parameters ?? {})) args.push({ name: k, value: v });
      for (const v of opts.args ?? []) args.push({ name: null, value: v });
      const cmd: CommandSpec = {
        cmd: script,
        isScript: !opts.isCommand,
        args,
        mergeToOutput: opts.mergeErrorToOutput ? { error: true } : undefined,
      };
      return { statements: [[cmd]] };
    }, opts);
  }

  /**
   * Run a pipeline given as statements of commands (MS-PSRP 2.2.3.11: commands, parameters, scripts, several
   * statements, merged streams) and yield its events. `opts.parameters`/`args` are not used here: give each
   * command its `args`.
   */
  streamPipeline(
    pipelineSpec: PipelineSpec,
    opts: Omit<InvokeOptions, 'parameters' | 'args' | 'mergeErrorToOutput' | 'isCommand'> = {},
  ): AsyncGenerator<InvokeEvent, void, undefined> {
    return this.runPipeline(() => pipelineSpec, opts);
  }

  /** stream() and streamPipeline(): `makeSpec` runs (and throws) at the first next(), as in a generator of their own. */
  private async *runPipeline(
    makeSpec: () => PipelineSpec,
    opts: Omit<InvokeOptions, 'parameters' | 'args' | 'mergeErrorToOutput' | 'isCommand'>,
  ): AsyncGenerator<InvokeEvent, void, undefined> {
    const pipelineSpec = makeSpec();
    this.checkUsable();
    const host = opts.host ?? this.host;
    const spec: PipelineSpec = { ...pipelineSpec, noInput: opts.input === undefined, host: hostInfoFor(host, false) };
    if (spec.statements.some((st) => st.some((c) => containsSecureString(c.args)))) await this.ensureSessionKey();
    if (opts.signal?.aborted) throw new AbortError('the invocation was aborted before it started');

    const pipeline = this.pool.createPipeline(spec);
    const run = new Run(pipeline, host);
    this.runs.set(pipeline.id, run);
    let stopping: Promise<void> | undefined;
    const onAbort = () => {
      if (run.finished || stopping) return;
      pipeline.beginStop();
      stopping = this.transport.stopPipeline(pipeline.id).catch(() => undefined);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      pipeline.start();
      await this.transport.createPipeline(pipeline.id, { signal: opts.signal });
      if (opts.input !== undefined) void this.feedInput(pipeline, opts.input, run);
      // drainRun, inlined
      for (;;) {
        while (run.buffer.length) {
          const ev = run.buffer.shift()!;
          if (this.readingPaused && run.buffer.length <= this.lowWater) this.updateFlow();
          yield ev;
        }
        if (run.finished) break;
        await run.wait();
      }
      if (run.failure) throw run.failure;
      if (opts.signal?.aborted) throw new AbortError('the pipeline was stopped because the invocation was aborted');
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      this.abandon(run); // before waiting for any ack: acks queue behind the unread data
      if (!run.finished && !pipeline.done && !this.closed && !this.connectionError) {
        // the consumer left early: stop the pipeline
        try {
          pipeline.beginStop();
          await this.transport.stopPipeline(pipeline.id);
        } catch {
          /* ignore */
        }
      }
      await stopping;
      this.runs.delete(pipeline.id);
      this.releasePipeline(pipeline);
    }
  }

  private releasePipeline(p: ClientPipeline): void {
    if (this.closed || this.connectionError) {
      p.close();
      return;
    }
    const c = this.transport
      .closePipeline(p.id)
      .catch(() => undefined)
      .finally(() => {
        p.close();
        this.closings.delete(c);
      });
    this.closings.add(c);
  }

  private async feedInput(p: ClientPipeline, input: Iterable<PSValue> | AsyncIterable<PSValue>, run: Run): Promise<void> {
    try {
      for await (const v of input as AsyncIterable<PSValue>) {
        if (run.finished || p.state !== PSInvocationState.Running) return;
        if (containsSecureString(v)) await this.ensureSessionKey();
        p.sendInput([v]);
        this.transport.flush();
      }
      if (!run.finished && p.state === PSInvocationState.Running) {
        p.endInput();
        this.transport.flush();
      }
    } catch (e) {
      run.finish(e instanceof Error ? e : new WinRMError(String(e)));
      try {
        p.beginStop();
        await this.transport.stopPipeline(p.id);
      } catch {
        /* ignore */
      }
    }
  }

  /**
   * MS-PSRP 3.1.4.11: make sure the session key is known (RSA generated off the main thread). Concurrent callers
   * (a host answer, a SecureString argument, the server's PUBLIC_KEY_REQUEST) share one exchange.
   */
  async ensureSessionKey(): Promise<void> {
    this.checkUsable();
    if (this.pool.hasSessionKey) return;
    this.keyExchange ??= this.exchangeKeysNow().finally(() => {
      this.keyExchange = undefined;
    });
    return this.keyExchange;
  }

  private async exchangeKeysNow(): Promise<void> {
    // registered before any await: SessionKeyReady (or a dead connection) settles it whenever it comes
    const ready = new Promise<void>((resolve, reject) => this.keyWaiters.push({ resolve, reject }));
    ready.catch(() => undefined); // handled by our caller; no unhandled rejection while the RSA pair is generated
    if (!this.pool.keyExchangePending) {
      const pre = this.pregenKeys;
      this.pregenKeys = undefined;
      const keys = await (pre ?? (genKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 }) as unknown as Promise<RsaKeyPair>));
      this.checkUsable();
      if (!this.pool.hasSessionKey && !this.pool.keyExchangePending) {
        this.pool.exchangeKey(keys);
        this.transport.flush();
      }
    }
    if (this.pool.hasSessionKey) return;
    return ready;
  }

  /** Close the pool and the connection (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.updateFlow(); // resume reading: the acks of the stops and closes below queue behind unread data
    for (const r of this.runs.values())
      if (!r.finished) {
        try {
          r.pipeline.beginStop();
          await this.transport.stopPipeline(r.pipeline.id);
        } catch {
          /* ignore */
        }
      }
    await Promise.all([...this.closings]);
    await this.transport.close();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ------------------------------------------------------------------ disconnect / connect (WinRM)

  /**
   * Disconnect-PSSession (WinRM): the pool and its running pipelines stay on the host (for `idleTimeout` seconds);
   * pick them up later, from this or another process, with `Session.connect({ ..., shellId })` and `receive(id)`.
   * Streams still running here end with an error that says so.
   */
  async disconnect(o: { idleTimeout?: number; signal?: AbortSignal } = {}): Promise<{ shellId: string; pipelineIds: string[] }> {
    this.checkUsable();
    const t = this.transport as PoolTransport & {
      disconnect?(o: { idleTimeout?: number; signal?: AbortSignal }): Promise<void>;
      shellId?: string;
    };
    if (!t.disconnect || !t.shellId) throw new InvalidArgumentError(`the ${t.kind} transport cannot disconnect a session (WinRM can)`);
    const pipelineIds = [...this.runs.values()].filter((r) => !r.finished).map((r) => r.pipeline.id);
    await t.disconnect(o);
    this.closed = true;
    for (const r of this.runs.values())
      r.finish(
        new LocalProtocolError(
          `the session was disconnected; the pipeline ${r.pipeline.id} goes on running on the host (Session.connect + receive)`,
        ),
      );
    await this.transport.close(); // releases the connection; the shell stays on the host
    return { shellId: t.shellId, pipelineIds };
  }

  /** Connect-PSSession (WinRM): pick up a disconnected session by its shell id (options as for `open`). */
  static async connect(opts: SessionOptions & { shellId: string }): Promise<Session> {
    const transport = (await openTransport(opts)) as PoolTransport & {
      connectPool?(id: string, o?: { signal?: AbortSignal }): Promise<void>;
    };
    if (!transport.connectPool)
      throw new InvalidArgumentError(`the ${transport.kind} transport cannot connect to a disconnected session (WinRM can)`);
    const pool = new ClientRunspacePool({
      runspacePoolId: opts.shellId,
      minRunspaces: opts.minRunspaces,
      maxRunspaces: opts.maxRunspaces,
      host: hostInfoFor(opts.host, false),
    });
    const s = new Session(pool, transport, opts.host);
    transport.attach(pool, { onData: () => s.drain(), onClose: (e) => s.onClose(e) });
    try {
      await transport.connectPool(opts.shellId, { signal: opts.signal });
    } catch (e) {
      await transport.close().catch(() => undefined);
      throw e;
    }
    return s;
  }

  /** Get-PSSession -ComputerName (WinRM): the user's shells on the host, each with its running commands. */
  static async list(
    opts: SessionOptions,
  ): Promise<Array<{ shellId: string; state?: string; resourceUri?: string; commands: Array<{ commandId: string; state?: string }> }>> {
    const transport = (await openTransport(opts)) as PoolTransport & {
      listShells?(o?: {
        signal?: AbortSignal;
      }): Promise<Array<{ shellId: string; state?: string; resourceUri?: string; commands: Array<{ commandId: string; state?: string }> }>>;
    };
    try {
      if (!transport.listShells) throw new InvalidArgumentError(`the ${transport.kind} transport cannot list sessions (WinRM can)`);
      return await transport.listShells({ signal: opts.signal });
    } finally {
      await transport.close().catch(() => undefined);
    }
  }

  /** Receive-PSSession: the events of a pipeline that went on running while no client was connected. */
  async *receive(
    pipelineId: string,
    opts: { signal?: AbortSignal; host?: PSHostHandler } = {},
  ): AsyncGenerator<InvokeEvent, void, undefined> {
    this.checkUsable();
    const t = this.transport as PoolTransport & {
      attachPipeline?(id: string, spec?: PipelineSpec, o?: { signal?: AbortSignal }): Promise<ClientPipeline>;
    };
    if (!t.attachPipeline) throw new InvalidArgumentError(`the ${t.kind} transport cannot pick up a running pipeline (WinRM can)`);
    const pipeline = await t.attachPipeline(pipelineId, undefined, { signal: opts.signal });
    const run = new Run(pipeline, opts.host ?? this.host);
    this.runs.set(pipeline.id, run);
    const onAbort = () => {
      if (!run.finished) {
        pipeline.beginStop();
        void this.transport.stopPipeline(pipeline.id).catch(() => undefined);
      }
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.drain();
      yield* this.drainRun(run);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      this.abandon(run);
      this.runs.delete(pipeline.id);
      this.releasePipeline(pipeline);
    }
  }

  private checkUsable(): void {
    if (this.connectionError) throw this.connectionError;
    if (this.closed) throw new LocalProtocolError('the session is closed');
  }

  // ------------------------------------------------------------------ events from the pool

  private drain(): void {
    for (let e = this.pool.nextEvent(); e; e = this.pool.nextEvent()) this.onEvent(e);
  }

  private onEvent(e: PSRPEvent): void {
    switch (e.type) {
      case 'RunspacePoolState':
        if (e.state === RunspacePoolState.Opened) {
          this.openWaiter?.resolve();
          this.openWaiter = undefined;
        } else if (e.state === RunspacePoolState.Broken || e.state === RunspacePoolState.Closed) {
          const err = new RemoteCommandError(
            `the runspace pool is ${RunspacePoolState[e.state]}${e.error ? `: ${describe(e.error)}` : ''}`,
            e.error,
          );
          this.openWaiter?.reject(this.connectionError ?? err);
          this.openWaiter = undefined;
          for (const w of this.keyWaiters.splice(0)) w.reject(this.connectionError ?? err);
        }
        return;
      case 'SessionKeyReady':
        for (const w of this.keyWaiters.splice(0)) w.resolve();
        return;
      case 'PublicKeyRequest':
        void this.ensureSessionKey().catch(() => undefined);
        return;
      case 'HostCall':
        void this.onHostCall(e.call);
        return;
      case 'Output':
        this.deliver(e.pipelineId, { type: 'output', value: e.value });
        return;
      case 'Error':
      case 'Warning':
      case 'Verbose':
      case 'Debug':
      case 'Information':
      case 'Progress':
        this.deliver(e.pipelineId, { type: STREAM_OF[e.type] as 'error', record: e.record });
        return;
      case 'PipelineState': {
        const r = this.runs.get(e.pipelineId);
        if (!r) return;
        if (e.state === PSInvocationState.Running) return;
        r.push(e.error === undefined ? { type: 'state', state: e.state } : { type: 'state', state: e.state, error: e.error });
        // a pipeline failed by a lost connection (the pool is Broken) ends with the TransportError
        if (r.pipeline.done) {
          const lost = e.state === PSInvocationState.Failed && e.error === undefined && this.pool.state === RunspacePoolState.Broken;
          if (lost && !r.failure && !this.connectionError) r.failureIsStandIn = true;
          r.finish(lost ? this.lostConnection() : undefined);
        }
        return;
      }
      case 'SessionCapability':
      case 'ApplicationPrivateData':
      case 'RunspacePoolInitData':
      case 'RunspaceAvailability':
      case 'UserEvent':
      case 'Unknown':
        return;
    }
  }

  private deliver(pipelineId: string, ev: InvokeEvent): void {
    const r = this.runs.get(pipelineId);
    if (!r) return;
    r.push(ev);
    if (!this.readingPaused && !r.abandoned && r.buffer.length > this.highWater) this.updateFlow();
  }

  private async onHostCall(call: HostCall): Promise<void> {
    const run = call.pipelineId ? this.runs.get(call.pipelineId) : undefined;
    const host = call.pipelineId ? (run?.host ?? this.host) : this.host;
    try {
      const returns = hostMethod(call.methodId).returns;
      // start the exchange early when the answer is surely secret; $host.UI.Prompt (Read-Host 'text' -AsSecureString)
      // can carry SecureString / PSCredential fields too: whatever the answer holds, the key must be there before
      // it is serialized
      const early = returns === 'securestring' || returns === 'credential' ? this.ensureSessionKey() : undefined;
      early?.catch(() => undefined);
      const answer = await answerHostCall(host, call);
      if (call.ci === -100n || this.closed || this.connectionError) return;
      await early;
      if (answer && 'value' in answer && !this.pool.hasSessionKey && containsSecureString(answer.value)) await this.ensureSessionKey();
      if (this.closed || this.connectionError) return;
      if (call.pipelineId && (!run || run.pipeline.done)) return;
      this.pool.hostResponse(call, answer === undefined ? {} : 'value' in answer ? { value: answer.value } : { error: answer.error });
      this.transport.flush();
    } catch (e) {
      run?.finish(e instanceof Error ? e : new WinRMError(String(e)));
    }
  }

  private lostConnection(): Error {
    return this.connectionError ?? new TransportError(`the PowerShell ${this.transport.kind} connection was lost while the pipeline ran`);
  }

  private onClose(err?: Error): void {
    if (err) {
      this.connectionError = err;
      this.openWaiter?.reject(err);
      this.openWaiter = undefined;
      for (const w of this.keyWaiters.splice(0)) w.reject(err);
    }
    // a dead connection fails every run (even one the broken pool already marked Failed); a clean close only the unfinished
    for (const r of this.runs.values()) {
      if (err && r.failureIsStandIn) {
        r.failure = err;
        r.failureIsStandIn = false;
      }
      if (err || !r.finished) r.finish(err ?? new LocalProtocolError('the session was closed while the pipeline ran'));
    }
    this.updateFlow();
  }
}

async function collect(events: AsyncIterable<InvokeEvent>): Promise<InvokeResult> {
  const result: InvokeResult = {
    output: [],
    streams: { error: [], warning: [], verbose: [], debug: [], information: [], progress: [] },
    hadErrors: false,
    state: PSInvocationState.NotStarted,
  };
  for await (const ev of events) {
    if (ev.type === 'output') result.output.push(ev.value);
    else if (ev.type === 'state') {
      result.state = ev.state;
      if (ev.state === PSInvocationState.Failed) {
        result.hadErrors = true;
        if (ev.error !== undefined) result.streams.error.push(ev.error);
      }
    } else {
      result.streams[ev.type].push(ev.record);
      if (ev.type === 'error') result.hadErrors = true;
    }
  }
  return result;
}

/** A short text for an ErrorRecord / exception value. */
export function describe(v: ClixmlValue | undefined): string {
  if (v instanceof PSObject) return v.toStringValue ?? String(v.get('Message') ?? v.typeNames[0] ?? 'error');
  return String(v ?? '');
}
