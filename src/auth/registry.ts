/**
 * Authentication registry: protocol -> { initiator, acceptor }. THE seam every mechanism plugs into.
 *
 * The registry imports the mechanisms (one way: their interface, AuthMechanism, lives in ./types.ts).
 * Adding a mechanism = one import + one entry in MECHANISMS below, e.g.
 *   import { ntlmMechanism } from './ntlm/index.js';   ...   ntlm: ntlmMechanism,
 * A mechanism provides:
 *   - httpScheme: the token name in `Authorization:` / `WWW-Authenticate:` ("Basic", "NTLM", "Negotiate", "CredSSP", "Kerberos")
 *   - initiator(creds, opts): a client AuthContext (src/auth/types.ts). The HTTP transport (src/http/) drives `step()`
 *     in its 401 loop and calls `newContext()` when the TCP connection is replaced.
 *   - acceptor(opts): a server AcceptorContext; the endpoint (src/server/) creates one per TCP connection (per request
 *     for `perRequest` mechanisms such as Basic) and reads `identity` once `complete`.
 *   - perRequest: true when every HTTP request carries its own credentials (Basic). Otherwise the mechanism is
 *     connection-bound (NTLM/Negotiate/Kerberos/CredSSP): authenticate once per TCP connection.
 * Options are plain data so that the CLI, the client and the server can pass them through untouched.
 *
 * Ambient auth (no username given): the client facade first asks the endpoint's logon-session credential broker
 * (src/broker/client.ts, "the logged-on user" inside a shell of `winrm-ts serve`), then `ambientAuthProviders` in
 * order (Kerberos single sign-on, then what an application registered with `registerAmbientAuth`); the first that
 * returns a context is used. None → anonymous requests (no Authorization header).
 */
import type { AcceptorContext, AcceptorOptions, AuthContext, AuthMechanism, Credentials, InitiatorOptions } from './types.js';

export type { AcceptorOptions, AuthMechanism, InitiatorOptions } from './types.js';
import { InvalidArgumentError } from '../errors.js';
import { basicMechanism } from './basic.js';
import { certificateMechanism } from './certificate.js';
import { credsspMechanism } from './credssp/index.js';
import { ntlmMechanism } from './ntlm/index.js';
import { negotiateMechanism } from './spnego/index.js';
import { kerberosAmbientAuth, kerberosMechanism } from './kerberos/index.js';

/** The table. Keys are the names used by `--auth`. */
const MECHANISMS: Record<string, AuthMechanism> = {
  basic: basicMechanism,
  certificate: certificateMechanism,
  credssp: credsspMechanism,
  kerberos: kerberosMechanism,
  negotiate: negotiateMechanism,
  ntlm: ntlmMechanism,
};

/** Register (or replace) a mechanism at runtime (tests, plug-ins). Prefer a static entry above. */
export function registerMechanism(name: string, mech: AuthMechanism): void {
  MECHANISMS[name.toLowerCase()] = mech;
}

export function getMechanism(name: string): AuthMechanism | undefined {
  return MECHANISMS[name.toLowerCase()];
}

export function mechanismNames(): string[] {
  return Object.keys(MECHANISMS);
}

/** Find the mechanism for an HTTP scheme token ("Negotiate", "basic", ...). */
export function mechanismForScheme(scheme: string): { name: string; mech: AuthMechanism } | undefined {
  const s = scheme.toLowerCase();
  for (const [name, mech] of Object.entries(MECHANISMS)) if (mech.httpScheme.toLowerCase() === s) return { name, mech };
  return undefined;
}

export function createInitiator(name: string, creds: Credentials, opts: InitiatorOptions): AuthContext {
  const mech = getMechanism(name);
  if (!mech?.initiator) {
    throw new InvalidArgumentError(
      `authentication '${name}' is not available in this build (available: ${mechanismNames()
        .filter((n) => MECHANISMS[n]!.initiator)
        .join(', ')}); try --auth basic over HTTPS`,
    );
  }
  return mech.initiator(creds, opts);
}

export function createAcceptor(name: string, opts: AcceptorOptions): AcceptorContext {
  const mech = getMechanism(name);
  if (!mech?.acceptor)
    throw new InvalidArgumentError(
      `authentication '${name}' has no acceptor in this build (available: ${mechanismNames()
        .filter((n) => MECHANISMS[n]!.acceptor)
        .join(', ')})`,
    );
  return mech.acceptor(opts);
}

/** Whether a context authenticates each request by itself (Basic) rather than once per connection. */
export function isPerRequest(ctx: AuthContext): boolean {
  const m = getMechanism(ctx.protocol);
  return Boolean(m?.perRequest);
}

export type AmbientAuthProvider = (opts: InitiatorOptions) => AuthContext | undefined;
export const ambientAuthProviders: AmbientAuthProvider[] = [];
/** Register a provider of "the logged-on user" credentials (used when no username is given). */
export function registerAmbientAuth(p: AmbientAuthProvider): void {
  ambientAuthProviders.push(p);
}
export function ambientAuth(opts: InitiatorOptions): AuthContext | undefined {
  for (const p of ambientAuthProviders) {
    const c = p(opts);
    if (c) return c;
  }
  return undefined;
}

// Kerberos single sign-on: a ticket in the ccache (KRB5CCNAME) or a client keytab (KRB5_CLIENT_KTNAME)
registerAmbientAuth(kerberosAmbientAuth);
