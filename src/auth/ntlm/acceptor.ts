/**
 * NTLMv2 acceptor (MS-NLMP 3.2.5.1 server): NEGOTIATE -> CHALLENGE, then verifies the AUTHENTICATE (NTLMv2 proof,
 * MIC, channel bindings) against a UserDatabase. The logon it produces is a network logon: no reusable credentials.
 */
import { randomBytes } from 'node:crypto';
import { AccessDeniedError, AuthError, LocalProtocolError } from '../../errors.js';
import { bytesEqual, utf16le } from '../../util/bytes.js';
import { debug } from '../../util/debug.js';
import { rc4 } from '../../crypto/rc4.js';
import type { AcceptedIdentity, AcceptorContext, AuthProtocol, ChannelBindings, StepOptions, UserDatabase } from '../types.js';
import { AvFlags, AvId, NegotiateFlags as F, hasFlag } from './flags.js';
import {
  avGet,
  decodeAuthenticate,
  decodeClientChallenge,
  decodeNegotiate,
  encodeChallenge,
  MIC_OFFSET,
  type AvPair,
  type Version,
} from './messages.js';
import { channelBindingsHash, fileTime, hmacMd5, ntHash, ntowfv2, ntProofStr, sessionBaseKey } from './crypto.js';
import { NtlmSession } from './security.js';
import { unwrapChecked, WINRM_ENCRYPTION_PROTOCOL } from './initiator.js';

export type CbtMode = 'none' | 'relaxed' | 'strict';

export interface NtlmAcceptorOptions {
  userDb: UserDatabase;
  /** Channel-binding hardening (Windows CbtHardeningLevel): none | relaxed (check if sent) | strict (must be sent). Default relaxed. */
  cbt?: CbtMode;
  /** NetBIOS domain name: the CHALLENGE TargetName and MsvAvNbDomainName (default "WORKGROUP"). */
  netbiosDomain?: string;
  /** NetBIOS computer name (default "WINRM-TS"). */
  netbiosComputer?: string;
  dnsDomain?: string;
  dnsComputer?: string;
  version?: Version;
  /** The bindings this endpoint expects (tls-server-end-point of its certificate); `step(..., { channelBindings })` overrides. */
  channelBindings?: ChannelBindings;
  /** HTTP scheme this acceptor answers under (default "NTLM"). */
  httpScheme?: string;
  now?: () => number;
  random?: (n: number) => Uint8Array;
}

type State = 'initial' | 'challenge-sent' | 'done' | 'failed';

export class NtlmAcceptor implements AcceptorContext {
  readonly protocol: AuthProtocol = 'ntlm';
  readonly canEncrypt = true;
  readonly encryptionProtocol = WINRM_ENCRYPTION_PROTOCOL;
  readonly httpScheme: string;
  private state: State = 'initial';
  private negotiateBytes?: Uint8Array;
  private challengeBytes?: Uint8Array;
  private serverChallenge?: Uint8Array;
  private sessionState?: NtlmSession;
  identity?: AcceptedIdentity;
  /** True when the AUTHENTICATE carried a MIC (MsvAvFlags 0x2): SPNEGO then requires a mechListMIC. */
  micReceived = false;
  flags = 0;

  constructor(private readonly opts: NtlmAcceptorOptions) {
    this.httpScheme = opts.httpScheme ?? 'NTLM';
  }

  get complete(): boolean {
    return this.state === 'done';
  }
  get session(): NtlmSession {
    if (!this.sessionState) throw new LocalProtocolError('the NTLM acceptor is not complete yet: no session keys');
    return this.sessionState;
  }
  newContext(): NtlmAcceptor {
    return new NtlmAcceptor(this.opts);
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    return this.stepSync(inToken, opts);
  }

  stepSync(inToken?: Uint8Array, opts?: StepOptions): Uint8Array | undefined {
    if (!inToken || !inToken.length) throw new AuthError('the NTLM acceptor got an empty token');
    switch (this.state) {
      case 'initial':
        return this.challenge(inToken);
      case 'challenge-sent':
        try {
          this.verify(inToken, opts);
          this.state = 'done';
        } catch (e) {
          this.state = 'failed';
          throw e;
        }
        return undefined;
      case 'done':
      case 'failed':
        throw new AuthError('unexpected NTLM token: this connection already finished its NTLM handshake');
    }
  }

