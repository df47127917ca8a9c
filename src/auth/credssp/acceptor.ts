/**
 * CredSSP acceptor (MS-CSSP 3.2.5, server role), as a Windows host after `Enable-WSManCredSSP -Role Server`:
 * TLS server with a self-signed certificate -> inner NTLM/SPNEGO acceptor (the endpoint's UserDatabase) ->
 * verify the client's pubKeyAuth and answer with ours -> decrypt TSCredentials. The result is an *interactive*
 * logon: `identity.password` holds the delegated password (in memory only; never logged).
 */
import type { AcceptedIdentity, AcceptorContext, AuthContext, AuthProtocol, StepOptions, UserDatabase } from '../types.js';
import { AbortError, AccessDeniedError, CredSSPError, LocalProtocolError, RemoteProtocolError, WinRMError } from '../../errors.js';
import { bytesEqual, concatBytes } from '../../util/bytes.js';
import { debug, channels } from '../../util/debug.js';
import { TlsPipe, certificatePublicKey } from './tls-pipe.js';
import { TSRequest } from './ts-request.js';
import { CredType, TSCredentials, TSPasswordCreds } from './ts-credentials.js';
import { clientPubKeyAuth, serverPubKeyAuth, NONCE_VERSION } from './pub-key-auth.js';
import { createInnerAcceptor, gssUnwrap, gssWrap } from './inner.js';
import { findPrincipalUser, type KerberosAcceptorOptions } from '../kerberos/context.js';
import { STATUS_LOGON_FAILURE, SEC_E_MESSAGE_ALTERED, STATUS_INVALID_PARAMETER } from './ntstatus.js';
import { processCredSSPCertificate } from './x509.js';
import { CREDSSP_CHUNK_SIZE, CREDSSP_ENCRYPTION_PROTOCOL, CREDSSP_VERSION, unwrapThroughPipe, wrapThroughPipe } from './initiator.js';
import type { SecureVersion } from 'node:tls';

export interface CredSSPAcceptorOptions {
  userDb: UserDatabase;
  /** the endpoint's computer name (NTLM target info; the self-signed certificate's CN=WSMAN-<name>) */
  serverName: string;
  domainName?: string;
  /** TLS certificate/key (PEM); default: one self-signed certificate per process */
  tlsCert?: string;
  tlsKey?: string;
  /** the TSRequest version this acceptor speaks (default 6; lower values emulate down-level Windows hosts) */
  version?: number;
  /** lowest TSRequest version accepted from clients (default 2: impacket and old clients speak 2) */
  minVersion?: number;
  tlsMinVersion?: SecureVersion;
  tlsMaxVersion?: SecureVersion;
  /** Kerberos inside (SPNEGO) when the endpoint has a keytab */
  kerberos?: KerberosAcceptorOptions;
  /** 'message' (HTTP) or 'stream' (RDP socket) */
  framing?: 'message' | 'stream';
  /** when true, the delegated password must match the user database (default true) */
  verifyDelegatedPassword?: boolean;
}

type State = 'tls' | 'auth' | 'creds' | 'done' | 'failed';

export class CredSSPAcceptor implements AcceptorContext {
  readonly protocol: AuthProtocol = 'credssp';
  readonly httpScheme = 'CredSSP';
  readonly canEncrypt = true;
  readonly encryptionProtocol = CREDSSP_ENCRYPTION_PROTOCOL;
  readonly encryptChunkSize = CREDSSP_CHUNK_SIZE;

  private state: State = 'tls';
  private readonly pipe: TlsPipe;
  private readonly pubKey: Uint8Array;
  private inner?: AcceptorContext;
  private clientVersion = 0;
  private selectedVersion = 0;
  private pendingPlain: Uint8Array = new Uint8Array(0);
  private failure?: Error;
  identity?: AcceptedIdentity;
  /** the TSCredentials type the client delegated (1 = password) */
  credType?: number;

  constructor(private readonly opts: CredSSPAcceptorOptions) {
    let cert = opts.tlsCert,
      key = opts.tlsKey;
    if (!cert || !key) ({ certPem: cert, keyPem: key } = processCredSSPCertificate(opts.serverName));
    this.pipe = TlsPipe.server({ cert, key, minVersion: opts.tlsMinVersion, maxVersion: opts.tlsMaxVersion });
    this.pubKey = certificatePublicKey(cert);
  }

  get complete(): boolean {
    return this.state === 'done';
  }
  private get ownVersion(): number {
    return this.opts.version ?? CREDSSP_VERSION;
  }
  get version(): number {
    return this.selectedVersion;
  }
  /** the client's TSRequest version */
  get peerVersion(): number {
    return this.clientVersion;
  }
  get tlsInfo(): { protocol: string; cipher: string } {
    return { protocol: this.pipe.protocol, cipher: this.pipe.cipher };
  }

