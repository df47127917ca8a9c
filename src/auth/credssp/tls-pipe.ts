/**
 * The TLS pipe: TLS over bytes we carry ourselves (in `Authorization: CredSSP <base64>` headers, in WinRM
 * encrypted bodies, or over an RDP socket). The only file in src/auth that touches node:tls.
 *
 * Node 20 has no `stream.duplexPair`, so `WireEnd` is a small cross-wired Duplex of our own: what TLS writes to it
 * is collected as wire output, and wire input is pushed into it for TLS to read.
 *
 * Security note: the TLS inside CredSSP verifies NO certificate chain (`rejectUnauthorized: false`): Windows uses a
 * self-signed certificate for it. The channel is authenticated by pubKeyAuth instead (MS-CSSP 3.1.5): the inner
 * NTLM/Kerberos context seals a hash of the server's public key, so a man in the middle with another key is caught.
 */
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { DerReader } from '../../asn1/der.js';
import { CredSSPError } from '../../errors.js';

/** One end of an in-memory cross-wired Duplex pair: TLS reads what we `inject`, and what TLS writes we `drain`. */
class WireEnd extends Duplex {
  private chunks: Buffer[] = [];
  private size = 0;
  written = 0;
  override _read(): void {
    /* data is pushed by inject() */
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.written += chunk.length;
    cb();
  }
  override _final(cb: (e?: Error | null) => void): void {
    cb();
  }
  inject(b: Uint8Array): void {
    if (b.length) this.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  drain(): Uint8Array {
    const out = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}

export interface TlsPipeOptions {
  /** default TLSv1.2 */
  minVersion?: tls.SecureVersion;
  /** default TLSv1.3 for clients, TLSv1.2 for servers (what Windows' WinRM CredSSP negotiates) */
  maxVersion?: tls.SecureVersion;
  /** server: PEM certificate and key */
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  /** client: SNI name (optional) */
  servername?: string;
}

/** SubjectPublicKey (the BIT STRING contents of SubjectPublicKeyInfo) — for RSA the PKCS#1 RSAPublicKey DER. */
export function subjectPublicKey(key: KeyObject): Uint8Array {
  const spki = new Uint8Array(key.export({ type: 'spki', format: 'der' }));
  const r = new DerReader(spki, 'SubjectPublicKeyInfo').sequence();
  r.sequence();
  return r.bitString().bytes;
}

const MAX_SETTLE_TURNS = 200;
/** OpenSSL runs synchronously when bytes are pushed; two quiet event-loop turns (one spare, for deferred write
 * completions) mean TLS has nothing more to do. */
const SETTLE_QUIET_TURNS = 2;

export class TlsPipe {
  private readonly wire = new WireEnd();
  private readonly socket: tls.TLSSocket;
  private plain: Buffer[] = [];
  private plainSize = 0;
  private failure: Error | undefined;
  private secureFlag = false;
  private closedFlag = false;
  private activity = 0;

  private constructor(
    readonly role: 'client' | 'server',
    opts: TlsPipeOptions,
  ) {
    const minVersion = opts.minVersion ?? 'TLSv1.2';
    if (role === 'client') {
      this.socket = tls.connect({
        socket: this.wire,
        rejectUnauthorized: false, // see the note at the top: pubKeyAuth authenticates the channel
        minVersion,
        maxVersion: opts.maxVersion ?? 'TLSv1.3',
        ...(opts.servername && !/^[\d.:]+$/.test(opts.servername) ? { servername: opts.servername } : {}),
      });
      this.socket.once('secureConnect', () => {
        this.secureFlag = true;
        this.activity++;
      });
    } else {
      if (!opts.cert || !opts.key) throw new CredSSPError('the CredSSP acceptor needs a TLS certificate and key');
      const secureContext = tls.createSecureContext({
        cert: typeof opts.cert === 'string' ? opts.cert : Buffer.from(opts.cert),
        key: typeof opts.key === 'string' ? opts.key : Buffer.from(opts.key),
        minVersion,
        maxVersion: opts.maxVersion ?? 'TLSv1.2',
      });
      this.socket = new tls.TLSSocket(this.wire, { isServer: true, secureContext, requestCert: false });
      this.socket.once('secure', () => {
        this.secureFlag = true;
        this.activity++;
      });
    }
    this.socket.on('data', (d: Buffer) => {
      this.plain.push(d);
      this.plainSize += d.length;
      this.activity++;
    });
    this.socket.on('error', (e: Error) => {
      this.failure ??= e;
      this.activity++;
    });
    this.socket.on('close', () => {
      this.closedFlag = true;
      this.activity++;
    });
    this.socket.on('end', () => {
      this.closedFlag = true;
      this.activity++;
    });
    this.wire.on('error', (e: Error) => {
      this.failure ??= e;
    });
  }

  static client(opts: TlsPipeOptions = {}): TlsPipe {
    return new TlsPipe('client', opts);
  }
  static server(opts: TlsPipeOptions): TlsPipe {
    return new TlsPipe('server', opts);
  }

  /** true once the handshake has finished on this side */
  get secure(): boolean {
    return this.secureFlag;
  }
  get closed(): boolean {
    return this.closedFlag;
  }
  /** the TLS error (bad record, handshake failure, alert from the peer), if any */
  get error(): Error | undefined {
    return this.failure;
  }
  /** total bytes TLS has written to the wire so far */
  get bytesOut(): number {
    return this.wire.written;
  }
  get protocol(): string {
    return this.socket.getProtocol() ?? '';
  }
  get cipher(): string {
    return this.socket.getCipher()?.name ?? '';
  }

  /** Feed bytes received from the peer. */
  feed(bytes: Uint8Array): void {
    if (this.closedFlag || this.failure) return;
    this.wire.inject(bytes);
  }

  /** Write plaintext; each call becomes its own TLS record(s). */
  write(plain: Uint8Array): void {
    if (!this.secureFlag) throw new CredSSPError('internal: write before the CredSSP TLS handshake finished');
    this.socket.write(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength));
  }

  /**
   * Let Node's TLS machinery run until nothing more happens (OpenSSL works synchronously inside these turns; no
   * timers are involved). Bounded: a pipe that keeps producing events past the bound is treated as broken.
   */
  async settle(): Promise<void> {
    let quiet = 0;
    let last = -1;
    for (let i = 0; i < MAX_SETTLE_TURNS && quiet < SETTLE_QUIET_TURNS; i++) {
      await new Promise<void>((r) => setImmediate(r));
      const now = this.activity + this.wire.written;
      if (now === last) quiet++;
      else {
        quiet = 0;
        last = now;
      }
    }
  }

  /** Bytes TLS produced for the peer since the last call. */
  takeOutput(): Uint8Array {
    return this.wire.drain();
  }

  /** Plaintext received since the last call. */
  takePlaintext(): Uint8Array {
    const out = this.plain.length === 1 ? this.plain[0]! : Buffer.concat(this.plain, this.plainSize);
    this.plain = [];
    this.plainSize = 0;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  get plaintextAvailable(): number {
    return this.plainSize;
  }

  /** Put back plaintext not consumed yet (a partial message). */
  unread(b: Uint8Array): void {
    if (!b.length) return;
    this.plain.unshift(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    this.plainSize += b.length;
  }

  /** Client: the server certificate's SubjectPublicKey. */
  peerPublicKey(): Uint8Array {
    const cert = this.socket.getPeerX509Certificate();
    if (!cert) throw new CredSSPError('the CredSSP server sent no TLS certificate; pubKeyAuth cannot be computed');
    return subjectPublicKey(cert.publicKey);
  }

  destroy(): void {
    this.closedFlag = true;
    this.socket.destroy();
    this.wire.destroy();
  }
}

/** SubjectPublicKey of a PEM certificate (the acceptor's own key for pubKeyAuth). */
export function certificatePublicKey(certPem: string | Uint8Array): Uint8Array {
  const c = new X509Certificate(typeof certPem === 'string' ? certPem : Buffer.from(certPem));
  return subjectPublicKey(createPublicKey(c.publicKey.export({ type: 'spki', format: 'pem' })));
}
