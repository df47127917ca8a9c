/** CLIXML serializer (MS-PSRP 2.2.5): JS / PSValue -> XML text. Pure: no I/O. */
import { InvalidArgumentError, LocalProtocolError } from '../errors.js';
import { toBase64, utf16le } from '../util/bytes.js';
import { encodeClixmlString, xmlAttr, xmlText } from './escape.js';
import {
  PSDateTime,
  PSDict,
  PSList,
  PSObject,
  PSPrimitive,
  PSSecureString,
  TN_HASHTABLE,
  TN_OBJECT_ARRAY,
  type PrimitiveTag,
  type PSValue,
  type SecureStringCipher,
} from './types.js';

/**
 * RefId / TNRef numbering (MS-PSRP 2.2.5.2.1, 2.2.5.2.3). One per call by default; pass the same instance to
 * several `serialize` calls to number them as one message (PSRP scopes RefIds per message, from 0).
 */
export class ClixmlRefs {
  readonly objects = new Map<object, number>();
  readonly typeNames = new Map<string, number>();
  nextObj = 0;
  nextTn = 0;
}

export interface SerializeOptions {
  /** shared RefId/TNRef tables (default: fresh per call) */
  refs?: ClixmlRefs;
  /** encrypts `<SS>` plaintext (required to send a SecureString built from plaintext) */
  cipher?: SecureStringCipher;
  /** maximum nesting depth of objects before an error (default 1000) */
  maxDepth?: number;
  /** write a property name `N="..."` on the top element */
  name?: string;
}

const INT_RANGES: Partial<Record<PrimitiveTag, [number, number]>> = {
  By: [0, 255],
  SB: [-128, 127],
  U16: [0, 65535],
  I16: [-32768, 32767],
  U32: [0, 4294967295],
  I32: [-2147483648, 2147483647],
};
const BIG_RANGES: Partial<Record<PrimitiveTag, [bigint, bigint]>> = {
  I64: [-(2n ** 63n), 2n ** 63n - 1n],
  U64: [0n, 2n ** 64n - 1n],
};

/** .NET XmlConvert.ToString(double): INF / -INF / NaN, `-0`, otherwise round-trip text. */
export function formatDouble(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'INF';
  if (v === -Infinity) return '-INF';
  if (Object.is(v, -0)) return '-0';
  return String(v).replace('e', 'E');
}

/** Shortest text that reads back as the same Single (`0.1`, not `0.10000000149011612`). */
export function formatSingle(v: number): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f) || f === 0) return formatDouble(f);
  for (let p = 1; p <= 9; p++) {
    const t = Number(f.toPrecision(p));
    if (Math.fround(t) === f) return formatDouble(t);
  }
  return formatDouble(f);
}

class Writer {
  readonly parts: string[] = [];
  constructor(
    readonly refs: ClixmlRefs,
    readonly cipher: SecureStringCipher | undefined,
    readonly maxDepth: number,
  ) {}

