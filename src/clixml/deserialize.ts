/**
 * CLIXML deserializer (MS-PSRP 2.2.5): XML text or element -> ClixmlValue. Pure: no I/O.
 * Streaming: values are built straight from the SAX events of `saxes` (well-formedness checked, DOCTYPE refused,
 * namespace prefixes resolved here, elements matched by namespace URI + local name), with no intermediate
 * element tree, so memory is the result plus the open-element stack.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { ClixmlError } from '../errors.js';
import { fromBase64, fromUtf16le } from '../util/bytes.js';
import type { XmlElement } from '../xml/dom.js';
import { fastXml } from '../xml/fast.js';
import { decodeClixmlString } from './escape.js';
import { CLIXML_NS } from './serialize.js';
import {
  daysFromCivil,
  MAX_DATETIME_TICKS,
  PSDateTime,
  PSDict,
  PSList,
  PSObject,
  PSPrimitive,
  PSSecureString,
  PSTimeSpan,
  type ClixmlValue,
  type SecureStringCipher,
} from './types.js';

export interface DeserializeOptions {
  /** decrypts `<SS>`; without it SecureStrings keep only their ciphertext */
  cipher?: SecureStringCipher;
  /** maximum XML nesting depth (default 1024) */
  maxDepth?: number;
  /** maximum input length in characters (default 64 MiB) */
  maxLength?: number;
  /** parse with saxes only, never the fast path (for tests that hold the two to the same result) */
  fullParser?: boolean;
}

/** Thrown inside the reader; the reader adds the element path. */
class Bad extends Error {}
function bad(what: string): never {
  throw new Bad(what);
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
  By: [0, 255],
  SB: [-128, 127],
  U16: [0, 65535],
  I16: [-32768, 32767],
  U32: [0, 4294967295],
  I32: [-2147483648, 2147483647],
};

function parseDouble(t: string): number {
  const s = t.trim();
  if (s === 'INF' || s === 'Infinity' || s === '+INF') return Infinity;
  if (s === '-INF' || s === '-Infinity') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!FLOAT_RE.test(s)) bad(`not a number: ${snippet(t)}`);
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
  const oh = Number(z.slice(1, 3));
  const om = Number(z.slice(4, 6));
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

/** Convert the text of a primitive element (MS-PSRP 2.2.5.1). */
function primitive(tag: string, t: string, cipher: SecureStringCipher | undefined): ClixmlValue {
  switch (tag) {
    case 'S':
      return decodeClixmlString(t);
    case 'Nil':
      return null;
    case 'B': {
      const s = t.trim();
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0') return false;
      return bad(`not a Boolean: ${snippet(t)}`);
    }
    case 'I32': {
      const s = t.trim();
      const v = Number(s);
      if (!INT_RE.test(s) || v < -2147483648 || v > 2147483647) bad(`not an Int32: ${snippet(t)}`);
      return v;
    }
    case 'By':
    case 'SB':
    case 'U16':
    case 'I16':
    case 'U32': {
      const ir = INT_RANGES[tag]!;
      const s = t.trim();
      const v = Number(s);
      if (!INT_RE.test(s) || v < ir[0] || v > ir[1]) bad(`not a valid ${tag}: ${snippet(t)}`);
      return new PSPrimitive(tag, v);
    }
    case 'I64':
    case 'U64': {
      const s = t.trim();
      if (!INT_RE.test(s)) bad(`not a valid ${tag}: ${snippet(t)}`);
      const v = BigInt(s);
      if (tag === 'I64' ? v < -(2n ** 63n) || v >= 2n ** 63n : v < 0n || v >= 2n ** 64n) bad(`${tag} out of range: ${snippet(t)}`);
      return new PSPrimitive(tag, v);
    }
    case 'Db':
      return new PSPrimitive('Db', parseDouble(t));
    case 'Sg':
      return new PSPrimitive('Sg', Math.fround(parseDouble(t)));
    case 'D': {
      const s = t.trim();
      if (!FLOAT_RE.test(s)) bad(`not a Decimal: ${snippet(t)}`);
      return new PSPrimitive('D', s);
    }
    case 'C': {
      const s = t.trim();
      const v = Number(s);
      if (!INT_RE.test(s) || v < 0 || v > 0xffff) bad(`not a Char (UTF-16 code unit): ${snippet(t)}`);
      return new PSPrimitive('C', v);
    }
    case 'DT': {
      const v = parseDateTime(t);
      if (!v) bad(`not a DateTime: ${snippet(t)}`);
      return new PSPrimitive('DT', v);
    }
    case 'TS': {
      const v = parseDuration(t);
      if (!v) bad(`not a TimeSpan (xs:duration): ${snippet(t)}`);
      return new PSPrimitive('TS', v);
    }
    case 'G': {
      const m = GUID_RE.exec(t.trim());
      if (!m) bad(`not a GUID: ${snippet(t)}`);
      return new PSPrimitive('G', m[1]!.toLowerCase());
    }
    case 'BA': {
      const s = t.replace(/\s+/g, '');
      if (s.length % 4 !== 0 || !B64_RE.test(s)) bad('not valid base64');
      return new PSPrimitive('BA', fromBase64(s));
    }
    case 'URI':
    case 'XD':
    case 'SBK':
      return new PSPrimitive(tag, decodeClixmlString(t));
    case 'Version': {
      const s = t.trim();
      if (!/^\d+(\.\d+){1,3}$/.test(s)) bad(`not a Version: ${snippet(t)}`);
      return new PSPrimitive('Version', s);
    }
    case 'SS': {
      const ct = t.trim();
      if (!cipher) return new PSPrimitive('SS', PSSecureString.fromCiphertext(ct));
      let plain: string;
      try {
        plain = fromUtf16le(cipher.decrypt(ct));
      } catch {
        return bad('cannot decrypt the SecureString (wrong or missing session key?)');
      }
      return new PSPrimitive('SS', PSSecureString.fromCiphertext(ct, plain));
    }
    default:
      return bad(`unknown element <${tag}>`);
  }
}

