/**
 * WinRS bodies (MS-WSMV 2.2.4.x, 3.1.4.x), both directions, sans-IO.
 * Client: build Shell/CommandLine/Send/Receive/Signal bodies, parse Create/Command/Receive responses.
 * Server: parse those request bodies, build the responses shaped as Windows writes them (test_winrs_*.yml).
 */
import { child, childrenNamed, attr, escapeXml, type XmlElement } from '../xml/dom.js';
import { RemoteProtocolError } from '../errors.js';
import { NS } from '../wsman/ns.js';
import type { Envelope } from '../wsman/envelope.js';

export const SHELL_CMD_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';
export const COMMAND_STATE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/';
export const SIGNAL = {
  terminate: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate',
  ctrl_c: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c',
  ctrl_break: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_break',
} as const;

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

// ---------------- client: request bodies ----------------

export interface ShellSpec {
  inputStreams?: string;
  outputStreams?: string;
  environment?: Record<string, string>;
  workingDirectory?: string;
  /** seconds */
  idleTimeout?: number;
  lifetime?: number;
  name?: string;
}

/** MS-WSMV 2.2.4.37 Shell (Create body). */
export function shellBody(s: ShellSpec = {}): string {
  let x =
    `<rsp:Shell><rsp:InputStreams>${escapeXml(s.inputStreams ?? 'stdin')}</rsp:InputStreams>` +
    `<rsp:OutputStreams>${escapeXml(s.outputStreams ?? 'stdout stderr')}</rsp:OutputStreams>`;
  if (s.environment && Object.keys(s.environment).length) {
    x +=
      '<rsp:Environment>' +
      Object.entries(s.environment)
        .map(([k, v]) => `<rsp:Variable Name="${escapeXml(k)}">${escapeXml(v)}</rsp:Variable>`)
        .join('') +
      '</rsp:Environment>';
  }
  if (s.idleTimeout !== undefined) x += `<rsp:IdleTimeOut>PT${s.idleTimeout}S</rsp:IdleTimeOut>`;
  if (s.lifetime !== undefined) x += `<rsp:Lifetime>PT${s.lifetime}S</rsp:Lifetime>`;
  if (s.name) x += `<rsp:Name>${escapeXml(s.name)}</rsp:Name>`;
  if (s.workingDirectory) x += `<rsp:WorkingDirectory>${escapeXml(s.workingDirectory)}</rsp:WorkingDirectory>`;
  return x + '</rsp:Shell>';
}

/** MS-WSMV 2.2.4.7 CommandLine. */
export function commandLineBody(command: string, args: string[] = [], commandId?: string): string {
  return (
    `<rsp:CommandLine${commandId ? ` CommandId="${escapeXml(commandId)}"` : ''}><rsp:Command>${escapeXml(command)}</rsp:Command>` +
    args.map((a) => `<rsp:Arguments>${escapeXml(a)}</rsp:Arguments>`).join('') +
    '</rsp:CommandLine>'
  );
}

/** MS-WSMV 2.2.4.34 Send. */
export function sendBody(commandId: string, data: Uint8Array, end: boolean, stream = 'stdin'): string {
  return (
    `<rsp:Send><rsp:Stream Name="${escapeXml(stream)}" ` +
    `CommandId="${escapeXml(commandId)}"${end ? ' End="true"' : ''}>${b64(data)}</rsp:Stream></rsp:Send>`
  );
}

/** MS-WSMV 2.2.4.26 Receive. */
export function receiveBody(commandId: string | undefined, streams = 'stdout stderr'): string {
  return (
    `<rsp:Receive>` +
    `<rsp:DesiredStream${commandId ? ` CommandId="${escapeXml(commandId)}"` : ''}>${escapeXml(streams)}</rsp:DesiredStream>` +
    `</rsp:Receive>`
  );
}

/** MS-WSMV 2.2.4.38 Signal. */
export function signalBody(commandId: string, code: string): string {
  return `<rsp:Signal CommandId="${escapeXml(commandId)}"><rsp:Code>${escapeXml(code)}</rsp:Code></rsp:Signal>`;
}

// ---------------- client: response parsing ----------------

/** ShellId from a CreateResponse: the ShellId selector, else rsp:Shell/rsp:ShellId. */
export function parseCreateResponse(env: Envelope): { shellId: string; resourceUri?: string } {
  const body = env.body;
  const rc = child(body, NS.wst, 'ResourceCreated');
  const ref = child(rc, NS.wsa, 'ReferenceParameters');
  const sel = childrenNamed(child(ref, NS.wsman, 'SelectorSet'), NS.wsman, 'Selector').find((s) => attr(s, 'Name') === 'ShellId');
  const shell = child(body, NS.rsp, 'Shell');
  const shellId = sel?.text.trim() || child(shell, NS.rsp, 'ShellId')?.text.trim();
  if (!shellId) throw new RemoteProtocolError('the Create response carries no ShellId');
  return { shellId, resourceUri: child(ref, NS.wsman, 'ResourceURI')?.text.trim() };
}

