/** CLIXML values -> JSON-friendly JS (used by `ps --json`). */
import { ClixmlError } from '../errors.js';
import { toBase64 } from '../util/bytes.js';
import { formatDouble, formatSingle } from './serialize.js';
import { PSDict, PSList, PSObject, PSPrimitive, type PSValue } from './types.js';

export type PlainValue = null | string | number | boolean | PlainValue[] | { [k: string]: PlainValue };

export interface ToPlainOptions {
  /** maximum number of values produced (a DAG of shared Refs can expand exponentially); default 10 000 000 */
  maxNodes?: number;
}

function safeNumber(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}
function finite(v: number): number | string {
  return Number.isFinite(v) ? v : formatDouble(v);
}

/**
 * Mapping: integers -> number (Int64/UInt64 outside ±2^53 -> decimal string); Single/Double -> number
 * (NaN/INF/-INF -> those strings); Decimal -> number when its text round-trips, else its string; Char -> a one-char
 * string; DateTime -> its CLIXML text (ISO 8601 with 7-digit precision, kind kept: `Z`, offset or none);
 * TimeSpan -> xs:duration text; Guid/Uri/Version/XmlDocument/ScriptBlock -> string; byte[] -> base64;
 * SecureString -> "[SecureString]" (never revealed); lists/stacks/queues -> arrays; dictionaries -> objects
 * (keys as strings); enums -> their name (ToString); objects wrapping a base value (Get-Date, a string with
 * note properties) -> that value; objects with properties -> { ...adapted, ...extended }; else their ToString.
 * A cycle is written as "[Circular]".
 */
export function toPlain(value: PSValue, opts: ToPlainOptions = {}): PlainValue {
  let budget = opts.maxNodes ?? 10_000_000;
  const stack = new Set<object>();
  const go = (v: PSValue): PlainValue => {
    if (--budget < 0) throw new ClixmlError('value too large to convert (shared references expand beyond the node limit)');
    if (v === null || v === undefined) return null;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        return finite(v);
      case 'bigint':
        return safeNumber(v);
      default:
        break;
    }
    if (v instanceof PSPrimitive) {
      const x = v.value;
      switch (v.tag) {
        case 'I64':
        case 'U64':
          return safeNumber(x as bigint);
        case 'Db':
          return finite(x as number);
        case 'Sg':
          return Number.isFinite(x) ? Number(formatSingle(x as number)) : formatDouble(x as number);
        case 'D': {
          const n = Number(x);
          return Number.isFinite(n) && String(n) === x ? n : (x as string);
        }
        case 'C':
          return String.fromCharCode(x as number);
        case 'BA':
          return toBase64(x as Uint8Array);
        case 'SS':
          return '[SecureString]';
        case 'DT':
        case 'TS':
          return String(x);
        default:
          return typeof x === 'number' || typeof x === 'boolean' || typeof x === 'string' ? x : String(x);
      }
    }
    if (v instanceof Date) return v.toISOString();
    if (v instanceof Uint8Array) return toBase64(v);
    if (stack.has(v as object)) return '[Circular]';
    stack.add(v as object);
    try {
      if (Array.isArray(v)) return v.map(go);
      if (v instanceof Map) {
        const o: Record<string, PlainValue> = {};
        for (const [k, x] of v) o[keyOf(k)] = go(x);
        return o;
      }
      if (v instanceof PSObject) {
        const c = v.collection;
        if (c instanceof PSList) return c.items.map(go);
        if (c instanceof PSDict) {
          const o: Record<string, PlainValue> = {};
          for (const [k, x] of c.entries) o[keyOf(k)] = go(x);
          return o;
        }
        const isEnum = v.isType('System.Enum');
        if (v.value !== undefined && !isEnum) return go(v.value);
        if (v.adapted.size || v.extended.size) {
          const o: Record<string, PlainValue> = {};
          for (const [k, x] of v.adapted) o[k] = go(x);
          for (const [k, x] of v.extended) o[k] = go(x);
          return o;
        }
        if (isEnum && v.toStringValue !== undefined) return v.toStringValue;
        if (v.value !== undefined) return go(v.value);
        return v.toStringValue ?? null;
      }
      const o: Record<string, PlainValue> = {};
      for (const [k, x] of Object.entries(v)) o[k] = go(x as PSValue);
      return o;
    } finally {
      stack.delete(v as object);
    }
  };
  return go(value);
}

function keyOf(k: PSValue): string {
  if (typeof k === 'string') return k;
  if (k instanceof PSObject) return k.toString();
  const p = toPlain(k, { maxNodes: 1000 });
  return typeof p === 'string' ? p : JSON.stringify(p);
}
