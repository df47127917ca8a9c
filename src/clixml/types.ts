/**
 * CLIXML value model (MS-PSRP 2.2.5 "Serialization of objects").
 *
 * Plain JS values are used where the mapping is lossless; everything else is an explicit wrapper so a
 * deserialized value serializes back to the same CLIXML (`serialize(deserialize(x))` keeps every .NET type):
 *
 * | CLIXML        | deserialize gives                      | serialize accepts                               |
 * |---------------|----------------------------------------|-------------------------------------------------|
 * | `<Nil/>`      | `null`                                 | `null`, `undefined`                             |
 * | `<S>`         | `string`                               | `string`                                        |
 * | `<B>`         | `boolean`                              | `boolean`                                       |
 * | `<I32>`       | `number`                               | `number` integral in Int32 range                |
 * | `<Db>`        | `PSPrimitive<'Db'>` (value: number)    | any other `number` (NaN/±Infinity/-0 included)  |
 * | `<I64>`       | `PSPrimitive<'I64'>` (value: bigint)   | `bigint` (must fit Int64)                       |
 * | `<DT>`        | `PSPrimitive<'DT'>` (value: PSDateTime)| `Date` (as Utc, millisecond precision)          |
 * | `<BA>`        | `PSPrimitive<'BA'>` (value: Uint8Array)| `Uint8Array`                                    |
 * | other tags    | `PSPrimitive<tag>` (see PrimitiveValueMap) | `PSPrimitive` built with the `ps.*` helpers |
 * | `<Obj>`       | `PSObject` (typeNames, toStringValue, adapted, extended, value or collection) | `PSObject` |
 * |               |                                        | JS array -> System.Object[] (LST)               |
 * |               |                                        | `Map` / plain object -> Hashtable (DCT)         |
 * | `<Ref>`       | the SAME `PSObject` instance as its `<Obj RefId>` (graphs and cycles are kept) | a PSObject seen twice -> `<Ref>` |
 * | `<PR>`        | `PSObject` typed System.Management.Automation.ProgressRecord (adapted props) | (written as a normal Obj) |
 *
 * `toPlain()` (plain.ts) turns any of these into JSON-friendly JS for `ps --json`.
 */
import { InvalidArgumentError } from '../errors.js';

/** CLIXML primitive element names (MS-PSRP 2.2.5.1). */
export type PrimitiveTag =
  | 'S'
  | 'C'
  | 'B'
  | 'DT'
  | 'TS'
  | 'By'
  | 'SB'
  | 'U16'
  | 'I16'
  | 'U32'
  | 'I32'
  | 'U64'
  | 'I64'
  | 'Sg'
  | 'Db'
  | 'D'
  | 'BA'
  | 'G'
  | 'URI'
  | 'Version'
  | 'XD'
  | 'SBK'
  | 'SS';

/** The JS type carried by each primitive tag. */
export interface PrimitiveValueMap {
  /** MS-PSRP 2.2.5.1.1 String */ S: string;
  /** MS-PSRP 2.2.5.1.2 Character: one UTF-16 code unit */ C: number;
  /** MS-PSRP 2.2.5.1.3 Boolean */ B: boolean;
  /** MS-PSRP 2.2.5.1.4 DateTime */ DT: PSDateTime;
  /** MS-PSRP 2.2.5.1.5 Duration (TimeSpan) */ TS: PSTimeSpan;
  /** MS-PSRP 2.2.5.1.6 Unsigned Byte */ By: number;
  /** MS-PSRP 2.2.5.1.7 Signed Byte */ SB: number;
  /** MS-PSRP 2.2.5.1.8 Unsigned Short */ U16: number;
  /** MS-PSRP 2.2.5.1.9 Signed Short */ I16: number;
  /** MS-PSRP 2.2.5.1.10 Unsigned Int */ U32: number;
  /** MS-PSRP 2.2.5.1.11 Signed Int */ I32: number;
  /** MS-PSRP 2.2.5.1.12 Unsigned Long */ U64: bigint;
  /** MS-PSRP 2.2.5.1.13 Signed Long */ I64: bigint;
  /** MS-PSRP 2.2.5.1.14 Float (Single) */ Sg: number;
  /** MS-PSRP 2.2.5.1.15 Double */ Db: number;
  /** MS-PSRP 2.2.5.1.16 Decimal: kept as its exact decimal text, e.g. "1.50" */ D: string;
  /** MS-PSRP 2.2.5.1.17 Array of Bytes */ BA: Uint8Array;
  /** MS-PSRP 2.2.5.1.18 GUID, lower case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` */ G: string;
  /** MS-PSRP 2.2.5.1.19 URI */ URI: string;
  /** MS-PSRP 2.2.5.1.21 Version, e.g. "2.3" or "1.1.0.1" */ Version: string;
  /** MS-PSRP 2.2.5.1.22 XML Document (its text) */ XD: string;
  /** MS-PSRP 2.2.5.1.23 ScriptBlock (its text) */ SBK: string;
  /** MS-PSRP 2.2.5.1.24 Secure String */ SS: PSSecureString;
}

