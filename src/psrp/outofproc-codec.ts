/**
 * OutOfProc packet codec (PowerShell's OutOfProcessUtils; used by `pwsh -s` on stdio and by the SSH `powershell`
 * subsystem): one XML element per `\n`-terminated UTF-8 line. Sans-IO: strings/bytes in, packets out.
 *
 *   <Data Stream='Default' PSGuid='…'>BASE64</Data>   <DataAck PSGuid='…' />
 *   <Command PSGuid='…' />  <CommandAck …/>  <Signal …/>  <SignalAck …/>  <Close …/>  <CloseAck …/>
 */
import { RemoteProtocolError } from '../errors.js';
import { concatBytes, fromBase64, toBase64 } from '../util/bytes.js';
import { decodeStrictBase64 } from '../xml/base64-cut.js';

export type OutOfProcStream = 'Default' | 'PromptResponse';
export type OutOfProcAckType = 'DataAck' | 'CommandAck' | 'SignalAck' | 'CloseAck';
export type OutOfProcPacket =
  | { type: 'Data'; stream: OutOfProcStream; psGuid: string; data: Uint8Array }
  | { type: 'DataAck' | 'Command' | 'CommandAck' | 'Signal' | 'SignalAck' | 'Close' | 'CloseAck'; psGuid: string };

/** The GUID of pool-level traffic (not the RunspacePoolId). */
export const OUTOFPROC_POOL_GUID = '00000000-0000-0000-0000-000000000000';
const SIMPLE = new Set(['DataAck', 'Command', 'CommandAck', 'Signal', 'SignalAck', 'Close', 'CloseAck']);
const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Encode one packet as a line, exactly as PowerShell writes it (single quotes, lowercase GUID, `\n`). */
export function encodePacket(p: OutOfProcPacket): string {
  const g = p.psGuid.toLowerCase();
  if (p.type === 'Data') {
    if (p.data.length === 0) throw new RemoteProtocolError('an OutOfProc <Data> packet needs a non-empty payload');
    return `<Data Stream='${p.stream}' PSGuid='${g}'>${toBase64(p.data)}</Data>\n`;
  }
  return `<${p.type} PSGuid='${g}' />\n`;
}

const ATTR_RE = /\s+([A-Za-z]+)\s*=\s*(?:'([^'<>&]*)'|"([^"<>&]*)")/y;

/** Decode one line (which may hold several elements, as the server's XmlReader accepts). */
export function decodePacketLine(line: string): OutOfProcPacket[] {
  const out: OutOfProcPacket[] = [];
  let i = 0;
  const s = line.replace(/^\uFEFF/, '');
  const fail = (why: string): never => {
    throw new RemoteProtocolError(
      `bad OutOfProc packet (${why}): ${JSON.stringify(s.length > 120 ? s.slice(0, 120) + '…' : s)}; the process is not a ` +
        `PowerShell server (pwsh -s) or wrote to stdout`,
    );
  };
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    if (s[i] !== '<') fail('expected "<"');
    const nm = /^[A-Za-z]+/.exec(s.slice(i + 1, i + 20));
    if (!nm) fail('no element name');
    const name = nm![0];
    i += 1 + name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      ATTR_RE.lastIndex = i;
      const m = ATTR_RE.exec(s);
      if (!m) break;
      if (attrs[m[1]!] !== undefined) fail(`duplicate attribute ${m[1]}`);
      attrs[m[1]!] = m[2] ?? m[3] ?? '';
      i = ATTR_RE.lastIndex;
    }
    while (i < s.length && /\s/.test(s[i]!)) i++;
    const psGuid = attrs.PSGuid;
    if (psGuid === undefined || !GUID_RE.test(psGuid)) fail('missing or invalid PSGuid');
    if (name === 'Data') {
      if (s[i] !== '>') fail('<Data> must have a text payload');
      const end = s.indexOf('</Data>', i + 1);
      if (end < 0) fail('unterminated <Data>');
      const text = s.slice(i + 1, end).trim();
      if (!text || !B64_RE.test(text) || text.length % 4 !== 0) fail('the <Data> payload is not base64');
      const stream = attrs.Stream;
      if (stream !== 'Default' && stream !== 'PromptResponse') fail(`unknown Stream ${JSON.stringify(stream)}`);
      if (Object.keys(attrs).length !== 2) fail('<Data> must have exactly two attributes');
      out.push({ type: 'Data', stream: stream as OutOfProcStream, psGuid: psGuid!.toLowerCase(), data: fromBase64(text) });
      i = end + 7;
    } else if (SIMPLE.has(name)) {
      if (Object.keys(attrs).length !== 1) fail(`<${name}> must have exactly one attribute`);
      if (s.startsWith('/>', i)) i += 2;
      else if (s[i] === '>') {
        const close = `</${name}>`;
        const j = s.indexOf(close, i + 1);
        if (j < 0 || s.slice(i + 1, j).trim() !== '') fail(`<${name}> must be empty`);
        i = j + close.length;
      } else fail(`malformed <${name}>`);
      out.push({ type: name as Exclude<OutOfProcPacket['type'], 'Data'>, psGuid: psGuid!.toLowerCase() });
    } else {
      fail(`unknown element <${name}>`);
    }
  }
  return out;
}

