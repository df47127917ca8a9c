/**
 * CLIXML (MS-PSRP 2.2.5): the object serialization PowerShell remoting, PSSerializer and Export-Clixml use.
 *
 * ```ts
 * import { serialize, deserialize, ps, PSObject, toPlain } from './clixml/index.js';
 * const body = serialize(new PSObject({ extended: [['MinRunspaces', 1], ['PSThreadOptions', PSObject.enum(
 *   'System.Management.Automation.Runspaces.PSThreadOptions', 'Default', 0)], ['ci', ps.int64(1n)]] }));
 * const v = deserialize(body);            // PSObject; (v as PSObject).get('MinRunspaces') === 1
 * ```
 *
 * The value model and its mapping to plain JS are documented in `types.ts` (top comment) and `plain.ts`.
 * RefIds: each `serialize` call numbers Obj/TN from 0 unless `{ refs }` shares a `ClixmlRefs` across calls.
 * Bad input -> `ClixmlError` naming the element path; depth and size are bounded; `Ref`s resolve to the same
 * instance, so reference chains cannot expand memory.
 */
import { InvalidArgumentError } from '../errors.js';
import { PSDateTime, PSObject, PSPrimitive, PSSecureString, PSTimeSpan, type PrimitiveTag, type PrimitiveValueMap } from './types.js';

export * from './types.js';
export { serialize, serializeDocument, ClixmlRefs, CLIXML_NS, formatDouble, type SerializeOptions } from './serialize.js';
export {
  deserialize,
  deserializeDocument,
  deserializeDocumentItems,
  parseDateTime,
  parseDuration,
  type DeserializeOptions,
  type ClixmlDocumentItem,
} from './deserialize.js';
export { toPlain, type PlainValue, type ToPlainOptions } from './plain.js';
export { encodeClixmlString, decodeClixmlString } from './escape.js';

function prim<T extends PrimitiveTag>(tag: T, v: PrimitiveValueMap[T]): PSPrimitive<T> {
  return new PSPrimitive(tag, v);
}
function int(tag: 'By' | 'SB' | 'I16' | 'U16' | 'I32' | 'U32', lo: number, hi: number) {
  return (n: number): PSPrimitive => {
    if (!Number.isInteger(n) || n < lo || n > hi) throw new InvalidArgumentError(`${tag} out of range: ${n}`);
    return prim(tag, n);
  };
}
function big(tag: 'I64' | 'U64', lo: bigint, hi: bigint) {
  return (n: bigint | number): PSPrimitive => {
    const v = typeof n === 'bigint' ? n : Number.isSafeInteger(n) ? BigInt(n) : NaN;
    if (typeof v !== 'bigint' || v < lo || v > hi) throw new InvalidArgumentError(`${tag} out of range: ${n}`);
    return prim(tag, v);
  };
}

/** Builders for exactly-typed .NET values. */
export const ps = {
  byte: int('By', 0, 255),
  sbyte: int('SB', -128, 127),
  int16: int('I16', -32768, 32767),
  uint16: int('U16', 0, 65535),
  int32: int('I32', -2147483648, 2147483647),
  uint32: int('U32', 0, 4294967295),
  int64: big('I64', -(2n ** 63n), 2n ** 63n - 1n),
  uint64: big('U64', 0n, 2n ** 64n - 1n),
  single: (n: number) => prim('Sg', Math.fround(n)),
  double: (n: number) => prim('Db', n),
  /** exact decimal text, e.g. "79228162514264337593543950335" or "1.50" */
  decimal: (s: string | number) => {
    const v = String(s);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(v)) throw new InvalidArgumentError(`not a decimal number: ${v}`);
    return prim('D', v);
  },
  /** a UTF-16 code unit, given as a number or a one-code-unit string */
  char: (c: number | string) => {
    const v = typeof c === 'string' ? (c.length === 1 ? c.charCodeAt(0) : NaN) : c;
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new InvalidArgumentError('a Char is one UTF-16 code unit');
    return prim('C', v);
  },
  string: (s: string) => prim('S', s),
  bool: (b: boolean) => prim('B', b),
  guid: (s: string) => {
    const m = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/.exec(s);
    if (!m) throw new InvalidArgumentError(`not a GUID: ${s}`);
    return prim('G', m[1]!.toLowerCase());
  },
  uri: (s: string) => prim('URI', s),
  version: (s: string) => {
    if (!/^\d+(\.\d+){1,3}$/.test(s)) throw new InvalidArgumentError(`not a Version: ${s}`);
    return prim('Version', s);
  },
  /** a TimeSpan from ticks (bigint, 100 ns) or parts */
  timespan: (t: bigint | Parameters<typeof PSTimeSpan.fromParts>[0]) =>
    prim('TS', typeof t === 'bigint' ? new PSTimeSpan(t) : PSTimeSpan.fromParts(t)),
  /** a DateTime from a JS Date (Utc), or exact ticks + kind + offset */
  datetime: (d: Date | { ticks: bigint; kind?: 'Utc' | 'Local' | 'Unspecified'; offsetMinutes?: number }) =>
    prim('DT', d instanceof Date ? PSDateTime.fromDate(d) : new PSDateTime(d.ticks, d.kind ?? 'Utc', d.offsetMinutes ?? 0)),
  bytes: (b: Uint8Array) => prim('BA', b),
  scriptBlock: (text: string) => prim('SBK', text),
  xmlDocument: (text: string) => prim('XD', text),
  /** a SecureString from plaintext: serialize needs `{ cipher }` (the PSRP session key) to send it */
  secureString: (text: string) => prim('SS', PSSecureString.fromPlaintext(text)),
  /** `[pscustomobject]@{...}` */
  custom: (props: Record<string, import('./types.js').PSValue> | Iterable<[string, import('./types.js').PSValue]>) =>
    PSObject.custom(props),
  enum: PSObject.enum,
};
