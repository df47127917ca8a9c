/**
 * Authentication "as the logged-on user" through the endpoint's logon-session credential broker (client side),
 * and the broker's wire codec (shared with src/server/broker.ts).
 *
 * A process started by `winrm-ts serve` for a logon session that holds credentials (Basic, CredSSP: an interactive
 * logon) gets two environment variables: WINRM_TS_LOGON_BROKER (a Unix socket in a private 0700 directory) and
 * WINRM_TS_LOGON_TOKEN (a random per-session capability). Never the password. The endpoint runs the initiator
 * context with the stored credentials; this side only relays step/wrap/unwrap — as LSASS does for Windows processes.
 *
 * Wire (one socket connection = one security context), every message a frame:
 *   u32be jsonLength | u32be binaryLength | JSON object (UTF-8) | binary
 *   -> {op:'open', token, mechanism, targetHost, spn?, delegateTo?, credsspMinVersion?, tls?}   <- {ok:true}
 *   -> {op:'step', cb?}            bin = input token      <- {ok, complete, hasToken} bin = output token
 *   -> {op:'wrap'}                 bin = plaintext        <- {ok, headerLength, padding?} bin = header||data
 *   -> {op:'unwrap', headerLength} bin = header||data     <- {ok} bin = plaintext
 *   <- {ok:false, error:{name, message, ntStatus?}} on failure (the context stays usable only if the mechanism says so)
 */
import net from 'node:net';
import type { AuthContext, AuthProtocol, ChannelBindings, StepOptions } from './types.js';
import {
  AbortError, AccessDeniedError, AuthError, CredSSPError, DelegationRefusedError, EncryptionError, InvalidArgumentError,
  RemoteProtocolError, TimeoutError, WinRMError,
} from '../errors.js';
import { fromBase64, toBase64 } from '../util/bytes.js';

export const BROKER_SOCKET_ENV = 'WINRM_TS_LOGON_BROKER';
export const BROKER_TOKEN_ENV = 'WINRM_TS_LOGON_TOKEN';
/** Set by the endpoint for every child: 'network' (NTLM/Kerberos: no credentials) or 'interactive'. */
export const LOGON_TYPE_ENV = 'WINRM_TS_LOGON_TYPE';

/** Bounds of one frame: the JSON part is small; the binary part carries one WinRM message at most. */
export const BROKER_MAX_JSON = 64 * 1024;
export const BROKER_MAX_BINARY = 16 * 1024 * 1024;

// ------------------------------------------------------------------------------------------------------------
// Wire codec (sans-IO)
// ------------------------------------------------------------------------------------------------------------

export type BrokerMessage = Record<string, unknown>;
export interface BrokerFrame { msg: BrokerMessage; bin: Uint8Array }

/** Encode one frame: u32be jsonLength | u32be binaryLength | JSON | binary. */
export function encodeBrokerFrame(msg: BrokerMessage, bin: Uint8Array = new Uint8Array()): Uint8Array {
  const json = Buffer.from(JSON.stringify(msg), 'utf8');
  if (json.length > BROKER_MAX_JSON) throw new InvalidArgumentError(`broker message too large (${json.length} bytes of JSON)`);
  if (bin.length > BROKER_MAX_BINARY) throw new InvalidArgumentError(`broker message too large (${bin.length} bytes; the limit is ${BROKER_MAX_BINARY})`);
  const out = new Uint8Array(8 + json.length + bin.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length); dv.setUint32(4, bin.length);
  out.set(json, 8); out.set(bin, 8 + json.length);
  return out;
}

/** Incremental frame decoder: push bytes as they arrive (any split), take whole frames. Bounded. */
export class BrokerFrameDecoder {
  private chunks: Uint8Array[] = [];
  private size = 0;

  push(data: Uint8Array): void {
    if (data.length) { this.chunks.push(data); this.size += data.length; }
  }

