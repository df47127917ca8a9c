/**
 * OutOfProc packet codec (PowerShell's OutOfProcessUtils; used by `pwsh -s` on stdio and by the SSH `powershell`
 * subsystem): one XML element per `\n`-terminated UTF-8 line. Sans-IO: strings/bytes in, packets out.
 *
 *   <Data Stream='Default' PSGuid='…'>BASE64</Data>   <DataAck PSGuid='…' />
 *   <Command PSGuid='…' />  <CommandAck …/>  <Signal …/>  <SignalAck …/>  <Close …/>  <CloseAck …/>
 */
import { RemoteProtocolError } from '../errors.js';
import { fromBase64, toBase64 } from '../util/bytes.js';
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

const DATA_LINE_END = Buffer.from('</Data>\n', 'latin1');

/**
 * encodePacket() as UTF-8 bytes, built directly into one Buffer (the base64 is written as ASCII, never re-encoded from a
 * whole-line string): what the stdio / SSH transports write. Byte for byte `Buffer.from(encodePacket(p), 'utf8')`.
 */
export function encodePacketBytes(p: OutOfProcPacket): Buffer {
  if (p.type !== 'Data') return Buffer.from(encodePacket(p), 'utf8');
  if (p.data.length === 0) throw new RemoteProtocolError('an OutOfProc <Data> packet needs a non-empty payload');
  const head = Buffer.from(`<Data Stream='${p.stream}' PSGuid='${p.psGuid.toLowerCase()}'>`, 'utf8');
  const b64 = toBase64(p.data); // ASCII: one byte per character
  const out = Buffer.allocUnsafe(head.length + b64.length + DATA_LINE_END.length);
  head.copy(out, 0);
  out.write(b64, head.length, 'latin1');
  DATA_LINE_END.copy(out, head.length + b64.length);
  return out;
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

/** The last GUID read from a line, with its bytes: a stream's lines carry the same one or two (pool, pipeline). */
class GuidCache {
  private readonly bytes = Buffer.alloc(36);
  private text: string | undefined;
  /** The lower-case GUID in buf[a, a + 36), or undefined when those bytes are not a GUID. */
  get(buf: Buffer, a: number): string | undefined {
    const b = this.bytes;
    if (this.text !== undefined) {
      let k = 0;
      while (k < 36 && b[k] === buf[a + k]) k++;
      if (k === 36) return this.text;
    }
    const g = buf.toString('latin1', a, a + 36);
    if (!GUID_RE.test(g)) return undefined;
    buf.copy(b, 0, a, a + 36);
    this.text = g.toLowerCase();
    return this.text;
  }
}

/** Whether buf[a, a + x.length) holds the bytes of x (a loop: cheaper than Buffer#compare for a few bytes). */
function has(buf: Buffer, a: number, x: Buffer): boolean {
  for (let k = 0; k < x.length; k++) if (buf[a + k] !== x[k]) return false;
  return true;
}

const B64 = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

/**
 * Strict base64 in buf[a, b) decoded in one pass (a short payload: one object's line), or undefined when it is not
 * strict base64 (length a multiple of 4, the standard alphabet, `=` only as the last one or two characters): the same
 * bytes as decodeStrictBase64 gives, without its native calls, which cost more than the decoding at this size.
 */
function decodeShortBase64(buf: Buffer, a: number, b: number): Uint8Array | undefined {
  const n = b - a;
  if (n === 0 || n % 4 !== 0) return undefined;
  const pad = buf[b - 1] !== 0x3d ? 0 : buf[b - 2] !== 0x3d ? 1 : 2;
  const size = (n / 4) * 3 - pad;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  const last = b - 4;
  for (let i = a; i < last; i += 4) {
    const v = (B64[buf[i]!]! << 18) | (B64[buf[i + 1]!]! << 12) | (B64[buf[i + 2]!]! << 6) | B64[buf[i + 3]!]!;
    if (v < 0) return undefined; // any -1 makes the whole word negative
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 0xff;
    out[o++] = v & 0xff;
  }
  const w = (B64[buf[last]!]! << 18) | (B64[buf[last + 1]!]! << 12);
  const x = pad === 2 ? 0 : B64[buf[last + 2]!]!;
  const y = pad >= 1 ? 0 : B64[buf[last + 3]!]!;
  if (w < 0 || x < 0 || y < 0) return undefined;
  const v = w | (x << 6) | y;
  out[o++] = v >> 16;
  if (pad < 2) out[o++] = (v >> 8) & 0xff;
  if (pad < 1) out[o++] = v & 0xff;
  return new Uint8Array(out.buffer, out.byteOffset, size);
}

/**
 * The usual line, exactly as PowerShell writes it (`<Data Stream='Default' PSGuid='<guid>'>BASE64</Data>`), decoded
 * from buf[a, b): no text conversion of the payload, the base64 decoded straight from the line. Undefined for any
 * other line (the caller decodes it with decodePacketLine; the result is the same whenever this one gives one).
 */
function decodeDataLine(buf: Buffer, a: number, b: number, guids: GuidCache): OutOfProcPacket | undefined {
  // "<Data Stream='" is common to both heads; the next byte picks one
  const head = buf[a + 14] === 0x44 ? DATA_HEADS[0]! : buf[a + 14] === 0x50 ? DATA_HEADS[1]! : undefined;
  if (!head) return undefined;
  const [bytes, stream] = head;
  const h = bytes.length;
  const end = b - DATA_TAIL.length;
  if (b - a < h + 36 + 2 + 4 + DATA_TAIL.length || !has(buf, a, bytes)) return undefined;
  if (buf[a + h + 36] !== 0x27 || buf[a + h + 37] !== 0x3e || !has(buf, end, DATA_TAIL)) return undefined;
  const psGuid = guids.get(buf, a + h);
  if (psGuid === undefined) return undefined;
  let data: Uint8Array | undefined;
  if (end - (a + h + 38) <= 4096) data = decodeShortBase64(buf, a + h + 38, end);
  else {
    const d = decodeStrictBase64(buf, a + h + 38, end);
    if (d) data = new Uint8Array(d.buffer, d.byteOffset, d.length);
  }
  if (!data?.length) return undefined;
  return { type: 'Data', stream, psGuid, data };
}

/**
 * Splits a byte stream into lines and decodes packets. Bounded: a line longer than `maxLineLength`
 * raises RemoteProtocolError instead of growing without limit.
 */
export class OutOfProcDecoder {
  private parts: Uint8Array[] = [];
  private size = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly guids = new GuidCache();
  readonly maxLineLength: number;
  constructor(opts: { maxLineLength?: number } = {}) {
    this.maxLineLength = opts.maxLineLength ?? 16 * 1024 * 1024;
  }

  push(chunk: Uint8Array): OutOfProcPacket[] {
    const out: OutOfProcPacket[] = [];
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      let line: Buffer;
      let a: number;
      let b: number;
      if (this.parts.length) {
        // a line begun in an earlier read: joined in a pooled buffer (no zero-filled ArrayBuffer per line)
        line = Buffer.allocUnsafe(this.size + nl - start);
        let o = 0;
        for (const p of this.parts) {
          line.set(p, o);
          o += p.length;
        }
        buf.copy(line, o, start, nl);
        a = 0;
        b = line.length;
        this.parts = [];
        this.size = 0;
      } else {
        line = buf;
        a = start;
        b = nl;
      }
      start = nl + 1;
      if (b - a > this.maxLineLength) this.tooLong();
      const fast = line[a] === 0x3c && line[a + 1] === 0x44 ? decodeDataLine(line, a, b, this.guids) : undefined;
      if (fast) {
        out.push(fast);
        continue;
      }
      const text = this.decoder.decode(line.subarray(a, b)).replace(/\r$/, '');
      if (text.trim() === '') continue;
      for (const p of decodePacketLine(text)) out.push(p);
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      this.size += rest.length;
      if (this.size > this.maxLineLength) this.tooLong();
      this.parts.push(Buffer.from(rest)); // a copy: the stream may reuse the bytes it handed over
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
