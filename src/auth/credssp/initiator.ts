/**
 * CredSSP initiator (MS-CSSP 3.1.5, client role): TLS -> SPNEGO/NTLM inside TSRequest.negoTokens -> pubKeyAuth
 * (binding the inner context to the server's TLS key) -> TSCredentials(TSPasswordCreds) sealed in authInfo.
 * Then WinRM message encryption through the same TLS session (MS-WSMV 2.2.9.1).
 *
 * Sans-IO apart from the in-memory TLS pipe: bytes in, bytes out. Over HTTP every leg is one
 * `Authorization: CredSSP <base64>` / `WWW-Authenticate: CredSSP <base64>` pair (framing 'message'); over an RDP
 * socket (framing 'stream') input may arrive in arbitrary pieces and an empty output means "need more input".
 */
import { randomBytes } from 'node:crypto';
import type { AuthContext, AuthProtocol, Credentials, StepOptions } from '../types.js';
import {
  AbortError,
  CredSSPError,
  EncryptionError,
  InvalidArgumentError,
  LocalProtocolError,
  RemoteProtocolError,
  TlsError,
  WinRMError,
} from '../../errors.js';
import { bytesEqual, concatBytes } from '../../util/bytes.js';
import { debug, channels } from '../../util/debug.js';
import { TlsPipe } from './tls-pipe.js';
import { TSRequest } from './ts-request.js';
import { TSCredentials } from './ts-credentials.js';
import { clientPubKeyAuth, serverPubKeyAuth, NONCE_VERSION } from './pub-key-auth.js';
import { checkDelegation } from './delegation.js';
import { ntStatusText } from './ntstatus.js';
import type { KdcSend } from '../types.js';
import { ntlmUserFields } from '../ntlm/credentials.js';
import { createInnerInitiator, gssUnwrap, gssWrap, type InnerMechanism } from './inner.js';
import { tlsTrailerLength } from './trailer.js';
import type { SecureVersion } from 'node:tls';

/** The TSRequest version we speak (MS-CSSP 2.2.1: 6 = errorCode + the CVE-2018-0886 nonce fix). */
export const CREDSSP_VERSION = 6;
export const CREDSSP_ENCRYPTION_PROTOCOL = 'application/HTTP-CredSSP-session-encrypted';
/** MS-WSMV 2.2.9.1.3: CredSSP bodies above 16 KiB are sent as multipart/x-multi-encrypted chunks of this size. */
export const CREDSSP_CHUNK_SIZE = 16384;

export interface CredSSPInitiatorOptions {
  credentials: Credentials;
  /** the host the client connects to: checked against `delegateTo` (as `wsman/<targetHost>`) */
  targetHost: string;
  /** `wsman/HOST` patterns the credentials may be delegated to; the target must match one */
  delegateTo?: readonly string[];
  /** lowest TSRequest version accepted from the server (default 6; lower only on request: CVE-2018-0886) */
  minVersion?: number;
  /** inner mechanism: 'negotiate' (SPNEGO, what Windows' WinRM expects) or raw 'ntlm' (RDP servers: mstsc, FreeRDP) */
  inner?: InnerMechanism;
  /** a trusted-hosts policy refuses NTLM inside CredSSP for this host: Kerberos only (the error to throw otherwise) */
  ntlmRefused?: (what: string) => Error;
  /** SPN for the inner context (default HTTP/<targetHost>) */
  spn?: string;
  /** how a Kerberos inner context reaches a KDC */
  kdcSend?: KdcSend;
  /** 'message' (HTTP headers: each input is a complete flight) or 'stream' (a socket) */
  framing?: 'message' | 'stream';
  tlsMinVersion?: SecureVersion;
  tlsMaxVersion?: SecureVersion;
  /** injected randomness (the client nonce) */
  random?: (n: number) => Uint8Array;
}

type State = 'initial' | 'tls' | 'auth' | 'pubkey' | 'done' | 'failed';

export class CredSSPInitiator implements AuthContext {
  readonly protocol: AuthProtocol = 'credssp';
  readonly httpScheme = 'CredSSP';
  readonly canEncrypt = true;
  readonly encryptionProtocol = CREDSSP_ENCRYPTION_PROTOCOL;
  /** the MIME framing (src/encryption/mime.ts) splits bodies above this into multipart/x-multi-encrypted parts */
  readonly encryptChunkSize = CREDSSP_CHUNK_SIZE;

