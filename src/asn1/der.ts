/**
 * A small DER (ITU-T X.690) reader and writer for the ASN.1 the auth layer needs: CredSSP (MS-CSSP 2.2.1),
 * SPNEGO (RFC 4178), Kerberos (RFC 4120) and the tiny X.509 certificate builder.
 *
 * Reading is strict about bounds (every length is checked against the buffer; indefinite lengths and lengths
 * over 2^32 are refused) and lenient only where real peers are known to deviate from DER (non-minimal long-form
 * lengths). Bad input -> RemoteProtocolError saying what was wrong and where.
 *
 * Writing: every helper returns the complete TLV bytes; compose with `sequence(...)`, `explicit(n, ...)`.
 *
 * ```ts
 * const bytes = sequence(explicit(0, integer(6)), explicit(1, octetString(token)));
 * const r = new DerReader(bytes).sequence();        // a reader over the SEQUENCE body
 * const version = r.explicit(0).integerNumber();
 * const token = r.optionalExplicit(1)?.octetString();
 * r.end();
 * ```
 */
import { RemoteProtocolError } from '../errors.js';

/** X.690 8.1.2.2 tag classes (bits 8-7 of the identifier octet). */
export enum TagClass {
  Universal = 0,
  Application = 1,
  Context = 2,
  Private = 3,
}

/** X.680 8.4 universal tag numbers used here. */
export enum UniversalTag {
  Boolean = 1,
  Integer = 2,
  BitString = 3,
  OctetString = 4,
  Null = 5,
  ObjectIdentifier = 6,
  Enumerated = 10,
  UTF8String = 12,
  Sequence = 16,
  Set = 17,
  PrintableString = 19,
  IA5String = 22,
  UTCTime = 23,
  GeneralizedTime = 24,
  GeneralString = 27,
  BMPString = 30,
}

export interface Tag {
  cls: TagClass;
  constructed: boolean;
  number: number;
}

/** One decoded TLV. `value` is a view into the input (not a copy). */
export interface DerElement {
  tag: Tag;
  /** the contents octets */
  value: Uint8Array;
  /** offset of the identifier octet in the input buffer */
  start: number;
  /** offset just past the contents */
  end: number;
  /** the whole TLV (identifier + length + contents) */
  raw: Uint8Array;
}

/** Defensive limits: anything beyond is garbage from the network. */
const MAX_TAG_NUMBER = 0x1fffff;
const MAX_OID_ARC_BYTES = 8; // arcs up to 2^56 are plenty; refuse absurd encodings
const MAX_INTEGER_BYTES = 1024; // RSA-8192 modulus fits

function bad(what: string, offset?: number): RemoteProtocolError {
  return new RemoteProtocolError(
    `malformed DER: ${what}${offset === undefined ? '' : ` at offset ${offset}`}; the peer sent bytes that are not valid ASN.1 DER`,
  );
}

export function tagName(t: Tag): string {
  switch (t.cls) {
    case TagClass.Universal:
      return `${UniversalTag[t.number] ?? 'UNIVERSAL ' + t.number}`;
    case TagClass.Application:
      return `[APPLICATION ${t.number}]`;
    case TagClass.Context:
      return `[${t.number}]`;
    case TagClass.Private:
      return `[PRIVATE ${t.number}]`;
  }
}

// ------------------------------------------------------------------------------------------------------------
// Reading
// ------------------------------------------------------------------------------------------------------------

