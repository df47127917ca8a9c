/**
 * MS-WSMV 2.2.9.1 WinRM HTTP message encryption: the MIME framing, generic over any AuthContext that can seal
 * (`ctx.canEncrypt`, `ctx.wrapWinrm`, `ctx.unwrapWinrm`, `ctx.encryptionProtocol`). Sans-IO: bytes in, bytes out.
 *
 * Seam (used by src/http/ on the client and src/server/ on the endpoint):
 *   encryptMessage(ctx, soapBytes) -> { contentType, body }     (one part, or one part per chunk when the context
 *                                                                 has `encryptChunkSize`, e.g. 16384 for CredSSP,
 *                                                                 and the message is larger: multipart/x-multi-encrypted)
 *   decryptMessage(ctx, contentType, body) -> soapBytes         (boundary read from Content-Type; tolerant of
 *                                                                 "-- Encrypted Boundary"; Length checked)
 *   isEncryptedContentType(contentType)
 * Body layout per part (MS-WSMV 2.2.9.1):
 *   --Encrypted Boundary\r\n \tContent-Type: <PROTO>\r\n \tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=<N>\r\n
 *   --Encrypted Boundary\r\n \tContent-Type: application/octet-stream\r\n <u32le hlen><header><data>
 *   ... --Encrypted Boundary--\r\n
 */
import type { AuthContext } from '../auth/types.js';
import { EncryptionError } from '../errors.js';

export const DEFAULT_BOUNDARY = 'Encrypted Boundary';
const enc = new TextEncoder();
const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

export interface EncryptedBody {
  contentType: string;
  body: Uint8Array;
}
/** One sealed chunk as carried in the MIME body. */
export interface EncryptedPart {
  protocol: string;
  length: number;
  header: Uint8Array;
  data: Uint8Array;
}

export function isEncryptedContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const t = ct.split(';')[0]!.trim().toLowerCase();
  return t === 'multipart/encrypted' || t === 'multipart/x-multi-encrypted';
}

/** Parse `multipart/encrypted;protocol="...";boundary="..."` parameters. */
export function parseContentType(ct: string): { type: string; protocol?: string; boundary?: string } {
  const segs = ct.split(';');
  const out: { type: string; protocol?: string; boundary?: string } = { type: segs[0]!.trim().toLowerCase() };
  for (const seg of segs.slice(1)) {
    const eq = seg.indexOf('=');
    if (eq < 0) continue;
    const k = seg.slice(0, eq).trim().toLowerCase();
    let v = seg.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    if (k === 'protocol') out.protocol = v;
    else if (k === 'boundary') out.boundary = v;
  }
  return out;
}

interface ChunkingContext {
  encryptChunkSize?: number;
}

/** MS-WSMV 2.2.9.1.1 build an encrypted body (sans-IO apart from the context's own async wrap). */
export async function encryptMessage(ctx: AuthContext, plaintext: Uint8Array, opts: { chunkSize?: number } = {}): Promise<EncryptedBody> {
  if (!ctx.canEncrypt) throw new EncryptionError(`${ctx.protocol} cannot encrypt messages; use HTTPS or another mechanism`);
  const protocol = ctx.encryptionProtocol;
  if (!protocol) throw new EncryptionError(`${ctx.protocol} context has no encryption protocol string`);
  const chunkSize = opts.chunkSize ?? (ctx as AuthContext & ChunkingContext).encryptChunkSize;
  const chunks: Uint8Array[] = [];
  if (chunkSize && chunkSize > 0 && plaintext.length > chunkSize) {
    for (let o = 0; o < plaintext.length; o += chunkSize) chunks.push(plaintext.subarray(o, Math.min(o + chunkSize, plaintext.length)));
  } else chunks.push(plaintext);
  const parts: EncryptedPart[] = [];
  for (const c of chunks) {
    const w = await ctx.wrapWinrm(c);
    parts.push({ protocol, length: c.length + (w.padding ?? 0), header: w.header, data: w.data });
  }
  const multi = chunks.length > 1;
  return {
    contentType: `${multi ? 'multipart/x-multi-encrypted' : 'multipart/encrypted'};protocol="${protocol}";boundary="${DEFAULT_BOUNDARY}"`,
    body: frameParts(parts, DEFAULT_BOUNDARY),
  };
}

/** Serialize parts into the MIME body (one allocation). */
export function frameParts(parts: EncryptedPart[], boundary = DEFAULT_BOUNDARY): Uint8Array {
  const pieces: Uint8Array[] = [];
  for (const p of parts) {
    pieces.push(
      enc.encode(
        `--${boundary}\r\n\tContent-Type: ${p.protocol}\r\n\tOriginalContent: ` +
          `type=application/soap+xml;charset=UTF-8;Length=${p.length}\r\n--${boundary}\r\n\tContent-Type: ` +
          `application/octet-stream\r\n`,
      ),
    );
    const hl = new Uint8Array(4);
    new DataView(hl.buffer).setUint32(0, p.header.length, true);
    pieces.push(hl, p.header, p.data);
  }
  pieces.push(enc.encode(`--${boundary}--\r\n`));
  let n = 0;
  for (const x of pieces) n += x.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const x of pieces) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/** Find boundary delimiters: "--" [spaces] boundary. Returns [start, endOfMarker] pairs. Linear scan. */
