/**
 * The endpoint's PowerShell resource (`http://schemas.microsoft.com/powershell/<configuration>`), answering as
 * Windows' PowerShell plug-in does, with each shell bridged to a real `pwsh -s` (src/server/psrp-bridge.ts):
 * Create (creationXml) · Receive (pool and pipelines; long poll → w:TimedOut) · Command (Arguments) · Send
 * (stdin / pr) · Signal (`powershell/signal/crtl_c` stops, anything else closes the pipeline, as PowerShell's
 * plug-in does) · Delete · Disconnect / Reconnect / Connect (MS-PSRP 3.1.4.9, 3.1.5.3.x) · Enumerate of
 * shells and commands (`…/windows/shell`, `…/windows/shell/Command`).
 *
 *   const ps = new PsrpEndpoint({ pwsh, configurations });
 *   await serve({ ..., resources: ps.resources() });   ...   await ps.close();
 *
 * pwsh runs in the user's logon session: its environment comes from `childEnv(session)` (USERNAME, USERDOMAIN and
 * the credential-broker hooks), never with a password. Shells belong to the user who created them; a Connect from
 * another process of the same user picks up a Disconnected shell with its running pipelines — or a Connected one whose
 * client vanished (no request for `abandonedAfterMs`, Windows' robust-connection behaviour). A shell nobody uses for
 * its IdleTimeOut (Create or Disconnect body; default 7200 s) is closed with its pwsh.
 */
import { randomUUID } from 'node:crypto';
import { buildResponse, responseEnvelopeParts } from '../wsman/envelope.js';
import { Action, NS } from '../wsman/ns.js';
import { attr, child, childrenNamed, type XmlElement } from '../xml/dom.js';
import { decodeFragments, encodeFragment, FRAGMENT_HEADER_SIZE } from '../psrp/fragment.js';
import { decodeMessage, encodeMessage, Destination, MessageType } from '../psrp/message.js';
import {
  parseReceiveRequest,
  parseSendRequest,
  parseSignalRequest,
  receiveResponseBytes,
  sendResponseBody,
  signalResponseBody,
  commandResponseBody,
} from '../winrs/messages.js';
import { bytesToGuid, concatBytes, fromUtf8 } from '../util/bytes.js';
import {
  PSRP_STOP_SIGNAL,
  connectResponseBody,
  enumerateCommandsResponseBody,
  enumerateShellsResponseBody,
  parseConnectRequest,
  parseDisconnectRequest,
  parseEnumerateFilter,
  parsePsrpCommandRequest,
  parsePsrpShellRequest,
  psrpCreateResponseBody,
  SHELL_ENUM_URI,
  shellXml,
  type PsrpShellInfo,
} from '../winrs/psrp-messages.js';
import { childEnv, type LogonSession } from './logon.js';
import { faults, WsmanFault, type ResourceHandler, type WsmanRequest } from './dispatch.js';
import { AckTimeoutError, InputEndedError, PsrpBridge, POOL, SendTimeoutError } from './psrp-bridge.js';
import { isBase64Text, type Base64Text } from '../xml/base64-cut.js';
import { findPwshExecutable } from '../util/pwsh.js';
import { configurationName, PSRP_URI_PREFIX, SessionConfigurations, type SessionConfiguration } from './psrp-config.js';

/** Environment passed from the server to pwsh (nothing else leaks). */
const PASS_ENV = [
  'TMPDIR',
  'DOTNET_ROOT',
  'DOTNET_CLI_HOME',
  'DOTNET_BUNDLE_EXTRACT_BASE_DIR',
  'DOTNET_SYSTEM_GLOBALIZATION_INVARIANT',
  'SYSTEMROOT',
];
const DEFAULT_IDLE_MS = 7200_000;
/** the correctly spelled stop code, which pypsrp sends (SignalCode.PS_CTRL_C) */
const PSRP_STOP_SIGNAL_CTRL_C = 'powershell/signal/ctrl_c';
const COALESCE_MS = 25;

export interface PsrpEndpointOptions {
  /** pwsh executable (default: WINRM_TS_PWSH, /opt/winrm-ts-peers/pwsh/pwsh, PATH) */
  pwsh?: string;
  /** extra session configurations (restricted ones are enforced through a .pssc) */
  configurations?: SessionConfiguration[];
  log?: (line: string) => void;
  /** extra environment for pwsh (tests) */
  env?: Record<string, string>;
  /**
   * ms without any request (and no Receive waiting) after which a Connected shell counts as Disconnected, as
   * Windows does when a client vanishes without Disconnect (robust connections; default 240 000)
   */
  abandonedAfterMs?: number;
}

