/**
 * PSRP over WS-Man (MS-PSRP 3.1.5.1, 3.1.5.3): drives the sans-IO ClientRunspacePool through a
 * WSManClient (src/wsman/client.ts, any auth the HTTP transport offers — Basic, Negotiate with encryption, CredSSP —
 * over HTTP or HTTPS).
 *
 *   const rp = await WSManRunspacePool.open(wsman, { configurationName: 'Microsoft.PowerShell' });
 *   const r = await rp.invoke({ statements: [[{ cmd: "1+1", isScript: true }]] });      // r.output = [2]
 *   for await (const ev of rp.stream(spec, { signal })) ...                              // events as they come
 *   await rp.disconnect({ idleTimeout: 600 });   // the shell and its running pipelines stay on the host
 *   const again = await WSManRunspacePool.connect(wsman2, { shellId });                  // another process
 *   const pipes = await again.attach(pid) ...   await WSManRunspacePool.list(wsman)      // Enumerate
 *   await rp.close();                            // Delete
 *
 * Create carries SESSION_CAPABILITY + INIT_RUNSPACEPOOL in creationXml with the `protocolversion` option; Receive
 * long polls (w:TimedOut = poll again); Command carries the first CREATE_PIPELINE fragments in Arguments, the rest
 * and input go by Send on stdin, host answers on `pr`; stop is Signal `powershell/signal/crtl_c`, closing a pipeline
 * is Signal terminate, closing the pool is Delete. MaxEnvelopeSize starts at 150 KiB (safe everywhere) and is raised
 * to 500 KiB once the server speaks protocol >= 2.2 (pypsrp's rule), or to what `cfg:MaxEnvelopeSizekb` says when
 * `readServerMaxEnvelopeSize` is used; fragments are sized to fit the envelope.
 * Round trips of a warm `invoke`: Command + Receive (output, final state and CommandState Done travel together).
 */
import {
  AbortError,
  InvalidArgumentError,
  LocalProtocolError,
  OutcomeUnknownError,
  RemoteCommandError,
  RemoteProtocolError,
  WSManFaultError,
} from '../errors.js';
import type { WSManClient } from '../wsman/client.js';
import { isTimedOutFault } from '../wsman/envelope.js';
import { Action, NS, WSManFaultCode } from '../wsman/ns.js';
import { child } from '../xml/dom.js';
import { parseCommandResponse, parseCreateResponse, parseReceiveResponse, receiveBody, signalBody } from '../winrs/messages.js';
import { ClientRunspacePool, type ClientPipeline, type ClientRunspacePoolOptions } from '../psrp/pool.js';
import { RunspacePoolState, PSInvocationState } from '../psrp/state.js';
import { encodeFragment } from '../psrp/fragment.js';
import { encodeMessage, Destination, MessageType } from '../psrp/message.js';
import type { HostCall, PSRPEvent } from '../psrp/events.js';
import type { PipelineSpec } from '../psrp/messages.js';
import type { ClixmlValue, PSValue } from '../clixml/index.js';
import {
  PSRP_STOP_SIGNAL,
  SIGNAL_TERMINATE,
  SHELL_ENUM_URI,
  COMMAND_ENUM_URI,
  connectCommandBody,
  connectPoolBody,
  disconnectBody,
  enumerateCommandsBody,
  enumerateShellsBody,
  parseCommandEnumeration,
  parseConnectResponse,
  parseShellEnumeration,
  psrpCommandLineBody,
  psrpSendBody,
  psrpShellBody,
  type CommandListing,
  type ShellListing,
} from '../winrs/psrp-messages.js';

export const PS_RESOURCE_PREFIX = 'http://schemas.microsoft.com/powershell/';
export const DEFAULT_CONFIGURATION_NAME = 'Microsoft.PowerShell';
/** 150 KiB: what every Windows version accepts (2008 R2). */
export const SAFE_ENVELOPE_SIZE = 153600;
/** 500 KiB: Windows 2012+ default (MaxEnvelopeSizekb 500), usable once protocol >= 2.2 is agreed. */
export const PSV3_ENVELOPE_SIZE = 512000;
/** bytes of envelope around a Send/Command payload (headers, selectors, options), kept conservative */
const ENVELOPE_OVERHEAD = 2048;