/** Decode the TLV starting at `offset`; it must fit inside `buf[offset, limit)`. */
export function readElement(buf: Uint8Array, offset = 0, limit = buf.length): DerElement {
  const start = offset;
  if (offset >= limit) throw bad('expected a tag but the data ended', offset);
  const id = buf[offset++]!;
  const cls = (id >> 6) as TagClass;
  const constructed = (id & 0x20) !== 0;
  let number = id & 0x1f;
  if (number === 0x1f) {
    number = 0;
    let n = 0;
    for (;;) {
      if (offset >= limit) throw bad('truncated high tag number', offset);
      const b = buf[offset++]!;
      if (n === 0 && b === 0x80) throw bad('non-minimal high tag number', offset - 1);
      number = number * 128 + (b & 0x7f);
      if (number > MAX_TAG_NUMBER) throw bad('tag number too large', start);
      n++;
      if ((b & 0x80) === 0) break;
    }
    if (number < 0x1f) throw bad('high tag form used for a low tag number', start);
  }
  if (offset >= limit) throw bad('truncated length', offset);
  const l0 = buf[offset++]!;
  let length: number;
  if (l0 < 0x80) {
    length = l0;
  } else if (l0 === 0x80) {
    throw bad('indefinite length (BER) is not allowed in DER', offset - 1);
  } else {
    const n = l0 & 0x7f;
    if (n > 4) throw bad(`length of ${n} octets is too large`, offset - 1);
    if (offset + n > limit) throw bad('truncated length', offset);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[offset++]!;
  }
  if (length > limit - offset) {
    throw bad(`${tagName({ cls, constructed, number })} claims ${length} bytes but only ${limit - offset} remain`, start);
  }
  const end = offset + length;
  return {
    tag: { cls, constructed, number },
    value: buf.subarray(offset, end),
    start,
    end,
    raw: buf.subarray(start, end),
  };
}

/** Decode exactly one TLV that spans the whole buffer (trailing bytes are an error). */
export function decode(buf: Uint8Array): DerElement {
  const el = readElement(buf, 0, buf.length);
  if (el.end !== buf.length) throw bad(`${buf.length - el.end} trailing bytes after the top-level element`, el.end);
  return el;
}

