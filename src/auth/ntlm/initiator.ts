/**
 * NTLMv2 initiator (MS-NLMP 3.1.5.1 client): NEGOTIATE -> CHALLENGE -> AUTHENTICATE (with MIC, target-info timestamp,
 * channel bindings), then message sealing. Sans-IO: time and randomness are injected.
 */
import { randomBytes } from 'node:crypto';
import { AuthError, EncryptionError, LocalProtocolError } from '../../errors.js';
import { concatBytes } from '../../util/bytes.js';
import { debug } from '../../util/debug.js';
import type { AuthContext, AuthProtocol, Credentials, StepOptions } from '../types.js';
import { rc4 } from '../../crypto/rc4.js';
import { AvFlags, AvId, NegotiateFlags as F, flagNames, hasFlag } from './flags.js';
import {
  type AvPair,
  avGet,
  decodeChallenge,
  encodeAuthenticate,
  encodeClientChallenge,
  encodeNegotiate,
  MIC_OFFSET,
  type Version,
} from './messages.js';
import { channelBindingsHash, fileTime, hmacMd5, lmv2Response, ntowfv2, ntProofStr, sessionBaseKey } from './crypto.js';
import { credentialHash, ntlmUserFields } from './credentials.js';
import { NtlmSession, SIGNATURE_LENGTH } from './security.js';

/** MS-NLMP NEGOTIATE flags we request (what Windows sends: 0xE20882B7). */
export const INITIATOR_FLAGS =
  (F.NEGOTIATE_56 |
    F.KEY_EXCH |
    F.NEGOTIATE_128 |
    F.VERSION |
    F.EXTENDED_SESSIONSECURITY |
    F.ALWAYS_SIGN |
    F.NTLM |
    F.LM_KEY |
    F.SEAL |
    F.SIGN |
    F.REQUEST_TARGET |
    F.OEM |
    F.UNICODE) >>>
  0;

export const WINRM_ENCRYPTION_PROTOCOL = 'application/HTTP-SPNEGO-session-encrypted';

export interface NtlmInitiatorOptions {
  credentials: Credentials;
  /** Service principal name for MsvAvTargetName, e.g. "HTTP/host.example". */
  spn?: string;
  workstation?: string;
  /** HTTP scheme for raw NTLM tokens: Windows' WinRM takes raw NTLMSSP under "Negotiate" (the default); Apache also offers "NTLM". */
  httpScheme?: 'NTLM' | 'Negotiate';
  version?: Version;
  /** Injected clock (ms since epoch) used only when the server sent no MsvAvTimestamp. */
  now?: () => number;
  /** Injected randomness (client challenge, exported session key). */
  random?: (n: number) => Uint8Array;
}

type State = 'initial' | 'negotiate-sent' | 'done';

export class NtlmInitiator implements AuthContext {
  readonly protocol: AuthProtocol = 'ntlm';
  readonly canEncrypt = true;
  readonly encryptionProtocol = WINRM_ENCRYPTION_PROTOCOL;
  readonly httpScheme: string;
  private state: State = 'initial';
  private negotiateBytes?: Uint8Array;
  private sessionState?: NtlmSession;
  /** True when the AUTHENTICATE carried a MIC (SPNEGO must then exchange mechListMICs). */
  micSent = false;
  /** Negotiated flags (after the CHALLENGE). */
  flags = 0;

  constructor(private readonly opts: NtlmInitiatorOptions) {
    this.httpScheme = opts.httpScheme ?? 'Negotiate';
    credentialHash(opts.credentials); // validate early (hash length)
  }

  get complete(): boolean {
    return this.state === 'done';
  }
  /** The user as the initiator presents it (for error messages). */
  get userDisplay(): string {
    return this.opts.credentials.username;
  }

  get session(): NtlmSession {
    if (!this.sessionState) throw new LocalProtocolError('the NTLM context is not complete yet: no session keys');
    return this.sessionState;
  }

  newContext(): NtlmInitiator {
    return new NtlmInitiator(this.opts);
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    return this.stepSync(inToken, opts);
  }

  stepSync(inToken?: Uint8Array, opts?: StepOptions): Uint8Array | undefined {
    switch (this.state) {
      case 'initial': {
        if (inToken && inToken.length) throw new LocalProtocolError('the NTLM initiator speaks first; it got a token before its NEGOTIATE');
        this.negotiateBytes = encodeNegotiate({ flags: INITIATOR_FLAGS, ...(this.opts.version ? { version: this.opts.version } : {}) });
        this.state = 'negotiate-sent';
        return this.negotiateBytes;
      }
      case 'negotiate-sent': {
        if (!inToken || !inToken.length) throw new AuthError('the server sent no NTLM CHALLENGE (empty token); it may not support NTLM');
        const out = this.authenticate(inToken, opts);
        this.state = 'done';
        return out;
      }
      case 'done':
        if (inToken && inToken.length) throw new AuthError('unexpected NTLM token after the AUTHENTICATE message');
        return undefined;
    }
  }

