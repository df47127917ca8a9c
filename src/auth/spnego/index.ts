/**
 * The `negotiate` mechanism for src/auth/registry.ts: SPNEGO (RFC 4178) with NTLM inside, HTTP scheme "Negotiate".
 * The acceptor also takes raw NTLMSSP under "Negotiate" (pywinrm, pypsrp auth=ntlm), as Windows does.
 */
import type { AuthMechanism } from '../types.js';
import { ntlmAcceptorOptions, ntlmInitiatorOptions } from '../ntlm/index.js';
import { SpnegoAcceptor, SpnegoInitiator } from './context.js';
import { SpnegoKerberosInitiator, kerberosAcceptorOptions, kerberosAvailable, kerberosInitiatorOptions } from '../kerberos/index.js';

export { SpnegoAcceptor, SpnegoInitiator } from './context.js';

export const negotiateMechanism: AuthMechanism = {
  protocol: 'negotiate',
  httpScheme: 'Negotiate',
  // Kerberos first when a credential for it is at hand (ticket, client keytab, user@REALM with a known KDC),
  // NTLM as the fallback unless `ntlmFallback: false` (--no-ntlm-fallback)
  initiator: (creds, opts) => {
    const ntlm = () => new SpnegoInitiator(ntlmInitiatorOptions(creds, opts));
    const noFallback = opts.ntlmFallback === false;
    // a trusted-hosts policy (src/client/trusted-hosts.ts) that does not trust this host: Kerberos or nothing
    const refused = typeof opts.ntlmRefused === 'function' ? (opts.ntlmRefused as (what: string) => Error) : undefined;
    if (refused) {
      if (!kerberosAvailable(creds)) throw refused('NTLM credentials (Negotiate has no Kerberos credential here)');
      return new SpnegoKerberosInitiator(
        kerberosInitiatorOptions(creds, opts, 'Negotiate'),
        () => {
          throw refused('NTLM credentials (Negotiate could not use Kerberos)');
        },
        undefined,
        false,
      );
    }
    if (!noFallback && !kerberosAvailable(creds)) return ntlm();
    return new SpnegoKerberosInitiator(
      kerberosInitiatorOptions(creds, opts, 'Negotiate'),
      noFallback || creds.password === undefined ? undefined : ntlm,
    );
  },
  acceptor: (opts) => {
    const k = kerberosAcceptorOptions(opts, 'Negotiate');
    return new SpnegoAcceptor({ ...ntlmAcceptorOptions(opts), ...(k ? { kerberos: k } : {}) });
  },
};