const PRIMITIVE_TAGS = new Set([
  'S',
  'Nil',
  'B',
  'I32',
  'By',
  'SB',
  'U16',
  'I16',
  'U32',
  'I64',
  'U64',
  'Db',
  'Sg',
  'D',
  'C',
  'DT',
  'TS',
  'G',
  'BA',
  'URI',
  'XD',
  'SBK',
  'Version',
  'SS',
]);
const PR_FIELDS: Record<string, string> = {
  AV: 'Activity',
  AI: 'ActivityId',
  PI: 'ParentActivityId',
  PC: 'PercentComplete',
  T: 'RecordType',
  SR: 'SecondsRemaining',
  SD: 'StatusDescription',
};

/** Frame kinds of the open-element stack. */
const enum K {
  Prim,
  Obj,
  Ref,
  TN,
  TNRef,
  T,
  ToString,
  Props,
  List,
  Dct,
  En,
  PR,
  PRField,
  Objs,
}
/** One shape for every frame (monomorphic property access in the hot paths). */
class Frame {
  text = '';
  obj: PSObject | undefined = undefined;
  value: ClixmlValue | undefined = undefined;
  items: unknown[] | undefined = undefined;
  map: Map<string, unknown> | undefined = undefined;
  tnId: string | undefined = undefined;
  key: ClixmlValue | undefined = undefined;
  hasK = false;
  val: ClixmlValue | undefined = undefined;
  hasV = false;
  stream: string | undefined = undefined;
  constructor(
    readonly kind: K,
    readonly local: string,
    readonly name: string | undefined,
  ) {}
}
function frame(kind: K, local: string, name: string | undefined, set?: Partial<Frame>): Frame {
  const f = new Frame(kind, local, name);
  if (set) Object.assign(f, set);
  return f;
}

/** Attributes by unprefixed name (`N`, `RefId`, `S`). */
type Attrs = Record<string, string | undefined>;

/** Builds values from element events. `mode` 'one' = one top-level element; 'doc' = an `<Objs>` document. */
class Reader {
  readonly objs = new Map<string, PSObject>();
  readonly tns = new Map<string, string[]>();
  readonly stack: Frame[] = [];
  result: ClixmlValue | undefined;
  done = false;
  readonly items: ClixmlDocumentItem[] = [];
  constructor(
    readonly mode: 'one' | 'doc',
    readonly cipher: SecureStringCipher | undefined,
    readonly maxDepth: number,
  ) {}