  /** The next complete frame, or undefined when more bytes are needed. Throws RemoteProtocolError on bad input. */
  next(): BrokerFrame | undefined {
    if (this.size < 8) return undefined;
    const head = this.peek(8);
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    const jl = dv.getUint32(0), bl = dv.getUint32(4);
    if (jl < 2 || jl > BROKER_MAX_JSON) throw new RemoteProtocolError(`credential broker: bad frame (JSON length ${jl})`);
    if (bl > BROKER_MAX_BINARY) throw new RemoteProtocolError(`credential broker: frame too large (${bl} bytes; the limit is ${BROKER_MAX_BINARY})`);
    if (this.size < 8 + jl + bl) return undefined;
    const all = this.take(8 + jl + bl);
    let msg: unknown;
    try { msg = JSON.parse(Buffer.from(all.buffer, all.byteOffset + 8, jl).toString('utf8')); } catch {
      throw new RemoteProtocolError('credential broker: a frame is not valid JSON');
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) throw new RemoteProtocolError('credential broker: a frame is not a JSON object');
    return { msg: msg as BrokerMessage, bin: all.slice(8 + jl) };
  }

  /** Bytes buffered but not yet returned as frames. */
  get pending(): number { return this.size; }

  private peek(n: number): Uint8Array {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const b = Buffer.concat(this.chunks); this.chunks = [b];
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
    initiatorAddrType: num(o.initiatorAddrType), initiatorAddress: b64(o.initiatorAddress),
    acceptorAddrType: num(o.acceptorAddrType), acceptorAddress: b64(o.acceptorAddress), applicationData: b64(o.applicationData),
  };
}

/** Mechanisms a broker may run: their tokens never reveal the password (Basic would: it is refused). */
export const BROKERED_MECHANISMS: Record<string, { protocol: AuthProtocol; httpScheme: string; encryptionProtocol: string; encryptChunkSize?: number }> = {
  negotiate: { protocol: 'negotiate', httpScheme: 'Negotiate', encryptionProtocol: 'application/HTTP-SPNEGO-session-encrypted' },
  ntlm: { protocol: 'ntlm', httpScheme: 'Negotiate', encryptionProtocol: 'application/HTTP-SPNEGO-session-encrypted' },
  credssp: { protocol: 'credssp', httpScheme: 'CredSSP', encryptionProtocol: 'application/HTTP-CredSSP-session-encrypted', encryptChunkSize: 16384 },
};

/** Error classes that cross the broker socket by name (anything else becomes an AuthError). */
const WIRE_ERRORS: Record<string, (m: string, s?: number) => Error> = {
  AuthError: (m) => new AuthError(m),
  AccessDeniedError: (m) => new AccessDeniedError(m),
  CredSSPError: (m, s) => new CredSSPError(m, s),
  DelegationRefusedError: (m) => new DelegationRefusedError(m),
  EncryptionError: (m) => new EncryptionError(m),
  InvalidArgumentError: (m) => new InvalidArgumentError(m),
  RemoteProtocolError: (m) => new RemoteProtocolError(m),
};

export function errorToWire(e: unknown): BrokerMessage {
  const err = e instanceof Error ? e : new Error(String(e));
  const name = err instanceof WinRMError && WIRE_ERRORS[err.name] ? err.name : 'AuthError';
  return { ok: false, error: { name, message: err.message.slice(0, 2000), ntStatus: (err as CredSSPError).ntStatus } };
}

export function errorFromWire(v: unknown): Error {
  const e = (v && typeof v === 'object' ? v : {}) as { name?: unknown; message?: unknown; ntStatus?: unknown };
  const make = WIRE_ERRORS[String(e.name)] ?? WIRE_ERRORS.AuthError!;
  return make(typeof e.message === 'string' ? e.message : 'the credential broker refused the request', typeof e.ntStatus === 'number' ? e.ntStatus : undefined);
}

// ------------------------------------------------------------------------------------------------------------
// Client side: an AuthContext whose secrets live in the endpoint
// ------------------------------------------------------------------------------------------------------------

export interface BrokerAddress { socketPath: string; token: string }

