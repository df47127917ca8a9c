/**
 * WS-Man bodies of PowerShell remoting over WinRM (MS-PSRP 3.1.5.1 / MS-WSMV 3.1.4.x),
 * both directions, sans-IO: strings and bytes in, strings and plain objects out.
 *
 * Client: Shell with creationXml, CommandLine with the first CREATE_PIPELINE fragments in Arguments, Send on
 * `stdin`/`pr`, Disconnect (optional IdleTimeOut), Connect with connectXml (pool) or CommandId (pipeline),
 * Enumerate of shells and commands; parsers for the Connect and Enumerate responses.
 * Server: parsers for those requests and the responses shaped as Windows writes them
 * (test_psrp_disconnect_runspaces.yml, test_psrp_disconnected_commands.yml).
 */
import { attr, child, childrenNamed, escapeXml, type XmlElement } from '../xml/dom.js';
import { RemoteProtocolError } from '../errors.js';
import { NS } from '../wsman/ns.js';
import { parseDuration, type Envelope } from '../wsman/envelope.js';
import { fromBase64, toBase64 } from '../util/bytes.js';

/** `powershell/signal/crtl_c` — the exact (misspelled) code PowerShell compares to stop a pipeline (MS-PSRP 3.1.5.3.9; MS-WSMV 2.2.5.6). */
export const PSRP_STOP_SIGNAL = 'powershell/signal/crtl_c';
export const SIGNAL_TERMINATE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate';
/**
 * ResourceURI for enumerating shells (and, with `/Command`, their commands) — DSP0226 8 (WS-Enumeration);
 * MS-WSMV 3.1.4 (wsen:Enumerate).
 */
export const SHELL_ENUM_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell';
export const COMMAND_ENUM_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command';
const SELECTOR_FILTER = 'http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter';

const B64_RE = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;
function b64(el: XmlElement | undefined, what: string): Uint8Array {
  const t = el?.text ?? '';
  if (!B64_RE.test(t)) throw new RemoteProtocolError(`${what} is not base64`);
  return fromBase64(t.replace(/\s+/g, ''));
}
const secs = (s: number) => `PT${Number.isInteger(s) ? s : s.toFixed(3)}S`;

// ---------------- client: request bodies ----------------

/** MS-PSRP 3.1.5.1.3 (wxf:Create) rsp:Shell with creationXml (SESSION_CAPABILITY + INIT_RUNSPACEPOOL fragments). */
export function psrpShellBody(o: { shellId: string; creationXml: Uint8Array; idleTimeout?: number }): string {
  return (
    `<rsp:Shell ShellId="${escapeXml(o.shellId)}"><rsp:InputStreams>stdin ` +
    `pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>` +
    (o.idleTimeout !== undefined ? `<rsp:IdleTimeOut>${secs(o.idleTimeout)}</rsp:IdleTimeOut>` : '') +
    `<creationXml xmlns="${NS.pwsh}">${toBase64(o.creationXml)}</creationXml></rsp:Shell>`
  );
}

/** MS-PSRP 3.1.5.1.7 Command: CommandId = the pipeline id, Arguments = the first fragment(s) of CREATE_PIPELINE. */
export function psrpCommandLineBody(commandId: string, args: Uint8Array): string {
  return (
    `<rsp:CommandLine CommandId="${escapeXml(commandId)}"><rsp:Command ` +
    `/><rsp:Arguments>${toBase64(args)}</rsp:Arguments></rsp:CommandLine>`
  );
}

/** MS-PSRP 3.1.5.1.5 Send: `stdin` (data) or `pr` (host responses). */
export function psrpSendBody(data: Uint8Array, o: { commandId?: string; stream?: 'stdin' | 'pr' } = {}): string {
  return (
    `<rsp:Send><rsp:Stream ` +
    `Name="${o.stream ?? 'stdin'}"${o.commandId ? ` CommandId="${escapeXml(o.commandId)}"` : ''}>${toBase64(data)}</rsp:Stream></rsp:Send>`
  );
}

