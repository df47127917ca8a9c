/**
 * The wire codec of the endpoint's logon-session credential broker (sans-IO), shared by the client context
 * (src/broker/client.ts) and the broker itself (src/server/broker.ts).
 *
 * A process started by `winrm-ts serve` for a logon session that holds credentials (Basic, CredSSP: an interactive
 * logon) gets two environment variables: WINRM_TS_LOGON_BROKER (a Unix socket in a private 0700 directory) and
 * WINRM_TS_LOGON_TOKEN (a random per-session capability). Never the password. The endpoint runs the initiator
 * context with the stored credentials; the client side only relays step/wrap/unwrap — as LSASS does for Windows
 * processes.
 *
 * Wire (one socket connection = one security context), every message a frame:
 *   u32be jsonLength | u32be binaryLength | JSON object (UTF-8) | binary
 *   -> {op:'open', token, mechanism, targetHost, spn?, delegateTo?, credsspMinVersion?, tls?}   <- {ok:true}
 *   -> {op:'step', cb?}            bin = input token      <- {ok, complete, hasToken} bin = output token
 *   -> {op:'wrap'}                 bin = plaintext        <- {ok, headerLength, padding?} bin = header||data
 *   -> {op:'unwrap', headerLength} bin = header||data     <- {ok} bin = plaintext
 *   <- {ok:false, error:{name, message, ntStatus?}} on failure (the context stays usable only if the mechanism says so)
 */
import type { AuthProtocol, ChannelBindings } from '../auth/types.js';
import {
  AccessDeniedError,
  AuthError,
  CredSSPError,
  DelegationRefusedError,
  EncryptionError,
  InvalidArgumentError,
  RemoteProtocolError,
  WinRMError,
  type AccessDeniedReason,
} from '../errors.js';

const ACCESS_DENIED_REASONS = new Set(['bad-password', 'mic', 'channel-binding', 'anonymous', 'policy', 'certificate', 'unknown']);
import { fromBase64, toBase64 } from '../util/bytes.js';

export const BROKER_SOCKET_ENV = 'WINRM_TS_LOGON_BROKER';
export const BROKER_TOKEN_ENV = 'WINRM_TS_LOGON_TOKEN';
/** Set by the endpoint for every child: 'network' (NTLM/Kerberos: no credentials) or 'interactive'. */
export const LOGON_TYPE_ENV = 'WINRM_TS_LOGON_TYPE';

/** Bounds of one frame: the JSON part is small; the binary part carries one WinRM message at most. */
export const BROKER_MAX_JSON = 64 * 1024;
export const BROKER_MAX_BINARY = 16 * 1024 * 1024;

export type BrokerMessage = Record<string, unknown>;
export interface BrokerFrame {
  msg: BrokerMessage;
  bin: Uint8Array;
}

/** Encode one frame: u32be jsonLength | u32be binaryLength | JSON | binary. */
export function encodeBrokerFrame(msg: BrokerMessage, bin: Uint8Array = new Uint8Array()): Uint8Array {
  const json = Buffer.from(JSON.stringify(msg), 'utf8');
  if (json.length > BROKER_MAX_JSON) throw new InvalidArgumentError(`broker message too large (${json.length} bytes of JSON)`);
  if (bin.length > BROKER_MAX_BINARY)
    throw new InvalidArgumentError(`broker message too large (${bin.length} bytes; the limit is ${BROKER_MAX_BINARY})`);
  const out = new Uint8Array(8 + json.length + bin.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length);
  dv.setUint32(4, bin.length);
  out.set(json, 8);
  out.set(bin, 8 + json.length);
  return out;
}

/** Incremental frame decoder: push bytes as they arrive (any split), take whole frames. Bounded. */
export class BrokerFrameDecoder {
  private chunks: Uint8Array[] = [];
  private size = 0;

  push(data: Uint8Array): void {
    if (data.length) {
      this.chunks.push(data);
      this.size += data.length;
    }
  }