function findDelimiters(body: Buffer, boundary: string): Array<{ start: number; end: number; final: boolean }> {
  const out: Array<{ start: number; end: number; final: boolean }> = [];
  const b = Buffer.from(boundary, 'latin1');
  let from = 0;
  for (;;) {
    const i = body.indexOf(b, from);
    if (i < 0) break;
    // walk back over spaces/tabs to the "--"
    let j = i - 1;
    while (j >= 0 && (body[j] === 0x20 || body[j] === 0x09)) j--;
    if (j >= 1 && body[j] === 0x2d && body[j - 1] === 0x2d) {
      let end = i + b.length;
      let final = false;
      if (body[end] === 0x2d && body[end + 1] === 0x2d) {
        final = true;
        end += 2;
      }
      while (end < body.length && (body[end] === 0x20 || body[end] === 0x09)) end++;
      if (body[end] === 0x0d && body[end + 1] === 0x0a) end += 2;
      else if (body[end] === 0x0a) end += 1;
      out.push({ start: j - 1, end, final });
      from = end;
    } else from = i + b.length;
  }
  return out;
}

/** MS-WSMV 2.2.9.1.1 split an encrypted body into its sealed parts (no decryption). */
export function parseEncryptedBody(contentType: string, body: Uint8Array): EncryptedPart[] {
  const ct = parseContentType(contentType);
  if (ct.type !== 'multipart/encrypted' && ct.type !== 'multipart/x-multi-encrypted') {
    throw new EncryptionError(`expected an encrypted body (multipart/encrypted), got Content-Type ${contentType.slice(0, 100)}`);
  }
  const boundary = ct.boundary ?? DEFAULT_BOUNDARY;
  if (!boundary || boundary.length > 200) throw new EncryptionError('encrypted body: bad MIME boundary in Content-Type');
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delims = findDelimiters(buf, boundary);
  const parts: EncryptedPart[] = [];
  // sections between consecutive delimiters; they come in pairs (headers, octet-stream)
  const sections: Array<{ start: number; end: number }> = [];
  let sawFinal = false;
  for (let k = 0; k < delims.length; k++) {
    const d = delims[k]!;
    if (d.final) {
      sawFinal = true;
      break;
    }
    const next = delims[k + 1];
    if (!next) break;
    sections.push({ start: d.end, end: next.start });
  }
  if (!sawFinal) throw new EncryptionError('encrypted body is truncated: no closing MIME boundary');
  if (sections.length === 0 || sections.length % 2 !== 0)
    throw new EncryptionError(`encrypted body has ${sections.length} MIME sections; expected pairs of (headers, data)`);
  for (let k = 0; k < sections.length; k += 2) {
    const h = latin1(buf.subarray(sections[k]!.start, sections[k]!.end));
    const proto = /Content-Type:\s*([^\r\n;]+)/i.exec(h)?.[1]?.trim();
    const lenM = /Length=(\d{1,12})/i.exec(h);
    if (!proto || !lenM) throw new EncryptionError('encrypted body: a part lacks Content-Type or OriginalContent Length');
    const dsec = sections[k + 1]!;
    const data = buf.subarray(dsec.start, dsec.end);
    const m = /^\s*Content-Type:\s*application\/octet-stream\r?\n/i.exec(latin1(data.subarray(0, Math.min(data.length, 128))));
    if (!m) throw new EncryptionError('encrypted body: the data part does not start with Content-Type: application/octet-stream');
    const payload = data.subarray(m[0].length);
    if (payload.length < 4) throw new EncryptionError('encrypted body: data part shorter than its 4-byte header length');
    const hl = payload.readUInt32LE(0);
    if (hl > payload.length - 4)
      throw new EncryptionError(`encrypted body: header length ${hl} exceeds the ${payload.length - 4} bytes present`);
    parts.push({
      protocol: proto,
      length: Number(lenM[1]),
      header: new Uint8Array(payload.buffer, payload.byteOffset + 4, hl),
      data: new Uint8Array(payload.buffer, payload.byteOffset + 4 + hl, payload.length - 4 - hl),
    });
  }
  return parts;
}

/** MS-WSMV 2.2.9.1.1 decrypt a body: unwrap each part, check its Length, concatenate. */
export async function decryptMessage(ctx: AuthContext, contentType: string, body: Uint8Array): Promise<Uint8Array> {
  const parts = parseEncryptedBody(contentType, body);
  if (ctx.encryptionProtocol) {
    for (const p of parts) {
      if (p.protocol.toLowerCase() !== ctx.encryptionProtocol.toLowerCase())
        throw new EncryptionError(`encrypted body uses protocol ${p.protocol}; this connection uses ${ctx.encryptionProtocol}`);
    }
  }
  const plains: Uint8Array[] = [];
  let total = 0;
  for (const p of parts) {
    let plain: Uint8Array;
    try {
      plain = await ctx.unwrapWinrm(p.header, p.data);
    } catch (e) {
      if (e instanceof EncryptionError) throw e;
      throw new EncryptionError(`could not decrypt the message (${(e as Error).message})`, { cause: e });
    }
    if (plain.length !== p.length)
      throw new EncryptionError(`decrypted length ${plain.length} does not match OriginalContent Length ${p.length}`);
    // RFC 4757 7.3: MIT-based senders (pyspnego, pypsrp) pad rc4-hmac wrap tokens with one 0x01 byte and count it in
    // Length; Windows sends none. A SOAP envelope never ends in 0x01 (not an XML character), so drop it.
    if (plain.length > 0 && plain[plain.length - 1] === 1) plain = plain.subarray(0, plain.length - 1);
    plains.push(plain);
    total += plain.length;
  }
  if (plains.length === 1) return plains[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const x of plains) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}