  value(v: PSValue, name: string | undefined, depth: number): void {
    const n = name === undefined ? '' : ` N="${xmlAttr(encodeClixmlString(name))}"`;
    if (v === null || v === undefined) {
      this.parts.push(`<Nil${n} />`);
      return;
    }
    switch (typeof v) {
      case 'string':
        this.parts.push(`<S${n}>${xmlText(encodeClixmlString(v))}</S>`);
        return; // '' -> <S></S> as pwsh writes it
      case 'boolean':
        this.parts.push(`<B${n}>${v}</B>`);
        return;
      case 'number':
        if (Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 && !Object.is(v, -0)) this.parts.push(`<I32${n}>${v}</I32>`);
        else this.parts.push(`<Db${n}>${formatDouble(v)}</Db>`);
        return;
      case 'bigint':
        this.primitive(new PSPrimitive('I64', v), n);
        return;
      case 'object':
        break;
      default:
        throw new InvalidArgumentError(`cannot serialize a ${typeof v} to CLIXML`);
    }
    if (v instanceof PSPrimitive) {
      this.primitive(v, n);
      return;
    }
    if (v instanceof Date) {
      this.primitive(new PSPrimitive('DT', PSDateTime.fromDate(v)), n);
      return;
    }
    if (v instanceof Uint8Array) {
      this.primitive(new PSPrimitive('BA', v), n);
      return;
    }
    if (v instanceof PSSecureString) {
      this.primitive(new PSPrimitive('SS', v), n);
      return;
    }
    if (v instanceof PSObject && isProgressRecord(v)) {
      this.progressRecord(v, n);
      return;
    }
    if (depth >= this.maxDepth)
      throw new InvalidArgumentError(`value nested deeper than ${this.maxDepth} levels (a cycle in plain JS objects?)`);
    // complex: a back-reference if this very object was written already
    const seen = this.refs.objects.get(v);
    if (seen !== undefined) {
      this.parts.push(`<Ref${n} RefId="${seen}" />`);
      return;
    }
    const id = this.refs.nextObj++;
    this.refs.objects.set(v, id);
    if (v instanceof PSObject) {
      this.object(v, n, id, depth);
      return;
    }
    if (Array.isArray(v)) {
      this.object(PSObject.list(v, TN_OBJECT_ARRAY), n, id, depth);
      return;
    }
    if (v instanceof Map) {
      this.object(PSObject.dict(v.entries(), TN_HASHTABLE), n, id, depth);
      return;
    }
    if (v instanceof PSList || v instanceof PSDict) throw new InvalidArgumentError('wrap a PSList/PSDict in a PSObject ({ collection })');
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null)
      throw new InvalidArgumentError(`cannot serialize an instance of ${proto?.constructor?.name ?? 'unknown'} to CLIXML`);
    this.object(PSObject.dict(Object.entries(v), TN_HASHTABLE), n, id, depth);
  }

  private typeNames(tn: string[]): void {
    if (!tn.length) return;
    const key = tn.join('\u0000');
    const seen = this.refs.typeNames.get(key);
    if (seen !== undefined) {
      this.parts.push(`<TNRef RefId="${seen}" />`);
      return;
    }
    const id = this.refs.nextTn++;
    this.refs.typeNames.set(key, id);
    let s = `<TN RefId="${id}">`;
    for (const t of tn) s += `<T>${xmlText(encodeClixmlString(t))}</T>`;
    this.parts.push(s + '</TN>');
  }

  private object(o: PSObject, n: string, id: number, depth: number): void {
    this.parts.push(`<Obj${n} RefId="${id}">`);
    this.typeNames(o.typeNames);
    if (o.toStringValue !== undefined) this.parts.push(`<ToString>${xmlText(encodeClixmlString(o.toStringValue))}</ToString>`);
    if (o.value !== undefined) this.value(o.value, undefined, depth + 1);
    const c = o.collection;
    if (c instanceof PSList) {
      if (!c.items.length) this.parts.push(`<${c.kind} />`);
      else {
        this.parts.push(`<${c.kind}>`);
        for (const it of c.items) this.value(it, undefined, depth + 1);
        this.parts.push(`</${c.kind}>`);
      }
    } else if (c instanceof PSDict) {
      if (!c.entries.length) this.parts.push('<DCT />');
      else {
        this.parts.push('<DCT>');
        for (const [k, v] of c.entries) {
          this.parts.push('<En>');
          this.value(k, 'Key', depth + 1);
          this.value(v, 'Value', depth + 1);
          this.parts.push('</En>');
        }
        this.parts.push('</DCT>');
      }
    }
    if (o.adapted.size) {
      this.parts.push('<Props>');
      for (const [k, v] of o.adapted) this.value(v, k, depth + 1);
      this.parts.push('</Props>');
    }
    if (o.extended.size) {
      this.parts.push('<MS>');
      for (const [k, v] of o.extended) this.value(v, k, depth + 1);
      this.parts.push('</MS>');
    }
    this.parts.push('</Obj>');
  }

  /** MS-PSRP 2.2.5.1.20 `<PR>`: AV, AI, CurrentOperation (S|Nil), PI, PC, T, SR, SD. */
  private progressRecord(o: PSObject, n: string): void {
    const str = (name: string, tag: string): string => {
      const v = o.adapted.get(name);
      if (typeof v !== 'string') throw new InvalidArgumentError(`ProgressRecord.${name} must be a string`);
      return `<${tag}>${xmlText(encodeClixmlString(v))}</${tag}>`;
    };
    const int = (name: string, tag: string, dflt: number): string => {
      const v = o.adapted.get(name) ?? dflt;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new InvalidArgumentError(`ProgressRecord.${name} must be an Int32`);
      return `<${tag}>${v}</${tag}>`;
    };
    const co = o.adapted.get('CurrentOperation');
    let s = `<PR${n}>` + str('Activity', 'AV') + int('ActivityId', 'AI', 0);
    s += typeof co === 'string' ? `<S>${xmlText(encodeClixmlString(co))}</S>` : '<Nil />';
    s += int('ParentActivityId', 'PI', -1) + int('PercentComplete', 'PC', -1);
    if (o.adapted.has('RecordType')) s += str('RecordType', 'T');
    s += int('SecondsRemaining', 'SR', -1) + str('StatusDescription', 'SD') + '</PR>';
    this.parts.push(s);
  }

  primitive(p: PSPrimitive, n: string): void {
    const tag = p.tag;
    const text = this.primitiveText(p);
    // PowerShell 7.6.9 writes an empty byte[] as <BA />, an empty string or Uri as <S></S>, <URI></URI>
    this.parts.push(text === '' && tag === 'BA' ? `<BA${n} />` : `<${tag}${n}>${text}</${tag}>`);
  }

  private primitiveText(p: PSPrimitive): string {
    const { tag, value } = p;
    const ir = INT_RANGES[tag];
    if (ir) {
      const v = value as number;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < ir[0] || v > ir[1])
        throw new InvalidArgumentError(`${tag} value out of range: ${String(v)}`);
      return String(v);
    }
    const br = BIG_RANGES[tag];
    if (br) {
      const v = typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value;
      if (typeof v !== 'bigint' || v < br[0] || v > br[1]) throw new InvalidArgumentError(`${tag} value out of range: ${String(v)}`);
      return String(v);
    }
    switch (tag) {
      case 'S':
      case 'URI':
      case 'XD':
      case 'SBK':
      case 'Version':
        return xmlText(encodeClixmlString(value as string));
      case 'C': {
        const v = value as number;
        if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new InvalidArgumentError(`Char must be one UTF-16 code unit: ${v}`);
        return String(v);
      }
      case 'B':
        return value ? 'true' : 'false';
      case 'Db':
        return formatDouble(value as number);
      case 'Sg':
        return formatSingle(value as number);
      case 'D': {
        const v = String(value);
        // XmlConvert.ToDecimal takes no exponent
        if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(v)) throw new InvalidArgumentError(`not a decimal number: ${v}`);
        return v;
      }
      case 'DT':
        return (value as PSDateTime).toString();
      case 'TS':
        return String(value);
      case 'G': {
        const v = String(value).toLowerCase();
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v)) throw new InvalidArgumentError(`not a GUID: ${v}`);
        return v;
      }
      case 'BA':
        return toBase64(value as Uint8Array);
      case 'SS': {
        const ss = value as PSSecureString;
        if (ss.hasPlaintext && this.cipher) return xmlText(this.cipher.encrypt(utf16le(ss.reveal())));
        if (ss.ciphertext !== undefined) return xmlText(ss.ciphertext);
        throw new LocalProtocolError('a SecureString needs the session key to be sent: exchange keys first (no `cipher` given)');
      }
      default:
        throw new InvalidArgumentError(`unknown CLIXML primitive tag ${String(tag)}`);
    }
  }
}