/** MS-WSMV 3.1.4.15 Disconnect, optional IdleTimeOut (seconds). */
export function disconnectBody(idleTimeout?: number): string {
  return idleTimeout === undefined
    ? '<rsp:Disconnect />'
    : `<rsp:Disconnect><rsp:IdleTimeOut>${secs(idleTimeout)}</rsp:IdleTimeOut></rsp:Disconnect>`;
}

/** MS-WSMV 3.1.4.16 Connect of a pool (connectXml = SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL fragments). */
export function connectPoolBody(connectXml: Uint8Array): string {
  return `<rsp:Connect><connectXml xmlns="${NS.pwsh}">${toBase64(connectXml)}</connectXml></rsp:Connect>`;
}
/** Connect of a disconnected pipeline. */
export function connectCommandBody(commandId: string): string {
  return `<rsp:Connect CommandId="${escapeXml(commandId)}" />`;
}

export function enumerateShellsBody(): string {
  return (
    `<wsen:Enumerate xmlns:wsen="${NS.wsen}"><wsman:OptimizeEnumeration ` +
    `/><wsman:MaxElements>32000</wsman:MaxElements></wsen:Enumerate>`
  );
}
export function enumerateCommandsBody(shellId: string): string {
  return (
    `<wsen:Enumerate xmlns:wsen="${NS.wsen}"><wsman:OptimizeEnumeration /><wsman:MaxElements>32000</wsman:MaxElements>` +
    `<wsman:Filter Dialect="${SELECTOR_FILTER}"><wsman:SelectorSet><wsman:Selector ` +
    `Name="ShellId">${escapeXml(shellId)}</wsman:Selector></wsman:SelectorSet></wsman:Filter></wsen:Enumerate>`
  );
}

// ---------------- client: response parsing ----------------

/** The connectResponseXml bytes of a pool ConnectResponse (SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA). */
export function parseConnectResponse(env: Envelope): Uint8Array | undefined {
  const cr = child(env.body, NS.rsp, 'ConnectResponse');
  if (!cr) throw new RemoteProtocolError('expected rsp:ConnectResponse in the Connect reply');
  const x = child(cr, NS.pwsh, 'connectResponseXml');
  return x ? b64(x, 'connectResponseXml') : undefined;
}

export interface ShellListing {
  shellId: string;
  resourceUri?: string;
  owner?: string;
  clientIp?: string;
  /** 'Connected' | 'Disconnected' */
  state?: string;
  name?: string;
  idleTimeout?: string;
  shellRunTime?: string;
}
export interface CommandListing {
  commandId: string;
  state?: string;
}

function items(env: Envelope): XmlElement | undefined {
  const er = child(env.body, NS.wsen, 'EnumerateResponse') ?? child(env.body, NS.wsen, 'PullResponse');
  if (!er) throw new RemoteProtocolError('expected n:EnumerateResponse in the Enumerate reply');
  return child(er, NS.wsman, 'Items');
}
const txt = (el: XmlElement | undefined, local: string) => child(el, NS.rsp, local)?.text.trim() || undefined;

/** Shells of an Enumerate over `…/windows/shell`. */
export function parseShellEnumeration(env: Envelope): ShellListing[] {
  return childrenNamed(items(env), NS.rsp, 'Shell')
    .map((s) => ({
      shellId: txt(s, 'ShellId') ?? '',
      resourceUri: txt(s, 'ResourceUri'),
      owner: txt(s, 'Owner'),
      clientIp: txt(s, 'ClientIP'),
      state: txt(s, 'State'),
      name: txt(s, 'Name'),
      idleTimeout: txt(s, 'IdleTimeOut'),
      shellRunTime: txt(s, 'ShellRunTime'),
    }))
    .filter((s) => s.shellId);
}
/** Commands of an Enumerate over `…/windows/shell/Command` with a ShellId selector filter. */
export function parseCommandEnumeration(env: Envelope): CommandListing[] {
  return childrenNamed(items(env), NS.rsp, 'Command')
    .map((c) => ({ commandId: txt(c, 'CommandId') ?? '', state: txt(c, 'CommandState') }))
    .filter((c) => c.commandId);
}

