/**
 * CredSSP (MS-CSSP) for WinRM: the mechanism entry for src/auth/registry.ts, both roles.
 * CredSSP hands the user's full password to the target host (it is NOT constrained delegation): the initiator
 * refuses targets outside the `delegateTo` allow-list before producing any token.
 */
import { kerberosAcceptorOptions } from '../kerberos/index.js';
import type { AuthMechanism, InitiatorOptions, AcceptorOptions } from '../types.js';
import type { Credentials } from '../types.js';
import { CredSSPInitiator } from './initiator.js';
import { CredSSPAcceptor } from './acceptor.js';
import { DELEGATE_ENV, parseDelegateList } from './delegation.js';
import type { InnerMechanism } from './inner.js';

export { CredSSPInitiator, CREDSSP_VERSION, CREDSSP_CHUNK_SIZE, CREDSSP_ENCRYPTION_PROTOCOL } from './initiator.js';
export { CredSSPAcceptor } from './acceptor.js';
export { checkDelegation, matchesPattern, parseDelegateList, DELEGATE_ENV } from './delegation.js';
export { ntStatusText } from './ntstatus.js';

export const credsspMechanism: AuthMechanism = {
  protocol: 'credssp',
  httpScheme: 'CredSSP',
  initiator(creds: Credentials, opts: InitiatorOptions) {
    // the allow-list = the option (the CLI puts --delegate-to and the config file there) + WINRM_TS_DELEGATE_TO
    const delegateTo = [...(opts.delegateTo ?? []), ...parseDelegateList(process.env[DELEGATE_ENV])];
    return new CredSSPInitiator({
      credentials: creds,
      targetHost: opts.targetHost,
      delegateTo,
      minVersion: opts.credsspMinVersion,
      spn: opts.spn,
      inner: (opts.credsspInner as InnerMechanism | undefined) ?? 'negotiate',
      ...(opts.kdcSend ? { kdcSend: opts.kdcSend } : {}),
      ...(typeof opts.ntlmRefused === 'function' ? { ntlmRefused: opts.ntlmRefused as (what: string) => Error } : {}),
    });
  },
  acceptor(opts: AcceptorOptions) {
    return new CredSSPAcceptor({
      userDb: opts.userDb,
      serverName: opts.serverName,
      domainName: opts.domainName,
      // Windows uses its own self-signed certificate inside CredSSP, not the HTTPS listener's: so do we
      // (one per process) unless the endpoint explicitly lends one
      tlsCert: opts.credsspCert as string | undefined,
      tlsKey: opts.credsspKey as string | undefined,
      minVersion: opts.credsspMinVersion as number | undefined,
      ...((k) => (k ? { kerberos: k } : {}))(kerberosAcceptorOptions(opts, 'Negotiate')),
    });
  },
};
