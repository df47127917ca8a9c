/**
 * The `kerberos` mechanism for src/auth/registry.ts (HTTP scheme "Kerberos", raw GSS tokens, encrypted bodies as
 * application/HTTP-Kerberos-session-encrypted), the SPNEGO-wrapped Kerberos initiator that `negotiate` prefers
 * when a credential is at hand, and the ambient provider (no -u: a ticket in the ccache / a client keytab).
 */
import { AuthError, InvalidTokenError, KerberosError } from '../../errors.js';
import type { AcceptorOptions, AuthMechanism, InitiatorOptions } from '../types.js';
import type { AuthContext, AuthProtocol, Credentials, StepOptions } from '../types.js';
import { MechOid, NegState, decodeNegotiationToken, encodeMechTypes, encodeNegTokenInit, encodeNegTokenResp } from '../spnego/tokens.js';
import {
  KerberosAcceptor,
  KerberosInitiator,
  SPNEGO_ENCRYPTION_PROTOCOL,
  acceptorKeytab,
  kerberosAvailable,
  type KerberosAcceptorOptions,
  type KerberosInitiatorOptions,
} from './context.js';

export { KerberosAcceptor, KerberosInitiator, kerberosAvailable } from './context.js';

export function kerberosInitiatorOptions(
  creds: Credentials | undefined,
  opts: InitiatorOptions,
  httpScheme = 'Kerberos',
): KerberosInitiatorOptions {
  return {
    ...(creds?.username ? { credentials: creds } : {}),
    targetHost: opts.targetHost,
    httpScheme,
    ...(opts.spn ? { spn: opts.spn } : {}),
    ...(opts.kdcSend ? { send: opts.kdcSend } : {}),
    ...(opts.kerberosDelegate ? { delegate: opts.kerberosDelegate === 'always' ? ('always' as const) : true } : {}),
    ...(typeof opts.onWarning === 'function' ? { onWarning: opts.onWarning as (m: string) => void } : {}),
  };
}

/** Acceptor options, or undefined when the endpoint has no keytab (--keytab / KRB5_KTNAME). */
export function kerberosAcceptorOptions(opts: AcceptorOptions, httpScheme = 'Kerberos'): KerberosAcceptorOptions | undefined {
  const kt = acceptorKeytab(typeof opts.keytab === 'string' ? opts.keytab : undefined);
  if (!kt) return undefined;
  return {
    keytab: kt,
    userDb: opts.userDb,
    cbt: opts.cbt ?? 'relaxed',
    httpScheme,
    ...(opts.channelBindings ? { channelBindings: opts.channelBindings } : {}),
  };
}

/**
 * Negotiate (RFC 4178) with Kerberos inside: NegTokenInit{mechTypes [krb5], mechToken AP-REQ}, then the
 * NegTokenResp carrying the AP-REP. When no Kerberos credential works before anything is sent, falls back to the
 * NTLM context (`fallback`) unless that is refused (--no-ntlm-fallback).
 */
export class SpnegoKerberosInitiator implements AuthContext {
  readonly protocol: AuthProtocol = 'negotiate';
  readonly httpScheme = 'Negotiate';
  readonly canEncrypt = true;
  readonly encryptionProtocol = SPNEGO_ENCRYPTION_PROTOCOL;
  private readonly krb: KerberosInitiator;
  private inner?: AuthContext;
  private readonly mechTypesRaw: Uint8Array;
  private state: 'initial' | 'sent' | 'done' = 'initial';

  /**
   * `fallback`: the NTLM context used when Kerberos cannot start. `offerNtlm` (default: with a fallback) also lists
   * NTLM second in the NegTokenInit, so an acceptor without Kerberos can select it mid-handshake (RFC 4178 5 d).
   */
  constructor(
    private readonly kopts: KerberosInitiatorOptions,
    private readonly fallback?: () => AuthContext,
    krb?: KerberosInitiator,
    private readonly offerNtlm = !!fallback,
  ) {
    this.krb = krb ?? new KerberosInitiator({ ...kopts, httpScheme: 'Negotiate' });
    this.mechTypesRaw = encodeMechTypes(offerNtlm ? [MechOid.KRB5, MechOid.NTLM] : [MechOid.KRB5]);
  }
  get complete(): boolean {
    return this.inner ? this.inner.complete : this.state === 'done';
  }
  get displayName(): string | undefined {
    return this.krb.displayName;
  }
  newContext(): SpnegoKerberosInitiator {
    return new SpnegoKerberosInitiator(this.kopts, this.fallback, this.krb.newContext(), this.offerNtlm);
  }