// ---------------- server: request parsing ----------------

export function parsePsrpShellRequest(payload: XmlElement | undefined): {
  shellId?: string;
  creationXml: Uint8Array;
  idleTimeoutMs?: number;
  name?: string;
} {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'Shell') throw new RemoteProtocolError('Create: the body must be rsp:Shell');
  const cx = child(payload, NS.pwsh, 'creationXml');
  if (!cx) throw new RemoteProtocolError('Create: a PowerShell shell needs creationXml (SESSION_CAPABILITY and INIT_RUNSPACEPOOL)');
  const id = attr(payload, 'ShellId');
  if (id !== undefined && !/^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/.test(id))
    throw new RemoteProtocolError('Create: ShellId must be a GUID');
  return {
    shellId: id,
    creationXml: b64(cx, 'creationXml'),
    idleTimeoutMs: parseDuration(txt(payload, 'IdleTimeOut')),
    name: txt(payload, 'Name'),
  };
}

export function parsePsrpCommandRequest(payload: XmlElement | undefined): { commandId?: string; args: Uint8Array } {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'CommandLine')
    throw new RemoteProtocolError('Command: the body must be rsp:CommandLine');
  const parts = childrenNamed(payload, NS.rsp, 'Arguments').map((a) => b64(a, 'Arguments'));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const args = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    args.set(p, o);
    o += p.length;
  }
  return { commandId: attr(payload, 'CommandId'), args };
}

export function parseDisconnectRequest(payload: XmlElement | undefined): { idleTimeoutMs?: number } {
  if (payload && (payload.ns !== NS.rsp || payload.local !== 'Disconnect'))
    throw new RemoteProtocolError('Disconnect: the body must be rsp:Disconnect');
  return { idleTimeoutMs: parseDuration(txt(payload, 'IdleTimeOut')) };
}

export function parseConnectRequest(payload: XmlElement | undefined): { commandId?: string; connectXml?: Uint8Array } {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'Connect')
    throw new RemoteProtocolError('Connect: the body must be rsp:Connect');
  const cx = child(payload, NS.pwsh, 'connectXml');
  return { commandId: attr(payload, 'CommandId'), connectXml: cx ? b64(cx, 'connectXml') : undefined };
}

/** The ShellId of an Enumerate's SelectorFilter, if any. */
export function parseEnumerateFilter(payload: XmlElement | undefined): { shellId?: string } {
  if (!payload || payload.ns !== NS.wsen || payload.local !== 'Enumerate')
    throw new RemoteProtocolError('Enumerate: the body must be n:Enumerate');
  const f = child(payload, NS.wsman, 'Filter');
  const sel = childrenNamed(child(f, NS.wsman, 'SelectorSet'), NS.wsman, 'Selector').find((s) => attr(s, 'Name') === 'ShellId');
  return { shellId: sel?.text.trim() };
}

// ---------------- server: response bodies (prefixes of buildResponse: a, x, w, rsp) ----------------

export interface PsrpShellInfo {
  shellId: string;
  resourceUri: string;
  owner: string;
  clientIp: string;
  processId?: number;
  idleTimeoutMs: number;
  state: 'Connected' | 'Disconnected';
  runTimeMs: number;
  inactivityMs: number;
  name?: string;
}
const dur = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `P${Math.floor(s / 86400)}DT${Math.floor(s / 3600) % 24}H${Math.floor(s / 60) % 60}M${s % 60}S`;
};