  path(extra?: string): string {
    const parts = this.stack.map((f) =>
      f.name === undefined ? f.local : `${f.local}[N=${f.name.length > 40 ? f.name.slice(0, 40) + '…' : f.name}]`,
    );
    if (extra) parts.push(extra);
    return parts.length > 26 ? [...parts.slice(0, 3), '…', ...parts.slice(-20)].join('/') : parts.join('/');
  }

  private valueFrame(local: string, name: string | undefined, attrs: Attrs): Frame {
    if (local === 'Obj') {
      const o = new PSObject();
      const id = attrs['RefId'];
      if (id !== undefined) {
        if (this.objs.has(id)) bad(`duplicate RefId ${id}`);
        this.objs.set(id, o);
      }
      const f = new Frame(K.Obj, local, name);
      f.obj = o;
      return f;
    }
    if (local === 'Ref') {
      const id = attrs['RefId'];
      const o = id === undefined ? undefined : this.objs.get(id);
      if (!o) bad(`Ref to unknown RefId ${String(id)}`);
      const f = new Frame(K.Ref, local, name);
      f.value = o;
      return f;
    }
    if (local === 'PR')
      return frame(K.PR, local, name, {
        obj: new PSObject({ typeNames: ['System.Management.Automation.ProgressRecord', 'System.Object'] }),
      });
    if (PRIMITIVE_TAGS.has(local)) return frame(K.Prim, local, name);
    return bad(`unknown element <${local}>`);
  }

  open(local: string, ns: string, attrs: Attrs): void {
    if (this.stack.length >= this.maxDepth) throw new ClixmlError(`invalid CLIXML: nested deeper than ${this.maxDepth} levels`);
    try {
      if (ns !== '' && ns !== CLIXML_NS) bad(`element in unexpected namespace ${ns}`);
      const name = attrs['N'];
      const parent = this.stack[this.stack.length - 1];
      let f: Frame;
      if (!parent) {
        if (this.done) bad('more than one top-level element');
        if (this.mode === 'doc') {
          if (local !== 'Objs') bad(`a CLIXML document starts with <Objs>, not <${local}>`);
          f = frame(K.Objs, local, name, { items: [] });
        } else f = this.valueFrame(local, name, attrs);
      } else {
        switch (parent.kind) {
          case K.Objs:
            f = this.valueFrame(local, name, attrs);
            f.stream = attrs['S'];
            break;
          case K.Obj: {
            const o = parent.obj!;
            switch (local) {
              case 'TN':
                f = frame(K.TN, local, name, { items: [], tnId: attrs['RefId'] });
                break;
              case 'TNRef': {
                const id = attrs['RefId'];
                const tn = id === undefined ? undefined : this.tns.get(id);
                if (!tn) bad(`TNRef to unknown RefId ${String(id)}`);
                o.typeNames = [...tn];
                f = frame(K.TNRef, local, name);
                break;
              }
              case 'ToString':
                f = frame(K.ToString, local, name);
                break;
              case 'Props':
                f = frame(K.Props, local, name, { map: o.adapted });
                break;
              case 'MS':
                f = new Frame(K.Props, local, name);
                f.map = o.extended;
                break;
              case 'LST':
              case 'IE':
              case 'STK':
              case 'QUE': {
                if (o.collection) bad('more than one collection in one object');
                const l = new PSList(local, []);
                o.collection = l;
                f = frame(K.List, local, name, { items: l.items });
                break;
              }
              case 'DCT': {
                if (o.collection) bad('more than one collection in one object');
                const d = new PSDict([]);
                o.collection = d;
                f = frame(K.Dct, local, name, { items: d.entries });
                break;
              }
              default:
                f = this.valueFrame(local, name, attrs); // the base value
            }
            break;
          }
          case K.TN:
            if (local !== 'T') bad('only <T> is allowed inside <TN>');
            f = frame(K.T, local, name);
            break;
          case K.Props:
            if (name === undefined) bad('property without a name (N attribute)');
            f = this.valueFrame(local, name, attrs);
            break;
          case K.List:
            f = this.valueFrame(local, name, attrs);
            break;
          case K.Dct:
            if (local !== 'En') bad('only <En> is allowed inside <DCT>');
            f = frame(K.En, local, name);
            break;
          case K.En:
            if (name !== 'Key' && name !== 'Value') bad('a dictionary entry holds only N="Key" and N="Value"');
            f = this.valueFrame(local, name, attrs);
            break;
          case K.PR:
            if (PR_FIELDS[local]) f = frame(K.PRField, local, name);
            else if (local === 'Nil' || local === 'S') f = frame(K.Prim, local, undefined);
            else bad('unexpected element in a ProgressRecord');
            break;
          default:
            bad(`no element is allowed inside <${parent.local}>`);
        }
      }
      this.stack.push(f);
    } catch (e) {
      throw this.wrap(e, local, attrs['N']);
    }
  }

