/**
 * Authentication "as the logged-on user" through the endpoint's logon-session credential broker (client side): an
 * AuthContext whose secrets live in the endpoint, one Unix-socket connection per security context. The wire codec
 * is src/broker/wire.ts. Reached only from the client facade (src/client/client.ts), which asks it first when no
 * user name is given.
 */
import net from 'node:net';
import type { AuthContext, AuthProtocol, StepOptions } from '../auth/types.js';
import { AbortError, AuthError, InvalidArgumentError, RemoteProtocolError, TimeoutError } from '../errors.js';
import {
  BROKER_SOCKET_ENV,
  BROKER_TOKEN_ENV,
  BROKERED_MECHANISMS,
  BrokerFrameDecoder,
  LOGON_TYPE_ENV,
  bindingsToWire,
  encodeBrokerFrame,
  errorFromWire,
  type BrokerFrame,
  type BrokerMessage,
} from './wire.js';

export interface BrokerAddress {
  socketPath: string;
  token: string;
}

export interface BrokeredOptions {
  targetHost: string;
  spn?: string;
  delegateTo?: string[];
  credsspMinVersion?: number;
  tls?: boolean;
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

  constructor(
    private readonly address: BrokerAddress,
    private readonly mechanism: string,
    private readonly opts: BrokeredOptions,
  ) {
    const info = BROKERED_MECHANISMS[mechanism];
    if (!info) {
      throw new InvalidArgumentError(
        `the logged-on user's credentials can be used with ${Object.keys(BROKERED_MECHANISMS).join(', ')}, not '${mechanism}'; ` +
          `pass -u DOMAIN\\user and a password for ${mechanism}`,
      );
    }
    this.protocol = info.protocol;
    this.httpScheme = info.httpScheme;
    this.encryptionProtocol = info.encryptionProtocol;
    this.encryptChunkSize = info.encryptChunkSize;
    const u = process.env.USERNAME;
    this.displayName = `${u ? (process.env.USERDOMAIN ? `${process.env.USERDOMAIN}\\${u}` : u) + ', ' : ''}the logged-on user`;
  }

  get complete(): boolean {
    return this.done;
  }

  /** A fresh context on its own broker connection (this one is left alone: it may still be in use). */
  newContext(): BrokeredContext {
    return new BrokeredContext(this.address, this.mechanism, this.opts);
  }

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
    const bin = new Uint8Array(header.length + data.length);
    bin.set(header);
    bin.set(data, header.length);
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
      sock.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new AuthError(
            `the logon session's credential broker is not reachable (${e.code ?? e.message}): the session on the endpoint may ` +
              `have ended; pass -u DOMAIN\\user and a password instead`,
          ),
        ),
      );
    });
    sock.on('data', (d: Buffer) => {
      this.decoder.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      try {
        for (let f = this.decoder.next(); f; f = this.decoder.next()) this.waiting.shift()?.resolve(f);
      } catch (e) {
        this.fail(e as Error);
      }
    });
    const gone = () => this.fail(new AuthError('the credential broker closed the connection (the logon session on the endpoint ended?)'));
    sock.on('close', gone);
    sock.on('error', gone);
    this.sock = sock;
    const { targetHost, spn, delegateTo, credsspMinVersion, tls } = this.opts;
    try {
      await this.roundTrip({
        op: 'open',
        token: this.address.token,
        mechanism: this.mechanism,
        targetHost,
        spn,
        delegateTo,
        credsspMinVersion,
        tls,
      });
    } catch (e) {
      this.fail(e as Error);
      throw e;
    } // a context the broker refused stays refused
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
      const t = setTimeout(() => {
        this.fail(new TimeoutError(`the credential broker did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      t.unref();
      const onAbort = () => this.fail(new AbortError());
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        if (!this.waiting.length) this.sock?.unref();
      };
      this.waiting.push({
        resolve: (f) => {
          settle();
          if (f.msg.ok === true) resolve(f);
          else reject(errorFromWire(f.msg.error));
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      });
      this.sock!.ref(); // a request in flight keeps the process alive; an idle context does not
      this.sock!.write(frame);
    });
  }
}

/** The broker address from the environment, if this process runs in a logon session that has one. */
export function brokerFromEnv(env: NodeJS.ProcessEnv = process.env): BrokerAddress | undefined {
  const socketPath = env[BROKER_SOCKET_ENV];
  const token = env[BROKER_TOKEN_ENV];
  if (!socketPath || !token) return undefined;
  return { socketPath, token };
}

/**
 * Ambient authentication, asked first by the client facade: no user name + a broker in the environment =
 * "the logged-on user", through Negotiate as Windows would (or the mechanism the caller names in `opts.mechanism`).
 */
export function brokeredAmbientAuth(opts: {
  targetHost: string;
  spn?: string;
  delegateTo?: string[];
  credsspMinVersion?: number;
  tls?: boolean;
  [k: string]: unknown;
}): AuthContext | undefined {
  const address = brokerFromEnv();
  if (!address) return undefined;
  const mechanism = typeof opts.mechanism === 'string' ? opts.mechanism.toLowerCase() : 'negotiate';
  return new BrokeredContext(address, mechanism, {
    targetHost: opts.targetHost,
    spn: opts.spn,
    delegateTo: opts.delegateTo,
    credsspMinVersion: opts.credsspMinVersion,
    tls: opts.tls,
  });
}

/**
 * Why an anonymous request happened, for the ANONYMOUS LOGON error (the transport appends it to a message without a
 * final period): inside a network logon session of `winrm-ts serve` this is the double hop.
 */
export function anonymousLogonHint(env: NodeJS.ProcessEnv = process.env): string {
  if (env[LOGON_TYPE_ENV] === 'network') {
    const user = env.USERDOMAIN ? `${env.USERDOMAIN}\\${env.USERNAME ?? ''}` : (env.USERNAME ?? 'the user');
    const how = env.WINRM_TS_LOGON_MECHANISM ? ` (${env.WINRM_TS_LOGON_MECHANISM})` : '';
    return (
      `. This is the double hop: this process runs in a network logon session of ${user}${how}, and a network logon holds no ` +
      `credentials to forward.` +
      ' Fix it on the first hop: --auth credssp --delegate-to wsman/<first host> (CredSSP hands over the password), Basic over ' +
      'HTTPS, or pass a credential here with -u DOMAIN\\user -p ...'
    );
  }
  return '';
}