export function parseCommandResponse(env: Envelope): string {
  const id = child(child(env.body, NS.rsp, 'CommandResponse'), NS.rsp, 'CommandId')?.text.trim();
  if (!id) throw new RemoteProtocolError('the Command response carries no CommandId');
  return id;
}

export interface StreamChunk {
  name: string;
  commandId?: string;
  data: Uint8Array;
  end: boolean;
  /** the same bytes as `data`, in pieces (an endpoint's pipe reads): receiveResponseBytes encodes them without joining */
  parts?: readonly Uint8Array[];
}
export interface CommandStateInfo {
  commandId?: string;
  state: 'Done' | 'Running' | 'Pending' | string;
  exitCode?: number;
}
export interface ReceiveResult {
  streams: StreamChunk[];
  state?: CommandStateInfo;
}

const B64_RE = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;
const EMPTY = Buffer.alloc(0);

/** xs:boolean as Windows reads it: "true"/"1" (any case, surrounding blanks ignored) are true, anything else false.
 *  pypsrp and Windows' own client write End="True". */
export function xsBoolean(v: string | undefined): boolean {
  if (v === undefined) return false;
  const t = v.trim().toLowerCase();
  return t === 'true' || t === '1';
}

/** MS-WSMV 2.2.4.27 ReceiveResponse. */
export function parseReceiveResponse(env: Envelope): ReceiveResult {
  const rr = child(env.body, NS.rsp, 'ReceiveResponse');
  if (!rr) throw new RemoteProtocolError('expected rsp:ReceiveResponse in the Receive reply');
  const streams: StreamChunk[] = [];
  const cut = env.payloads;
  for (const s of childrenNamed(rr, NS.rsp, 'Stream')) {
    const t = s.text;
    let data: Uint8Array;
    if (cut) {
      // decoded from the bytes already (WSManClient cutBase64): the text is the index, or empty for an empty stream
      const d = t === '' ? EMPTY : /^\d{1,9}$/.test(t) ? cut[Number(t)] : undefined;
      if (!d) throw new RemoteProtocolError(`stream ${attr(s, 'Name')} is not base64`);
      data = d;
    } else {
      if (!B64_RE.test(t)) throw new RemoteProtocolError(`stream ${attr(s, 'Name')} is not base64`);
      data = Buffer.from(t, 'base64');
    }
    streams.push({ name: attr(s, 'Name') ?? 'stdout', commandId: attr(s, 'CommandId'), data, end: xsBoolean(attr(s, 'End')) });
  }
  const cs = child(rr, NS.rsp, 'CommandState');
  let state: CommandStateInfo | undefined;
  if (cs) {
    const full = attr(cs, 'State') ?? '';
    const st = full.startsWith(COMMAND_STATE) ? full.slice(COMMAND_STATE.length) : full;
    const ec = child(cs, NS.rsp, 'ExitCode')?.text.trim();
    let exitCode: number | undefined;
    if (ec) {
      if (!/^-?\d{1,20}$/.test(ec)) throw new RemoteProtocolError(`bad ExitCode ${ec.slice(0, 20)}`);
      exitCode = Number(ec);
      if (exitCode < 0) exitCode = exitCode >>> 0; // Windows reports DWORD exit codes
    }
    state = { commandId: attr(cs, 'CommandId'), state: st, exitCode };
  }
  return { streams, state };
}

// ---------------- server: request parsing ----------------

export interface ShellRequest {
  inputStreams: string[];
  outputStreams: string[];
  environment: Record<string, string>;
  workingDirectory?: string;
  idleTimeout?: string;
  name?: string;
}

export function parseShellRequest(payload: XmlElement | undefined): ShellRequest {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'Shell') throw new RemoteProtocolError('Create: the body must be rsp:Shell');
  const env: Record<string, string> = {};
  for (const v of childrenNamed(child(payload, NS.rsp, 'Environment'), NS.rsp, 'Variable')) {
    const n = attr(v, 'Name');
    if (n) env[n] = v.text;
  }
  return {
    inputStreams: (child(payload, NS.rsp, 'InputStreams')?.text ?? 'stdin').trim().split(/\s+/).filter(Boolean),
    outputStreams: (child(payload, NS.rsp, 'OutputStreams')?.text ?? 'stdout stderr').trim().split(/\s+/).filter(Boolean),
    environment: env,
    workingDirectory: child(payload, NS.rsp, 'WorkingDirectory')?.text.trim() || undefined,
    idleTimeout: child(payload, NS.rsp, 'IdleTimeOut')?.text.trim(),
    name: child(payload, NS.rsp, 'Name')?.text.trim(),
  };
}