  private wrap(e: unknown, local?: string, name?: string): unknown {
    if (e instanceof Bad)
      return new ClixmlError(
        `invalid CLIXML at ${this.path(local === undefined ? undefined : name === undefined ? local : `${local}[N=${name}]`)}: ` +
          `${e.message}`,
      );
    return e;
  }

  text(t: string): void {
    const f = this.stack[this.stack.length - 1];
    if (!f) {
      if (t.trim()) throw new ClixmlError('invalid CLIXML: text outside the top-level element');
      return;
    }
    switch (f.kind) {
      case K.Prim:
      case K.T:
      case K.ToString:
      case K.PRField:
        f.text += t;
        return;
      default:
        if (t.trim()) throw this.wrap(new Bad(`unexpected text ${snippet(t)} inside <${f.local}>`));
    }
  }

  close(): void {
    const f = this.stack[this.stack.length - 1]!;
    try {
      let v: ClixmlValue | undefined;
      let deliver = true;
      switch (f.kind) {
        case K.Prim:
          v = primitive(f.local, f.text, this.cipher);
          break;
        case K.Obj:
          v = f.obj!;
          break;
        case K.Ref:
          v = f.value!;
          break;
        case K.PR: {
          const a = f.obj!.adapted;
          if (!a.has('Activity') || !a.has('StatusDescription')) bad('a ProgressRecord needs AV and SD');
          v = f.obj!;
          break;
        }
        case K.TN: {
          const names = f.items as string[];
          if (f.tnId !== undefined) this.tns.set(f.tnId, names);
          this.stack[this.stack.length - 2]!.obj!.typeNames = [...names];
          deliver = false;
          break;
        }
        case K.T:
          (this.stack[this.stack.length - 2]!.items as string[]).push(decodeClixmlString(f.text));
          deliver = false;
          break;
        case K.ToString:
          this.stack[this.stack.length - 2]!.obj!.toStringValue = decodeClixmlString(f.text);
          deliver = false;
          break;
        case K.En: {
          if (!f.hasK || !f.hasV) bad('dictionary entry without Key or Value');
          (this.stack[this.stack.length - 2]!.items as Array<[ClixmlValue, ClixmlValue]>).push([f.key!, f.val!]);
          deliver = false;
          break;
        }
        case K.PRField: {
          const p = this.stack[this.stack.length - 2]!.obj!;
          const field = PR_FIELDS[f.local]!;
          if (f.local === 'AV' || f.local === 'T' || f.local === 'SD') p.adapted.set(field, decodeClixmlString(f.text));
          else {
            const s = f.text.trim();
            const n = Number(s);
            if (!INT_RE.test(s) || n < -2147483648 || n > 2147483647) bad(`not an Int32: ${snippet(f.text)}`);
            p.adapted.set(field, n);
          }
          deliver = false;
          break;
        }
        case K.Objs:
          this.done = true;
          deliver = false;
          break;
        default:
          deliver = false; // TNRef, Props, List, Dct: content already placed
      }
      if (deliver) this.deliver(f, v as ClixmlValue);
    } catch (e) {
      throw this.wrap(e);
    }
    this.stack.pop();
  }