  private challenge(negBytes: Uint8Array): Uint8Array {
    const neg = decodeNegotiate(negBytes);
    const c = neg.flags >>> 0;
    // python3-ntlm-auth (pywinrm) leaves NTLMSSP_NEGOTIATE_NTLM out; Windows answers anyway, and so do we.
    let flags = F.NTLM | F.TARGET_INFO | F.VERSION | F.TARGET_TYPE_DOMAIN;
    flags |= hasFlag(c, F.UNICODE) ? F.UNICODE : F.OEM;
    for (const bit of [
      F.REQUEST_TARGET,
      F.SIGN,
      F.SEAL,
      F.ALWAYS_SIGN,
      F.EXTENDED_SESSIONSECURITY,
      F.NEGOTIATE_128,
      F.NEGOTIATE_56,
      F.KEY_EXCH,
      F.IDENTIFY,
    ]) {
      if (hasFlag(c, bit)) flags |= bit;
    }
    this.flags = flags >>> 0;
    const random = this.opts.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
    const dom = this.opts.netbiosDomain ?? 'WORKGROUP';
    const comp = this.opts.netbiosComputer ?? 'WINRM-TS';
    const pairs: AvPair[] = [
      { id: AvId.NbDomainName, value: utf16le(dom) },
      { id: AvId.NbComputerName, value: utf16le(comp) },
      { id: AvId.DnsDomainName, value: utf16le(this.opts.dnsDomain ?? dom.toLowerCase()) },
      { id: AvId.DnsComputerName, value: utf16le(this.opts.dnsComputer ?? comp.toLowerCase()) },
      { id: AvId.Timestamp, value: fileTime((this.opts.now ?? Date.now)()) },
    ];
    this.serverChallenge = random(8);
    this.negotiateBytes = negBytes;
    this.challengeBytes = encodeChallenge({
      flags: this.flags,
      targetName: dom,
      serverChallenge: this.serverChallenge,
      targetInfo: pairs,
      ...(this.opts.version ? { version: this.opts.version } : {}),
    });
    this.state = 'challenge-sent';
    return this.challengeBytes;
  }