  private state: State = 'initial';
  private pipe?: TlsPipe;
  private inner: AuthContext;
  private readonly minVersion: number;
  private serverVersion = 0;
  private selectedVersion = 0;
  private nonce?: Uint8Array;
  private pubKey?: Uint8Array;
  private pendingPlain: Uint8Array = new Uint8Array(0);
  /** handshake legs so far (one per step() that produced output) */
  legs = 0;

  constructor(private readonly opts: CredSSPInitiatorOptions) {
    // The delegation guard comes first: nothing (not even a TLS ClientHello) is produced for a refused target.
    checkDelegation(opts.targetHost, opts.delegateTo);
    if (!opts.credentials.password) {
      throw new InvalidArgumentError('CredSSP delegates a password: give the password (an NT hash cannot be delegated)');
    }
    this.minVersion = opts.minVersion ?? CREDSSP_VERSION;
    if (!Number.isInteger(this.minVersion) || this.minVersion < 2 || this.minVersion > CREDSSP_VERSION) {
      throw new InvalidArgumentError(`--credssp-min-version must be 2..${CREDSSP_VERSION}, got ${opts.minVersion}`);
    }
    this.inner = createInnerInitiator(opts.inner ?? 'negotiate', opts.credentials, opts.spn ?? `HTTP/${opts.targetHost}`, {
      ...(opts.kdcSend ? { kdcSend: opts.kdcSend } : {}),
      ...(opts.ntlmRefused ? { ntlmRefused: opts.ntlmRefused } : {}),
    });
  }

  get complete(): boolean {
    return this.state === 'done';
  }
  /** the negotiated TSRequest version (min of ours and the server's) once known */
  get version(): number {
    return this.selectedVersion;
  }
  /** TLS protocol and cipher of the CredSSP channel */
  get tlsInfo(): { protocol: string; cipher: string } | undefined {
    return this.pipe ? { protocol: this.pipe.protocol, cipher: this.pipe.cipher } : undefined;
  }

  newContext(): CredSSPInitiator {
    return new CredSSPInitiator(this.opts);
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    if (opts?.signal?.aborted) throw new AbortError();
    try {
      const out = await this.stepInner(inToken);
      if (out && out.length) this.legs++;
      return out;
    } catch (e) {
      this.state = 'failed';
      this.pipe?.destroy();
      if (e instanceof RemoteProtocolError)
        throw new CredSSPError(`CredSSP: the server sent an invalid message: ${e.message}`, undefined, { cause: e });
      if (e instanceof TlsError) throw new CredSSPError(e.message, undefined, { cause: e });
      if (e instanceof WinRMError) throw e; // CredSSPError, AccessDeniedError from the inner mechanism, ...
      throw new CredSSPError(`CredSSP failed: ${(e as Error).message}`, undefined, { cause: e });
    }
  }

  private async stepInner(inToken?: Uint8Array): Promise<Uint8Array | undefined> {
    switch (this.state) {
      case 'initial': {
        if (inToken && inToken.length) throw new LocalProtocolError('the first CredSSP step takes no input');
        this.pipe = TlsPipe.client({
          minVersion: this.opts.tlsMinVersion,
          maxVersion: this.opts.tlsMaxVersion,
          servername: this.opts.targetHost,
        });
        await this.pipe.settle();
        this.checkPipe();
        this.state = 'tls';
        debug('credssp: ClientHello sent');
        return this.pipe.takeOutput();
      }
      case 'tls': {
        const pipe = this.pipe!;
        this.requireInput(inToken, 'TLS handshake');
        pipe.feed(inToken!);
        await pipe.settle();
        this.checkPipe();
        if (!pipe.secure) {
          const out = pipe.takeOutput();
          if (!out.length && this.opts.framing !== 'stream') {
            throw new CredSSPError('the CredSSP TLS handshake stalled: the server token is not a complete TLS flight (broken framing?)');
          }
          return out;
        }
        this.pubKey = pipe.peerPublicKey();
        debug('credssp: TLS %s %s established', pipe.protocol, pipe.cipher);
        channels.auth.publish({ mechanism: 'credssp', event: 'tls', protocol: pipe.protocol, cipher: pipe.cipher });
        const first = await this.inner.step(undefined);
        if (!first) throw new CredSSPError('the inner authentication produced no first token');
        this.state = 'auth';
        // TLS 1.2: the client Finished went out before 'secure'; TLS 1.3: it goes out now, with the first TSRequest
        pipe.write(TSRequest.encode({ version: CREDSSP_VERSION, negoTokens: [first] }));
        await pipe.settle();
        this.checkPipe();
        return pipe.takeOutput();
      }
      case 'auth':
      case 'pubkey': {
        const req = await this.receive(inToken);
        if (!req) return new Uint8Array(0);
        this.checkError(req);
        return this.state === 'auth' ? this.onAuth(req) : this.onPubKey(req);
      }
      case 'done':
        if (inToken && inToken.length) {
          // a trailing token after success (e.g. TLS 1.3 tickets): absorb it
          this.pipe!.feed(inToken);
          await this.pipe!.settle();
        }
        return undefined;
      case 'failed':
        throw new LocalProtocolError('this CredSSP context failed earlier; create a new one');
    }
  }