/** A .NET primitive with its exact CLIXML type. Build with the `ps.*` helpers. */
export class PSPrimitive<T extends PrimitiveTag = PrimitiveTag> {
  constructor(
    readonly tag: T,
    readonly value: PrimitiveValueMap[T],
  ) {}
}

const TICKS_PER_MS = 10_000n;
/** Ticks (100 ns) between 0001-01-01T00:00:00 and the Unix epoch. */
export const UNIX_EPOCH_TICKS = 621_355_968_000_000_000n;
export const MAX_DATETIME_TICKS = 3_155_378_975_999_999_999n;

/** .NET DateTime as CLIXML carries it (MS-PSRP 2.2.5.1.4): clock ticks, kind and, for Local, the UTC offset. */
export class PSDateTime {
  /**
   * @param ticks 100 ns units since 0001-01-01T00:00:00 of the clock time as written (local time for Local)
   * @param kind DateTimeKind: `Z` suffix = Utc, `±hh:mm` = Local, none = Unspecified
   * @param offsetMinutes the written UTC offset (Local only; 0 otherwise)
   */
  constructor(
    readonly ticks: bigint,
    readonly kind: 'Utc' | 'Local' | 'Unspecified' = 'Utc',
    readonly offsetMinutes = 0,
  ) {
    if (ticks < 0n || ticks > MAX_DATETIME_TICKS) throw new InvalidArgumentError(`DateTime ticks out of range: ${ticks}`);
    if (!Number.isInteger(offsetMinutes) || Math.abs(offsetMinutes) > 14 * 60)
      throw new InvalidArgumentError(`DateTime offset out of range: ${offsetMinutes} minutes`);
    if (kind !== 'Local' && offsetMinutes !== 0) throw new InvalidArgumentError('only a Local DateTime carries an offset');
  }
  /** Ticks in UTC (Unspecified is taken as UTC). */
  get utcTicks(): bigint {
    return this.ticks - BigInt(this.offsetMinutes) * 600_000_000n;
  }
  static fromDate(d: Date): PSDateTime {
    const ms = d.getTime();
    if (!Number.isFinite(ms)) throw new InvalidArgumentError('invalid Date');
    return new PSDateTime(BigInt(ms) * TICKS_PER_MS + UNIX_EPOCH_TICKS, 'Utc');
  }
  /** A JS Date (millisecond precision: sub-millisecond ticks are dropped). */
  toDate(): Date {
    return new Date(Number((this.utcTicks - UNIX_EPOCH_TICKS) / TICKS_PER_MS));
  }
  /** The CLIXML / xs:dateTime text, e.g. `2008-04-11T10:42:32.2731993-07:00`. */
  toString(): string {
    return formatDateTime(this);
  }
  toJSON(): string {
    return this.toString();
  }
}