  private verify(authBytes: Uint8Array, opts?: StepOptions): void {
    const auth = decodeAuthenticate(authBytes);
    const who = auth.domainName ? `${auth.domainName}\\${auth.userName}` : auth.userName;
    if (!auth.userName && auth.ntChallengeResponse.length === 0) {
      throw new AccessDeniedError(
        'access denied for NT AUTHORITY\\ANONYMOUS LOGON (NTLM): anonymous logons are not accepted; give a user name and password',
        'anonymous',
      );
    }
    if (auth.ntChallengeResponse.length <= 24) {
      throw new AccessDeniedError(
        `access denied for ${who} (NTLM): only NTLMv2 responses are accepted, the client sent NTLMv1 (raise its LmCompatibilityLevel)`,
        'policy',
      );
    }
    const proof = auth.ntChallengeResponse.subarray(0, 16);
    const temp = auth.ntChallengeResponse.subarray(16);
    const cc = decodeClientChallenge(temp);

    const entry = this.lookup(auth.domainName, auth.userName);
    const denied = () => new AccessDeniedError(`access denied for ${who} (NTLM): the user name or password is incorrect`, 'bad-password');
    if (!entry) {
      debug('ntlm acceptor: unknown user %s', who);
      throw denied();
    }
    const key = ntowfv2(ntHash(entry.password), auth.userName, auth.domainName);
    const expected = ntProofStr(key, this.serverChallenge!, temp);
    if (!bytesEqual(expected, proof)) {
      debug('ntlm acceptor: NTLMv2 proof mismatch for %s', who);
      throw denied();
    }

    const keyExchangeKey = sessionBaseKey(key, proof);
    let flags = auth.flags >>> 0;
    // The client's AUTHENTICATE flags must not add what the CHALLENGE did not offer.
    flags = (flags & this.flags) >>> 0;
    let exportedSessionKey = keyExchangeKey;
    if (hasFlag(flags, F.KEY_EXCH) && (hasFlag(flags, F.SIGN) || hasFlag(flags, F.SEAL))) {
      if (auth.encryptedRandomSessionKey.length !== 16)
        throw new AuthError(
          `NTLM AUTHENTICATE negotiated key exchange but carries a ${auth.encryptedRandomSessionKey.length}-byte session key (expected 16)`,
        );
      exportedSessionKey = rc4(keyExchangeKey, auth.encryptedRandomSessionKey);
    }

    // MIC (MS-NLMP 3.2.5.1.2): required when MsvAvFlags says it is present.
    const avf = avGet(cc.avPairs, AvId.Flags);
    const avFlags = avf && avf.length === 4 ? new DataView(avf.buffer, avf.byteOffset, 4).getUint32(0, true) : 0;
    if (avFlags & AvFlags.MIC_PRESENT) {
      if (!auth.mic) throw new AuthError(`NTLM AUTHENTICATE from ${who} announces a MIC but has no room for it`);
      const zeroed = authBytes.slice();
      zeroed.fill(0, MIC_OFFSET, MIC_OFFSET + 16);
      const mic = hmacMd5(exportedSessionKey, this.negotiateBytes!, this.challengeBytes!, zeroed);
      if (!bytesEqual(mic, auth.mic))
        throw new AccessDeniedError(
          `access denied for ${who} (NTLM): the message integrity code (MIC) does not verify; the NTLM messages were altered in transit`,
          'mic',
        );
      this.micReceived = true;
    }

    // Channel bindings (Extended Protection): an all-zero value means "not provided" (MS-NLMP 3.2.5.1.2).
    const mode = this.opts.cbt ?? 'relaxed';
    const cbSent = avGet(cc.avPairs, AvId.ChannelBindings);
    const provided = cbSent !== undefined && cbSent.some((b) => b !== 0);
    const expectCb = opts?.channelBindings ?? this.opts.channelBindings;
    if (mode !== 'none' && expectCb) {
      const want = channelBindingsHash(expectCb);
      if (provided && !bytesEqual(cbSent!, want)) {
        throw new AccessDeniedError(
          `access denied for ${who} (NTLM): the channel binding token does not match this TLS channel (a ` +
            `TLS-intercepting proxy in between?)`,
          'channel-binding',
        );
      }
      if (!provided && mode === 'strict') {
        throw new AccessDeniedError(
          `access denied for ${who} (NTLM): the server requires channel binding (CBT hardening strict) and the client ` +
            `sent none; use a client that supports Extended Protection`,
          'channel-binding',
        );
      }
    }

    this.flags = flags;
    if (hasFlag(flags, F.EXTENDED_SESSIONSECURITY)) this.sessionState = new NtlmSession(exportedSessionKey, flags, 'acceptor');
    this.identity = { domain: entry.domain, user: entry.user, logonType: 'network', mechanism: 'ntlm' };
    debug('ntlm acceptor: %s\\%s authenticated (network logon)', entry.domain, entry.user);
  }

  /** `DOMAIN\user`; a UPN (`user@domain`, empty domain); or a domain that is this machine / its NetBIOS domain. */
  private lookup(domain: string, user: string): ReturnType<UserDatabase['lookup']> {
    const db = this.opts.userDb;
    let e = db.lookup(domain, user);
    if (e) return e;
    if (!domain && user.includes('@')) {
      const at = user.lastIndexOf('@');
      e = db.lookup(user.slice(at + 1), user.slice(0, at));
      if (e) return e;
      const dot = user.slice(at + 1).split('.')[0]!;
      e = db.lookup(dot, user.slice(0, at));
      if (e) return e;
    }
    const local = [this.opts.netbiosDomain ?? 'WORKGROUP', this.opts.netbiosComputer ?? 'WINRM-TS', '.', ''];
    if (local.some((d) => d.toLowerCase() === domain.toLowerCase())) {
      for (const d of local) {
        if (d !== domain) {
          e = db.lookup(d, user);
          if (e) return e;
        }
      }
    }
    return undefined;
  }

  get canSeal(): boolean {
    return this.sessionState !== undefined;
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    const { signature, sealed } = this.session.wrap(data);
    return { header: signature, data: sealed };
  }

  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return unwrapChecked(this.session, header, data);
  }
}