  private deliver(f: Frame, v: ClixmlValue): void {
    const parent = this.stack[this.stack.length - 2];
    if (!parent) {
      this.result = v;
      this.done = true;
      return;
    }
    switch (parent.kind) {
      case K.Objs:
        this.items.push(f.stream === undefined ? { value: v } : { value: v, stream: f.stream });
        return;
      case K.Obj: {
        const o = parent.obj!;
        if (o.value !== undefined) bad('more than one base value in one object');
        o.value = v; // usually a primitive; Windows also nests an <Obj> as the base of an <Obj>
        return;
      }
      case K.Props:
        parent.map!.set(decodeClixmlString(f.name!), v);
        return;
      case K.List:
        parent.items!.push(v);
        return;
      case K.En:
        if (f.name === 'Key') {
          if (parent.hasK) bad('two keys in one dictionary entry');
          parent.key = v;
          parent.hasK = true;
        } else {
          if (parent.hasV) bad('two values in one dictionary entry');
          parent.val = v;
          parent.hasV = true;
        }
        return;
      case K.PR:
        parent.obj!.adapted.set('CurrentOperation', v);
        return;
      default:
        bad('unexpected value');
    }
  }
}

function run(r: Reader, xml: string | XmlElement, opts: DeserializeOptions, fast: boolean): boolean {
  if (typeof xml !== 'string') {
    // replay an element tree as events
    const walk = (el: XmlElement): void => {
      r.open(el.local, el.ns, Object.fromEntries(el.attrs));
      if (el.text) r.text(el.text);
      for (const c of el.children) walk(c);
      r.close();
    };
    walk(xml);
    return true;
  }
  const maxLength = opts.maxLength ?? 64 * 1024 * 1024;
  if (xml.length > maxLength) throw new ClixmlError(`CLIXML too large (${xml.length} characters, limit ${maxLength})`);
  // Namespaces are resolved here rather than by saxes (xmlns: true costs ~15% of the parse): a scope is pushed
  // only by an element that declares xmlns attributes, which CLIXML does once (on <Objs>) or never.
  const scopes: Array<Map<string, string>> = [XML_SCOPE];
  const pushed: boolean[] = [];
  const onOpen = (name: string, attrs: Record<string, string>): void => {
    let p = false;
    for (const k in attrs) {
      if (k === 'xmlns' || k.startsWith('xmlns:')) {
        if (!p) {
          scopes.push(new Map(scopes[scopes.length - 1]));
          p = true;
        }
        scopes[scopes.length - 1]!.set(k === 'xmlns' ? '' : k.slice(6), attrs[k]!);
      }
    }
    pushed.push(p);
    const i = name.indexOf(':');
    const prefix = i < 0 ? '' : name.slice(0, i);
    const uri = scopes[scopes.length - 1]!.get(prefix);
    if (uri === undefined && prefix) throw new ClixmlError(`invalid CLIXML: malformed XML: unbound namespace prefix: "${prefix}"`);
    r.open(i < 0 ? name : name.slice(i + 1), uri ?? '', attrs);
  };
  const onClose = (): void => {
    if (pushed.pop()) scopes.pop();
    r.close();
  };
  if (fast) return fastXml(xml, onOpen, (t) => r.text(t), onClose) && r.done;
  const parser = new SaxesParser({ position: false });
  parser.on('doctype', () => {
    throw new ClixmlError('invalid CLIXML: XML DOCTYPE declarations are not accepted (DTDs and entities are never processed)');
  });
  parser.on('error', (e) => {
    throw new ClixmlError(`invalid CLIXML: malformed XML: ${e.message}`);
  });
  parser.on('opentag', (tag) => onOpen(tag.name, (tag as SaxesTagPlain).attributes));
  parser.on('text', (t) => r.text(t));
  parser.on('cdata', (t) => r.text(t));
  parser.on('closetag', onClose);
  try {
    parser.write(xml);
    parser.close();
  } catch (e) {
    if (e instanceof ClixmlError) throw e;
    throw new ClixmlError(`invalid CLIXML: ${(e as Error).message}`, { cause: e });
  }
  if (!r.done) throw new ClixmlError('invalid CLIXML: no top-level element');
  return true;
}
const XML_SCOPE = new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]);

/**
 * Run `xml` into a fresh reader: the fast path (runFast) when it takes the whole input, else saxes from the start
 * (same result, and every error as saxes and the reader report it).
 */