/** One `rsp:Shell` (Enumerate items, the body of a Get of `…/windows/shell` with a ShellId selector). */
export function shellXml(s: PsrpShellInfo): string {
  return (
    `<rsp:Shell xmlns:rsp="${NS.rsp}"><rsp:ShellId>${s.shellId}</rsp:ShellId>${s.name ? `<rsp:Name>${escapeXml(s.name)}</rsp:Name>` : ''}` +
    `<rsp:ResourceUri>${escapeXml(s.resourceUri)}</rsp:ResourceUri><rsp:Owner>${escapeXml(s.owner)}</rsp:Owner>` +
    `<rsp:ClientIP>${escapeXml(s.clientIp)}</rsp:ClientIP>` +
    (s.processId !== undefined ? `<rsp:ProcessId>${s.processId}</rsp:ProcessId>` : '') +
    (`<rsp:IdleTimeOut>PT${(s.idleTimeoutMs / 1000).toFixed(3)}S</rsp:IdleTimeOut><rsp:InputStreams>stdin ` +
      `pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>`) +
    (`<rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut><rsp:Locale>en-US</rsp:Locale><rsp:DataLocale>en-US</rsp:DataLocale>` +
      `<rsp:CompressionMode>NoCompression</rsp:CompressionMode>`) +
    `<rsp:ProfileLoaded>Yes</rsp:ProfileLoaded><rsp:Encoding>UTF8</rsp:Encoding><rsp:BufferMode>Block</rsp:BufferMode>` +
    `<rsp:State>${s.state}</rsp:State>` +
    `<rsp:ShellRunTime>${dur(s.runTimeMs)}</rsp:ShellRunTime><rsp:ShellInactivity>${dur(s.inactivityMs)}</rsp:ShellInactivity></rsp:Shell>`
  );
}

/** CreateResponse of a PowerShell shell (test_psrp_open_runspace.yml). */
export function psrpCreateResponseBody(address: string, s: PsrpShellInfo): string {
  return (
    `<x:ResourceCreated><a:Address>${escapeXml(address)}</a:Address><a:ReferenceParameters>` +
    `<w:ResourceURI>${escapeXml(s.resourceUri)}</w:ResourceURI>` +
    `<w:SelectorSet><w:Selector Name="ShellId">${s.shellId}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>` +
    shellXml(s)
  );
}

export function connectResponseBody(connectResponseXml?: Uint8Array): string {
  if (!connectResponseXml) return '<rsp:ConnectResponse/>';
  return (
    `<rsp:ConnectResponse><rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>` +
    `<connectResponseXml xmlns="${NS.pwsh}">${toBase64(connectResponseXml)}</connectResponseXml></rsp:ConnectResponse>`
  );
}

export function enumerateShellsResponseBody(shells: PsrpShellInfo[]): string {
  return (
    `<n:EnumerateResponse xmlns:n="${NS.wsen}"><n:EnumerationContext></n:EnumerationContext>` +
    (shells.length ? `<w:Items>${shells.map(shellXml).join('')}</w:Items>` : '') +
    '<w:EndOfSequence/></n:EnumerateResponse>'
  );
}

export function enumerateCommandsResponseBody(commands: CommandListing[]): string {
  return (
    `<n:EnumerateResponse xmlns:n="${NS.wsen}"><n:EnumerationContext></n:EnumerationContext>` +
    (commands.length
      ? '<w:Items>' +
        commands
          .map(
            (c) =>
              `<rsp:Command ` +
              `xmlns:rsp="${NS.rsp}"><rsp:CommandId>${c.commandId}</rsp:CommandId><rsp:CommandLine></rsp:CommandLine>` +
              `<rsp:CommandState>${c.state ?? 'Running'}</rsp:CommandState></rsp:Command>`,
          )
          .join('') +
        '</w:Items>'
      : '') +
    '<w:EndOfSequence/></n:EnumerateResponse>'
  );
}