/** The direct children of a constructed element. */
export function children(el: DerElement): DerElement[] {
  if (!el.tag.constructed) throw bad(`${tagName(el.tag)} is primitive, expected a constructed element`, el.start);
  const out: DerElement[] = [];
  let off = 0;
  while (off < el.value.length) {
    const c = readElement(el.value, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

function isTag(el: DerElement, cls: TagClass, number: number, constructed?: boolean): boolean {
  return el.tag.cls === cls && el.tag.number === number && (constructed === undefined || el.tag.constructed === constructed);
}

/** X.690 8.3: two's complement big-endian INTEGER contents -> bigint. */
export function decodeIntegerContents(v: Uint8Array): bigint {
  if (v.length === 0) throw bad('INTEGER with no content octets');
  if (v.length > MAX_INTEGER_BYTES) throw bad(`INTEGER of ${v.length} bytes is too large`);
  let x = 0n;
  for (const b of v) x = (x << 8n) | BigInt(b);
  if (v[0]! & 0x80) x -= 1n << BigInt(v.length * 8);
  return x;
}

/** X.690 8.19: OBJECT IDENTIFIER contents -> dotted string. */
export function decodeOidContents(v: Uint8Array): string {
  if (v.length === 0) throw bad('OBJECT IDENTIFIER with no content octets');
  const arcs: bigint[] = [];
  let cur = 0n;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (n === 0 && b === 0x80) throw bad('non-minimal OBJECT IDENTIFIER arc');
    cur = (cur << 7n) | BigInt(b & 0x7f);
    n++;
    if (n > MAX_OID_ARC_BYTES) throw bad('OBJECT IDENTIFIER arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(cur);
      cur = 0n;
      n = 0;
    }
  }
  if (n !== 0) throw bad('truncated OBJECT IDENTIFIER');
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].map(String).join('.');
}

function latin1(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

/**
 * A cursor over a sequence of TLVs (the body of a SEQUENCE / [n] / the top level).
 * Each `read*` consumes one element and checks its tag; `optional*` returns undefined when the next tag differs.
 */
export class DerReader {
  private off = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what = 'DER data',
  ) {}

  get done(): boolean {
    return this.off >= this.buf.length;
  }
  get offset(): number {
    return this.off;
  }

  /** Look at the next element without consuming it (undefined at the end). */
  peek(): DerElement | undefined {
    return this.done ? undefined : readElement(this.buf, this.off);
  }

  /** Consume the next element whatever its tag. */
  next(): DerElement {
    const el = readElement(this.buf, this.off);
    this.off = el.end;
    return el;
  }

  /** Consume the next element, which must carry this tag. */
  expect(cls: TagClass, number: number, constructed?: boolean): DerElement {
    if (this.done) throw bad(`${this.what}: expected ${tagName({ cls, number, constructed: !!constructed })} but the data ended`);
    const el = this.next();
    if (!isTag(el, cls, number, constructed)) {
      throw bad(`${this.what}: expected ${tagName({ cls, number, constructed: !!constructed })}, got ${tagName(el.tag)}`, el.start);
    }
    return el;
  }

  private maybe(cls: TagClass, number: number): DerElement | undefined {
    const p = this.peek();
    if (!p || p.tag.cls !== cls || p.tag.number !== number) return undefined;
    return this.next();
  }

  /** All elements must have been consumed. */
  end(): void {
    if (!this.done) {
      const el = readElement(this.buf, this.off);
      throw bad(`${this.what}: unexpected ${tagName(el.tag)}`, el.start);
    }
  }

  // --- constructed ---
  sequence(): DerReader {
    return new DerReader(this.expect(TagClass.Universal, UniversalTag.Sequence, true).value, this.what);
  }
  set(): DerReader {
    return new DerReader(this.expect(TagClass.Universal, UniversalTag.Set, true).value, this.what);
  }
  /** Constructed context-specific [n] (EXPLICIT tagging): a reader over its contents. */
  explicit(n: number): DerReader {
    return new DerReader(this.expect(TagClass.Context, n, true).value, `${this.what} [${n}]`);
  }
  optionalExplicit(n: number): DerReader | undefined {
    const el = this.maybe(TagClass.Context, n);
    if (!el) return undefined;
    if (!el.tag.constructed) throw bad(`${this.what}: [${n}] must be constructed`, el.start);
    return new DerReader(el.value, `${this.what} [${n}]`);
  }
  /** Constructed [APPLICATION n]. */
  application(n: number): DerReader {
    return new DerReader(this.expect(TagClass.Application, n, true).value, `${this.what} [APPLICATION ${n}]`);
  }
  /** Implicitly tagged primitive [n]: the raw contents octets. */
  implicit(n: number): Uint8Array {
    return this.expect(TagClass.Context, n, false).value;
  }
  optionalImplicit(n: number): Uint8Array | undefined {
    const el = this.maybe(TagClass.Context, n);
    if (!el) return undefined;
    if (el.tag.constructed) throw bad(`${this.what}: [${n}] must be primitive`, el.start);
    return el.value;
  }

  // --- primitives ---
  integer(): bigint {
    return decodeIntegerContents(this.expect(TagClass.Universal, UniversalTag.Integer, false).value);
  }
  /** INTEGER that must fit in a JS safe integer. */
  integerNumber(): number {
    const v = this.integer();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw bad(`${this.what}: INTEGER out of range`);
    return Number(v);
  }
  /** INTEGER as raw two's complement bytes (e.g. an RSA modulus or a serial number). */
  integerBytes(): Uint8Array {
    const v = this.expect(TagClass.Universal, UniversalTag.Integer, false).value;
    if (v.length === 0) throw bad(`${this.what}: INTEGER with no content octets`);
    return v;
  }
  enumerated(): number {
    const v = decodeIntegerContents(this.expect(TagClass.Universal, UniversalTag.Enumerated, false).value);
    if (v > 0x7fffffffn || v < -0x80000000n) throw bad(`${this.what}: ENUMERATED out of range`);
    return Number(v);
  }
  boolean(): boolean {
    const v = this.expect(TagClass.Universal, UniversalTag.Boolean, false).value;
    if (v.length !== 1) throw bad(`${this.what}: BOOLEAN must have one content octet`);
    return v[0] !== 0;
  }
  null(): void {
    if (this.expect(TagClass.Universal, UniversalTag.Null, false).value.length !== 0) throw bad(`${this.what}: NULL with contents`);
  }
  octetString(): Uint8Array {
    return this.expect(TagClass.Universal, UniversalTag.OctetString, false).value;
  }
  /** BIT STRING: the bits (whole octets) and the count of unused bits in the last octet. */
  bitString(): { bytes: Uint8Array; unusedBits: number } {
    const v = this.expect(TagClass.Universal, UniversalTag.BitString, false).value;
    if (v.length === 0) throw bad(`${this.what}: BIT STRING with no content octets`);
    const unusedBits = v[0]!;
    if (unusedBits > 7 || (v.length === 1 && unusedBits !== 0))
      throw bad(`${this.what}: BIT STRING has invalid unused-bits count ${unusedBits}`);
    return { bytes: v.subarray(1), unusedBits };
  }
  oid(): string {
    return decodeOidContents(this.expect(TagClass.Universal, UniversalTag.ObjectIdentifier, false).value);
  }
  generalString(): string {
    return latin1(this.expect(TagClass.Universal, UniversalTag.GeneralString, false).value);
  }
  utf8String(): string {
    const v = this.expect(TagClass.Universal, UniversalTag.UTF8String, false).value;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(v);
    } catch {
      throw bad(`${this.what}: UTF8String is not valid UTF-8`);
    }
  }
  /** GeneralizedTime / UTCTime as the raw string. */
  time(): string {
    const el = this.next();
    if (
      !isTag(el, TagClass.Universal, UniversalTag.GeneralizedTime, false) &&
      !isTag(el, TagClass.Universal, UniversalTag.UTCTime, false)
    ) {
      throw bad(`${this.what}: expected a time, got ${tagName(el.tag)}`, el.start);
    }
    return latin1(el.value);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------------------------

/** X.690 8.1.3 definite length octets (short form < 128, else the minimal long form). */
export function encodeLength(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`DER length out of range: ${n}`);
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function encodeIdentifier(cls: TagClass, constructed: boolean, number: number): Uint8Array {
  if (!Number.isInteger(number) || number < 0 || number > MAX_TAG_NUMBER) throw new RangeError(`tag number out of range: ${number}`);
  const first = (cls << 6) | (constructed ? 0x20 : 0);
  if (number < 0x1f) return Uint8Array.of(first | number);
  const tail: number[] = [number & 0x7f];
  for (let x = number >>> 7; x > 0; x >>>= 7) tail.unshift(0x80 | (x & 0x7f));
  return Uint8Array.of(first | 0x1f, ...tail);
}

function join(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A complete TLV with any tag. */
export function tlv(cls: TagClass, constructed: boolean, number: number, contents: Uint8Array): Uint8Array {
  return join([encodeIdentifier(cls, constructed, number), encodeLength(contents.length), contents]);
}

export function sequence(...items: Uint8Array[]): Uint8Array {
  return tlv(TagClass.Universal, true, UniversalTag.Sequence, join(items));
}
/** SET: DER sorts the encodings (X.690 11.6 for SET OF); we sort by encoding for both. */
export function set(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return tlv(TagClass.Universal, true, UniversalTag.Set, join(sorted));
}
/** EXPLICIT [n]: constructed context-specific wrapper around complete TLVs. */
export function explicit(n: number, ...inner: Uint8Array[]): Uint8Array {
  return tlv(TagClass.Context, true, n, join(inner));
}
/** IMPLICIT primitive [n] with raw contents. */
export function implicit(n: number, contents: Uint8Array): Uint8Array {
  return tlv(TagClass.Context, false, n, contents);
}
/** Constructed [APPLICATION n]. */
export function application(n: number, ...inner: Uint8Array[]): Uint8Array {
  return tlv(TagClass.Application, true, n, join(inner));
}

/** Minimal two's complement big-endian contents of an integer. */
export function encodeIntegerContents(value: number | bigint): Uint8Array {
  let x = BigInt(value);
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  const bytes: number[] = [];
  if (x === 0n) return Uint8Array.of(0);
  if (x > 0n) {
    while (x > 0n) {
      bytes.unshift(Number(x & 0xffn));
      x >>= 8n;
    }
    if (bytes[0]! & 0x80) bytes.unshift(0);
  } else {
    let n = 1;
    while (x < -(1n << BigInt(8 * n - 1))) n++;
    let u = x + (1n << BigInt(8 * n));
    for (let i = 0; i < n; i++) {
      bytes.unshift(Number(u & 0xffn));
      u >>= 8n;
    }
  }
  return Uint8Array.from(bytes);
}

export function integer(value: number | bigint): Uint8Array {
  return tlv(TagClass.Universal, false, UniversalTag.Integer, encodeIntegerContents(value));
}
/** INTEGER from unsigned big-endian magnitude bytes (adds the 0x00 sign octet when needed, strips leading zeros). */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let m = magnitude.subarray(i);
  if (m.length === 0) m = Uint8Array.of(0);
  const contents = m[0]! & 0x80 ? join([Uint8Array.of(0), m]) : m;
  return tlv(TagClass.Universal, false, UniversalTag.Integer, contents);
}
export function enumerated(value: number): Uint8Array {
  return tlv(TagClass.Universal, false, UniversalTag.Enumerated, encodeIntegerContents(value));
}
export function boolean(value: boolean): Uint8Array {
  return tlv(TagClass.Universal, false, UniversalTag.Boolean, Uint8Array.of(value ? 0xff : 0));
}
export function nullValue(): Uint8Array {
  return Uint8Array.of(0x05, 0x00);
}
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(TagClass.Universal, false, UniversalTag.OctetString, bytes);
}
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) throw new RangeError('invalid unused-bits count');
  return tlv(TagClass.Universal, false, UniversalTag.BitString, join([Uint8Array.of(unusedBits), bytes]));
}