/** `Microsoft.PowerShell` → `http://schemas.microsoft.com/powershell/Microsoft.PowerShell`; full URIs pass through. */
export function resourceUriFor(configurationName?: string): string {
  const n = configurationName ?? DEFAULT_CONFIGURATION_NAME;
  if (/^https?:\/\//i.test(n)) return n;
  if (!/^[A-Za-z0-9._\-/]+$/.test(n)) throw new InvalidArgumentError(`not a session configuration name: ${n}`);
  return PS_RESOURCE_PREFIX + n;
}

/** The largest PSRP payload (fragments, before base64) one envelope of `maxEnvelopeSize` bytes can carry. */
export function payloadSizeFor(maxEnvelopeSize: number): number {
  return Math.floor((maxEnvelopeSize - ENVELOPE_OVERHEAD - 256) / 4) * 3;
}

export type HostCallHandler = (
  call: HostCall,
) => Promise<{ value?: PSValue } | { error: PSValue } | undefined> | { value?: PSValue } | { error: PSValue } | undefined;

export interface WSManPoolOptions {
  /** `Microsoft.PowerShell` (default), a JEA / custom name, or a full resource URI */
  configurationName?: string;
  pool?: ClientRunspacePoolOptions;
  /** seconds the host keeps the shell when no client is connected (Create IdleTimeOut) */
  idleTimeout?: number;
  /** answer host calls (Read-Host, PromptForChoice, ...); default: void calls are ignored, others get an error */
  onHostCall?: HostCallHandler;
  /**
   * MaxEnvelopeSize once the pool is open: 'auto' (default) reads the host's cfg:MaxEnvelopeSizekb (a config Get,
   * refused to non-admins on Windows) and falls back to 'protocol'; 'protocol' = 500 KiB when the server speaks
   * protocol >= 2.2, else 150 KiB (pypsrp's rule); or a number of bytes.
   */
  envelopeSize?: 'auto' | 'protocol' | number;
  signal?: AbortSignal;
}

export interface InvokeOptions {
  /** the pipeline id (= WS-Man CommandId); default a new GUID */
  pipelineId?: string;
  /** values piped into the pipeline (PIPELINE_INPUT, then END_OF_PIPELINE_INPUT) */
  input?: Iterable<PSValue>;
  signal?: AbortSignal;
  onHostCall?: HostCallHandler;
}

export interface InvokeResult {
  output: ClixmlValue[];
  streams: {
    error: ClixmlValue[];
    warning: ClixmlValue[];
    verbose: ClixmlValue[];
    debug: ClixmlValue[];
    information: ClixmlValue[];
    progress: ClixmlValue[];
  };
  hadErrors: boolean;
  state: PSInvocationState;
  /** the reason of a Failed pipeline (ErrorRecord) */
  reason?: ClixmlValue;
  pipelineId: string;
}

export interface DisconnectedShell extends ShellListing {
  commands: CommandListing[];
}

const terminal = (s: PSInvocationState) =>
  s === PSInvocationState.Completed || s === PSInvocationState.Failed || s === PSInvocationState.Stopped;

export class WSManRunspacePool {
  private mes: number;
  private readonly queues = new Map<string, PSRPEvent[]>();
  private readonly poolEvents: PSRPEvent[] = [];
  private readonly commandDone = new Set<string>();
  /** pipeline id (the PID in PSRP messages) -> WS-Man CommandId, when the host chose another id */
  private readonly cmdIds = new Map<string, string>();
  private cmd(pid: string): string {
    const k = pid.toUpperCase();
    return this.cmdIds.get(k) ?? k;
  }
  private sendChain: Promise<void> = Promise.resolve();
  private closed = false;
  disconnected = false;
  onHostCall: HostCallHandler | undefined;

  private constructor(
    readonly wsman: WSManClient,
    readonly pool: ClientRunspacePool,
    readonly shellId: string,
    readonly resourceUri: string,
  ) {
    this.mes = wsman.maxEnvelopeSize;
  }

  /** bytes: the size chosen (default, negotiated or set), capped by the host's limit once a request was refused as too large */
  get maxEnvelopeSize(): number {
    return Math.min(this.mes, this.wsman.serverEnvelopeLimit ?? Infinity);
  }
  /** Override the envelope size (e.g. with `readServerMaxEnvelopeSize`). */
  set maxEnvelopeSize(v: number) {
    if (!Number.isInteger(v) || v < 8192) throw new InvalidArgumentError(`MaxEnvelopeSize must be an integer >= 8192, got ${v}`);
    this.mes = v;
  }
  get payloadSize(): number {
    return payloadSizeFor(this.maxEnvelopeSize);
  }
  get state(): RunspacePoolState {
    return this.pool.state;
  }

  private call(
    action: string,
    body: string,
    o: {
      signal?: AbortSignal;
      commandOptions?: Array<{ name: string; value: string; mustComply?: boolean }>;
      operationTimeout?: number;
      cutBase64?: string;
    } = {},
  ) {
    return this.wsman.invoke(action, this.resourceUri, body, {
      selectors: { ShellId: this.shellId },
      options: o.commandOptions,
      signal: o.signal,
      maxEnvelopeSize: this.maxEnvelopeSize,
      operationTimeout: o.operationTimeout,
      cutBase64: o.cutBase64,
    });
  }

  // ---------------------------------------------------------------- open / connect / list

  /** Create the runspace pool (WS-Man Create with creationXml) and receive until it is Opened. */
  static async open(wsman: WSManClient, o: WSManPoolOptions = {}): Promise<WSManRunspacePool> {
    const pool = new ClientRunspacePool(o.pool);
    pool.open();
    const rp = await WSManRunspacePool.create(wsman, pool, o);
    try {
      await rp.flush(o.signal); // an INIT_RUNSPACEPOOL larger than one envelope continues on stdin
      await rp.receivePoolUntil(() => pool.state === RunspacePoolState.Opened, o.signal);
      await rp.negotiateEnvelopeSize(o.envelopeSize, o.signal);
    } catch (e) {
      await rp.close().catch(() => undefined);
      throw e;
    }
    return rp;
  }

  /** WS-Man Create for a pool whose creation messages are queued (`pool.open()` was called). No Receive yet. */
  static async create(wsman: WSManClient, pool: ClientRunspacePool, o: WSManPoolOptions = {}): Promise<WSManRunspacePool> {
    const uri = resourceUriFor(o.configurationName);
    const mes = wsman.maxEnvelopeSize;
    const first = pool.dataToSend(payloadSizeFor(mes), { stream: 'default' });
    if (!first) throw new LocalProtocolError('the runspace pool produced no creationXml');
    let env;
    try {
      env = await wsman.invoke(
        Action.Create,
        uri,
        psrpShellBody({ shellId: pool.id, creationXml: first.data, idleTimeout: o.idleTimeout }),
        {
          options: [{ name: 'protocolversion', value: pool.protocolVersion, mustComply: true }],
          signal: o.signal,
          maxEnvelopeSize: mes,
        },
      );
    } catch (e) {
      if (e instanceof OutcomeUnknownError) {
        // the Create may have been carried out: the shell would carry the id this client proposed, so delete it
        // (best effort, bounded) rather than leave a pwsh running until the host's idle timeout
        await wsman
          .invoke(Action.Delete, uri, '', { selectors: { ShellId: pool.id.toUpperCase() }, signal: AbortSignal.timeout(10_000) })
          .catch(() => undefined);
      }
      throw e;
    }
    const { shellId } = parseCreateResponse(env);
    const rp = new WSManRunspacePool(wsman, pool, shellId, uri);
    rp.onHostCall = o.onHostCall;
    return rp;
  }

  /**
   * Connect to a Disconnected pool from another client (Connect-PSSession): WS-Man Connect with connectXml
   * (SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL), answered with SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA.
   * Running pipelines are picked up with `attach(pipelineId)`.
   */
  static async connect(
    wsman: WSManClient,
    o: WSManPoolOptions & { shellId: string; existingPool?: ClientRunspacePool },
  ): Promise<WSManRunspacePool> {
    const uri = resourceUriFor(o.configurationName);
    const pool = o.existingPool ?? new ClientRunspacePool({ ...o.pool, runspacePoolId: o.shellId });
    pool.connect();
    const rp = new WSManRunspacePool(wsman, pool, o.shellId.toUpperCase(), uri);
    rp.onHostCall = o.onHostCall;
    const cx = pool.dataToSend(rp.payloadSize, { stream: 'default' });
    if (!cx) throw new LocalProtocolError('the runspace pool produced no connectXml');
    const env = await wsman.invoke(Action.Connect, uri, connectPoolBody(cx.data), {
      selectors: { ShellId: rp.shellId },
      options: [{ name: 'protocolversion', value: pool.protocolVersion, mustComply: true }],
      signal: o.signal,
      maxEnvelopeSize: rp.mes,
    });
    const resp = parseConnectResponse(env);
    if (!resp) throw new RemoteProtocolError('the Connect response carries no connectResponseXml');
    pool.receiveData({ data: resp, stream: 'default' });
    rp.dispatch();
    if (pool.state === RunspacePoolState.Connecting) {
      // the ConnectResponse is the server's word that the pool is open again (MS-PSRP 3.1.4.9); Windows sends no
      // RUNSPACEPOOL_STATE after it, so tell the state machine through the message it understands
      pool.receiveData({ data: stateFragment(pool.id, RunspacePoolState.Opened), stream: 'default' });
      rp.dispatch();
    }
    rp.updateEnvelopeSize();
    return rp;
  }

  /** The user's PowerShell shells on the host (Enumerate), each with its commands (Get-PSSession -ComputerName). */
  static async list(wsman: WSManClient, o: { signal?: AbortSignal; all?: boolean } = {}): Promise<DisconnectedShell[]> {
    const env = await wsman.invoke(Action.Enumerate, SHELL_ENUM_URI, enumerateShellsBody(), { signal: o.signal });
    const shells = parseShellEnumeration(env).filter((s) => o.all || (s.resourceUri ?? '').startsWith(PS_RESOURCE_PREFIX));
    const out: DisconnectedShell[] = [];
    for (const s of shells) {
      const ce = await wsman.invoke(Action.Enumerate, COMMAND_ENUM_URI, enumerateCommandsBody(s.shellId), { signal: o.signal });
      out.push({ ...s, commands: parseCommandEnumeration(ce) });
    }
    return out;
  }

  /** Size envelopes for this host (see WSManPoolOptions.envelopeSize). Never above what the host allows. */
  async negotiateEnvelopeSize(how: 'auto' | 'protocol' | number = 'auto', signal?: AbortSignal): Promise<number> {
    if (typeof how === 'number') {
      this.maxEnvelopeSize = how;
      return this.mes;
    }
    if (how === 'auto') {
      try {
        const v = await readServerMaxEnvelopeSize(this.wsman, signal);
        if (v && v >= 8192) {
          this.mes = v;
          return this.mes;
        }
      } catch (e) {
        if (e instanceof AbortError) throw e;
        // not allowed to read the configuration (Windows: administrators only): fall back to the protocol rule
      }
    }
    this.updateEnvelopeSize();
    return this.mes;
  }

  /** pypsrp's rule: 150 KiB until the server speaks protocol >= 2.2, then 500 KiB (never lowered here). */
  updateEnvelopeSize(): void {
    const v = (this.pool.serverProtocolVersion ?? '2.0').split('.').map(Number);
    if ((v[0]! > 2 || (v[0] === 2 && (v[1] ?? 0) >= 2)) && this.mes < PSV3_ENVELOPE_SIZE) this.mes = PSV3_ENVELOPE_SIZE;
  }

  // ---------------------------------------------------------------- events

  /** When set (a Session drives the pool), received bytes are announced here and events are left in the pool. */
  onReceived: (() => void) | undefined;

  /** Move the pool's events into per-pipeline queues (several pipelines may run at once). */
  private dispatch(): void {
    if (this.onReceived) {
      this.onReceived();
      return;
    }
    for (let e = this.pool.nextEvent(); e; e = this.pool.nextEvent()) {
      const pid = 'pipelineId' in e && e.pipelineId ? e.pipelineId.toUpperCase() : undefined;
      if (pid) {
        let q = this.queues.get(pid);
        if (!q) {
          q = [];
          this.queues.set(pid, q);
        }
        q.push(e);
      } else this.poolEvents.push(e);
    }
  }

  /** Pool-level events received so far (state, application private data, pool host calls), drained. */
  takePoolEvents(): PSRPEvent[] {
    return this.poolEvents.splice(0);
  }

  /** One Receive round for the pool (no CommandId) or a pipeline. A w:TimedOut long poll returns quietly. */
  async receive(pipelineId?: string, signal?: AbortSignal): Promise<{ timedOut: boolean; done: boolean }> {
    let env;
    try {
      env = await this.call(Action.Receive, receiveBody(pipelineId && this.cmd(pipelineId), 'stdout'), {
        signal,
        commandOptions: [{ name: 'WSMAN_CMDSHELL_OPTION_KEEPALIVE', value: 'True' }],
        cutBase64: 'Stream', // PSRP fragments decoded from the reply's bytes, outside the XML parser
      });
    } catch (e) {
      if (isTimedOutFault(e)) return { timedOut: true, done: false };
      throw e;
    }
    const r = parseReceiveResponse(env);
    for (const s of r.streams) {
      if (!s.data.length) continue;
      this.pool.receiveData({ data: s.data, stream: 'default', pipelineId: pipelineId ?? s.commandId });
    }
    const done = r.state?.state === 'Done';
    if (done && pipelineId) this.commandDone.add(pipelineId.toUpperCase());
    this.dispatch();
    return { timedOut: false, done };
  }

  private async receivePoolUntil(pred: () => boolean, signal?: AbortSignal): Promise<void> {
    while (!pred()) {
      if (signal?.aborted) throw new AbortError();
      if (this.pool.state === RunspacePoolState.Broken || this.pool.state === RunspacePoolState.Closed) {
        const e = this.poolEvents.find((x) => x.type === 'RunspacePoolState' && x.error !== undefined) as
          { error?: ClixmlValue } | undefined;
        throw new RemoteCommandError(
          `the runspace pool could not be opened: it is ${RunspacePoolState[this.pool.state]}${e?.error ? ` (${describeError(e.error)})` : ''}`,
          e?.error,
        );
      }
      await this.receive(undefined, signal);
      await this.answerPoolHostCalls(signal);
    }
  }

  private async answerPoolHostCalls(signal?: AbortSignal): Promise<void> {
    const keep: PSRPEvent[] = [];
    for (const e of this.poolEvents.splice(0)) {
      if (e.type === 'HostCall') await this.answer(e.call, this.onHostCall, signal);
      keep.push(e);
    }
    this.poolEvents.push(...keep);
  }

  private async answer(call: HostCall, handler: HostCallHandler | undefined, signal?: AbortSignal): Promise<void> {
    if (call.ci === -100n) {
      if (handler) await handler(call);
      return;
    }
    let r: { value?: PSValue } | { error: PSValue } | undefined;
    try {
      r = handler ? await handler(call) : undefined;
    } catch (e) {
      r = { error: (e as Error).message ?? String(e) };
    }
    this.pool.hostResponse(call, r ?? { error: `the client has no host to answer ${call.methodName}` });
    await this.flush(signal);
  }

  // ---------------------------------------------------------------- bytes out

  /** Send everything the pool has queued (pipeline input, host answers, key exchange), in order. */
  flush(signal?: AbortSignal): Promise<void> {
    const run = async () => {
      for (;;) {
        const t = this.pool.pendingTargets()[0];
        if (!t) return;
        if (t.pipelineId && !this.started.has(t.pipelineId.toUpperCase())) return; // its Command goes first
        const d = this.pool.dataToSend(this.payloadSize, t);
        if (!d) return;
        try {
          await this.call(
            Action.Send,
            psrpSendBody(d.data, { commandId: d.pipelineId && this.cmd(d.pipelineId), stream: d.stream === 'pr' ? 'pr' : 'stdin' }),
            { signal },
          );
        } catch (e) {
          // the command already ended on the host (it failed or finished while input was in flight): as on Windows the
          // Send faults w:InvalidSelectors; its input is no longer wanted, and its own state/error says what happened
          if (!(d.pipelineId && e instanceof WSManFaultError && e.wsmanFaultCode === WSManFaultCode.InvalidSelectors)) throw e;
          while (this.pool.dataToSend(this.payloadSize, { pipelineId: d.pipelineId, stream: d.stream })) {
            /* drop the rest of its input */
          }
        }
      }
    };
    const p = this.sendChain.then(run, run);
    this.sendChain = p.catch(() => undefined);
    return p;
  }

  private readonly started = new Set<string>();

  /** Start a pipeline: WS-Man Command with the first CREATE_PIPELINE fragments in Arguments, the rest by Send. */
  async start(p: ClientPipeline, signal?: AbortSignal): Promise<void> {
    p.start();
    await this.command(p.id, signal);
  }

  /** WS-Man Command for a pipeline whose CREATE_PIPELINE is queued (`pipeline.start()` was called), then Send the rest. */
  async command(pipelineId: string, signal?: AbortSignal): Promise<void> {
    if (this.closed) throw new LocalProtocolError('the runspace pool is closed');
    const pid = pipelineId.toUpperCase();
    const run = async () => {
      const first = this.pool.dataToSend(this.payloadSize, { pipelineId: pid, stream: 'default' });
      if (!first) throw new LocalProtocolError('the pipeline produced no CREATE_PIPELINE');
      const env = await this.call(Action.Command, psrpCommandLineBody(pid, first.data), {
        signal,
        commandOptions: [{ name: 'WINRS_SKIP_CMD_SHELL', value: 'False' }],
      });
      const id = parseCommandResponse(env).toUpperCase();
      // hosts use the CommandId the client proposes (protocol >= 2.2); older ones may choose their own
      if (id !== pid) this.cmdIds.set(pid, id);
      this.started.add(pid);
    };
    const s = this.sendChain.then(run, run);
    this.sendChain = s.catch(() => undefined);
    await s;
    await this.flush(signal);
  }

  /** Whether the host reported the pipeline's command Done (then no terminate Signal is needed). */
  isCommandDone(pipelineId: string): boolean {
    return this.commandDone.has(pipelineId.toUpperCase());
  }
  forgetCommand(pipelineId: string): void {
    const k = pipelineId.toUpperCase();
    this.commandDone.delete(k);
    this.started.delete(k);
    this.queues.delete(k);
    this.cmdIds.delete(k);
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /** Pick up a pipeline that kept running on a connected pool (WS-Man Connect with CommandId). */
  async attach(
    commandId: string,
    spec: PipelineSpec = { statements: [[{ cmd: '(attached)' }]] },
    signal?: AbortSignal,
    o: { pipelineId?: string } = {},
  ): Promise<ClientPipeline> {
    const pid = (o.pipelineId ?? commandId).toUpperCase();
    if (commandId.toUpperCase() !== pid) this.cmdIds.set(pid, commandId.toUpperCase());
    await this.call(Action.Connect, connectCommandBody(commandId.toUpperCase()), { signal });
    const p = this.pool.createPipeline(spec, { pipelineId: pid });
    p.sm.move(PSInvocationState.Running); // created by an earlier client: running on the host
    this.started.add(pid);
    return p;
  }

  /** Stop a running pipeline (Stop-Job / Ctrl+C): Signal `powershell/signal/crtl_c`. */
  async stop(pipelineId: string, signal?: AbortSignal, o: { beginStop?: boolean } = {}): Promise<void> {
    const p = this.pool.pipelines.get(pipelineId.toUpperCase());
    if (o.beginStop !== false) p?.beginStop();
    await this.call(Action.Signal, signalBody(this.cmd(pipelineId), PSRP_STOP_SIGNAL), { signal });
  }

  /** Close a pipeline on the host (Signal terminate). */
  async terminate(pipelineId: string, signal?: AbortSignal): Promise<void> {
    await this.call(Action.Signal, signalBody(this.cmd(pipelineId), SIGNAL_TERMINATE), { signal });
  }

  // ---------------------------------------------------------------- pipelines, high level

  /**
   * Run a pipeline and yield its events as they arrive (Output, Error, ..., HostCall, PipelineState). Host calls are
   * answered through `onHostCall` before they are yielded. Aborting the signal stops the pipeline.
   */
  async *stream(spec: PipelineSpec, o: InvokeOptions = {}): AsyncGenerator<PSRPEvent> {
    const input = o.input ? [...o.input] : undefined;
    const p = this.pool.createPipeline({ ...spec, noInput: input === undefined }, { pipelineId: o.pipelineId });
    yield* this.follow(p, o, async () => {
      await this.start(p, o.signal);
      if (input) {
        if (input.length) p.sendInput(input);
        p.endInput();
        await this.flush(o.signal);
      }
    });
  }

  /** Follow the events of a pipeline (started by `begin`, or attached) until it ends. */
  async *follow(p: ClientPipeline, o: InvokeOptions = {}, begin?: () => Promise<void>): AsyncGenerator<PSRPEvent> {
    const pid = p.id.toUpperCase();
    const handler = o.onHostCall ?? this.onHostCall;
    let stopping = false;
    const onAbort = () => {
      if (!stopping && !p.done) {
        stopping = true;
        void this.stop(pid).catch(() => undefined);
      }
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      if (begin) await begin();
      if (o.signal?.aborted) onAbort();
      for (;;) {
        const q = this.queues.get(pid) ?? [];
        this.queues.set(pid, q);
        while (q.length) {
          const e = q.shift()!;
          if (e.type === 'HostCall') await this.answer(e.call, handler);
          yield e;
          if (e.type === 'PipelineState' && terminal(e.state)) finished = true;
        }
        if (finished && this.commandDone.has(pid)) break;
        if (this.disconnected) break; // Disconnect-PSSession: the pipeline goes on running on the host
        if (finished && p.done && !this.commandDone.has(pid)) {
          // the host has not reported the command Done yet: one more Receive usually brings it
          const r = await this.receive(pid);
          if (!r.done && !r.timedOut) continue;
          break;
        }
        await this.receive(pid);
      }
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      if (!this.commandDone.has(pid) && !this.disconnected && !this.closed) await this.terminate(pid).catch(() => undefined);
      this.commandDone.delete(pid);
      this.queues.delete(pid);
      this.started.delete(pid);
      p.close();
    }
  }

  /** Run a pipeline to the end and collect its output and streams. */
  async invoke(spec: PipelineSpec, o: InvokeOptions = {}): Promise<InvokeResult> {
    const r: InvokeResult = {
      output: [],
      streams: { error: [], warning: [], verbose: [], debug: [], information: [], progress: [] },
      hadErrors: false,
      state: PSInvocationState.Running,
      pipelineId: '',
    };
    for await (const e of this.stream(spec, o)) collect(r, e);
    if (o.signal?.aborted && r.state !== PSInvocationState.Completed) throw new AbortError('the pipeline was stopped (aborted)');
    return r;
  }

  // ---------------------------------------------------------------- disconnect / reconnect / close

  /** Disconnect-PSSession: the shell and its pipelines keep running on the host for `idleTimeout` seconds. */
  async disconnect(o: { idleTimeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    await this.call(Action.Disconnect, disconnectBody(o.idleTimeout), { signal: o.signal });
    this.disconnected = true;
  }

  /** Reconnect after `disconnect` from this same client (WS-Man Reconnect). */
  async reconnect(o: { signal?: AbortSignal } = {}): Promise<void> {
    await this.call(Action.Reconnect, '', { signal: o.signal });
    this.disconnected = false;
  }

  /** Close the pool (WS-Man Delete). */
  async close(o: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pool.beginClose();
    try {
      await this.call(Action.Delete, '', { signal: o.signal });
    } catch (e) {
      if (!(e instanceof WSManFaultError)) throw e; // already gone on the host
    } finally {
      this.pool.closed();
    }
  }
}

/** Fold one event into an InvokeResult. */
export function collect(r: InvokeResult, e: PSRPEvent): void {
  switch (e.type) {
    case 'Output':
      r.output.push(e.value);
      r.pipelineId = e.pipelineId;
      break;
    case 'Error':
      r.streams.error.push(e.record);
      r.hadErrors = true;
      break;
    case 'Warning':
      r.streams.warning.push(e.record);
      break;
    case 'Verbose':
      r.streams.verbose.push(e.record);
      break;
    case 'Debug':
      r.streams.debug.push(e.record);
      break;
    case 'Information':
      r.streams.information.push(e.record);
      break;
    case 'Progress':
      r.streams.progress.push(e.record);
      break;
    case 'PipelineState':
      r.state = e.state;
      r.pipelineId = e.pipelineId;
      if (e.state === PSInvocationState.Failed) {
        r.hadErrors = true;
        r.reason = e.error;
      }
      break;
    default:
      break;
  }
}

/** Short text of an ErrorRecord-ish value (its ToString). */
export function describeError(v: ClixmlValue | undefined): string {
  if (v && typeof v === 'object' && 'toString' in v) {
    const s = (v as { toStringValue?: string }).toStringValue ?? String(v);
    return s;
  }
  return String(v);
}

/** A RUNSPACEPOOL_STATE message in one fragment (MS-PSRP 2.2.2.9), for the state machine after a Connect. */
function stateFragment(rpid: string, state: RunspacePoolState): Uint8Array {
  const blob = encodeMessage({
    destination: Destination.Client,
    messageType: MessageType.RUNSPACEPOOL_STATE,
    rpid,
    data: `<Obj RefId="0"><MS><I32 N="RunspaceState">${state}</I32></MS></Obj>`,
  });
  return encodeFragment({ objectId: (1n << 62n) + BigInt(state), fragmentId: 0n, start: true, end: true, blob });
}

/** Read the host's MaxEnvelopeSizekb (WS-Man Get of winrm/config; needs admin rights on Windows). */
export async function readServerMaxEnvelopeSize(wsman: WSManClient, signal?: AbortSignal): Promise<number | undefined> {
  const env = await wsman.get('http://schemas.microsoft.com/wbem/wsman/1/config', { signal });
  return parseMaxEnvelopeSizeKb(env.body);
}
export function parseMaxEnvelopeSizeKb(body: import('../xml/dom.js').XmlElement | undefined): number | undefined {
  const v = child(child(body, NS.cfg, 'Config'), NS.cfg, 'MaxEnvelopeSizekb')?.text.trim();
  if (!v || !/^\d{1,7}$/.test(v)) return undefined;
  return Number(v) * 1024;
}