function read(mode: 'one' | 'doc', xml: string | XmlElement, opts: DeserializeOptions): Reader {
  if (typeof xml === 'string' && !opts.fullParser && xml.length <= (opts.maxLength ?? 64 * 1024 * 1024)) {
    const r = new Reader(mode, opts.cipher, opts.maxDepth ?? 1024);
    try {
      if (run(r, xml, opts, true)) return r;
    } catch {
      // reported by the full parse below
    }
  }
  const r = new Reader(mode, opts.cipher, opts.maxDepth ?? 1024);
  run(r, xml, opts, false);
  return r;
}

/** Whether the fast path takes `xml` whole (for tests: the usual CLIXML must not fall back to saxes). */
export function fastPathTakes(xml: string, mode: 'one' | 'doc' = 'one'): boolean {
  try {
    return run(new Reader(mode, undefined, 1024), xml, {}, true);
  } catch {
    return false;
  }
}

/** Deserialize one CLIXML element (e.g. a PSRP message body `<Obj RefId="0">...`). */
export function deserialize(xml: string | XmlElement, opts: DeserializeOptions = {}): ClixmlValue {
  if (typeof xml === 'string' && !opts.fullParser && xml.length <= (opts.maxLength ?? 64 * 1024 * 1024)) {
    const v = direct(xml, opts.maxDepth ?? 1024);
    if (v !== NOT_TAKEN) return v as ClixmlValue;
  }
  return read('one', xml, opts).result as ClixmlValue;
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
  let s = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const m = /^\s*#< CLIXML\r?\n/.exec(s);
  if (m) s = s.slice(m[0].length);
  return read('doc', s, opts).items;
}

export function deserializeDocument(xml: string, opts: DeserializeOptions = {}): ClixmlValue[] {
  return deserializeDocumentItems(xml, opts).map((i) => i.value);
}

// ---------------------------------------------------------------------------------------------------------------
// The direct path: what PowerShell writes for one value, read in one recursive pass over the text with no XML events,
// no frames and no closures. It takes a strict subset of the subset fastXml takes (below) and gives exactly the
// value the general path gives for it; at anything else (and at every error) it gives NOT_TAKEN and the general path
// starts over, so errors and rare shapes are reported as before. The differential fuzz tests
// (test/fuzz/clixml.test.ts) hold it to the full parser's result. The subset:
//  - the characters fastXml takes (FAST_CHARS); white space outside the root and between elements is space, tab, LF;
//  - elements without a prefix, named [A-Za-z0-9]+; attributes only N and RefId, written name="value" or name='value'
//    (values without `<`, tab or LF; only the five predefined entities, in attribute values and text);
//  - end tags written `</name>`; no comment, CDATA, processing instruction or DOCTYPE;
//  - Obj (TN, TNRef, ToString, Props, MS, LST/IE/STK/QUE, DCT/En, one base value), Ref and the primitives but SS
//    (SecureStrings, which need the session key, and PR progress records take the general path).

const NOT_TAKEN: unknown = Symbol('not taken');
const DIRECT_PRIMITIVES = new Set([...PRIMITIVE_TAGS].filter((t) => t !== 'SS'));

/** One direct read: the text, the position and the RefId tables of the message. */
class Direct {
  i = 0;
  objs: Map<string, PSObject> | undefined = undefined;
  tns: Map<string, string[]> | undefined = undefined;
  /** the attributes of the last start tag read */
  n: string | undefined = undefined;
  refId: string | undefined = undefined;
  /** whether the last start tag read was self-closing */
  empty = false;
  constructor(
    readonly s: string,
    readonly maxDepth: number,
  ) {}

  /** Skip white space (space, tab, LF). */
  ws(): void {
    const s = this.s;
    let i = this.i;
    for (let c = s.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x09; c = s.charCodeAt(++i));
    this.i = i;
  }

