/**
 * HTTP Basic (RFC 7617) as an AuthContext, both roles. Token = UTF-8 "user:password" (the transport base64s it).
 * Per-request: the client sends the same token with every request; the endpoint checks every request.
 * WinRM sends the user as given ("DOMAIN\user", "user@domain" or "user"). Basic logons are interactive and hold the
 * password (kept in memory only: never logged, never put in an error message or a child's environment).
 */
import type { AcceptedIdentity, AcceptorContext, AuthContext, Credentials, UserDatabase } from './types.js';
import type { AcceptorOptions, AuthMechanism, InitiatorOptions } from './types.js';
import { AccessDeniedError, AuthError, EncryptionError, LocalProtocolError } from '../errors.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { fromUtf8, utf8 } from '../util/bytes.js';

/**
 * The account a Basic user name names, for the users file: "DOMAIN\user" and "user@domain" both give the domain
 * and the user ('' domain when absent). (NTLM and CredSSP send the name differently: src/auth/ntlm/credentials.ts.)
 */
export function accountOfUsername(username: string): { domain: string; user: string } {
  const bs = username.indexOf('\\');
  if (bs >= 0) return { domain: username.slice(0, bs), user: username.slice(bs + 1) };
  const at = username.lastIndexOf('@');
  if (at > 0) return { domain: username.slice(at + 1), user: username.slice(0, at) };
  return { domain: '', user: username };
}

abstract class NoEncryption {
  readonly canEncrypt = false;
  async wrapWinrm(): Promise<{ header: Uint8Array; data: Uint8Array }> {
    throw new EncryptionError('Basic authentication cannot encrypt messages; use HTTPS (--https) or Negotiate/CredSSP');
  }
  async unwrapWinrm(): Promise<Uint8Array> {
    throw new EncryptionError('Basic authentication cannot decrypt messages; the server sent an encrypted body');
  }
}

/** RFC 7617 Basic initiator. */
export class BasicInitiator extends NoEncryption implements AuthContext {
  readonly protocol = 'basic' as const;
  readonly httpScheme = 'Basic';
  private done = false;
  constructor(private readonly creds: Credentials) {
    super();
    if (creds.username.includes(':')) throw new AuthError('a Basic user name cannot contain ":"');
  }
  get complete(): boolean {
    return this.done;
  }
  async step(): Promise<Uint8Array> {
    if (this.creds.password === undefined) throw new AuthError('Basic authentication needs a password (an NT hash is not enough)');
    this.done = true;
    return utf8(`${this.creds.username}:${this.creds.password}`);
  }
  newContext(): AuthContext {
    return new BasicInitiator(this.creds);
  }
}

/** RFC 7617 Basic acceptor: checks "user:password" against the user database. */
export class BasicAcceptor extends NoEncryption implements AcceptorContext {
  readonly protocol = 'basic' as const;
  readonly httpScheme = 'Basic';
  private id: AcceptedIdentity | undefined;
  constructor(
    private readonly userDb: UserDatabase,
    private readonly defaultDomain = '',
  ) {
    super();
  }
  get complete(): boolean {
    return this.id !== undefined;
  }
  get identity(): AcceptedIdentity | undefined {
    return this.id;
  }
  async step(inToken?: Uint8Array): Promise<undefined> {
    if (this.id) throw new LocalProtocolError('Basic acceptor already complete');
    if (!inToken) throw new AccessDeniedError('Basic authentication: no credentials were sent', 'anonymous');
    const s = fromUtf8(inToken);
    const colon = s.indexOf(':');
    if (colon < 0) throw new AccessDeniedError('Basic authentication: malformed credentials (no ":")');
    const { domain, user } = accountOfUsername(s.slice(0, colon));
    const password = s.slice(colon + 1);
    const rec = this.userDb.lookup(domain || this.defaultDomain, user);
    if (!rec || !timingSafeStrEq(rec.password, password)) {
      throw new AccessDeniedError(
        `Access is denied: Basic logon failed for ${domain ? `${domain}\\` : ''}${user} (unknown user or wrong password)`,
        'bad-password',
      );
    }
    this.id = { domain: rec.domain, user: rec.user, logonType: 'interactive', password, mechanism: 'basic' };
    return undefined;
  }
  newContext(): AuthContext {
    return new BasicAcceptor(this.userDb, this.defaultDomain);
  }
}

/** Constant-time comparison (hashes first so lengths leak nothing). */
function timingSafeStrEq(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export const basicMechanism: AuthMechanism = {
  protocol: 'basic',
  httpScheme: 'Basic',
  perRequest: true,
  initiator: (creds: Credentials, _opts: InitiatorOptions) => new BasicInitiator(creds),
  acceptor: (opts: AcceptorOptions) => new BasicAcceptor(opts.userDb),
};