/** .NET TimeSpan (MS-PSRP 2.2.5.1.5): signed 100 ns ticks. */
export class PSTimeSpan {
  constructor(readonly ticks: bigint) {
    if (ticks < -(2n ** 63n) || ticks >= 2n ** 63n) throw new InvalidArgumentError(`TimeSpan out of range: ${ticks}`);
  }
  static fromParts(p: {
    days?: number;
    hours?: number;
    minutes?: number;
    seconds?: number;
    milliseconds?: number;
    ticks?: number | bigint;
  }): PSTimeSpan {
    const t =
      BigInt(p.days ?? 0) * 864_000_000_000n +
      BigInt(p.hours ?? 0) * 36_000_000_000n +
      BigInt(p.minutes ?? 0) * 600_000_000n +
      BigInt(p.seconds ?? 0) * 10_000_000n +
      BigInt(p.milliseconds ?? 0) * 10_000n +
      BigInt(p.ticks ?? 0);
    return new PSTimeSpan(t);
  }
  get totalSeconds(): number {
    return Number(this.ticks) / 1e7;
  }
  /** xs:duration as .NET XmlConvert writes it, e.g. `P1DT2H3M4.5S`, `PT0S`, `-PT0.0000001S`. */
  toString(): string {
    return formatDuration(this.ticks);
  }
  toJSON(): string {
    return this.toString();
  }
}

/**
 * Supplies the crypto for `<SS>` text (MS-PSRP 2.2.5.1.24, 3.1.4.11). The PSRP layer owns the session key and
 * implements it as base64(AES-256-CBC(key, zero IV, PKCS7(UTF-16LE))). `unprotectedSecureStringCipher` reads
 * what PSSerializer / Export-Clixml write on Linux and macOS (hex of the UTF-16LE plaintext, no key).
 */
export interface SecureStringCipher {
  /** plaintext is UTF-16LE; returns the element text */
  encrypt(plaintextUtf16le: Uint8Array): string;
  /** element text -> UTF-16LE plaintext; throw on bad input / wrong key */
  decrypt(text: string): Uint8Array;
}