  /** The next complete frame, or undefined when more bytes are needed. Throws RemoteProtocolError on bad input. */
  next(): BrokerFrame | undefined {
    if (this.size < 8) return undefined;
    const head = this.peek(8);
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    const jl = dv.getUint32(0),
      bl = dv.getUint32(4);
    if (jl < 2 || jl > BROKER_MAX_JSON) throw new RemoteProtocolError(`credential broker: bad frame (JSON length ${jl})`);
    if (bl > BROKER_MAX_BINARY)
      throw new RemoteProtocolError(`credential broker: frame too large (${bl} bytes; the limit is ${BROKER_MAX_BINARY})`);
    if (this.size < 8 + jl + bl) return undefined;
    const all = this.take(8 + jl + bl);
    let msg: unknown;
    try {
      msg = JSON.parse(Buffer.from(all.buffer, all.byteOffset + 8, jl).toString('utf8'));
    } catch {
      throw new RemoteProtocolError('credential broker: a frame is not valid JSON');
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg))
      throw new RemoteProtocolError('credential broker: a frame is not a JSON object');
    return { msg: msg as BrokerMessage, bin: all.slice(8 + jl) };
  }

  /** Bytes buffered but not yet returned as frames. */
  get pending(): number {
    return this.size;
  }

  private peek(n: number): Uint8Array {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const b = Buffer.concat(this.chunks);
    this.chunks = [b];
    return b.subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const b = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = new Uint8Array(b.subarray(0, n));
    const rest = b.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.size -= n;
    return out;
  }
}

/** Channel bindings as JSON (base64 fields). */
export function bindingsToWire(cb: ChannelBindings | undefined): Record<string, unknown> | undefined {
  if (!cb) return undefined;
  const o: Record<string, unknown> = {};
  if (cb.initiatorAddrType !== undefined) o.initiatorAddrType = cb.initiatorAddrType;
  if (cb.initiatorAddress) o.initiatorAddress = toBase64(cb.initiatorAddress);
  if (cb.acceptorAddrType !== undefined) o.acceptorAddrType = cb.acceptorAddrType;
  if (cb.acceptorAddress) o.acceptorAddress = toBase64(cb.acceptorAddress);
  if (cb.applicationData) o.applicationData = toBase64(cb.applicationData);
  return o;
}

export function bindingsFromWire(v: unknown): ChannelBindings | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const b64 = (x: unknown) => (typeof x === 'string' ? fromBase64(x) : undefined);
  const num = (x: unknown) => (typeof x === 'number' && Number.isInteger(x) ? x : undefined);
  return {
    initiatorAddrType: num(o.initiatorAddrType),
    initiatorAddress: b64(o.initiatorAddress),
    acceptorAddrType: num(o.acceptorAddrType),
    acceptorAddress: b64(o.acceptorAddress),
    applicationData: b64(o.applicationData),
  };
}

/** Mechanisms a broker may run: their tokens never reveal the password (Basic would: it is refused). */
export const BROKERED_MECHANISMS: Record<
  string,
  { protocol: AuthProtocol; httpScheme: string; encryptionProtocol: string; encryptChunkSize?: number }
> = {
  negotiate: { protocol: 'negotiate', httpScheme: 'Negotiate', encryptionProtocol: 'application/HTTP-SPNEGO-session-encrypted' },
  ntlm: { protocol: 'ntlm', httpScheme: 'Negotiate', encryptionProtocol: 'application/HTTP-SPNEGO-session-encrypted' },
  credssp: {
    protocol: 'credssp',
    httpScheme: 'CredSSP',
    encryptionProtocol: 'application/HTTP-CredSSP-session-encrypted',
    encryptChunkSize: 16384,
  },
};

/** Error classes that cross the broker socket by name (anything else becomes an AuthError). */
const WIRE_ERRORS: Record<string, (m: string, s?: number, r?: AccessDeniedReason) => Error> = {
  AuthError: (m) => new AuthError(m),
  AccessDeniedError: (m, _s, r) => new AccessDeniedError(m, r),
  CredSSPError: (m, s) => new CredSSPError(m, s),
  DelegationRefusedError: (m) => new DelegationRefusedError(m),
  EncryptionError: (m) => new EncryptionError(m),
  InvalidArgumentError: (m) => new InvalidArgumentError(m),
  RemoteProtocolError: (m) => new RemoteProtocolError(m),
};

export function errorToWire(e: unknown): BrokerMessage {
  const err = e instanceof Error ? e : new Error(String(e));
  const name = err instanceof WinRMError && WIRE_ERRORS[err.name] ? err.name : 'AuthError';
  return {
    ok: false,
    error: {
      name,
      message: err.message.slice(0, 2000),
      ntStatus: (err as CredSSPError).ntStatus,
      reason: (err as AccessDeniedError).reason,
    },
  };
}

export function errorFromWire(v: unknown): Error {
  const e = (v && typeof v === 'object' ? v : {}) as { name?: unknown; message?: unknown; ntStatus?: unknown; reason?: unknown };
  const make = WIRE_ERRORS[String(e.name)] ?? WIRE_ERRORS.AuthError!;
  return make(
    typeof e.message === 'string' ? e.message : 'the credential broker refused the request',
    typeof e.ntStatus === 'number' ? e.ntStatus : undefined,
    typeof e.reason === 'string' && ACCESS_DENIED_REASONS.has(e.reason) ? (e.reason as AccessDeniedReason) : undefined,
  );
}