/** X.690 8.19 OBJECT IDENTIFIER from dotted form ("1.3.6.1.5.5.2"). */
export function encodeOidContents(dotted: string): Uint8Array {
  if (!/^\d+(\.\d+)+$/.test(dotted)) throw new RangeError(`not an OID: ${dotted}`);
  const arcs = dotted.split('.').map((s) => BigInt(s));
  const a0 = arcs[0]!,
    a1 = arcs[1]!;
  if (a0 > 2n || (a0 < 2n && a1 > 39n)) throw new RangeError(`invalid first arcs in OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a0 * 40n + a1, ...arcs.slice(2)]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let x = arc >> 7n; x > 0n; x >>= 7n) chunk.unshift(0x80 | Number(x & 0x7fn));
    out.push(...chunk);
  }
  return Uint8Array.from(out);
}
export function oid(dotted: string): Uint8Array {
  return tlv(TagClass.Universal, false, UniversalTag.ObjectIdentifier, encodeOidContents(dotted));
}
export function generalString(s: string): Uint8Array {
  return tlv(TagClass.Universal, false, UniversalTag.GeneralString, new Uint8Array(Buffer.from(s, 'latin1')));
}
export function utf8String(s: string): Uint8Array {
  return tlv(TagClass.Universal, false, UniversalTag.UTF8String, new TextEncoder().encode(s));
}
export function printableString(s: string): Uint8Array {
  return tlv(TagClass.Universal, false, UniversalTag.PrintableString, new Uint8Array(Buffer.from(s, 'latin1')));
}
/** UTCTime "YYMMDDHHMMSSZ" (X.509 dates before 2050). */
export function utcTime(d: Date): Uint8Array {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return tlv(TagClass.Universal, false, UniversalTag.UTCTime, new Uint8Array(Buffer.from(s, 'latin1')));
}
/** GeneralizedTime "YYYYMMDDHHMMSSZ" (Kerberos KerberosTime, X.509 dates from 2050). */
export function generalizedTime(d: Date): Uint8Array {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return tlv(TagClass.Universal, false, UniversalTag.GeneralizedTime, new Uint8Array(Buffer.from(s, 'latin1')));
}