/** PSSerializer on non-Windows (no DPAPI): `<SS>` holds the hex of the UTF-16LE plaintext. NOT a protection. */
export const unprotectedSecureStringCipher: SecureStringCipher = {
  encrypt: (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'), // lower case, as pwsh writes it
  decrypt: (t) => {
    const s = t.trim();
    if (!/^([0-9a-fA-F]{4})*$/.test(s)) throw new Error('SecureString text is not hex-encoded UTF-16LE');
    return new Uint8Array(Buffer.from(s, 'hex'));
  },
};

const SECRET = Symbol('secret');
/**
 * A SecureString. The plaintext is never printed: `toString()`, `toJSON()` and `util.inspect` show
 * `[SecureString]`; call `reveal()` to read it.
 */
export class PSSecureString {
  private readonly [SECRET]: string | undefined;
  /** the `<SS>` text as received (deserialize), re-sent as is when no plaintext is known */
  readonly ciphertext: string | undefined;
  private constructor(plain: string | undefined, ciphertext: string | undefined) {
    this[SECRET] = plain;
    this.ciphertext = ciphertext;
  }
  static fromPlaintext(text: string): PSSecureString {
    return new PSSecureString(text, undefined);
  }
  static fromCiphertext(ciphertext: string, plaintext?: string): PSSecureString {
    return new PSSecureString(plaintext, ciphertext);
  }
  get hasPlaintext(): boolean {
    return this[SECRET] !== undefined;
  }
  reveal(): string {
    const p = this[SECRET];
    if (p === undefined)
      throw new InvalidArgumentError('this SecureString was received without a session key; pass `cipher` to deserialize to decrypt it');
    return p;
  }
  toString(): string {
    return '[SecureString]';
  }
  toJSON(): string {
    return '[SecureString]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'PSSecureString [SecureString]';
  }
}

/** List-like collection content of an `<Obj>` (MS-PSRP 2.2.5.2.6.1-3): LST, IE, STK, QUE. Items in wire order. */
export class PSList {
  constructor(
    readonly kind: 'LST' | 'IE' | 'STK' | 'QUE',
    readonly items: PSValue[] = [],
  ) {}
}

/** Dictionary content of an `<Obj>` (MS-PSRP 2.2.5.2.6.4): DCT, entries in wire order. */
export class PSDict {
  constructor(readonly entries: Array<[PSValue, PSValue]> = []) {}
  /** Value for a string key (case-insensitive like a Hashtable with the default comparer). */
  get(key: string): PSValue | undefined {
    const k = key.toLowerCase();
    for (const [ek, ev] of this.entries) if (typeof ek === 'string' && ek.toLowerCase() === k) return ev;
    return undefined;
  }
}

export const TN_OBJECT_ARRAY = ['System.Object[]', 'System.Array', 'System.Object'];
export const TN_ARRAYLIST = ['System.Collections.ArrayList', 'System.Object'];
export const TN_HASHTABLE = ['System.Collections.Hashtable', 'System.Object'];
export const TN_ORDERED = ['System.Collections.Specialized.OrderedDictionary', 'System.Object'];
export const TN_PSCUSTOMOBJECT = ['System.Management.Automation.PSCustomObject', 'System.Object'];

export interface PSObjectInit {
  /** most derived first, e.g. ['System.Diagnostics.Process', 'System.ComponentModel.Component', 'System.Object'] */
  typeNames?: string[];
  toStringValue?: string;
  /** `<Props>` (adapted .NET properties), written in insertion order */
  adapted?: Map<string, PSValue> | Iterable<[string, PSValue]> | Record<string, PSValue>;
  /** `<MS>` (extended / note properties), written in insertion order */
  extended?: Map<string, PSValue> | Iterable<[string, PSValue]> | Record<string, PSValue>;
  /** a primitive base value (an enum's I32, a string with note properties, ...) */
  value?: PSValue;
  collection?: PSList | PSDict;
}

function toMap(x: PSObjectInit['adapted']): Map<string, PSValue> {
  if (!x) return new Map();
  if (x instanceof Map) return new Map(x);
  if (Symbol.iterator in (x as object)) return new Map(x as Iterable<[string, PSValue]>);
  return new Map(Object.entries(x as Record<string, PSValue>));
}

/**
 * A complex object `<Obj>` (MS-PSRP 2.2.5.2). Property maps keep insertion order, which is the wire order,
 * so PSRP message bodies with exactly-typed members in a fixed order are plain `new PSObject({ extended: [...] })`.
 */
export class PSObject {
  typeNames: string[];
  /** `<ToString>` */
  toStringValue: string | undefined;
  /** `<Props>` adapted properties */
  adapted: Map<string, PSValue>;
  /** `<MS>` extended properties */
  extended: Map<string, PSValue>;
  /** the base value this object wraps, if any: a primitive (enums: the underlying integer), rarely an object */
  value: PSValue | undefined;
  /** the collection content, if any */
  collection: PSList | PSDict | undefined;

  constructor(init: PSObjectInit = {}) {
    this.typeNames = init.typeNames ? [...init.typeNames] : [];
    this.toStringValue = init.toStringValue;
    this.adapted = toMap(init.adapted);
    this.extended = toMap(init.extended);
    this.value = init.value;
    this.collection = init.collection;
  }

  /** `[pscustomobject]@{...}`: TN PSCustomObject, properties in `<MS>`. */
  static custom(props: PSObjectInit['extended'], typeNames: string[] = TN_PSCUSTOMOBJECT): PSObject {
    return new PSObject({ typeNames, extended: props });
  }
  /** A list (`<LST>`), by default typed System.Object[]. */
  static list(items: PSValue[], typeNames: string[] = TN_OBJECT_ARRAY): PSObject {
    return new PSObject({ typeNames, collection: new PSList('LST', items) });
  }
  static stack(itemsTopFirst: PSValue[], typeNames = ['System.Collections.Stack', 'System.Object']): PSObject {
    return new PSObject({ typeNames, collection: new PSList('STK', itemsTopFirst) });
  }
  static queue(itemsFrontFirst: PSValue[], typeNames = ['System.Collections.Queue', 'System.Object']): PSObject {
    return new PSObject({ typeNames, collection: new PSList('QUE', itemsFrontFirst) });
  }
  /** A Hashtable (`<DCT>`); pass `TN_ORDERED` for `[ordered]@{}`. */
  static dict(entries: Iterable<[PSValue, PSValue]> | Record<string, PSValue>, typeNames: string[] = TN_HASHTABLE): PSObject {
    const e =
      Symbol.iterator in (entries as object)
        ? [...(entries as Iterable<[PSValue, PSValue]>)]
        : Object.entries(entries as Record<string, PSValue>);
    return new PSObject({ typeNames, collection: new PSDict(e) });
  }
  /**
   * An enum value: TN [enumType, System.Enum, System.ValueType, System.Object], `<ToString>name</ToString>`, `<I32>value</I32>`
   * (pass a PSPrimitive for another underlying type).
   */
  static enum(enumType: string, name: string, value: number | PSPrimitive): PSObject {
    return new PSObject({
      typeNames: [enumType, 'System.Enum', 'System.ValueType', 'System.Object'],
      toStringValue: name,
      value: typeof value === 'number' ? new PSPrimitive('I32', value) : value,
    });
  }

  /** Property by name: extended first, then adapted (case-insensitive fallback, like PowerShell). */
  get(name: string): PSValue | undefined {
    if (this.extended.has(name)) return this.extended.get(name);
    if (this.adapted.has(name)) return this.adapted.get(name);
    const n = name.toLowerCase();
    for (const m of [this.extended, this.adapted]) for (const [k, v] of m) if (k.toLowerCase() === n) return v;
    return undefined;
  }
  has(name: string): boolean {
    return this.get(name) !== undefined || this.extended.has(name) || this.adapted.has(name);
  }
  /** True when `typeName` (or `Deserialized.` + typeName) is among the type names. */
  isType(typeName: string): boolean {
    return this.typeNames.some((t) => t === typeName || t === `Deserialized.${typeName}` || `Deserialized.${t}` === typeName);
  }
  toString(): string {
    return this.toStringValue ?? this.typeNames[0] ?? 'PSObject';
  }
}

/** Anything `serialize` accepts. */
export type PSValue =
  | null
  | undefined
  | string
  | boolean
  | number
  | bigint
  | Date
  | Uint8Array
  | PSPrimitive
  | PSObject
  | PSValue[]
  | Map<PSValue, PSValue>
  | PSPlainObject;
export interface PSPlainObject {
  [key: string]: PSValue;
}

/** What `deserialize` returns (a subset of PSValue). */
export type ClixmlValue = null | string | boolean | number | PSPrimitive | PSObject;

// ---- text formats shared by serializer and deserializer ------------------------------------------------

function pad(n: number | bigint, w: number): string {
  return String(n).padStart(w, '0');
}

/** Civil date from days since 0001-01-01 (proleptic Gregorian). */
export function civilFromDays(days: number): [number, number, number] {
  // shift to days since 0000-03-01 style algorithm (H. Hinnant), with epoch 0001-01-01
  const z = days + 306; // 0001-01-01 -> days since 0000-03-01
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [m <= 2 ? y + 1 : y, m, d];
}
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 306;
}

