/**
 * SPNEGO (RFC 4178) with NTLM inside, both roles, as Windows does it (RFC 4178; section 5 for the mechListMIC):
 * the mechListMIC is the NTLM signature over the initiator's mechTypes DER; after both MICs the NTLM RC4 handles
 * are reset while the sequence numbers carry on, so the first sealed WinRM message uses sequence 1.
 * The acceptor also takes a raw NTLMSSP token sent under "Negotiate" (as Windows' WinRM does) and then answers raw.
 */
import { AccessDeniedError, AuthError, LocalProtocolError } from '../../errors.js';
import { bytesEqual } from '../../util/bytes.js';
import { debug } from '../../util/debug.js';
import type { AcceptedIdentity, AcceptorContext, AuthContext, AuthProtocol, StepOptions } from '../types.js';
import { NtlmInitiator, WINRM_ENCRYPTION_PROTOCOL, type NtlmInitiatorOptions } from '../ntlm/initiator.js';
import { NtlmAcceptor, type NtlmAcceptorOptions } from '../ntlm/acceptor.js';
import { isNtlmToken } from '../ntlm/messages.js';
import { KerberosAcceptor, type KerberosAcceptorOptions } from '../kerberos/context.js';
import {
  MechOid,
  NegState,
  decodeNegotiationToken,
  encodeMechTypes,
  encodeNegTokenInit,
  encodeNegTokenResp,
  type NegTokenResp,
} from './tokens.js';

const NEG_STATE_NAMES = ['accept-completed', 'accept-incomplete', 'reject', 'request-mic'];

type InitState = 'initial' | 'init-sent' | 'auth-sent' | 'done';

/** SPNEGO initiator offering NTLM (the `negotiate` protocol, HTTP scheme "Negotiate"). */
export class SpnegoInitiator implements AuthContext {
  readonly protocol: AuthProtocol = 'negotiate';
  readonly httpScheme = 'Negotiate';
  readonly canEncrypt = true;
  readonly encryptionProtocol = WINRM_ENCRYPTION_PROTOCOL;
  private readonly ntlm: NtlmInitiator;
  private state: InitState = 'initial';
  private mechTypesRaw = encodeMechTypes([MechOid.NTLM]);
  /** We sent a mechListMIC and still owe the check of the acceptor's one (then the incoming RC4 reset). */
  private micPending = false;
  /** The acceptor answered with a raw NTLM token: no SPNEGO framing from then on. */
  private raw = false;
  /** NTLM was selected after another mechanism we preferred (RFC 4178 section 5 d): both mechListMICs are required. */
  private micRequired = false;

  constructor(private readonly opts: NtlmInitiatorOptions) {
    this.ntlm = new NtlmInitiator({ ...opts, httpScheme: 'Negotiate' });
  }

  get complete(): boolean {
    return this.state === 'done';
  }
  newContext(): SpnegoInitiator {
    return new SpnegoInitiator(this.opts);
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    return this.stepSync(inToken, opts);
  }

  /**
   * Take over a SPNEGO exchange whose NegTokenInit (`mechTypesRaw`) preferred another mechanism (Kerberos) when the
   * acceptor selects NTLM instead: our NEGOTIATE goes in a NegTokenResp, and the MICs cover that mechTypes list.
   */
  selectedAfter(mechTypesRaw: Uint8Array): Uint8Array {
    if (this.state !== 'initial') throw new LocalProtocolError('SPNEGO: NTLM can only be selected before it started');
    this.mechTypesRaw = mechTypesRaw;
    this.micRequired = true;
    const neg = this.ntlm.stepSync()!;
    this.state = 'init-sent';
    return encodeNegTokenResp({ responseToken: neg });
  }