  /** At `<`: read a start tag `<Name attrs>` or `<Name attrs/>`; the name, or NOT_TAKEN (an end tag included). */
  startTag(): string {
    const s = this.s;
    let i = this.i + 1;
    const a = i;
    for (let c = s.charCodeAt(i); (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39); c = s.charCodeAt(++i));
    if (i === a) throw NOT_TAKEN;
    const name = s.slice(a, i);
    this.n = undefined;
    this.refId = undefined;
    for (;;) {
      let c = s.charCodeAt(i);
      if (c === 0x3e) {
        this.empty = false;
        this.i = i + 1;
        return name;
      }
      if (c === 0x2f) {
        if (s.charCodeAt(i + 1) !== 0x3e) throw NOT_TAKEN;
        this.empty = true;
        this.i = i + 2;
        return name;
      }
      if (c !== 0x20 && c !== 0x0a && c !== 0x09) throw NOT_TAKEN;
      for (c = s.charCodeAt(++i); c === 0x20 || c === 0x0a || c === 0x09; c = s.charCodeAt(++i));
      if (c === 0x3e || c === 0x2f) continue;
      // N="…" or RefId="…"
      let isN: boolean;
      if (c === 0x4e && s.charCodeAt(i + 1) === 0x3d) {
        isN = true;
        i += 2;
      } else if (s.startsWith('RefId=', i)) {
        isN = false;
        i += 6;
      } else throw NOT_TAKEN;
      const q = s.charCodeAt(i);
      if (q !== 0x22 && q !== 0x27) throw NOT_TAKEN;
      const close = s.indexOf(q === 0x22 ? '"' : "'", i + 1);
      if (close < 0) throw NOT_TAKEN;
      let v = s.slice(i + 1, close);
      let amp = false;
      for (let k = 0; k < v.length; k++) {
        const d = v.charCodeAt(k);
        if (d === 0x3c || d === 0x09 || d === 0x0a) throw NOT_TAKEN;
        if (d === 0x26) amp = true;
      }
      if (amp) v = entities(v);
      if (isN) {
        if (this.n !== undefined) throw NOT_TAKEN;
        this.n = v;
      } else {
        if (this.refId !== undefined) throw NOT_TAKEN;
        this.refId = v;
      }
      i = close + 1;
    }
  }

  /** After white space: whether `</name>` is next (consumed if so). */
  endTag(name: string): boolean {
    const s = this.s;
    const i = this.i;
    if (s.charCodeAt(i) !== 0x3c || s.charCodeAt(i + 1) !== 0x2f) return false;
    if (!s.startsWith(name, i + 2) || s.charCodeAt(i + 2 + name.length) !== 0x3e) throw NOT_TAKEN;
    this.i = i + 3 + name.length;
    return true;
  }

  /** White space, then a start tag or `</parent>`: the child's name, or undefined at the end of the parent. */
  child(parent: string): string | undefined {
    this.ws();
    if (this.s.charCodeAt(this.i) !== 0x3c) throw NOT_TAKEN;
    if (this.endTag(parent)) return undefined;
    return this.startTag();
  }

  /** The text content of `name` (its start tag read), up to `</name>`, entities decoded. */
  text(name: string): string {
    if (this.empty) return '';
    const s = this.s;
    const lt = s.indexOf('<', this.i);
    if (lt < 0) throw NOT_TAKEN;
    const t = s.slice(this.i, lt);
    this.i = lt;
    if (!this.endTag(name)) throw NOT_TAKEN;
    return t.indexOf('&') < 0 ? t : entities(t);
  }

  /** An element that must be empty (self-closing or white space only). */
  nothing(name: string): void {
    if (this.empty) return;
    this.ws();
    if (!this.endTag(name)) throw NOT_TAKEN;
  }

  /** The value of the element whose start tag was just read. */
  value(name: string, depth: number): ClixmlValue {
    if (depth >= this.maxDepth) throw NOT_TAKEN;
    if (name === 'Obj') return this.obj(depth);
    if (name === 'Ref') {
      const o = this.refId === undefined ? undefined : this.objs?.get(this.refId);
      if (!o) throw NOT_TAKEN;
      this.nothing(name);
      return o;
    }
    if (!DIRECT_PRIMITIVES.has(name)) throw NOT_TAKEN;
    return primitive(name, this.text(name), undefined);
  }