  private authenticate(challengeBytes: Uint8Array, opts?: StepOptions): Uint8Array {
    const ch = decodeChallenge(challengeBytes);
    const random = this.opts.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
    // The server decides; UNICODE wins over OEM when both are echoed (FreeRDP does that).
    let flags = ch.flags >>> 0;
    if (hasFlag(flags, F.UNICODE)) flags = (flags & ~F.OEM) >>> 0;
    else if (!hasFlag(flags, F.OEM)) throw new AuthError('the NTLM CHALLENGE negotiated neither UNICODE nor OEM strings');
    if (!hasFlag(flags, F.EXTENDED_SESSIONSECURITY)) {
      throw new AuthError(
        'the NTLM server did not agree to extended session security; winrm-ts speaks only NTLMv2 with ESS (check the ' +
          "server's LmCompatibilityLevel)",
      );
    }
    flags = (flags & ~F.LM_KEY) >>> 0; // ESS takes precedence over LM_KEY (MS-NLMP 2.2.2.5)
    this.flags = flags;
    debug('ntlm: CHALLENGE flags %s', flagNames(flags).join('|'));

    const { domain, user } = ntlmUserFields(this.opts.credentials.username);
    const responseKey = ntowfv2(credentialHash(this.opts.credentials), user, domain);

    // Build the AV pairs of the NTLMv2 client challenge from the server's target info (MS-NLMP 3.1.5.1.2).
    const pairs: AvPair[] = ch.targetInfo.filter((p) => p.id !== AvId.Flags && p.id !== AvId.TargetName && p.id !== AvId.ChannelBindings);
    const serverTs = avGet(ch.targetInfo, AvId.Timestamp);
    const useMic = serverTs !== undefined && serverTs.length === 8;
    let avFlags = 0;
    const f = avGet(ch.targetInfo, AvId.Flags);
    if (f && f.length === 4) avFlags = new DataView(f.buffer, f.byteOffset, 4).getUint32(0, true);
    if (useMic) avFlags |= AvFlags.MIC_PRESENT;
    if (avFlags) {
      const v = new Uint8Array(4);
      new DataView(v.buffer).setUint32(0, avFlags >>> 0, true);
      pairs.push({ id: AvId.Flags, value: v });
    }
    if (opts?.channelBindings) pairs.push({ id: AvId.ChannelBindings, value: channelBindingsHash(opts.channelBindings) });
    if (this.opts.spn) pairs.push({ id: AvId.TargetName, value: new Uint8Array(Buffer.from(this.opts.spn, 'utf16le')) });

    const timestamp = useMic ? serverTs : fileTime((this.opts.now ?? Date.now)());
    const clientChallenge = random(8);
    const temp = encodeClientChallenge({ timestamp, clientChallenge, avPairs: pairs });
    const proof = ntProofStr(responseKey, ch.serverChallenge, temp);
    const ntResponse = concatBytes(proof, temp);
    const lmResponse = useMic ? new Uint8Array(24) : lmv2Response(responseKey, ch.serverChallenge, clientChallenge);
    const keyExchangeKey = sessionBaseKey(responseKey, proof);

    let exportedSessionKey = keyExchangeKey;
    let encryptedKey: Uint8Array = new Uint8Array(0);
    if (hasFlag(flags, F.KEY_EXCH) && (hasFlag(flags, F.SIGN) || hasFlag(flags, F.SEAL))) {
      exportedSessionKey = random(16);
      encryptedKey = rc4(keyExchangeKey, exportedSessionKey);
    }

    const msg = encodeAuthenticate({
      flags,
      lmChallengeResponse: lmResponse,
      ntChallengeResponse: ntResponse,
      domainName: domain,
      userName: user,
      workstation: this.opts.workstation ?? '',
      encryptedRandomSessionKey: encryptedKey,
      ...(this.opts.version ? { version: this.opts.version } : {}),
    });
    if (useMic) {
      const mic = hmacMd5(exportedSessionKey, this.negotiateBytes!, challengeBytes, msg);
      msg.set(mic, MIC_OFFSET);
      this.micSent = true;
    }
    this.sessionState = new NtlmSession(exportedSessionKey, flags, 'initiator');
    return msg;
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    const { signature, sealed } = this.session.wrap(data);
    return { header: signature, data: sealed };
  }

  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return unwrapChecked(this.session, header, data);
  }
}

/** Shared by both roles: a WinRM NTLM header must be exactly the 16-byte signature (MS-WSMV 2.2.9.1; MS-NLMP 2.2.2.9). */
export function unwrapChecked(session: NtlmSession, header: Uint8Array, data: Uint8Array): Uint8Array {
  if (header.length !== SIGNATURE_LENGTH) {
    // Some peers put the signature in front of the data with a zero-length header field; accept that form too.
    if (header.length === 0 && data.length >= SIGNATURE_LENGTH)
      return session.unwrap(data.subarray(0, SIGNATURE_LENGTH), data.subarray(SIGNATURE_LENGTH));
    throw new EncryptionError(
      `an NTLM-encrypted WinRM part must carry a ${SIGNATURE_LENGTH}-byte signature header, got ${header.length} bytes`,
    );
  }
  return session.unwrap(header, data);
}
