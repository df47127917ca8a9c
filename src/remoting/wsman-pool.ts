/**
 * The transport-level runspace pool of PSRP over WS-Man (MS-PSRP 3.1.5.1, 3.1.5.3): the WS-Man verbs that carry a
 * sans-IO ClientRunspacePool through a WSManClient (src/wsman/client.ts, any auth the HTTP transport offers — Basic,
 * Negotiate with encryption, CredSSP — over HTTP or HTTPS). It is internal: WSManTransport (wsman-transport.ts) drives
 * it for a Session, which is the API for running pipelines (`Session.open({ transport: 'wsman', ... })`).
 *
 *   const rp = await WSManRunspacePool.create(wsman, pool, { configurationName: 'Microsoft.PowerShell' });  // Create
 *   await rp.receive();  await rp.command(pipelineId);  await rp.flush();   // Receive, Command, Send
 *   await rp.disconnect({ idleTimeout: 600 });   // the shell and its running pipelines stay on the host
 *   const again = await WSManRunspacePool.connect(wsman2, { shellId });     // Connect, from another process
 *   await again.attach(commandId);   await WSManRunspacePool.list(wsman);   // Connect with CommandId, Enumerate
 *   await rp.close();                            // Delete
 *
 * Create carries SESSION_CAPABILITY + INIT_RUNSPACEPOOL in creationXml with the `protocolversion` option; Receive
 * long polls (w:TimedOut = poll again); Command carries the first CREATE_PIPELINE fragments in Arguments, the rest
 * and input go by Send on stdin, host answers on `pr`; stop is Signal `powershell/signal/crtl_c`, closing a pipeline
 * is Signal terminate, closing the pool is Delete. MaxEnvelopeSize starts at 150 KiB (safe everywhere) and is raised
 * to 500 KiB once the server speaks protocol >= 2.2 (pypsrp's rule), or to what `cfg:MaxEnvelopeSizekb` says when
 * `readServerMaxEnvelopeSize` is used; fragments are sized to fit the envelope.
 * Received bytes go into the pool; `onReceived` announces them (the Session drains `pool.nextEvent()`).
 */
import {
  AbortError,
  InvalidArgumentError,
  LocalProtocolError,
  OutcomeUnknownError,
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
import type { PipelineSpec } from '../psrp/messages.js';
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

export interface WSManPoolOptions {
  /** `Microsoft.PowerShell` (default), a JEA / custom name, or a full resource URI */
  configurationName?: string;
  pool?: ClientRunspacePoolOptions;
  /** seconds the host keeps the shell when no client is connected (Create IdleTimeOut) */
  idleTimeout?: number;
  /**
   * MaxEnvelopeSize once the pool is open: 'auto' (default) reads the host's cfg:MaxEnvelopeSizekb (a config Get,
   * refused to non-admins on Windows) and falls back to 'protocol'; 'protocol' = 500 KiB when the server speaks
   * protocol >= 2.2, else 150 KiB (pypsrp's rule); or a number of bytes.
   */
  envelopeSize?: 'auto' | 'protocol' | number;
  signal?: AbortSignal;
}

export interface DisconnectedShell extends ShellListing {
  commands: CommandListing[];
}

export class WSManRunspacePool {
  private mes: number;
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
    return new WSManRunspacePool(wsman, pool, shellId, uri);
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

  /** Called when received bytes were fed to the pool (its events wait in `pool.nextEvent()`). */
  onReceived: (() => void) | undefined;

  private dispatch(): void {
    this.onReceived?.();
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