interface PsrpCommand {
  pid: string;
  createdAt: number;
}

class PsrpShell {
  state: 'Connected' | 'Disconnected' = 'Connected';
  /** Receives waiting right now */
  polling = 0;
  readonly commands = new Map<string, PsrpCommand>();
  readonly createdAt = Date.now();
  lastUsed = Date.now();
  idleTimer: NodeJS.Timeout | undefined;
  minRunspaces = 1;
  maxRunspaces = 1;
  nextInjectedOid = 1n << 62n;
  constructor(
    readonly id: string,
    readonly rpid: string,
    readonly owner: LogonSession,
    readonly resourceUri: string,
    readonly bridge: PsrpBridge,
    readonly clientIp: string,
    public idleTimeoutMs: number,
    readonly name?: string,
  ) {}
  /** Disconnected, or Connected but abandoned by its client. */
  disconnectedNow(abandonedAfterMs: number): boolean {
    return this.state === 'Disconnected' || (this.polling === 0 && Date.now() - this.lastUsed > abandonedAfterMs);
  }
  info(abandonedAfterMs = Infinity): PsrpShellInfo {
    return {
      shellId: this.id,
      resourceUri: this.resourceUri,
      owner: this.owner.name,
      clientIp: this.clientIp,
      processId: this.bridge.pid,
      idleTimeoutMs: this.idleTimeoutMs,
      state: this.disconnectedNow(abandonedAfterMs) ? 'Disconnected' : 'Connected',
      runTimeMs: Date.now() - this.createdAt,
      inactivityMs: Date.now() - this.lastUsed,
      name: this.name,
    };
  }
}

const sameUser = (a: LogonSession, b: LogonSession) =>
  a.identity.user.toLowerCase() === b.identity.user.toLowerCase() && a.identity.domain.toLowerCase() === b.identity.domain.toLowerCase();

/** Windows' answer for an unknown configuration name (the text PowerShell clients show). */
export function unknownConfigurationFault(resourceUri: string, machine: string): WsmanFault {
  return new WsmanFault({
    code: 's:Sender',
    subcode: 'w:InvalidResourceURI',
    wsmanCode: 2150858811,
    reason:
      `The WS-Management service cannot process the request. Cannot find ` +
      `the ${configurationName(resourceUri).slice(0, 200)} session configuration in the WSMan: drive on the ${machine} computer. `,
  });
}

export class PsrpEndpoint {
  readonly shells = new Map<string, PsrpShell>();
  readonly configs: SessionConfigurations;
  private closed = false;

  constructor(readonly opts: PsrpEndpointOptions = {}) {
    this.configs = new SessionConfigurations(opts.configurations ?? []);
  }

  /** Handlers to pass as `serve({ resources })`. */
  resources(): Record<string, ResourceHandler> {
    return {
      [PSRP_URI_PREFIX]: (req) => this.handle(req),
      [SHELL_ENUM_URI]: (req) => this.handleEnumerate(req),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.shells.values()];
    this.shells.clear();
    await Promise.all(all.map((s) => this.dispose(s)));
    this.configs.dispose();
  }

  private async dispose(s: PsrpShell): Promise<void> {
    if (s.idleTimer) clearTimeout(s.idleTimer);
    this.shells.delete(s.id);
    await s.bridge.stop().catch(() => undefined);
    s.owner.unref();
  }

  async handle(req: WsmanRequest): Promise<string | Buffer> {
    const uri = req.env.resourceUri ?? '';
    const config = this.configs.resolve(uri);
    if (!config) throw unknownConfigurationFault(uri, req.endpoint.name);
    switch (req.env.action) {
      case Action.Create:
        return this.create(req, config);
      case Action.Receive:
        return this.receive(req);
      case Action.Command:
        return this.command(req);
      case Action.Send:
        return this.send(req);
      case Action.Signal:
        return this.signal(req);
      case Action.Delete:
        return this.delete(req);
      case Action.Disconnect:
        return this.disconnect(req);
      case Action.Reconnect:
        return this.reconnect(req);
      case Action.Connect:
        return this.connect(req);
      default:
        throw faults.actionNotSupported(req.env.action ?? '(none)');
    }
  }