export function parseCommandLineRequest(payload: XmlElement | undefined): { command: string; args: string[]; commandId?: string } {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'CommandLine')
    throw new RemoteProtocolError('Command: the body must be rsp:CommandLine');
  const cmd = child(payload, NS.rsp, 'Command');
  return {
    command: (cmd?.text ?? '').trim(),
    args: childrenNamed(payload, NS.rsp, 'Arguments').map((a) => a.text),
    commandId: attr(payload, 'CommandId'),
  };
}

export function parseSendRequest(payload: XmlElement | undefined): StreamChunk[] {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'Send') throw new RemoteProtocolError('Send: the body must be rsp:Send');
  return childrenNamed(payload, NS.rsp, 'Stream').map((s) => {
    if (!B64_RE.test(s.text)) throw new RemoteProtocolError('Send: stream content is not base64');
    return {
      name: attr(s, 'Name') ?? 'stdin',
      commandId: attr(s, 'CommandId'),
      data: new Uint8Array(Buffer.from(s.text, 'base64')),
      end: xsBoolean(attr(s, 'End')),
    };
  });
}

export function parseReceiveRequest(payload: XmlElement | undefined): { commandId?: string; streams: string[] } {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'Receive')
    throw new RemoteProtocolError('Receive: the body must be rsp:Receive');
  const ds = child(payload, NS.rsp, 'DesiredStream');
  return { commandId: attr(ds, 'CommandId'), streams: (ds?.text ?? 'stdout stderr').trim().split(/\s+/).filter(Boolean) };
}

export function parseSignalRequest(payload: XmlElement | undefined): { commandId?: string; code: string } {
  if (!payload || payload.ns !== NS.rsp || payload.local !== 'Signal') throw new RemoteProtocolError('Signal: the body must be rsp:Signal');
  return { commandId: attr(payload, 'CommandId'), code: (child(payload, NS.rsp, 'Code')?.text ?? '').trim() };
}

// ---------------- server: response bodies (prefixes of buildResponse: a, x, w, rsp) ----------------

export interface ShellInfo {
  shellId: string;
  address: string;
  owner: string;
  clientIp: string;
  idleTimeout: string;
  inputStreams: string;
  outputStreams: string;
  resourceUri?: string;
  environment?: Record<string, string>;
  workingDirectory?: string;
}

/** CreateResponse body as Windows writes it (test_winrs_standard.yml). */
export function createResponseBody(s: ShellInfo): string {
  const uri = s.resourceUri ?? SHELL_CMD_URI;
  return (
    `<x:ResourceCreated><a:Address>${escapeXml(s.address)}</a:Address><a:ReferenceParameters>` +
    `<w:ResourceURI>${escapeXml(uri)}</w:ResourceURI>` +
    `<w:SelectorSet><w:Selector Name="ShellId">${s.shellId}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>` +
    `<rsp:Shell xmlns:rsp="${NS.rsp}"><rsp:ShellId>${s.shellId}</rsp:ShellId><rsp:ResourceUri>${escapeXml(uri)}</rsp:ResourceUri>` +
    `<rsp:Owner>${escapeXml(s.owner)}</rsp:Owner><rsp:ClientIP>${escapeXml(s.clientIp)}</rsp:ClientIP>` +
    (s.workingDirectory ? `<rsp:WorkingDirectory>${escapeXml(s.workingDirectory)}</rsp:WorkingDirectory>` : '') +
    (s.environment && Object.keys(s.environment).length
      ? '<rsp:Environment>' +
        Object.entries(s.environment)
          .map(([k, v]) => `<rsp:Variable Name="${escapeXml(k)}">${escapeXml(v)}</rsp:Variable>`)
          .join('') +
        '</rsp:Environment>'
      : '') +
    `<rsp:IdleTimeOut>${escapeXml(s.idleTimeout)}</rsp:IdleTimeOut>` +
    `<rsp:InputStreams>${escapeXml(s.inputStreams)}</rsp:InputStreams>` +
    `<rsp:OutputStreams>${escapeXml(s.outputStreams)}</rsp:OutputStreams>` +
    '<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>'
  );
}