const DATA_HEADS: Array<[Buffer, OutOfProcStream]> = [
  [Buffer.from("<Data Stream='Default' PSGuid='", 'latin1'), 'Default'],
  [Buffer.from("<Data Stream='PromptResponse' PSGuid='", 'latin1'), 'PromptResponse'],
];
const DATA_TAIL = Buffer.from('</Data>', 'latin1');

/**
 * The usual line, exactly as PowerShell writes it (`<Data Stream='Default' PSGuid='<guid>'>BASE64</Data>`), decoded
 * from its bytes: no text conversion of the payload, the base64 decoded straight from the line. Undefined for any
 * other line (the caller decodes it with decodePacketLine; the result is the same whenever this one gives one).
 */
function decodeDataLine(line: Buffer): OutOfProcPacket | undefined {
  for (const [head, stream] of DATA_HEADS) {
    const h = head.length;
    if (line.length < h + 36 + 2 + 4 + DATA_TAIL.length || line.compare(head, 0, h, 0, h) !== 0) continue;
    if (line[h + 36] !== 0x27 || line[h + 37] !== 0x3e) return undefined;
    const end = line.length - DATA_TAIL.length;
    if (line.compare(DATA_TAIL, 0, DATA_TAIL.length, end) !== 0) return undefined;
    const guid = line.toString('latin1', h, h + 36);
    if (!GUID_RE.test(guid)) return undefined;
    const data = decodeStrictBase64(line, h + 38, end);
    if (!data?.length) return undefined;
    return { type: 'Data', stream, psGuid: guid.toLowerCase(), data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  }
  return undefined;
}

/**
 * Splits a byte stream into lines and decodes packets. Bounded: a line longer than `maxLineLength`
 * raises RemoteProtocolError instead of growing without limit.
 */
export class OutOfProcDecoder {
  private parts: Uint8Array[] = [];
  private size = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  readonly maxLineLength: number;
  constructor(opts: { maxLineLength?: number } = {}) {
    this.maxLineLength = opts.maxLineLength ?? 16 * 1024 * 1024;
  }

  push(chunk: Uint8Array): OutOfProcPacket[] {
    const out: OutOfProcPacket[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      const line = this.parts.length ? concatBytes(...this.parts, piece) : piece;
      this.parts = [];
      this.size = 0;
      start = nl + 1;
      if (line.length > this.maxLineLength) this.tooLong();
      const fast = decodeDataLine(Buffer.from(line.buffer, line.byteOffset, line.byteLength));
      if (fast) {
        out.push(fast);
        continue;
      }
      const text = this.decoder.decode(line).replace(/\r$/, '');
      if (text.trim() === '') continue;
      for (const p of decodePacketLine(text)) out.push(p);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.size += rest.length;
      if (this.size > this.maxLineLength) this.tooLong();
      this.parts.push(rest.slice());
    }
    return out;
  }

  /** Bytes held that do not yet form a whole line. */
  get buffered(): number {
    return this.size;
  }

  private tooLong(): never {
    this.parts = [];
    this.size = 0;
    throw new RemoteProtocolError(
      `an OutOfProc line exceeded ${this.maxLineLength} bytes; the peer is not a PowerShell server or is misbehaving`,
    );
  }
}