  /** Why the server may have answered our NegTokenInit with a bare 401 (read by the HTTP transport). */
  rejectionHint(): string | undefined {
    if (this.inner || this.state !== 'sent') return undefined;
    const h = this.krb.rejectionHint();
    return h && `${h} (Negotiate${this.offerNtlm ? '' : ' with Kerberos only: NTLM was not offered'})`;
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    if (this.inner) return this.inner.step(inToken, opts);
    switch (this.state) {
      case 'initial': {
        let ap: Uint8Array;
        try {
          ap = (await this.krb.step(undefined, opts))!;
        } catch (e) {
          // no ticket (a KDC error, no KDC, or a KDC reply that is not valid Kerberos): NTLM, if allowed. The server's
          // tokens come later ('sent'): a malformed one there is an InvalidTokenError and never falls back.
          if ((e instanceof KerberosError || e instanceof InvalidTokenError) && this.fallback) {
            (this.kopts.onWarning ?? (() => undefined))(`Kerberos is not possible (${e.message}); falling back to NTLM`);
            this.inner = this.fallback();
            return this.inner.step(inToken, opts);
          }
          if (e instanceof KerberosError && this.kopts.credentials?.password !== undefined) {
            throw new KerberosError(`${e.message} (NTLM fallback refused by --no-ntlm-fallback)`, e.krbErrorCode, { cause: e });
          }
          throw e;
        }
        this.state = 'sent';
        return encodeNegTokenInit({ mechTypesRaw: this.mechTypesRaw, mechToken: ap });
      }
      case 'sent': {
        if (!inToken?.length) throw new KerberosError('the server completed Negotiate without the Kerberos AP-REP');
        const t = decodeNegotiationToken(inToken);
        if (t.kind !== 'resp') throw new AuthError('the server sent a SPNEGO NegTokenInit where a NegTokenResp was expected');
        if (t.negState === NegState.REJECT)
          throw new AuthError(
            'the server rejected Kerberos inside Negotiate: it has no key for the SPN, or does not accept Kerberos; ' +
              'try --auth ntlm, or check --spn',
          );
        if (t.supportedMech === MechOid.NTLM && this.offerNtlm && this.fallback) {
          // the acceptor has no Kerberos (no keytab, no key for the SPN) and selected our second mechanism
          const inner = this.fallback() as AuthContext & { selectedAfter?: (mechTypesRaw: Uint8Array) => Uint8Array };
          if (!inner.selectedAfter) throw new AuthError('the server selected NTLM inside Negotiate, which this context cannot continue');
          (this.kopts.onWarning ?? (() => undefined))(
            'the server does not accept Kerberos (it selected NTLM inside Negotiate); continuing with NTLM. ' +
              'Check that it has a keytab for the SPN, or pass --no-ntlm-fallback to refuse NTLM',
          );
          this.inner = inner;
          return inner.selectedAfter(this.mechTypesRaw);
        }
        if (t.supportedMech && t.supportedMech !== MechOid.KRB5 && t.supportedMech !== MechOid.MS_KRB5) {
          throw new AuthError(`the server chose SPNEGO mechanism ${t.supportedMech} instead of Kerberos; try --auth ntlm`);
        }
        if (!t.responseToken) throw new KerberosError("the server's NegTokenResp carries no AP-REP");
        await this.krb.step(t.responseToken, opts);
        if (t.mechListMIC) this.krb.security!.verifyMic(this.mechTypesRaw, t.mechListMIC);
        this.state = 'done';
        if (t.negState === NegState.ACCEPT_INCOMPLETE || t.negState === NegState.REQUEST_MIC) {
          return encodeNegTokenResp({ mechListMIC: this.krb.security!.getMic(this.mechTypesRaw) });
        }
        return undefined;
      }
      case 'done':
        return undefined;
    }
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    return (this.inner ?? this.krb).wrapWinrm(data);
  }
  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return (this.inner ?? this.krb).unwrapWinrm(header, data);
  }
}

export const kerberosMechanism: AuthMechanism = {
  protocol: 'kerberos',
  httpScheme: 'Kerberos',
  initiator: (creds, opts) => new KerberosInitiator(kerberosInitiatorOptions(creds, opts)),
  acceptor: (opts) => {
    const o = kerberosAcceptorOptions(opts);
    if (!o) throw new KerberosError('the Kerberos acceptor needs the service keytab: serve --keytab FILE (or KRB5_KTNAME)');
    return new KerberosAcceptor(o);
  },
};

/**
 * Ambient Kerberos (no user name given): a ticket in the ccache or a client keytab. For `--auth kerberos` without
 * any, a KerberosError that names the double hop when this process runs in a network logon of `winrm-ts serve`.
 */
export function kerberosAmbientAuth(opts: InitiatorOptions): AuthContext | undefined {
  const mech = typeof opts.mechanism === 'string' ? opts.mechanism.toLowerCase() : undefined;
  if (mech && mech !== 'kerberos' && mech !== 'negotiate') return undefined;
  if (!kerberosAvailable(undefined)) {
    if (mech !== 'kerberos') return undefined;
    const network = process.env.WINRM_TS_LOGON_TYPE === 'network';
    const who = process.env.USERNAME
      ? `${process.env.USERDOMAIN ? process.env.USERDOMAIN + '\\' : ''}${process.env.USERNAME}`
      : 'this user';
    throw new KerberosError(
      network
        ? `no Kerberos ticket here: this process runs in a network logon of ${who} that holds no delegated ` +
            `credentials, so the second hop would be NT AUTHORITY\\ANONYMOUS LOGON. Fix it on the first hop: --auth ` +
            `kerberos --kerberos-delegate (a forwardable TGT: kinit -f), or CredSSP`
        : 'no Kerberos ticket: run kinit (or set KRB5CCNAME), set KRB5_CLIENT_KTNAME to a client keytab, or give -u ' +
            'user@REALM -p PASSWORD; without credentials the request would be NT AUTHORITY\\ANONYMOUS LOGON',
    );
  }
  const k = kerberosInitiatorOptions(undefined, opts, mech === 'kerberos' ? 'Kerberos' : 'Negotiate');
  return mech === 'kerberos' ? new KerberosInitiator(k) : new SpnegoKerberosInitiator(k);
}