export interface BrokeredOptions {
  targetHost: string; spn?: string; delegateTo?: string[]; credsspMinVersion?: number; tls?: boolean;
  /** per-call timeout waiting for the broker (default 60 s) */
  timeoutMs?: number;
}

/** One socket connection to the broker = one security context. */
export class BrokeredContext implements AuthContext {
  readonly protocol: AuthProtocol;
  readonly httpScheme: string;
  readonly canEncrypt = true;
  readonly encryptionProtocol: string;
  readonly encryptChunkSize?: number;
  /** for error messages: whose logon session this is ("EXAMPLE\\alice, the logged-on user") */
  readonly displayName: string;
  private sock: net.Socket | undefined;
  private readonly decoder = new BrokerFrameDecoder();
  private waiting: Array<{ resolve: (f: BrokerFrame) => void; reject: (e: Error) => void }> = [];
  private failed: Error | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private done = false;

  constructor(private readonly address: BrokerAddress, private readonly mechanism: string, private readonly opts: BrokeredOptions) {
    const info = BROKERED_MECHANISMS[mechanism];
    if (!info) {
      throw new InvalidArgumentError(`the logged-on user's credentials can be used with ${Object.keys(BROKERED_MECHANISMS).join(', ')}, not '${mechanism}'; pass -u DOMAIN\\user and a password for ${mechanism}`);
    }
    this.protocol = info.protocol; this.httpScheme = info.httpScheme;
    this.encryptionProtocol = info.encryptionProtocol; this.encryptChunkSize = info.encryptChunkSize;
    const u = process.env.USERNAME;
    this.displayName = `${u ? (process.env.USERDOMAIN ? `${process.env.USERDOMAIN}\\${u}` : u) + ', ' : ''}the logged-on user`;
  }

  get complete(): boolean { return this.done; }

  /** A fresh context on its own broker connection (this one is left alone: it may still be in use). */
  newContext(): BrokeredContext { return new BrokeredContext(this.address, this.mechanism, this.opts); }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    const r = await this.call({ op: 'step', cb: bindingsToWire(opts?.channelBindings) }, inToken, opts?.signal);
    this.done = r.msg.complete === true;
    return r.msg.hasToken === true ? r.bin : undefined;
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array; padding?: number }> {
    const r = await this.call({ op: 'wrap' }, data);
    const hl = Number(r.msg.headerLength);
    if (!Number.isInteger(hl) || hl < 0 || hl > r.bin.length) throw new RemoteProtocolError('credential broker: bad wrap answer');
    const padding = typeof r.msg.padding === 'number' ? r.msg.padding : undefined;
    return { header: r.bin.subarray(0, hl), data: r.bin.subarray(hl), ...(padding !== undefined ? { padding } : {}) };
  }

  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    const bin = new Uint8Array(header.length + data.length); bin.set(header); bin.set(data, header.length);
    return (await this.call({ op: 'unwrap', headerLength: header.length }, bin)).bin;
  }

  /** Requests are strictly sequential on one connection. */
  private call(msg: BrokerMessage, bin?: Uint8Array, signal?: AbortSignal): Promise<BrokerFrame> {
    const run = async () => {
      if (signal?.aborted) throw new AbortError();
      if (!this.sock) await this.open();
      return this.roundTrip(msg, bin, signal);
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async open(): Promise<void> {
    const sock = net.connect(this.address.socketPath);
    sock.unref(); // an idle context never keeps the process alive (ref'd while a request is in flight)
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', (e: NodeJS.ErrnoException) => reject(new AuthError(
        `the logon session's credential broker is not reachable (${e.code ?? e.message}): the session on the endpoint may have ended; pass -u DOMAIN\\user and a password instead`)));
    });
    sock.on('data', (d: Buffer) => {
      this.decoder.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      try {
        for (let f = this.decoder.next(); f; f = this.decoder.next()) this.waiting.shift()?.resolve(f);
      } catch (e) { this.fail(e as Error); }
    });
    const gone = () => this.fail(new AuthError('the credential broker closed the connection (the logon session on the endpoint ended?)'));
    sock.on('close', gone); sock.on('error', gone);
    this.sock = sock;
    const { targetHost, spn, delegateTo, credsspMinVersion, tls } = this.opts;
    try {
      await this.roundTrip({ op: 'open', token: this.address.token, mechanism: this.mechanism, targetHost, spn, delegateTo, credsspMinVersion, tls });
    } catch (e) { this.fail(e as Error); throw e; } // a context the broker refused stays refused
  }

  private fail(e: Error): void {
    if (!this.failed) this.failed = e;
    for (const w of this.waiting.splice(0)) w.reject(this.failed);
    this.sock?.destroy();
  }

  private roundTrip(msg: BrokerMessage, bin?: Uint8Array, signal?: AbortSignal): Promise<BrokerFrame> {
    if (this.failed) return Promise.reject(this.failed);
    const frame = encodeBrokerFrame(msg, bin);
    return new Promise<BrokerFrame>((resolve, reject) => {
      const timeoutMs = this.opts.timeoutMs ?? 60_000;
      const t = setTimeout(() => { this.fail(new TimeoutError(`the credential broker did not answer within ${timeoutMs / 1000} s`)); }, timeoutMs);
      t.unref();
      const onAbort = () => this.fail(new AbortError());
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(t); signal?.removeEventListener('abort', onAbort);
        if (!this.waiting.length) this.sock?.unref();
      };
      this.waiting.push({
        resolve: (f) => { settle(); if (f.msg.ok === true) resolve(f); else reject(errorFromWire(f.msg.error)); },
        reject: (e) => { settle(); reject(e); },
      });
      this.sock!.ref(); // a request in flight keeps the process alive; an idle context does not
      this.sock!.write(frame);
    });
  }
}