  newContext(): CredSSPAcceptor {
    return new CredSSPAcceptor(this.opts);
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    if (opts?.signal?.aborted) throw new AbortError();
    if (this.state === 'failed') throw this.failure ?? new LocalProtocolError('this CredSSP context failed earlier');
    try {
      return await this.stepInner(inToken);
    } catch (e) {
      this.state = 'failed';
      this.pipe.destroy();
      let err: Error;
      if (e instanceof RemoteProtocolError)
        err = new CredSSPError(`CredSSP: the client sent an invalid message: ${e.message}`, undefined, { cause: e });
      else if (e instanceof WinRMError) err = e;
      else err = new CredSSPError(`CredSSP failed: ${(e as Error).message}`, undefined, { cause: e });
      this.failure = err;
      throw err;
    }
  }

  private async stepInner(inToken?: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.state === 'done') {
      if (inToken?.length) {
        this.pipe.feed(inToken);
        await this.pipe.settle();
      }
      return undefined;
    }
    if (!inToken || !inToken.length) throw new CredSSPError('the client sent an empty CredSSP token');
    this.pipe.feed(inToken);
    await this.pipe.settle();
    this.checkPipe();
    if (this.state === 'tls') {
      if (!this.pipe.secure) {
        const out = this.pipe.takeOutput();
        if (!out.length && this.opts.framing !== 'stream')
          throw new CredSSPError('the CredSSP TLS handshake stalled: the client token is not a complete TLS flight');
        return out;
      }
      this.state = 'auth';
      debug('credssp acceptor: TLS %s %s', this.pipe.protocol, this.pipe.cipher);
      // TLS 1.2: our Finished is the output; TLS 1.3: the client's first TSRequest may already be here
      if (this.pipe.plaintextAvailable === 0) return this.pipe.takeOutput();
    }
    const handshakeTail = this.pipe.takeOutput(); // e.g. TLS 1.3 session tickets
    this.pendingPlain = concatBytes(this.pendingPlain, this.pipe.takePlaintext());
    const n = TSRequest.frameLength(this.pendingPlain);
    if (n === 0) {
      if (this.opts.framing === 'stream') return handshakeTail;
      throw new CredSSPError('the client CredSSP token carried no complete TSRequest (broken framing)');
    }
    const req = TSRequest.decode(this.pendingPlain.subarray(0, n));
    this.pendingPlain = this.pendingPlain.slice(n);
    const reply = this.state === 'auth' ? await this.onAuth(req) : await this.onCreds(req);
    if (reply === undefined) return handshakeTail.length ? handshakeTail : undefined;
    return concatBytes(handshakeTail, reply);
  }

  private async onAuth(req: TSRequest): Promise<Uint8Array> {
    if (this.clientVersion === 0) {
      this.clientVersion = req.version;
      const min = this.opts.minVersion ?? 2;
      if (req.version < min) {
        return this.refuse(
          STATUS_INVALID_PARAMETER,
          `the client speaks CredSSP version ${req.version}, below this endpoint's minimum ${min}`,
        );
      }
      this.selectedVersion = Math.min(req.version, this.ownVersion);
    }
    const token = req.negoTokens?.[0];
    // Kerberos inside: the inner context completed on the AP-REQ; this TSRequest carries pubKeyAuth only
    const innerDone = !!this.inner?.complete;
    if (!token && !innerDone) throw new CredSSPError('the client TSRequest carries no negoToken');
    this.inner ??= createInnerAcceptor(this.opts.userDb, this.opts.serverName, this.opts.domainName, this.opts.kerberos);
    let out: Uint8Array | undefined;
    try {
      if (!innerDone) out = await this.inner.step(token!);
    } catch (e) {
      if (e instanceof AccessDeniedError || e instanceof WinRMError) {
        return this.refuse(STATUS_LOGON_FAILURE, e.message, e);
      }
      throw e;
    }
    if (!this.inner.complete) {
      if (!out) throw new CredSSPError('the inner authentication stopped without completing');
      return this.send({ version: this.ownVersion, negoTokens: [out] });
    }
    // Kerberos completes on its first token: send the AP-REP and wait for pubKeyAuth (MS-CSSP 3.1.5 step 3)
    if (!req.pubKeyAuth && out && this.inner.identity?.mechanism === 'kerberos')
      return this.send({ version: this.ownVersion, negoTokens: [out] });
    // inner complete: the same TSRequest must carry pubKeyAuth (MS-CSSP 3.1.5 step 3)
    if (!req.pubKeyAuth) throw new CredSSPError('the client did not send pubKeyAuth with its last authentication token');
    let nonce: Uint8Array | undefined;
    if (this.selectedVersion >= NONCE_VERSION) {
      nonce = req.clientNonce;
      if (!nonce || nonce.length !== 32)
        return this.refuse(STATUS_INVALID_PARAMETER, `CredSSP version ${this.selectedVersion} requires a 32-byte clientNonce`);
    }
    const got = await gssUnwrap(this.inner, req.pubKeyAuth, "the client's pubKeyAuth");
    if (!bytesEqual(got, clientPubKeyAuth(this.selectedVersion, this.pubKey, nonce))) {
      return this.refuse(SEC_E_MESSAGE_ALTERED, "the client's pubKeyAuth does not match this endpoint's TLS key (man in the middle?)");
    }
    const pubKeyAuth = await gssWrap(this.inner, serverPubKeyAuth(this.selectedVersion, this.pubKey, nonce));
    this.state = 'creds';
    return this.send({ version: this.ownVersion, negoTokens: out ? [out] : undefined, pubKeyAuth });
  }

  private async onCreds(req: TSRequest): Promise<undefined> {
    if (!req.authInfo) throw new CredSSPError('the client sent no authInfo (TSCredentials) after pubKeyAuth');
    const plain = await gssUnwrap(this.inner!, req.authInfo, 'the delegated credentials (authInfo)');
    const tsc = TSCredentials.decode(plain);
    this.credType = tsc.credType;
    if (tsc.credType !== CredType.Password) {
      throw new CredSSPError(
        `the client delegated credentials of type ${tsc.credType}; this endpoint accepts only passwords (TSPasswordCreds, type 1)`,
      );
    }
    const pw = TSPasswordCreds.decode(tsc.credentials);
    plain.fill(0);
    const authed = this.inner!.identity;
    if (!authed) throw new CredSSPError('internal: the inner authentication has no identity');
    // The delegated user must be the authenticated one; a UPN (user@domain) travels whole in userName.
    let dUser = pw.userName,
      dDomain = pw.domainName;
    const at = dUser.indexOf('@');
    if (!dDomain && at > 0) {
      dDomain = dUser.slice(at + 1);
      dUser = dUser.slice(0, at);
    }
    let aUser = authed.user,
      aDomain = authed.domain;
    const aAt = aUser.indexOf('@');
    if (!aDomain && aAt > 0) {
      aDomain = aUser.slice(aAt + 1);
      aUser = aUser.slice(0, aAt);
    } // a user@REALM users-file entry
    const sameUser =
      dUser.toLowerCase() === aUser.toLowerCase() &&
      (!dDomain ||
        dDomain.toLowerCase() === aDomain.toLowerCase() ||
        dDomain.split('.')[0]!.toLowerCase() === aDomain.split('.')[0]!.toLowerCase());
    if (!sameUser) {
      throw new AccessDeniedError(
        `CredSSP: the delegated credentials are for ${dDomain ? dDomain + '\\' : ''}${dUser}, not the authenticated ` +
          `user ${authed.domain}\\${authed.user}`,
        'policy',
      );
    }
    if (this.opts.verifyDelegatedPassword !== false) {
      const kp = (authed as { kerberosPrincipal?: string }).kerberosPrincipal;
      const entry = this.opts.userDb.lookup(authed.domain, authed.user) ?? (kp ? findPrincipalUser(this.opts.userDb, kp) : undefined);
      if (!entry || entry.password !== pw.password) {
        throw new AccessDeniedError(
          `CredSSP: the delegated password for ${authed.domain}\\${authed.user} does not log on (an interactive logon with it would fail)`,
          'bad-password',
        );
      }
    }
    this.identity = { domain: authed.domain, user: authed.user, logonType: 'interactive', password: pw.password, mechanism: 'credssp' };
    this.state = 'done';
    debug('credssp acceptor: %s\\%s authenticated, credentials delegated (interactive logon)', authed.domain, authed.user);
    channels.auth.publish({
      mechanism: 'credssp',
      event: 'accepted',
      user: `${authed.domain}\\${authed.user}`,
      version: this.selectedVersion,
    });
    return undefined;
  }

  /**
   * MS-CSSP 3.1.5: versions 3, 4 and 6+ report failures in TSRequest.errorCode. The token goes back to the client,
   * then this context is failed (the next step throws).
   */
  private async refuse(status: number, message: string, cause?: unknown): Promise<Uint8Array> {
    const err = cause instanceof AccessDeniedError ? cause : new AccessDeniedError(`CredSSP: ${message}`, 'unknown', { cause });
    this.failure = err;
    const v = Math.min(this.clientVersion || this.ownVersion, this.ownVersion);
    const canSendError = v === 3 || v === 4 || v >= 6;
    if (!canSendError) throw err;
    const out = await this.send({ version: this.ownVersion, errorCode: status });
    this.state = 'failed';
    debug('credssp acceptor: refused (0x%s)', (status >>> 0).toString(16));
    return out;
  }

  /** The error that failed this context, if any (after a refusal token was sent). */
  get error(): Error | undefined {
    return this.failure;
  }

  private async send(m: TSRequest): Promise<Uint8Array> {
    this.pipe.write(TSRequest.encode(m));
    await this.pipe.settle();
    this.checkPipe();
    return this.pipe.takeOutput();
  }

  private checkPipe(): void {
    const e = this.pipe.error;
    if (e) throw new CredSSPError(`TLS inside CredSSP failed: ${e.message}; the client token is not valid TLS`, undefined, { cause: e });
    if (this.pipe.closed && this.state !== 'done') throw new CredSSPError('the CredSSP client closed the TLS channel');
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    return wrapThroughPipe(this.requireComplete(), data);
  }
  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return unwrapThroughPipe(this.requireComplete(), header, data);
  }
  private requireComplete(): TlsPipe {
    if (this.state !== 'done') throw new LocalProtocolError('CredSSP message encryption needs a completed handshake');
    return this.pipe;
  }
}

export type { AuthContext };
