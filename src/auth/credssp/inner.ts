/**
 * The inner authentication of CredSSP (MS-CSSP 3.1.5 step 2): SPNEGO/NTLM contexts from src/auth, and the GSS
 * wrap/unwrap CredSSP needs from them (for NTLM: signature(16) || sealed, no length prefix).
 */
import type { AcceptorContext, AuthContext, Credentials, UserDatabase } from '../types.js';
import { concatBytes } from '../../util/bytes.js';
import { CredSSPError } from '../../errors.js';
import { NtlmInitiator } from '../ntlm/initiator.js';
import { SpnegoAcceptor, SpnegoInitiator } from '../spnego/context.js';
import { SpnegoKerberosInitiator, kerberosAvailable } from '../kerberos/index.js';
import type { KerberosAcceptorOptions } from '../kerberos/context.js';
import type { KdcSend } from '../types.js';

/** A context that may offer GSS-style wrap/unwrap (pyspnego shape); otherwise the WinRM split is used. */
type Gss = AuthContext & {
  wrap?(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  unwrap?(token: Uint8Array): Uint8Array | Promise<Uint8Array>;
};

const NTLM_SIGNATURE_LENGTH = 16;

/** GSS_Wrap with confidentiality (MS-CSSP 3.1.5: "encrypted with the negotiated security context"). */
export async function gssWrap(ctx: AuthContext, data: Uint8Array): Promise<Uint8Array> {
  const g = ctx as Gss;
  if (typeof g.wrap === 'function') return g.wrap(data);
  const w = await ctx.wrapWinrm(data);
  return concatBytes(w.header, w.data);
}

/** GSS_Unwrap; a token that does not verify -> CredSSPError. */
export async function gssUnwrap(ctx: AuthContext, token: Uint8Array, what: string): Promise<Uint8Array> {
  const g = ctx as Gss;
  try {
    if (typeof g.unwrap === 'function') return await g.unwrap(token);
    if (token.length < NTLM_SIGNATURE_LENGTH) throw new CredSSPError(`${what} is too short to be a sealed message`);
    return await ctx.unwrapWinrm(token.subarray(0, NTLM_SIGNATURE_LENGTH), token.subarray(NTLM_SIGNATURE_LENGTH));
  } catch (e) {
    if (e instanceof CredSSPError) throw e;
    throw new CredSSPError(`${what} could not be decrypted or its signature is wrong (${(e as Error).message})`, undefined, { cause: e });
  }
}

export type InnerMechanism = 'negotiate' | 'ntlm';

/** The inner initiator: SPNEGO offering NTLM (what WinRM expects) or raw NTLM (what RDP servers take). */
export function createInnerInitiator(
  kind: InnerMechanism,
  creds: Credentials,
  spn: string,
  o: { kerberos?: boolean; kdcSend?: KdcSend; ntlmRefused?: (what: string) => Error } = {},
): AuthContext {
  if (o.ntlmRefused) {
    // a trusted-hosts policy does not trust this host (src/client/trusted-hosts.ts): Kerberos inside CredSSP, or nothing
    const refused = o.ntlmRefused;
    if (kind === 'ntlm' || o.kerberos === false || !kerberosAvailable(creds))
      throw refused('the password by CredSSP (with NTLM inside: no Kerberos credential here)');
    return new SpnegoKerberosInitiator(
      { credentials: creds, targetHost: spn.split('/')[1] ?? spn, spn, ...(o.kdcSend ? { send: o.kdcSend } : {}) },
      () => {
        throw refused('the password by CredSSP (with NTLM inside: Kerberos was not possible)');
      },
      undefined,
      false,
    );
  }
  if (kind === 'ntlm') return new NtlmInitiator({ credentials: creds, spn });
  const ntlm = () => new SpnegoInitiator({ credentials: creds, spn });
  // Kerberos inside CredSSP when a credential for it is at hand (user@REALM with a configured KDC, or a ticket)
  if (o.kerberos !== false && kerberosAvailable(creds)) {
    return new SpnegoKerberosInitiator(
      { credentials: creds, targetHost: spn.split('/')[1] ?? spn, spn, ...(o.kdcSend ? { send: o.kdcSend } : {}) },
      ntlm,
    );
  }
  return ntlm();
}

/**
 * The inner acceptor takes what Windows takes: SPNEGO, or a raw NTLMSSP token (mstsc, FreeRDP, impacket), which
 * the SPNEGO acceptor answers raw.
 */
export function createInnerAcceptor(
  userDb: UserDatabase,
  serverName: string,
  domainName?: string,
  kerberos?: KerberosAcceptorOptions,
): AcceptorContext {
  return new SpnegoAcceptor({
    userDb,
    netbiosComputer: serverName.toUpperCase().slice(0, 15),
    netbiosDomain: domainName,
    ...(kerberos ? { kerberos } : {}),
  });
}
