/** CLIXML deserializer (MS-PSRP 2.2.5): XML text or element -> ClixmlValue. Pure: no I/O. */
import { ClixmlError } from '../errors.js';
import { fromBase64, fromUtf16le } from '../util/bytes.js';
import { parseXml, XmlError, type XmlElement } from '../xml/dom.js';
import { decodeClixmlString } from './escape.js';
import { CLIXML_NS } from './serialize.js';
import {
  daysFromCivil, MAX_DATETIME_TICKS, PSDateTime, PSDict, PSList, PSObject, PSPrimitive, PSSecureString, PSTimeSpan,
  type ClixmlValue, type PrimitiveTag, type SecureStringCipher,
} from './types.js';

export interface DeserializeOptions {
  /** decrypts `<SS>`; without it SecureStrings keep only their ciphertext */
  cipher?: SecureStringCipher;
  /** maximum XML nesting depth (default 1024) */
  maxDepth?: number;
  /** maximum input length in characters (default 64 MiB) */
  maxLength?: number;
}

/** Where an element sits, for error messages: `Obj/MS/S[N=Foo]`. */
export function elementPath(el: XmlElement | undefined): string {
  const parts: string[] = [];
  for (let e = el; e; e = e.parent) {
    const n = e.attrs.get('N');
    parts.push(n === undefined ? e.local : `${e.local}[N=${n.length > 40 ? n.slice(0, 40) + '…' : n}]`);
    if (parts.length > 24) { parts.push('…'); break; }
  }
  return parts.reverse().join('/');
}

function fail(el: XmlElement, what: string): never {
  throw new ClixmlError(`invalid CLIXML at ${elementPath(el)}: ${what}`);
}

function snippet(s: string): string {
  const t = s.length > 40 ? s.slice(0, 40) + '…' : s;
  return JSON.stringify(t);
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const GUID_RE = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const DT_RE = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,7}))?(Z|[+-]\d\d:\d\d)?$/;
const TS_RE = /^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d+))?S)?)?$/;

const INT_RANGES: Partial<Record<string, [number, number]>> = {
  By: [0, 255], SB: [-128, 127], U16: [0, 65535], I16: [-32768, 32767], U32: [0, 4294967295], I32: [-2147483648, 2147483647],
};

function parseDouble(el: XmlElement, t: string): number {
  const s = t.trim();
  if (s === 'INF' || s === 'Infinity' || s === '+INF') return Infinity;
  if (s === '-INF' || s === '-Infinity') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!FLOAT_RE.test(s)) fail(el, `not a number: ${snippet(t)}`);
  return Number(s);
}