  stepSync(inToken?: Uint8Array, opts?: StepOptions): Uint8Array | undefined {
    switch (this.state) {
      case 'initial': {
        const neg = this.ntlm.stepSync();
        this.state = 'init-sent';
        return encodeNegTokenInit({ mechTypesRaw: this.mechTypesRaw, mechToken: neg! });
      }
      case 'init-sent': {
        if (!inToken || !inToken.length)
          throw new AuthError('the server answered Negotiate without a token: it may not accept NTLM inside SPNEGO');
        if (isNtlmToken(inToken)) {
          // Some acceptors answer a SPNEGO NegTokenInit with a bare NTLM CHALLENGE: follow them.
          this.raw = true;
          const out = this.ntlm.stepSync(inToken, opts);
          this.state = 'done';
          return out;
        }
        const t = decodeNegotiationToken(inToken);
        if (t.kind !== 'resp') throw new AuthError('the server sent a SPNEGO NegTokenInit where a NegTokenResp was expected');
        this.checkState(t);
        if (t.supportedMech && t.supportedMech !== MechOid.NTLM) {
          throw new AuthError(`the server chose SPNEGO mechanism ${t.supportedMech}; winrm-ts offered only NTLM (${MechOid.NTLM})`);
        }
        if (!t.responseToken) throw new AuthError("the server's SPNEGO NegTokenResp carries no NTLM CHALLENGE");
        const auth = this.ntlm.stepSync(t.responseToken, opts)!;
        const resp: NegTokenResp = { responseToken: auth };
        if (this.ntlm.micSent || this.micRequired || t.negState === NegState.REQUEST_MIC) {
          resp.mechListMIC = this.ntlm.session.sign(this.mechTypesRaw);
          this.ntlm.session.resetHandles('out');
          this.micPending = true;
          this.state = 'auth-sent';
        } else {
          this.state = 'done';
        }
        return encodeNegTokenResp(resp);
      }
      case 'auth-sent': {
        if (!inToken || !inToken.length) throw new AuthError('the server completed Negotiate without its final SPNEGO token');
        const t = decodeNegotiationToken(inToken);
        if (t.kind !== 'resp') throw new AuthError('the server sent a SPNEGO NegTokenInit where its final NegTokenResp was expected');
        this.checkState(t);
        if (t.negState !== undefined && t.negState !== NegState.ACCEPT_COMPLETED) {
          throw new AuthError(`the server's final SPNEGO state is ${NEG_STATE_NAMES[t.negState]}, expected accept-completed`);
        }
        if (!t.mechListMIC || (t.responseToken && bytesEqual(t.mechListMIC, t.responseToken))) {
          throw new AuthError('the server did not send the SPNEGO mechListMIC that NTLM with a MIC requires (downgrade?)');
        }
        this.ntlm.session.verify(this.mechTypesRaw, t.mechListMIC);
        this.ntlm.session.resetHandles('in');
        this.micPending = false;
        this.state = 'done';
        return undefined;
      }
      case 'done':
        if (inToken && inToken.length) {
          // a final token after completion (e.g. repeated on a 200): only harmless if it is an accept-completed
          if (!this.raw) {
            const t = decodeNegotiationToken(inToken);
            if (t.kind === 'resp' && t.negState === NegState.REJECT) throw new AuthError('the server rejected the SPNEGO negotiation');
          }
        }
        return undefined;
    }
  }

  private checkState(t: NegTokenResp): void {
    if (t.negState === NegState.REJECT) {
      throw new AccessDeniedError(`access denied for ${this.opts.credentials.username} (Negotiate/NTLM): the server rejected the logon`);
    }
  }

  /** Sealing may start once our AUTHENTICATE (+ mechListMIC) is out: CredSSP wraps its pubKeyAuth in that same message. */
  private ready(): void {
    if (this.state !== 'done' && this.state !== 'auth-sent')
      throw new LocalProtocolError('Negotiate is not complete: cannot seal or unseal messages yet');
  }

  /** If the acceptor's final token never reached us, account for its MIC (Windows numbering: sequence 0) and reset. */
  private settleIncoming(): void {
    if (this.micPending) {
      debug('spnego: unsealing before the server mechListMIC arrived; assuming Windows numbering (seq 1)');
      this.ntlm.session.skipIncoming();
      this.ntlm.session.resetHandles('in');
      this.micPending = false;
      this.state = 'done';
    }
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    this.ready();
    return this.ntlm.wrapWinrm(data);
  }
  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    this.ready();
    this.settleIncoming();
    return this.ntlm.unwrapWinrm(header, data);
  }
}

type AccState = 'initial' | 'await-mech-token' | 'challenge-sent' | 'done' | 'failed';

/** SPNEGO acceptor with NTLM inside; also answers raw NTLMSSP sent under "Negotiate". */
export class SpnegoAcceptor implements AcceptorContext {
  readonly protocol: AuthProtocol = 'negotiate';
  readonly httpScheme = 'Negotiate';
  readonly canEncrypt = true;
  readonly encryptionProtocol = WINRM_ENCRYPTION_PROTOCOL;
  private readonly ntlm: NtlmAcceptor;
  private state: AccState = 'initial';
  private mechTypesRaw?: Uint8Array;
  private micRequired = false;
  /** The client spoke raw NTLMSSP: answer raw. */
  raw = false;
  /** Kerberos chosen (the client's preferred mechanism, with a keytab configured) */
  private krb?: KerberosAcceptor;

  constructor(private readonly opts: NtlmAcceptorOptions & { kerberos?: KerberosAcceptorOptions }) {
    this.ntlm = new NtlmAcceptor({ ...opts, httpScheme: 'Negotiate' });
  }

  get complete(): boolean {
    return this.state === 'done';
  }
  get identity(): AcceptedIdentity | undefined {
    return this.krb ? this.krb.identity : this.ntlm.identity;
  }
  newContext(): SpnegoAcceptor {
    return new SpnegoAcceptor(this.opts);
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    try {
      return this.stepSync(inToken, opts);
    } catch (e) {
      this.state = 'failed';
      throw e;
    }
  }