  obj(depth: number): PSObject {
    const o = new PSObject();
    const id = this.refId;
    if (id !== undefined) {
      this.objs ??= new Map();
      if (this.objs.has(id)) throw NOT_TAKEN;
      this.objs.set(id, o);
    }
    if (this.empty) return o;
    const d = depth + 1;
    for (let tag = this.child('Obj'); tag !== undefined; tag = this.child('Obj')) {
      if (d >= this.maxDepth) throw NOT_TAKEN;
      switch (tag) {
        case 'TN': {
          const tnId = this.refId;
          const names: string[] = [];
          if (!this.empty)
            for (let t = this.child('TN'); t !== undefined; t = this.child('TN')) {
              if (t !== 'T' || d + 1 >= this.maxDepth) throw NOT_TAKEN;
              names.push(decodeClixmlString(this.text('T')));
            }
          if (tnId !== undefined) (this.tns ??= new Map()).set(tnId, names);
          o.typeNames = [...names];
          break;
        }
        case 'TNRef': {
          const tn = this.refId === undefined ? undefined : this.tns?.get(this.refId);
          if (!tn) throw NOT_TAKEN;
          o.typeNames = [...tn];
          this.nothing(tag);
          break;
        }
        case 'ToString':
          o.toStringValue = decodeClixmlString(this.text(tag));
          break;
        case 'Props':
        case 'MS': {
          const map = tag === 'MS' ? o.extended : o.adapted;
          if (!this.empty)
            for (let t = this.child(tag); t !== undefined; t = this.child(tag)) {
              const n = this.n;
              if (n === undefined) throw NOT_TAKEN;
              map.set(decodeClixmlString(n), this.value(t, d + 1));
            }
          break;
        }
        case 'LST':
        case 'IE':
        case 'STK':
        case 'QUE': {
          if (o.collection) throw NOT_TAKEN;
          const l = new PSList(tag, []);
          o.collection = l;
          if (!this.empty) for (let t = this.child(tag); t !== undefined; t = this.child(tag)) l.items.push(this.value(t, d + 1));
          break;
        }
        case 'DCT': {
          if (o.collection) throw NOT_TAKEN;
          const dict = new PSDict([]);
          o.collection = dict;
          if (!this.empty)
            for (let t = this.child(tag); t !== undefined; t = this.child(tag)) {
              if (t !== 'En' || this.empty || d + 1 >= this.maxDepth) throw NOT_TAKEN;
              let key: ClixmlValue | undefined;
              let val: ClixmlValue | undefined;
              let hasK = false;
              let hasV = false;
              for (let e = this.child('En'); e !== undefined; e = this.child('En')) {
                const n = this.n;
                if (n === 'Key' && !hasK) {
                  key = this.value(e, d + 2);
                  hasK = true;
                } else if (n === 'Value' && !hasV) {
                  val = this.value(e, d + 2);
                  hasV = true;
                } else throw NOT_TAKEN;
              }
              if (!hasK || !hasV) throw NOT_TAKEN;
              dict.entries.push([key!, val!]);
            }
          break;
        }
        default: {
          const v = this.value(tag, d);
          if (o.value !== undefined) throw NOT_TAKEN;
          o.value = v;
        }
      }
    }
    return o;
  }
}

/** Decode the five predefined entities; NOT_TAKEN at any other `&` (character references included). */
function entities(t: string): string {
  return t.replace(/&(?:(lt)|(gt)|(amp)|(quot)|(apos));|&/g, (m: string, lt?: string, gt?: string, amp?: string, quot?: string) => {
    if (m.length === 1) throw NOT_TAKEN;
    return lt ? '<' : gt ? '>' : amp ? '&' : quot ? '"' : "'";
  });
}

/** The direct path (above) on one value: the value, or NOT_TAKEN. */
function direct(xml: string, maxDepth: number): unknown {
  if (FAST_CHARS.test(xml)) return NOT_TAKEN;
  const r = new Direct(xml, maxDepth);
  try {
    r.ws();
    if (xml.charCodeAt(r.i) !== 0x3c) return NOT_TAKEN;
    const v = r.value(r.startTag(), 0);
    r.ws();
    return r.i === xml.length ? v : NOT_TAKEN;
  } catch {
    return NOT_TAKEN; // NOT_TAKEN, a bad primitive, a stack overflow: the general path gives the value or the error
  }
}
const FAST_CHARS = /[^\t\n\x20-\uD7FF\uE000-\uFFFD]|\]\]>/;

/** Whether the direct path takes `xml` (for tests: what PowerShell writes for usual values must). */
export function directPathTakes(xml: string): boolean {
  return direct(xml, 1024) !== NOT_TAKEN;
}