export function formatDateTime(dt: PSDateTime): string {
  const t = dt.ticks;
  const days = Number(t / 864_000_000_000n);
  let rem = t % 864_000_000_000n;
  const [y, mo, d] = civilFromDays(days);
  const h = rem / 36_000_000_000n;
  rem %= 36_000_000_000n;
  const mi = rem / 600_000_000n;
  rem %= 600_000_000n;
  const s = rem / 10_000_000n;
  const frac = rem % 10_000_000n;
  let out = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`;
  if (frac !== 0n) out += '.' + pad(frac, 7).replace(/0+$/, '');
  if (dt.kind === 'Utc') out += 'Z';
  else if (dt.kind === 'Local') {
    const o = Math.abs(dt.offsetMinutes);
    out += `${dt.offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(o / 60), 2)}:${pad(o % 60, 2)}`;
  }
  return out;
}

export function formatDuration(ticks: bigint): string {
  if (ticks === 0n) return 'PT0S';
  const neg = ticks < 0n;
  let t = neg ? -ticks : ticks;
  const days = t / 864_000_000_000n;
  t %= 864_000_000_000n;
  const h = t / 36_000_000_000n;
  t %= 36_000_000_000n;
  const m = t / 600_000_000n;
  t %= 600_000_000n;
  const s = t / 10_000_000n;
  const f = t % 10_000_000n;
  let out = neg ? '-P' : 'P';
  if (days) out += `${days}D`;
  if (h || m || s || f) {
    out += 'T';
    if (h) out += `${h}H`;
    if (m) out += `${m}M`;
    if (s || f) out += f ? `${s}.${pad(f, 7).replace(/0+$/, '')}S` : `${s}S`;
  }
  return out;
}