  private shellFor(req: WsmanRequest, touch = true): PsrpShell {
    const id = req.env.selectors.get('ShellId');
    const shell = id ? this.shells.get(id.toUpperCase()) : undefined;
    if (!shell || shell.resourceUri.toLowerCase() !== (req.env.resourceUri ?? '').toLowerCase()) throw faults.invalidSelectors('shell');
    if (!sameUser(shell.owner, req.session)) throw faults.accessDenied();
    if (touch) shell.lastUsed = Date.now();
    return shell;
  }

  private async create(req: WsmanRequest, config: ReturnType<SessionConfigurations['resolve']> & object): Promise<string> {
    if (this.closed) throw faults.provider(2150858752, 'The endpoint is shutting down. ');
    let spec;
    try {
      spec = parsePsrpShellRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    const pwsh = findPwshExecutable(this.opts.pwsh);
    if (!pwsh)
      throw faults.provider(
        2147942402,
        'PowerShell (pwsh) was not found on the endpoint: start `winrm-ts serve` with --pwsh PATH or set WINRM_TS_PWSH. ',
      );
    // the pool id comes from the messages; the ShellId defaults to it (pypsrp and PowerShell send ShellId = RPID)
    let rpid: string | undefined;
    const minmax: { min?: number; max?: number } = {};
    try {
      for (const f of decodeFragments(spec.creationXml)) {
        if (!f.start || f.blob.length < 40) continue;
        const m = decodeMessage(f.blob);
        rpid ??= m.rpid;
        if (m.messageType === MessageType.INIT_RUNSPACEPOOL && f.end) {
          const t = fromUtf8(m.data);
          const min = /<I32 N="MinRunspaces">(\d+)<\/I32>/.exec(t);
          const max = /<I32 N="MaxRunspaces">(\d+)<\/I32>/.exec(t);
          if (min) minmax.min = Number(min[1]);
          if (max) minmax.max = Number(max[1]);
        }
      }
    } catch (e) {
      throw faults.invalidBody(`creationXml: ${(e as Error).message}`);
    }
    let id = (spec.shellId ?? rpid ?? randomUUID()).toUpperCase();
    if (this.shells.has(id)) id = randomUUID().toUpperCase();
    // pwsh runs as the logon's account with a clean environment (src/server/spawn.ts) + these
    const env: Record<string, string> = {
      POWERSHELL_TELEMETRY_OPTOUT: '1',
      POWERSHELL_UPDATECHECK: 'Off',
      ...(this.opts.env ?? {}),
      ...(await childEnv(req.session)),
    };
    // the client's culture (wsmv:DataLocale, else wsman:Locale of the Create) becomes pwsh's CurrentCulture and
    // CurrentUICulture, as Windows sets them from these headers; .NET on Unix reads both from the locale variables
    // (LC_ALL first, so it is set too: the endpoint's own LC_ALL must not win over the client's culture)
    const culture = clientCulture(req);
    if (culture) {
      env.LANG = culture;
      env.LC_ALL = culture;
      env.LC_MESSAGES = culture;
    }
    const maxEnv = req.replyMaxEnvelopeSize;
    const bridge = new PsrpBridge({
      pwsh,
      env,
      passEnv: PASS_ENV,
      session: req.session,
      args: config.pssc ? ['-ConfigurationFile', config.pssc] : [],
      maxFragmentSize: Math.max(FRAGMENT_HEADER_SIZE + 1024, Math.floor((maxEnv - 4096) / 4) * 3),
      log: this.opts.log,
    });
    await bridge.start().catch((e) => {
      throw faults.provider(2147942402, `${(e as Error).message} `);
    });
    const shell = new PsrpShell(
      id,
      (rpid ?? id).toUpperCase(),
      req.session,
      req.env.resourceUri!,
      bridge,
      req.clientIp,
      Math.min(spec.idleTimeoutMs ?? DEFAULT_IDLE_MS, req.endpoint.limits?.maxIdleTimeoutMs ?? 0x7fffffff),
      spec.name,
    );
    if (minmax.min) shell.minRunspaces = minmax.min;
    if (minmax.max) shell.maxRunspaces = minmax.max;
    req.session.ref();
    this.shells.set(id, shell);
    this.armIdle(shell);
    this.opts.log?.(`psrp: shell ${id} (${config.name}) for ${req.session.name}: pwsh pid ${bridge.pid}`);
    await bridge.sendData(POOL, spec.creationXml);
    return buildResponse(Action.CreateResponse, req.env.messageId, psrpCreateResponseBody(req.endpoint.url, shell.info()));
  }

  private async receive(req: WsmanRequest): Promise<string | Buffer> {
    const shell = this.shellFor(req);
    let r;
    try {
      r = parseReceiveRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    const pid = r.commandId?.toUpperCase();
    if (pid && !shell.commands.has(pid)) throw faults.invalidSelectors('command');
    const target = pid ?? POOL;
    const bridge = shell.bridge;
    const started = Date.now();
    shell.polling++;
    try {
      await bridge.wait(target, req.operationTimeoutMs, req.signal);
    } finally {
      shell.polling--;
      shell.lastUsed = Date.now();
    }
    if (req.signal.aborted)
      throw new WsmanFault({ code: 's:Receiver', subcode: 'w:InternalError', wsmanCode: 2150858752, reason: 'client went away' });
    const t = bridge.target(target);
    if (t.pending === 0) {
      if (bridge.exited) throw faults.provider(2150858752, `${bridge.exitMessage()} `);
      throw faults.timedOut();
    }
    const budget = Math.max(4096, Math.floor((req.replyMaxEnvelopeSize - 4096) / 4) * 3);
    // coalesce briefly: a short pipeline's output and its final state travel in one reply (not when a full reply waits)
    if (pid && !t.terminal && t.bytes - t.sentBytes < budget) {
      const left = Math.max(0, Math.min(COALESCE_MS, req.operationTimeoutMs - (Date.now() - started)));
      await new Promise<void>((res) => {
        const done = () => {
          clearTimeout(timer);
          t.waiters.delete(check);
          res();
        };
        const check = () => {
          if (t.terminal || bridge.exited || t.bytes - t.sentBytes >= budget) done();
        };
        const timer = setTimeout(done, left);
        t.waiters.add(check);
      });
    }
    const got = bridge.take(target, budget);
    const chunks = got.data.length ? [{ name: 'stdout', commandId: pid, data: got.data, end: false }] : [];
    let state;
    if (pid && got.terminalDelivered) {
      state = { commandId: pid, state: 'Done', exitCode: 0 };
      shell.commands.delete(pid);
      void bridge
        .closePipeline(pid)
        .catch(() => undefined)
        .finally(() => bridge.dropTarget(pid));
    }
    // built as bytes: the fragments' base64 never becomes one large string re-encoded to UTF-8
    const { head, tail } = responseEnvelopeParts(Action.ReceiveResponse, req.env.messageId);
    return receiveResponseBytes(head, chunks, state, tail);
  }

  private async command(req: WsmanRequest): Promise<string> {
    const shell = this.shellFor(req);
    let c;
    try {
      c = parsePsrpCommandRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    let pid = pidOf(c.args) ?? c.commandId?.toUpperCase() ?? randomUUID().toUpperCase();
    pid = pid.toUpperCase();
    if (shell.commands.has(pid) || shell.bridge.hasTarget(pid))
      throw faults.provider(87, 'The parameter is incorrect: the command id is already in use. ', 'w:InvalidParameter');
    try {
      await shell.bridge.command(pid, req.operationTimeoutMs);
    } catch (e) {
      if (e instanceof AckTimeoutError) {
        // not started within the OperationTimeout: forget the id (pwsh is told to free it) and let the client retry
        shell.bridge.abandon(pid);
        throw faults.timedOut();
      }
      throw faults.provider(2150858752, `${(e as Error).message} `);
    }
    shell.commands.set(pid, { pid, createdAt: Date.now() });
    void shell.bridge.sendData(pid, c.args).catch(() => undefined); // queued in order before any later Send
    return buildResponse(Action.CommandResponse, req.env.messageId, commandResponseBody(pid));
  }

  private async send(req: WsmanRequest): Promise<string> {
    const shell = this.shellFor(req);
    // strict base64 goes to pwsh as it came (no decode / re-encode per byte); anything else through the full parser
    const fast = sendStreamsText(req.env.payload);
    let streams: Array<{ name: string; commandId?: string; data: Uint8Array | Base64Text }>;
    try {
      streams = fast ?? parseSendRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    for (const s of streams) {
      let target = s.commandId?.toUpperCase();
      if (target && !shell.commands.has(target)) throw faults.invalidSelectors('command');
      // host answers may come without CommandId (pypsrp): route them by the message's pipeline id
      if (!target) {
        const p = pidOf(typeof s.data === 'string' ? Buffer.from(s.data, 'base64') : s.data);
        target = p && shell.commands.has(p) ? p : POOL;
      }
      try {
        await shell.bridge.sendData(target, s.data, s.name === 'pr' ? 'PromptResponse' : 'Default', req.operationTimeoutMs);
      } catch (e) {
        // as Windows: input for a command that has ended faults InvalidSelectors (the client drops the rest of it)
        if (e instanceof InputEndedError) throw faults.invalidSelectors('command');
        if (e instanceof SendTimeoutError) throw faults.timedOut();
        throw faults.provider(2150858752, `${(e as Error).message} `);
      }
    }
    return buildResponse(Action.SendResponse, req.env.messageId, sendResponseBody());
  }

  private async signal(req: WsmanRequest): Promise<string> {
    const shell = this.shellFor(req);
    let s;
    try {
      s = parseSignalRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    const pid = s.commandId?.toUpperCase();
    if (!pid) throw faults.invalidSelectors('command');
    if (shell.commands.has(pid)) {
      const bridge = shell.bridge;
      if (bridge.exited) throw faults.provider(2150858752, `${bridge.exitMessage()} `);
      // PowerShell's plug-in stops on `powershell/signal/crtl_c` (its spelling; pypsrp also sends `ctrl_c`) and
      // closes the command on any other code. Either way the command's unread output is dropped first and the
      // Signal is answered at once, without waiting for pwsh (a pwsh blocked on that output would never answer).
      const code = s.code.toLowerCase();
      const stop = code === PSRP_STOP_SIGNAL || code === PSRP_STOP_SIGNAL_CTRL_C;
      const unread = bridge.target(pid).bytes;
      try {
        if (stop) bridge.signal(pid);
        else {
          shell.commands.delete(pid);
          bridge.abandon(pid);
        }
      } catch (e) {
        throw faults.provider(2150858752, `${(e as Error).message} `);
      }
      this.opts.log?.(
        `psrp: shell ${shell.id} command ${pid} ${stop ? 'stopped' : 'closed'} by the client (${unread} bytes of unread output dropped)`,
      );
    }
    return buildResponse(Action.SignalResponse, req.env.messageId, signalResponseBody());
  }

  private async delete(req: WsmanRequest): Promise<string> {
    const shell = this.shellFor(req);
    await this.dispose(shell);
    this.opts.log?.(`psrp: shell ${shell.id} deleted`);
    return buildResponse(Action.DeleteResponse, req.env.messageId, '');
  }

  /** IdleTimeOut: a shell nobody used for that long (disconnected, or abandoned by its client) is closed. */
  private armIdle(shell: PsrpShell): void {
    if (shell.idleTimer) clearTimeout(shell.idleTimer);
    const idle = Math.min(Math.max(shell.idleTimeoutMs, 1000), 0x7fffffff);
    const left = Math.max(50, Math.min(idle - (Date.now() - shell.lastUsed), 0x7fffffff));
    shell.idleTimer = setTimeout(() => {
      if (!this.shells.has(shell.id)) return;
      if (shell.polling > 0 || Date.now() - shell.lastUsed < idle) {
        this.armIdle(shell);
        return;
      }
      this.opts.log?.(`psrp: shell ${shell.id} closed after ${idle / 1000} s without a client (IdleTimeOut)`);
      void this.dispose(shell);
    }, left);
    shell.idleTimer.unref?.();
  }

  private disconnect(req: WsmanRequest): string {
    const shell = this.shellFor(req);
    let d;
    try {
      d = parseDisconnectRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    if (d.idleTimeoutMs !== undefined) shell.idleTimeoutMs = Math.min(d.idleTimeoutMs, req.endpoint.limits?.maxIdleTimeoutMs ?? 0x7fffffff);
    shell.state = 'Disconnected';
    shell.lastUsed = Date.now();
    this.armIdle(shell);
    this.opts.log?.(`psrp: shell ${shell.id} disconnected (idle timeout ${shell.idleTimeoutMs / 1000} s)`);
    return buildResponse(Action.DisconnectResponse, req.env.messageId, '');
  }

  private reconnect(req: WsmanRequest): string {
    const shell = this.shellFor(req);
    shell.state = 'Connected';
    return buildResponse(Action.ReconnectResponse, req.env.messageId, '');
  }

  private connect(req: WsmanRequest): string {
    const shell = this.shellFor(req, false); // a refused Connect must not make an abandoned shell look used
    let c;
    try {
      c = parseConnectRequest(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    if (c.commandId) {
      if (!shell.commands.has(c.commandId.toUpperCase())) throw faults.invalidSelectors('command');
      shell.lastUsed = Date.now();
      return buildResponse(Action.ConnectResponse, req.env.messageId, connectResponseBody());
    }
    if (!shell.disconnectedNow(this.opts.abandonedAfterMs ?? 240_000)) {
      throw faults.provider(
        2150858843,
        'The shell is in use by another client: disconnect it first (Disconnect-PSSession), then connect. ',
        'w:InvalidSelectors',
      );
    }
    if (!c.connectXml) throw faults.invalidBody('Connect: a pool connect needs connectXml');
    const bridge = shell.bridge;
    if (!bridge.sessionCapability) throw faults.provider(2150858752, 'The runspace pool has not finished opening; try again. ');
    let clientProtocol = '2.3';
    try {
      const types = decodeFragments(c.connectXml)
        .filter((f) => f.start && f.blob.length >= 40)
        .map((f) => decodeMessage(f.blob));
      if (!types.some((m) => m.messageType === MessageType.CONNECT_RUNSPACEPOOL)) throw new Error('no CONNECT_RUNSPACEPOOL message');
      const cap = types.find((m) => m.messageType === MessageType.SESSION_CAPABILITY);
      const v = cap && /<Version N="protocolversion">([\d.]+)<\/Version>/.exec(fromUtf8(cap.data));
      if (v) clientProtocol = v[1]!;
    } catch (e) {
      throw faults.invalidBody(`connectXml: ${(e as Error).message}`);
    }
    if (Number(clientProtocol.split('.')[1] ?? 0) < 2 && clientProtocol.startsWith('2.')) {
      throw faults.provider(2150858752, `Disconnect and connect need PSRP protocol 2.2 or later (the client offers ${clientProtocol}). `);
    }
    // a new client: every message it has not received whole is handed out again, from its start
    bridge.rewind();
    const initData = encodeMessage({
      destination: Destination.Client,
      messageType: MessageType.RUNSPACEPOOL_INIT_DATA,
      rpid: shell.rpid,
      data:
        `<Obj RefId="0"><MS><I32 N="MinRunspaces">${shell.minRunspaces}</I32><I32 ` +
        `N="MaxRunspaces">${shell.maxRunspaces}</I32></MS></Obj>`,
    });
    const one = (blob: Uint8Array) => encodeFragment({ objectId: shell.nextInjectedOid++, fragmentId: 0n, start: true, end: true, blob });
    const response = concatBytes(one(bridge.sessionCapability), one(initData));
    // the first Receive of the new client carries the pool's state (Opened), as Windows sends it; a client that
    // listed the pool as Disconnected (pypsrp's get_runspace_pools) only becomes Opened through it
    const state = encodeMessage({
      destination: Destination.Client,
      messageType: MessageType.RUNSPACEPOOL_STATE,
      rpid: shell.rpid,
      data: `<Obj RefId="0"><MS><I32 N="RunspaceState">${bridge.poolState ?? 2}</I32></MS></Obj>`,
    });
    const replay = bridge.applicationPrivateData ? [bridge.applicationPrivateData, state] : [state];
    bridge.inject(
      POOL,
      replay.map((blob) => ({ fragment: one(blob), oid: shell.nextInjectedOid - 1n })),
    );
    shell.state = 'Connected';
    shell.lastUsed = Date.now();
    this.opts.log?.(`psrp: shell ${shell.id} connected by ${req.session.name} from ${req.clientIp}`);
    return buildResponse(Action.ConnectResponse, req.env.messageId, connectResponseBody(response));
  }

  /**
   * Get of `…/windows/shell` with a ShellId selector: the shell's properties (pypsrp's RunspacePool.is_alive reads
   * State); a shell that is gone, or another user's, gets Windows' InvalidSelectors fault.
   */
  private getShell(req: WsmanRequest): string {
    if ((req.env.resourceUri ?? '').replace(/\/+$/, '').toLowerCase() !== SHELL_ENUM_URI)
      throw faults.unknownResource(req.env.resourceUri ?? '');
    const id = req.env.selectors.get('ShellId')?.toUpperCase();
    const shell = id ? this.shells.get(id) : undefined;
    if (!shell || !sameUser(shell.owner, req.session)) throw faults.invalidSelectors('shell');
    return buildResponse(Action.GetResponse, req.env.messageId, shellXml(shell.info(this.opts.abandonedAfterMs ?? 240_000)));
  }

  /** Enumerate over `…/windows/shell` (the user's PowerShell shells) and `…/windows/shell/Command` (their commands). */
  async handleEnumerate(req: WsmanRequest): Promise<string> {
    if (req.env.action === Action.Get) return this.getShell(req);
    if (req.env.action !== Action.Enumerate) throw faults.actionNotSupported(req.env.action ?? '(none)');
    let f;
    try {
      f = parseEnumerateFilter(req.env.payload);
    } catch (e) {
      throw faults.invalidBody((e as Error).message);
    }
    const mine = [...this.shells.values()].filter((s) => sameUser(s.owner, req.session));
    const uri = (req.env.resourceUri ?? '').replace(/\/+$/, '');
    if (uri.toLowerCase() === `${SHELL_ENUM_URI}/command`) {
      const shell = f.shellId ? mine.find((s) => s.id === f.shellId!.toUpperCase()) : undefined;
      const cmds = shell ? [...shell.commands.keys()].map((commandId) => ({ commandId, state: 'Running' })) : [];
      return buildResponse(Action.EnumerateResponse, req.env.messageId, enumerateCommandsResponseBody(cmds));
    }
    if (uri.toLowerCase() !== SHELL_ENUM_URI) throw faults.unknownResource(uri);
    const list = f.shellId ? mine.filter((s) => s.id === f.shellId!.toUpperCase()) : mine;
    return buildResponse(
      Action.EnumerateResponse,
      req.env.messageId,
      enumerateShellsResponseBody(list.map((s) => s.info(this.opts.abandonedAfterMs ?? 240_000))),
    );
  }
}

/** The pipeline id of the first whole-message-start fragment in a buffer, if any (MS-PSRP 2.2.1 PID). */
/** The streams of a Send whose every Stream is strict base64 (the usual case), as text; undefined otherwise. */
function sendStreamsText(payload: XmlElement | undefined): Array<{ name: string; commandId?: string; data: Base64Text }> | undefined {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'Send') return undefined;
  const out: Array<{ name: string; commandId?: string; data: Base64Text }> = [];
  for (const st of childrenNamed(payload, NS.rsp, 'Stream')) {
    const text = st.text;
    if (!isBase64Text(text)) return undefined;
    out.push({ name: attr(st, 'Name') ?? 'stdin', commandId: attr(st, 'CommandId'), data: text });
  }
  return out;
}

function pidOf(data: Uint8Array): string | undefined {
  try {
    for (const f of decodeFragments(data)) {
      if (!f.start || f.blob.length < 40) continue;
      const pid = bytesToGuid(f.blob.subarray(24, 40));
      return pid === '00000000-0000-0000-0000-000000000000' ? undefined : pid;
    }
  } catch {
    /* partial fragments: no id */
  }
  return undefined;
}

/** `de-DE` from the Create's wsmv:DataLocale or wsman:Locale (xml:lang), as a POSIX locale name (`de_DE.UTF-8`). */
export function clientCulture(req: Pick<WsmanRequest, 'env'>): string | undefined {
  const h = req.env.header;
  const XML_NS = 'http://www.w3.org/XML/1998/namespace';
  for (const el of [child(h, NS.wsmv, 'DataLocale'), child(h, NS.wsman, 'Locale')]) {
    const tag = attr(el, 'lang', XML_NS) ?? attr(el, 'lang');
    // BCP 47 language[-script][-region]; anything else is ignored (pwsh keeps the endpoint's culture)
    if (tag && /^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|\d{3}))?$/.test(tag)) return `${tag.replace(/-/g, '_')}.UTF-8`;
  }
  return undefined;
}