  stepSync(inToken?: Uint8Array, opts?: StepOptions): Uint8Array | undefined {
    if (!inToken || !inToken.length) throw new AuthError('the Negotiate acceptor got an empty token');
    if (this.state === 'done' || this.state === 'failed')
      throw new AuthError('unexpected Negotiate token: this connection already finished its handshake');
    if (this.raw || (this.state === 'initial' && isNtlmToken(inToken))) {
      this.raw = true;
      const out = this.ntlm.stepSync(inToken, opts);
      if (this.ntlm.complete) this.state = 'done';
      return out;
    }
    const t = decodeNegotiationToken(inToken);
    switch (this.state) {
      case 'initial': {
        if (t.kind !== 'init')
          throw new AuthError('the Negotiate handshake must start with a SPNEGO NegTokenInit (or a raw NTLM NEGOTIATE)');
        const first = t.mechTypes[0];
        if (this.opts.kerberos && (first === MechOid.KRB5 || first === MechOid.MS_KRB5) && t.mechToken) {
          // Kerberos is the client's preferred mechanism and came with its AP-REQ: one round trip (RFC 4178 5 c)
          this.krb = new KerberosAcceptor(this.opts.kerberos);
          const rep = this.krb.stepSync(t.mechToken, opts);
          this.state = 'done';
          return encodeNegTokenResp({ negState: NegState.ACCEPT_COMPLETED, supportedMech: first, ...(rep ? { responseToken: rep } : {}) });
        }
        if (!t.mechTypes.includes(MechOid.NTLM)) {
          throw new AuthError(
            `the client offered no SPNEGO mechanism this endpoint supports ` +
              `(offered ${t.mechTypes.join(', ') || 'none'}; supported: NTLM ${MechOid.NTLM}${
                this.opts.kerberos ? `, ` + `Kerberos ${MechOid.KRB5}` : '; Kerberos needs serve --keytab'
              })`,
          );
        }
        this.mechTypesRaw = t.mechTypesRaw;
        if (t.mechTypes[0] === MechOid.NTLM && t.mechToken) {
          const challenge = this.ntlm.stepSync(t.mechToken, opts)!;
          this.state = 'challenge-sent';
          return encodeNegTokenResp({ negState: NegState.ACCEPT_INCOMPLETE, supportedMech: MechOid.NTLM, responseToken: challenge });
        }
        // NTLM was not the preferred mechanism (RFC 4178 5 d): select it, ignore the optimistic token, require MICs.
        // (NTLM preferred but no optimistic token: just select it.)
        const preferred = t.mechTypes[0] === MechOid.NTLM;
        this.micRequired = !preferred;
        this.state = 'await-mech-token';
        return encodeNegTokenResp({ negState: preferred ? NegState.ACCEPT_INCOMPLETE : NegState.REQUEST_MIC, supportedMech: MechOid.NTLM });
      }
      case 'await-mech-token': {
        if (t.kind !== 'resp' || !t.responseToken) throw new AuthError('expected a SPNEGO NegTokenResp carrying the NTLM NEGOTIATE');
        const challenge = this.ntlm.stepSync(t.responseToken, opts)!;
        this.state = 'challenge-sent';
        return encodeNegTokenResp({ negState: NegState.ACCEPT_INCOMPLETE, responseToken: challenge });
      }
      case 'challenge-sent': {
        if (t.kind !== 'resp' || !t.responseToken) throw new AuthError('expected a SPNEGO NegTokenResp carrying the NTLM AUTHENTICATE');
        this.ntlm.stepSync(t.responseToken, opts);
        const mic = t.mechListMIC && !bytesEqual(t.mechListMIC, t.responseToken) ? t.mechListMIC : undefined;
        if (!mic) {
          if (this.ntlm.micReceived || this.micRequired) {
            throw new AuthError('the client did not send the SPNEGO mechListMIC that its NTLM MIC requires (downgrade?)');
          }
          this.state = 'done';
          return encodeNegTokenResp({ negState: NegState.ACCEPT_COMPLETED });
        }
        this.ntlm.session.verify(this.mechTypesRaw!, mic);
        this.ntlm.session.resetHandles('in');
        const ours = this.ntlm.session.sign(this.mechTypesRaw!);
        this.ntlm.session.resetHandles('out');
        this.state = 'done';
        return encodeNegTokenResp({ negState: NegState.ACCEPT_COMPLETED, mechListMIC: ours });
      }
    }
    throw new LocalProtocolError(`SPNEGO acceptor in state ${this.state}`);
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    return (this.krb ?? this.ntlm).wrapWinrm(data);
  }
  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return (this.krb ?? this.ntlm).unwrapWinrm(header, data);
  }
}