/** The broker address from the environment, if this process runs in a logon session that has one. */
export function brokerFromEnv(env: NodeJS.ProcessEnv = process.env): BrokerAddress | undefined {
  const socketPath = env[BROKER_SOCKET_ENV]; const token = env[BROKER_TOKEN_ENV];
  if (!socketPath || !token) return undefined;
  return { socketPath, token };
}

/**
 * Ambient-auth provider (src/auth/registry.ts `registerAmbientAuth`): no user name + a broker in the environment =
 * "the logged-on user", through Negotiate as Windows would (or the mechanism the caller names in `opts.mechanism`).
 */
export function brokeredAmbientAuth(opts: { targetHost: string; spn?: string; delegateTo?: string[]; credsspMinVersion?: number; tls?: boolean; [k: string]: unknown }): AuthContext | undefined {
  const address = brokerFromEnv();
  if (!address) return undefined;
  const mechanism = typeof opts.mechanism === 'string' ? opts.mechanism.toLowerCase() : 'negotiate';
  return new BrokeredContext(address, mechanism, {
    targetHost: opts.targetHost, spn: opts.spn, delegateTo: opts.delegateTo, credsspMinVersion: opts.credsspMinVersion, tls: opts.tls,
  });
}

/**
 * Why an anonymous request happened, for the ANONYMOUS LOGON error (the transport appends it to a message without a
 * final period): inside a network logon session of `winrm-ts serve` this is the double hop.
 */
export function anonymousLogonHint(env: NodeJS.ProcessEnv = process.env): string {
  if (env[LOGON_TYPE_ENV] === 'network') {
    const user = env.USERDOMAIN ? `${env.USERDOMAIN}\\${env.USERNAME ?? ''}` : env.USERNAME ?? 'the user';
    const how = env.WINRM_TS_LOGON_MECHANISM ? ` (${env.WINRM_TS_LOGON_MECHANISM})` : '';
    return `. This is the double hop: this process runs in a network logon session of ${user}${how}, and a network logon holds no credentials to forward.` +
      ' Fix it on the first hop: --auth credssp --delegate-to wsman/<first host> (CredSSP hands over the password), Basic over HTTPS, or pass a credential here with -u DOMAIN\\user -p ...';
  }
  return '';
}