export function parseDateTime(t: string): PSDateTime | undefined {
  const m = DT_RE.exec(t.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (y! < 1 || mo! < 1 || mo! > 12 || d! < 1 || h! > 23 || mi! > 59 || s! > 59) return undefined;
  const dim = [31, (y! % 4 === 0 && y! % 100 !== 0) || y! % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo! - 1]!;
  if (d! > dim) return undefined;
  const days = BigInt(daysFromCivil(y!, mo!, d!));
  const frac = m[7] ? BigInt(m[7].padEnd(7, '0')) : 0n;
  const ticks = days * 864_000_000_000n + BigInt(h!) * 36_000_000_000n + BigInt(mi!) * 600_000_000n + BigInt(s!) * 10_000_000n + frac;
  if (ticks > MAX_DATETIME_TICKS) return undefined;
  const z = m[8];
  if (!z) return new PSDateTime(ticks, 'Unspecified');
  if (z === 'Z') return new PSDateTime(ticks, 'Utc');
  const oh = Number(z.slice(1, 3)); const om = Number(z.slice(4, 6));
  if (oh > 14 || om > 59) return undefined;
  const off = (z[0] === '-' ? -1 : 1) * (oh * 60 + om);
  if (Math.abs(off) > 14 * 60) return undefined;
  return new PSDateTime(ticks, 'Local', off);
}

export function parseDuration(t: string): PSTimeSpan | undefined {
  const s = t.trim();
  const m = TS_RE.exec(s);
  if (!m || s === 'P' || s === '-P' || s.endsWith('T')) return undefined;
  const n = (i: number): bigint => (m[i] ? BigInt(m[i]) : 0n);
  // XmlConvert.ToTimeSpan: a year is 365 days, a month 30 days
  let ticks = (n(2) * 365n + n(3) * 30n + n(4)) * 864_000_000_000n + n(5) * 36_000_000_000n + n(6) * 600_000_000n + n(7) * 10_000_000n;
  if (m[8]) ticks += BigInt(m[8].slice(0, 7).padEnd(7, '0'));
  if (m[1]) ticks = -ticks;
  if (ticks < -(2n ** 63n) || ticks >= 2n ** 63n) return undefined;
  return new PSTimeSpan(ticks);
}

function text(el: XmlElement): string { return el.text; }

class Reader {
  readonly objs = new Map<string, PSObject>();
  readonly tns = new Map<string, string[]>();
  constructor(readonly cipher: SecureStringCipher | undefined) {}

  value(el: XmlElement): ClixmlValue {
    if (el.ns !== '' && el.ns !== CLIXML_NS) fail(el, `element in unexpected namespace ${el.ns}`);
    switch (el.local) {
      case 'Nil': return null;
      case 'S': return decodeClixmlString(el.text);
      case 'B': {
        const t = el.text.trim();
        if (t === 'true' || t === '1') return true;
        if (t === 'false' || t === '0') return false;
        return fail(el, `not a Boolean: ${snippet(el.text)}`);
      }
      case 'I32': {
        const t = el.text.trim();
        const v = Number(t);
        if (!INT_RE.test(t) || v < -2147483648 || v > 2147483647) fail(el, `not an Int32: ${snippet(el.text)}`);
        return v;
      }
      case 'Obj': return this.object(el);
      case 'Ref': {
        const id = el.attrs.get('RefId');
        const o = id === undefined ? undefined : this.objs.get(id);
        if (!o) fail(el, `Ref to unknown RefId ${String(id)}`);
        return o;
      }
      case 'PR': return this.progressRecord(el);
      default: return this.primitive(el);
    }
  }

  primitive(el: XmlElement): PSPrimitive {
    const tag = el.local as PrimitiveTag;
    const t = text(el);
    const ir = INT_RANGES[tag];
    if (ir) {
      const s = t.trim();
      const v = Number(s);
      if (!INT_RE.test(s) || v < ir[0] || v > ir[1]) fail(el, `not a valid ${tag}: ${snippet(t)}`);
      return new PSPrimitive(tag, v);
    }
    switch (tag) {
      case 'I64': case 'U64': {
        const s = t.trim();
        if (!INT_RE.test(s)) fail(el, `not a valid ${tag}: ${snippet(t)}`);
        const v = BigInt(s);
        if (tag === 'I64' ? v < -(2n ** 63n) || v >= 2n ** 63n : v < 0n || v >= 2n ** 64n) fail(el, `${tag} out of range: ${snippet(t)}`);
        return new PSPrimitive(tag, v);
      }
      case 'Db': return new PSPrimitive('Db', parseDouble(el, t));
      case 'Sg': return new PSPrimitive('Sg', Math.fround(parseDouble(el, t)));
      case 'D': {
        const s = t.trim();
        if (!FLOAT_RE.test(s)) fail(el, `not a Decimal: ${snippet(t)}`);
        return new PSPrimitive('D', s);
      }
      case 'C': {
        const s = t.trim();
        const v = Number(s);
        if (!INT_RE.test(s) || v < 0 || v > 0xffff) fail(el, `not a Char (UTF-16 code unit): ${snippet(t)}`);
        return new PSPrimitive('C', v);
      }
      case 'DT': {
        const v = parseDateTime(t);
        if (!v) fail(el, `not a DateTime: ${snippet(t)}`);
        return new PSPrimitive('DT', v);
      }
      case 'TS': {
        const v = parseDuration(t);
        if (!v) fail(el, `not a TimeSpan (xs:duration): ${snippet(t)}`);
        return new PSPrimitive('TS', v);
      }
      case 'G': {
        const m = GUID_RE.exec(t.trim());
        if (!m) fail(el, `not a GUID: ${snippet(t)}`);
        return new PSPrimitive('G', m[1]!.toLowerCase());
      }
      case 'BA': return new PSPrimitive('BA', this.base64(el));
      case 'URI': case 'XD': case 'SBK': return new PSPrimitive(tag, decodeClixmlString(t));
      case 'Version': {
        const s = t.trim();
        if (!/^\d+(\.\d+){1,3}$/.test(s)) fail(el, `not a Version: ${snippet(t)}`);
        return new PSPrimitive('Version', s);
      }
      case 'SS': {
        const ct = el.text.trim();
        if (!this.cipher) return new PSPrimitive('SS', PSSecureString.fromCiphertext(ct));
        let plain: string;
        try { plain = fromUtf16le(this.cipher.decrypt(ct)); } catch (e) {
          throw new ClixmlError(`cannot decrypt the SecureString at ${elementPath(el)} (wrong or missing session key?)`, { cause: e });
        }
        return new PSPrimitive('SS', PSSecureString.fromCiphertext(ct, plain));
      }
      default: return fail(el, `unknown element <${el.local}>`);
    }
  }

  private base64(el: XmlElement): Uint8Array {
    const s = el.text.replace(/\s+/g, '');
    if (s.length % 4 !== 0 || !B64_RE.test(s)) fail(el, 'not valid base64');
    return fromBase64(s);
  }

  private typeNames(el: XmlElement): string[] {
    const id = el.attrs.get('RefId');
    if (el.local === 'TNRef') {
      const tn = id === undefined ? undefined : this.tns.get(id);
      if (!tn) fail(el, `TNRef to unknown RefId ${String(id)}`);
      return tn;
    }
    const names: string[] = [];
    for (const c of el.children) {
      if (c.local !== 'T') fail(c, 'only <T> is allowed inside <TN>');
      names.push(decodeClixmlString(c.text));
    }
    if (id !== undefined) this.tns.set(id, names);
    return names;
  }

  private props(el: XmlElement, into: Map<string, unknown>): void {
    for (const c of el.children) {
      const n = c.attrs.get('N');
      if (n === undefined) fail(c, 'property without a name (N attribute)');
      into.set(decodeClixmlString(n), this.value(c));
    }
  }

  object(el: XmlElement): PSObject {
    const o = new PSObject();
    const id = el.attrs.get('RefId');
    if (id !== undefined) {
      if (this.objs.has(id)) fail(el, `duplicate RefId ${id}`);
      this.objs.set(id, o);
    }
    for (const c of el.children) {
      if (c.ns !== '' && c.ns !== CLIXML_NS) fail(c, `element in unexpected namespace ${c.ns}`);
      switch (c.local) {
        case 'TN': case 'TNRef': o.typeNames = [...this.typeNames(c)]; break;
        case 'ToString': o.toStringValue = decodeClixmlString(c.text); break;
        case 'Props': this.props(c, o.adapted); break;
        case 'MS': this.props(c, o.extended); break;
        case 'LST': case 'IE': case 'STK': case 'QUE': {
          if (o.collection) fail(c, 'more than one collection in one object');
          const items: ClixmlValue[] = [];
          for (const it of c.children) items.push(this.value(it));
          o.collection = new PSList(c.local, items);
          break;
        }
        case 'DCT': {
          if (o.collection) fail(c, 'more than one collection in one object');
          const entries: Array<[ClixmlValue, ClixmlValue]> = [];
          for (const en of c.children) {
            if (en.local !== 'En') fail(en, 'only <En> is allowed inside <DCT>');
            let k: ClixmlValue | undefined; let v: ClixmlValue | undefined; let hasK = false; let hasV = false;
            for (const kv of en.children) {
              const n = kv.attrs.get('N');
              if (n === 'Key') { k = this.value(kv); hasK = true; } else if (n === 'Value') { v = this.value(kv); hasV = true; } else fail(kv, 'a dictionary entry holds only N="Key" and N="Value"');
            }
            if (!hasK || !hasV) fail(en, 'dictionary entry without Key or Value');
            entries.push([k!, v!]);
          }
          o.collection = new PSDict(entries);
          break;
        }
        default:
          if (o.value !== undefined) fail(c, 'more than one base value in one object');
          o.value = c.local === 'Obj' || c.local === 'Ref' ? fail(c, 'an object cannot be a base value') : this.value(c);
      }
    }
    return o;
  }

  /** MS-PSRP 2.2.5.1.20 ProgressRecord `<PR>`: AV, AI, CO (Nil|S), PI, PC, T, SR, SD. */
  private progressRecord(el: XmlElement): PSObject {
    const o = new PSObject({ typeNames: ['System.Management.Automation.ProgressRecord', 'System.Object'] });
    const names: Record<string, string> = { AV: 'Activity', AI: 'ActivityId', PI: 'ParentActivityId', PC: 'PercentComplete', T: 'RecordType', SR: 'SecondsRemaining', SD: 'StatusDescription' };
    for (const c of el.children) {
      const name = names[c.local];
      if (!name) {
        if (c.local === 'Nil' || c.local === 'S') o.adapted.set('CurrentOperation', this.value(c));
        else fail(c, 'unexpected element in a ProgressRecord');
      } else if (c.local === 'AV' || c.local === 'T' || c.local === 'SD') o.adapted.set(name, decodeClixmlString(c.text));
      else {
        const s = c.text.trim(); const v = Number(s);
        if (!INT_RE.test(s) || v < -2147483648 || v > 2147483647) fail(c, `not an Int32: ${snippet(c.text)}`);
        o.adapted.set(name, v);
      }
    }
    if (!o.adapted.has('Activity') || !o.adapted.has('StatusDescription')) fail(el, 'a ProgressRecord needs AV and SD');
    return o;
  }
}

function checkedParse(xml: string, opts: DeserializeOptions): XmlElement {
  try {
    return parseXml(xml, { maxDepth: opts.maxDepth ?? 1024, maxLength: opts.maxLength });
  } catch (e) {
    if (e instanceof XmlError) throw new ClixmlError(`invalid CLIXML: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Deserialize one CLIXML element (e.g. a PSRP message body `<Obj RefId="0">...`). */
export function deserialize(xml: string | XmlElement, opts: DeserializeOptions = {}): ClixmlValue {
  const el = typeof xml === 'string' ? checkedParse(xml, opts) : xml;
  return new Reader(opts.cipher).value(el);
}

export interface ClixmlDocumentItem {
  value: ClixmlValue;
  /** the `S` attribute (stream: "Error", "Warning", "Verbose", "Debug", "Information", "progress", ...) */
  stream?: string;
}

/**
 * Deserialize a PSSerializer / Export-Clixml document (`<Objs>`), optionally prefixed by `#< CLIXML`
 * (stderr of `powershell -EncodedCommand`). RefIds span the whole document.
 */
export function deserializeDocumentItems(xml: string, opts: DeserializeOptions = {}): ClixmlDocumentItem[] {
  let s = xml.replace(/^\uFEFF/, '');
  const m = /^\s*#< CLIXML\r?\n/.exec(s);
  if (m) s = s.slice(m[0].length);
  const root = checkedParse(s, opts);
  if (root.local !== 'Objs' || (root.ns !== '' && root.ns !== CLIXML_NS)) throw new ClixmlError(`a CLIXML document starts with <Objs>, not <${root.local}>`);
  const r = new Reader(opts.cipher);
  return root.children.map((c) => {
    const stream = c.attrs.get('S');
    const value = r.value(c);
    return stream === undefined ? { value } : { value, stream };
  });
}

export function deserializeDocument(xml: string, opts: DeserializeOptions = {}): ClixmlValue[] {
  return deserializeDocumentItems(xml, opts).map((i) => i.value);
}
