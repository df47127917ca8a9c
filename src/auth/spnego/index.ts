/**
 * The `negotiate` mechanism for src/auth/registry.ts: SPNEGO (RFC 4178) with NTLM inside, HTTP scheme "Negotiate".
 * The acceptor also takes raw NTLMSSP under "Negotiate" (pywinrm, pypsrp auth=ntlm), as Windows does.
 */
import type { AuthMechanism } from '../registry.js';
import { ntlmAcceptorOptions, ntlmInitiatorOptions } from '../ntlm/index.js';
import { SpnegoAcceptor, SpnegoInitiator } from './context.js';

export { SpnegoAcceptor, SpnegoInitiator } from './context.js';

export const negotiateMechanism: AuthMechanism = {
  protocol: 'negotiate',
  httpScheme: 'Negotiate',
  initiator: (creds, opts) => new SpnegoInitiator(ntlmInitiatorOptions(creds, opts)),
  acceptor: (opts) => new SpnegoAcceptor(ntlmAcceptorOptions(opts)),
};