export const PROGRESS_RECORD_TYPE = 'System.Management.Automation.ProgressRecord';
/** A PSObject shaped like a deserialized `<PR>` (deserialize gives exactly this shape). */
function isProgressRecord(o: PSObject): boolean {
  return (
    o.typeNames[0] === PROGRESS_RECORD_TYPE &&
    o.adapted.has('Activity') &&
    o.adapted.has('StatusDescription') &&
    !o.extended.size &&
    !o.collection &&
    o.value === undefined
  );
}

/** Serialize one value to one CLIXML element (an `<Obj>` for PSRP message bodies). */
export function serialize(value: PSValue, opts: SerializeOptions = {}): string {
  const w = new Writer(opts.refs ?? new ClixmlRefs(), opts.cipher, opts.maxDepth ?? 1000);
  w.value(value, opts.name, 0);
  return w.parts.join('');
}

export const CLIXML_NS = 'http://schemas.microsoft.com/powershell/2004/04';

/**
 * A PSSerializer / Export-Clixml document: `<Objs Version="1.1.0.1" xmlns="...">` with one element per value,
 * RefIds numbered across the whole document.
 */
export function serializeDocument(values: PSValue[], opts: Omit<SerializeOptions, 'name'> = {}): string {
  const w = new Writer(opts.refs ?? new ClixmlRefs(), opts.cipher, opts.maxDepth ?? 1000);
  w.parts.push(`<Objs Version="1.1.0.1" xmlns="${CLIXML_NS}">`);
  for (const v of values) w.value(v, undefined, 0);
  w.parts.push('</Objs>');
  return w.parts.join('');
}