  private async onAuth(req: TSRequest): Promise<Uint8Array> {
    if (this.serverVersion === 0) {
      this.serverVersion = req.version;
      if (req.version < this.minVersion) {
        throw new CredSSPError(
          `the server speaks CredSSP version ${req.version}, below the minimum ${this.minVersion} (versions before 5 are open to ` +
            `CVE-2018-0886); update the host, or accept it explicitly with --credssp-min-version ${req.version}`,
        );
      }
      this.selectedVersion = Math.min(req.version, CREDSSP_VERSION);
    }
    const token = req.negoTokens?.[0];
    if (!token) throw new CredSSPError('the server TSRequest carries no negoToken while the inner authentication is in progress');
    const out = await this.inner.step(token);
    const authenticate = out !== undefined && isNtlmAuthenticate(out);
    if (!this.inner.complete && !authenticate) {
      if (!out) throw new CredSSPError('the inner authentication stopped without completing');
      return this.send({ version: CREDSSP_VERSION, negoTokens: [out] });
    }
    // The inner context is complete (or its last token is the NTLM AUTHENTICATE, which must travel with pubKeyAuth).
    if (this.selectedVersion >= NONCE_VERSION) this.nonce = (this.opts.random ?? ((n) => new Uint8Array(randomBytes(n))))(32);
    const pubKeyAuth = await gssWrap(this.inner, clientPubKeyAuth(this.selectedVersion, this.pubKey!, this.nonce));
    this.state = 'pubkey';
    debug('credssp: sending pubKeyAuth (version %d)', this.selectedVersion);
    return this.send({ version: CREDSSP_VERSION, negoTokens: out ? [out] : undefined, pubKeyAuth, clientNonce: this.nonce });
  }

  private async onPubKey(req: TSRequest): Promise<Uint8Array> {
    // NTLM-in-SPNEGO: the server's mechListMIC comes first and must be verified before unwrapping (RFC 4178 5; MS-NLMP 3.4)
    if (req.negoTokens?.[0]) await this.inner.step(req.negoTokens[0]);
    if (!req.pubKeyAuth) throw new CredSSPError('the server did not answer with pubKeyAuth; it did not prove it holds the TLS key');
    const got = await gssUnwrap(this.inner, req.pubKeyAuth, "the server's pubKeyAuth");
    const want = serverPubKeyAuth(this.selectedVersion, this.pubKey!, this.nonce);
    if (!bytesEqual(got, want)) {
      throw new CredSSPError(
        "CredSSP: the server's pubKeyAuth does not match the TLS public key: the TLS channel may be intercepted " +
          '(man in the middle); credentials were NOT sent',
      );
    }
    const { domain, user } = ntlmUserFields(this.opts.credentials.username);
    const creds = TSCredentials.password({ domainName: domain, userName: user, password: this.opts.credentials.password ?? '' });
    const authInfo = await gssWrap(this.inner, creds);
    creds.fill(0);
    this.state = 'done';
    debug('credssp: server key verified, delegated credentials sent');
    channels.auth.publish({ mechanism: 'credssp', event: 'delegated', version: this.selectedVersion });
    return this.send({ version: CREDSSP_VERSION, authInfo });
  }

  private async send(m: TSRequest): Promise<Uint8Array> {
    const pipe = this.pipe!;
    pipe.write(TSRequest.encode(m));
    await pipe.settle();
    this.checkPipe();
    return pipe.takeOutput();
  }