export function commandResponseBody(commandId: string): string {
  return `<rsp:CommandResponse><rsp:CommandId>${commandId}</rsp:CommandId></rsp:CommandResponse>`;
}

/** ReceiveResponse body. Each chunk is one rsp:Stream; `End` chunks are empty; state last. */
export function receiveResponseBody(chunks: StreamChunk[], state?: CommandStateInfo): string {
  let x = '<rsp:ReceiveResponse>';
  for (const c of chunks) {
    x +=
      `<rsp:Stream Name="${escapeXml(c.name)}"${c.commandId ? ` CommandId="${c.commandId}"` : ''}${c.end ? ' End="true"' : ''}>` +
      `${c.data.length ? b64(c.data) : ''}</rsp:Stream>`;
  }
  if (state) {
    x +=
      `<rsp:CommandState${state.commandId ? ` CommandId="${state.commandId}"` : ''} State="${COMMAND_STATE}${state.state}">` +
      (state.exitCode !== undefined ? `<rsp:ExitCode>${state.exitCode}</rsp:ExitCode>` : '') +
      '</rsp:CommandState>';
  }
  return x + '</rsp:ReceiveResponse>';
}

/**
 * receiveResponseBody as UTF-8 bytes between `head` and `tail` (responseEnvelopeParts), built straight into one
 * buffer: the base64 of each chunk is written in 48 KiB pieces (strings under V8's large-object size), never one
 * large string re-encoded to UTF-8.
 */
export function receiveResponseBytes(head: string, chunks: StreamChunk[], state: CommandStateInfo | undefined, tail: string): Buffer {
  // texts[i] goes before datas[i]; the last text after the last data
  const texts: string[] = [];
  const datas: (readonly Uint8Array[])[] = [];
  let x = head + '<rsp:ReceiveResponse>';
  for (const c of chunks) {
    texts.push(
      x +
        (`<rsp:Stream ` +
          `Name="${escapeXml(c.name)}"${c.commandId ? ` CommandId="${escapeXml(c.commandId)}"` : ''}${c.end ? ' End="true"' : ''}>`),
    );
    datas.push(c.parts ?? [c.data]);
    x = '</rsp:Stream>';
  }
  if (state) {
    x +=
      `<rsp:CommandState${state.commandId ? ` CommandId="${escapeXml(state.commandId)}"` : ''} ` +
      `State="${COMMAND_STATE}${escapeXml(state.state)}">` +
      (state.exitCode !== undefined ? `<rsp:ExitCode>${state.exitCode}</rsp:ExitCode>` : '') +
      '</rsp:CommandState>';
  }
  texts.push(x + '</rsp:ReceiveResponse>' + tail);
  let total = 0;
  for (const t of texts) total += Buffer.byteLength(t);
  for (const d of datas) total += Math.ceil(byteLength(d) / 3) * 4;
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  for (let i = 0; i < texts.length; i++) {
    o += out.write(texts[i]!, o);
    const d = datas[i];
    if (d) o = writeBase64(out, o, d);
  }
  return o === total ? out : out.subarray(0, o);
}
const asBuffer = (d: Uint8Array): Buffer => (Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength));
const byteLength = (d: readonly Uint8Array[]): number => d.reduce((n, p) => n + p.length, 0);

/**
 * The base64 of the concatenation of `parts`, written into `out` at `o` (returns the end): in 48 KiB pieces (strings
 * under V8's large-object size), the 1-2 bytes left at the end of a part carried into the next (no joined copy).
 */
function writeBase64(out: Buffer, o: number, parts: readonly Uint8Array[]): number {
  const held = Buffer.allocUnsafe(3);
  let h = 0;
  for (const part of parts) {
    const b = asBuffer(part);
    let p = 0;
    if (h) {
      while (h < 3 && p < b.length) held[h++] = b[p++]!;
      if (h < 3) continue;
      o += out.write(held.toString('base64'), o, 'latin1');
      h = 0;
    }
    const whole = p + Math.floor((b.length - p) / 3) * 3;
    for (; p < whole; p += B64_PIECE) o += out.write(b.toString('base64', p, Math.min(p + B64_PIECE, whole)), o, 'latin1');
    for (p = whole; p < b.length; p++) held[h++] = b[p]!;
  }
  if (h) o += out.write(held.toString('base64', 0, h), o, 'latin1');
  return o;
}
const B64_PIECE = 49152; // a multiple of 3: the pieces' base64 concatenates to the whole's

export const sendResponseBody = (): string => '<rsp:SendResponse/>';
export const signalResponseBody = (): string => '<rsp:SignalResponse/>';