  /** Feed TLS bytes and return the next complete TSRequest (undefined: need more input in stream framing). */
  private async receive(inToken: Uint8Array | undefined): Promise<TSRequest | undefined> {
    const pipe = this.pipe!;
    this.requireInput(inToken, 'authentication');
    pipe.feed(inToken!);
    await pipe.settle();
    this.checkPipe();
    this.pendingPlain = concatBytes(this.pendingPlain, pipe.takePlaintext());
    const n = TSRequest.frameLength(this.pendingPlain);
    if (n === 0) {
      if (this.opts.framing === 'stream') return undefined;
      throw new CredSSPError(
        this.pendingPlain.length
          ? 'the server sent an incomplete TSRequest in its CredSSP token (broken framing)'
          : 'the server CredSSP token carried no TSRequest (broken TLS framing?)',
      );
    }
    const msg = this.pendingPlain.subarray(0, n);
    this.pendingPlain = this.pendingPlain.slice(n);
    return TSRequest.decode(msg);
  }

  private checkError(req: TSRequest): void {
    if (req.errorCode !== undefined && req.errorCode !== 0) {
      throw new CredSSPError(`the CredSSP server refused the logon: ${ntStatusText(req.errorCode)}`, req.errorCode);
    }
  }

  private requireInput(t: Uint8Array | undefined, phase: string): void {
    if (!t || !t.length) {
      throw new CredSSPError(
        `the server sent no CredSSP token during the ${phase} phase; the host may not offer CredSSP ` +
          '(on Windows: Enable-WSManCredSSP -Role Server) or it rejected the request',
      );
    }
  }

  private checkPipe(): void {
    const e = this.pipe?.error;
    if (e) {
      throw new CredSSPError(
        `TLS inside CredSSP failed: ${e.message}; the server token is not valid TLS or the TLS versions/ciphers do not match`,
        undefined,
        { cause: e },
      );
    }
    if (this.pipe?.closed && this.state !== 'done') {
      throw new CredSSPError(
        this.state === 'pubkey'
          ? 'the CredSSP server closed the channel after our authentication: the logon was refused (wrong user name or password?)'
          : 'the CredSSP server closed the TLS channel',
      );
    }
  }

  // --------------------------------------------------------------------------------------------------------
  // WinRM message encryption (MS-WSMV 2.2.9.1): header = the SChannel trailer length worth of the record
  // --------------------------------------------------------------------------------------------------------

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    return wrapThroughPipe(this.requireComplete(), data);
  }

  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return unwrapThroughPipe(this.requireComplete(), header, data);
  }

  private requireComplete(): TlsPipe {
    if (this.state !== 'done' || !this.pipe) throw new LocalProtocolError('CredSSP message encryption needs a completed handshake');
    return this.pipe;
  }
}

/** "NTLMSSP\0" + type 3 anywhere in the token (raw or inside SPNEGO) */
function isNtlmAuthenticate(tok: Uint8Array): boolean {
  const sig = [0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00, 0x03, 0x00, 0x00, 0x00];
  outer: for (let i = 0; i + sig.length <= tok.length; i++) {
    for (let j = 0; j < sig.length; j++) if (tok[i + j] !== sig[j]) continue outer;
    return true;
  }
  return false;
}

/** Seal through the TLS session: one record per call (callers keep chunks <= 16 KiB). */
export async function wrapThroughPipe(pipe: TlsPipe, data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
  pipe.write(data);
  await pipe.settle();
  if (pipe.error) throw new EncryptionError(`CredSSP encryption failed: ${pipe.error.message}`, { cause: pipe.error });
  const enc = pipe.takeOutput();
  const trailer = Math.min(tlsTrailerLength(Math.min(data.length, CREDSSP_CHUNK_SIZE), pipe.protocol, pipe.cipher), enc.length);
  return { header: enc.subarray(0, trailer), data: enc.subarray(trailer) };
}

/** Unseal: the header (trailer-length bytes) and data are one or more TLS records; the plaintext comes out. */
export async function unwrapThroughPipe(pipe: TlsPipe, header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const stray = pipe.takePlaintext();
  if (stray.length) throw new EncryptionError('CredSSP: unexpected plaintext pending in the TLS channel');
  pipe.feed(header);
  pipe.feed(data);
  await pipe.settle();
  if (pipe.error) {
    throw new EncryptionError(`CredSSP-encrypted message could not be decrypted: ${pipe.error.message}`, { cause: pipe.error });
  }
  if (pipe.closed) throw new EncryptionError('CredSSP-encrypted message: the peer closed the TLS channel');
  const plain = pipe.takePlaintext();
  if (!plain.length && header.length + data.length > 0) {
    throw new EncryptionError('CredSSP-encrypted message holds no complete TLS record (truncated or broken framing)');
  }
  return plain;
}
