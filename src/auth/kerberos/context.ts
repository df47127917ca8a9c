/**
 * Kerberos AuthContexts (src/auth/types.ts) for the registry: the initiator finds credentials the way MIT does
 * (password -> AS exchange; else the ccache of KRB5CCNAME; else the client keytab of KRB5_CLIENT_KTNAME), gets the
 * service ticket for `HTTP/<host>` (or --spn), optionally a forwarded TGT (--kerberos-delegate), and does the
 * AP-REQ/AP-REP; the acceptor checks AP-REQs with the endpoint's keytab and admits only principals listed in the
 * users file. Message encryption: RFC 4121 wrap tokens split the WinRM way (header = the first 16+RRC+16 bytes).
 */
import { KerberosError, LocalProtocolError } from '../../errors.js';
import { debug } from '../../util/debug.js';
import type {
  AcceptedIdentity,
  AcceptorContext,
  AuthContext,
  AuthProtocol,
  ChannelBindings,
  Credentials,
  StepOptions,
  UserDatabase,
} from '../types.js';
import { configBool, loadKrb5Config, realmForHost, kdcsForRealm, type Krb5Config } from './config.js';
import {
  defaultCCacheName,
  encodeCCache,
  readCCache,
  readKeytab,
  samePrincipal,
  storeCredential,
  type Credential,
  type KeytabEntry,
  type Principal,
} from './ccache.js';
import { getInitialCredential, getServiceCredential, principalString, type ClientContext, type KdcSend } from './client.js';
import { NameType, TicketFlags, parsePrincipal, principalText } from './messages.js';
import { acceptApReq, buildApReq, checkApRep, type GssSecurity } from './gss.js';

export const KERBEROS_ENCRYPTION_PROTOCOL = 'application/HTTP-Kerberos-session-encrypted';
export const SPNEGO_ENCRYPTION_PROTOCOL = 'application/HTTP-SPNEGO-session-encrypted';

export interface KerberosInitiatorOptions {
  credentials?: Credentials;
  targetHost: string;
  spn?: string;
  /**
   * --kerberos-delegate: send a forwarded TGT. `true`/'policy' (GSS_C_DELEG_POLICY_FLAG, curl's --delegation policy):
   * only when the KDC marks the service ok-as-delegate; 'always' (--kerberos-delegate-always): regardless.
   */
  delegate?: boolean | 'policy' | 'always';
  onWarning?: (msg: string) => void;
  /** "Kerberos" (raw GSS token) or "Negotiate" (when wrapped by SPNEGO) */
  httpScheme?: string;
  env?: NodeJS.ProcessEnv;
  /** the KDC exchange (src/kdc/network.ts `networkKdc`, injected by the client facade); without it no ticket can be requested */
  send?: KdcSend;
  config?: Krb5Config;
  /** encryption types to ask the KDC for (default: AES first, rc4-hmac last) */
  etypes?: number[];
}

/** The KdcSend of a context created without one: a ticket is needed but nobody gave this layer a way to reach a KDC. */
const noKdc: KdcSend = () =>
  Promise.reject(
    new KerberosError(
      'no KDC transport was given to the Kerberos context (an application that creates it directly passes `send`, ' +
        'e.g. networkKdc() of src/kdc/network.ts)',
    ),
  );

/** A literal IPv4 or IPv6 address (no SPN can name it): the same test as node:net isIP, without the socket module. */
function isIpAddress(host: string): boolean {
  return (
    /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(host) ||
    (host.includes(':') && /^[0-9a-fA-F:.]+(%.+)?$/.test(host.replace(/^\[|\]$/g, '')))
  );
}

/** Resolved tickets, shared by a context and its `newContext()` copies (one AS/TGS per client, not per connection). */
interface TicketCache {
  tgt?: Credential;
  service?: Credential;
  forwarded?: Credential | null;
  warned?: boolean;
}

function userPrincipal(username: string, cfg: Krb5Config): Principal {
  const p = parsePrincipal(username);
  let realm = p.realm;
  if (realm && !username.includes('@')) {
    // DOMAIN\user: the realm whose first label is DOMAIN, else DOMAIN itself
    const dflt = cfg.libdefaults.default_realm;
    const known = [dflt, ...Object.keys(cfg.realms)].filter(Boolean) as string[];
    realm = known.find((r) => r.split('.')[0]!.toUpperCase() === realm!.toUpperCase()) ?? realm.toUpperCase();
  }
  realm ??= cfg.libdefaults.default_realm;
  if (!realm) throw new KerberosError(`no realm for user ${username}: give it as user@REALM, or set default_realm in krb5.conf`);
  return { name: { nameType: NameType.PRINCIPAL, nameString: p.name.nameString }, realm };
}

function validTgt(c: Credential, now: number): boolean {
  return c.server.name.nameString[0] === 'krbtgt' && c.server.name.nameString[1] === c.server.realm && c.endtime.getTime() > now + 60_000;
}

/** A TGT in the ccache (for `username` if given), or undefined. Never touches the network. */
export function ccacheTgt(
  env: NodeJS.ProcessEnv,
  cfg: Krb5Config,
  username?: string,
): { tgt: Credential; cache: Credential[]; name: string } | undefined {
  let cc;
  const name = defaultCCacheName(env, cfg);
  try {
    cc = readCCache(name);
  } catch (e) {
    debug('kerberos: ccache unreadable: %s', (e as Error).message);
    return undefined;
  }
  if (!cc) return undefined;
  const want = username ? userPrincipal(username, cfg) : cc.defaultPrincipal;
  if (!samePrincipal(want, cc.defaultPrincipal)) return undefined;
  const now = Date.now();
  const tgt = cc.credentials.find((c) => validTgt(c, now) && c.server.realm === want.realm) ?? cc.credentials.find((c) => validTgt(c, now));
  return tgt ? { tgt, cache: cc.credentials, name } : undefined;
}

function clientKeytab(env: NodeJS.ProcessEnv, cfg: Krb5Config): KeytabEntry[] | undefined {
  const name = env.KRB5_CLIENT_KTNAME ?? cfg.libdefaults.default_client_keytab_name;
  if (!name) return undefined;
  try {
    return readKeytab(name);
  } catch {
    return undefined;
  }
}

/**
 * Whether Kerberos can be tried without asking anyone (no network): a ticket in the ccache, a client keytab for the
 * user, or a password for a user@REALM whose realm has a KDC in krb5.conf. Negotiate uses it to prefer Kerberos.
 */
export function kerberosAvailable(creds: Credentials | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    const cfg = loadKrb5Config(env);
    if (creds?.username && creds.password !== undefined) {
      if (!creds.username.includes('@')) return false;
      const p = userPrincipal(creds.username, cfg);
      // a KDC from krb5.conf or WINRM_TS_KDC, or DNS SRV discovery switched on explicitly (dns_lookup_kdc = true)
      return kdcsForRealm(cfg, p.realm).length > 0 || !!env.WINRM_TS_KDC || configBool(cfg.libdefaults.dns_lookup_kdc, false);
    }
    if (ccacheTgt(env, cfg, creds?.username)) return true;
    const kt = clientKeytab(env, cfg);
    if (!kt?.length) return false;
    if (!creds?.username) return true;
    const p = userPrincipal(creds.username, cfg);
    return kt.some((e) => samePrincipal(e.principal, p));
  } catch {
    return false;
  }
}

export class KerberosInitiator implements AuthContext {
  readonly protocol: AuthProtocol = 'kerberos';
  readonly httpScheme: string;
  readonly canEncrypt = true;
  readonly encryptionProtocol: string;
  private state: 'initial' | 'sent' | 'done' = 'initial';
  private pending?: ReturnType<typeof buildApReq>['pending'];
  security?: GssSecurity;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    private readonly opts: KerberosInitiatorOptions,
    private readonly tickets: TicketCache = {},
  ) {
    this.httpScheme = opts.httpScheme ?? 'Kerberos';
    this.encryptionProtocol = this.httpScheme === 'Negotiate' ? SPNEGO_ENCRYPTION_PROTOCOL : KERBEROS_ENCRYPTION_PROTOCOL;
    this.env = opts.env ?? process.env;
  }

  get complete(): boolean {
    return this.state === 'done';
  }
  /** the user this context authenticates as (for messages) */
  get displayName(): string | undefined {
    return this.tickets.tgt ? principalString(this.tickets.tgt.client) : this.opts.credentials?.username;
  }
  newContext(): KerberosInitiator {
    return new KerberosInitiator(this.opts, this.tickets);
  }

  /** The SPN as a principal: --spn, else HTTP/<host>; realm from [domain_realm], else the client's realm. */
  servicePrincipal(cfg: Krb5Config, clientRealm: string): Principal {
    const spn = this.opts.spn ?? `HTTP/${this.opts.targetHost}`;
    const p = parsePrincipal(spn);
    if (p.realm) return { name: { nameType: NameType.SRV_INST, nameString: p.name.nameString }, realm: p.realm };
    const host = p.name.nameString[1] ?? this.opts.targetHost;
    const mapped =
      cfg.domainRealm[host.toLowerCase()] ||
      Object.entries(cfg.domainRealm).find(([k]) => k.startsWith('.') && host.toLowerCase().endsWith(k))?.[1];
    return { name: { nameType: NameType.SRV_HST, nameString: p.name.nameString }, realm: mapped ?? clientRealm ?? realmForHost(cfg, host) };
  }

  /** A ticket in the ccache for the SPN: when its realm was only a guess (referrals decide), one of any realm will do. */
  private cachedService(cache: Credential[], cfg: Krb5Config, sp: Principal, now: number): Credential | undefined {
    const host = (sp.name.nameString[1] ?? '').toLowerCase();
    const guessed =
      !parsePrincipal(this.opts.spn ?? '').realm &&
      !cfg.domainRealm[host] &&
      !Object.keys(cfg.domainRealm).some((k) => k.startsWith('.') && host.endsWith(k));
    const names = (a: Principal) => a.name.nameString.join('/') === sp.name.nameString.join('/');
    return cache.find(
      (c) => (samePrincipal(c.server, sp) || (guessed && names(c.server))) && c.endtime.getTime() > now + 60_000 && c.ticket.length > 0,
    );
  }

  private async resolve(signal?: AbortSignal): Promise<void> {
    const t = this.tickets;
    const now = Date.now();
    if (t.service && t.service.endtime.getTime() > now + 60_000 && (!this.opts.delegate || t.forwarded !== undefined)) return;
    const cfg = this.opts.config ?? loadKrb5Config(this.env);
    const ctx: ClientContext = {
      send: this.opts.send ?? noKdc,
      ...(signal ? { signal } : {}),
      ...(this.opts.etypes ? { etypes: this.opts.etypes } : {}),
    };
    const creds = this.opts.credentials;
    let cache: Credential[] = [];
    /** the user's ccache the TGT came from: new service tickets go back into it, as MIT's libraries do */
    let ccName: string | undefined;
    if (!t.tgt || !validTgt(t.tgt, now)) {
      if (creds?.username && creds.password !== undefined) {
        t.tgt = await getInitialCredential(ctx, userPrincipal(creds.username, cfg), { password: creds.password });
      } else {
        const fromCc = ccacheTgt(this.env, cfg, creds?.username);
        if (fromCc) {
          t.tgt = fromCc.tgt;
          cache = fromCc.cache;
          ccName = fromCc.name;
        } else {
          const kt = clientKeytab(this.env, cfg);
          const who = creds?.username ? userPrincipal(creds.username, cfg) : kt?.[0]?.principal;
          if (kt?.length && who) t.tgt = await getInitialCredential(ctx, who, { keytab: kt });
          else {
            throw new KerberosError(
              `no Kerberos credentials${creds?.username ? ` for ${creds.username}` : ''}: no ticket ` +
                `in ${defaultCCacheName(this.env, cfg)} (run kinit${creds?.username ? ' ' + creds.username : ''}), no ` +
                `client keytab (KRB5_CLIENT_KTNAME), and no password (-u user@REALM -p ...)`,
            );
          }
        }
      }
    }
    const tgt = t.tgt!;
    const sp = this.servicePrincipal(cfg, tgt.client.realm);
    const cached = this.cachedService(cache, cfg, sp, now);
    try {
      t.service = cached ?? (await getServiceCredential(ctx, tgt, sp));
      if (!cached && ccName) {
        const why = storeCredential(ccName, t.service);
        if (why) debug('kerberos: service ticket not stored in the ccache: %s', why);
      }
    } catch (e) {
      if (e instanceof KerberosError && e.krbErrorCode === 7 && isIpAddress(this.opts.targetHost) && !this.opts.spn) {
        throw new KerberosError(
          `${e.message}. You connected by IP address (${this.opts.targetHost}): Kerberos needs the host's name, so ` +
            `connect by name or pass --spn HTTP/<hostname>`,
          7,
          { cause: e },
        );
      }
      throw e;
    }
    if (this.opts.delegate && t.forwarded === undefined) {
      t.forwarded = null;
      const warn = (m: string) => {
        if (!t.warned) (this.opts.onWarning ?? ((x: string) => process.stderr.write(`winrm-ts: warning: ${x}\n`)))(m);
        t.warned = true;
      };
      if (!(tgt.flags & TicketFlags.FORWARDABLE)) {
        warn(
          `Kerberos delegation is off: the TGT of ${principalString(tgt.client)} is not forwardable (get one with ` +
            `kinit -f, or forwardable = true in krb5.conf); the second hop will run as ANONYMOUS LOGON`,
        );
      } else {
        if (!(t.service.flags & TicketFlags.OK_AS_DELEGATE)) {
          if (this.opts.delegate !== 'always') {
            warn(
              `Kerberos delegation is off: the KDC does not mark ${principalString(sp)} as trusted for delegation ` +
                `(no ok-as-delegate flag in its ticket), so no TGT was forwarded and the second hop will run as ANONYMOUS LOGON. ` +
                `Fix it on the domain: Set-ADComputer ${sp.name.nameString[1]?.split('.')[0] ?? '<host>'} -TrustedForDelegation $true ` +
                `(or Set-ADAccountControl <service account> -TrustedForDelegation $true; MIT: kadmin modprinc +ok_as_delegate ` +
                `${principalText(sp.name, sp.realm)}), or override with --kerberos-delegate-always`,
            );
            return;
          }
          warn(
            `the KDC does not mark ${principalString(sp)} as trusted for delegation (ok-as-delegate); ` +
              'delegating anyway because --kerberos-delegate-always was given',
          );
        }
        const krbtgt = { name: { nameType: NameType.SRV_INST, nameString: ['krbtgt', tgt.client.realm] }, realm: tgt.client.realm };
        try {
          t.forwarded = await getServiceCredential(ctx, tgt, krbtgt, { forwarded: true });
        } catch (e) {
          warn(`Kerberos delegation failed: ${(e as Error).message}; the second hop will run as ANONYMOUS LOGON`);
        }
      }
    }
  }

  /** Why the server may have answered our AP-REQ with a bare 401 (read by the HTTP transport for its error). */
  rejectionHint(): string | undefined {
    if (this.state !== 'sent' || !this.tickets.service) return undefined;
    const spn = principalString(this.tickets.service.server);
    return (
      `the server rejected the Kerberos ticket of ${principalString(this.tickets.service.client)} for ${spn}: ` +
      `it may not accept Kerberos, have no key for ${spn} (its keytab is missing or outdated), or not admit this principal`
    );
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    switch (this.state) {
      case 'initial': {
        await this.resolve(opts?.signal);
        const b = buildApReq({
          service: this.tickets.service!,
          ...(this.tickets.forwarded ? { forwarded: this.tickets.forwarded } : {}),
          ...(opts?.channelBindings ? { channelBindings: opts.channelBindings } : {}),
        });
        this.pending = b.pending;
        this.state = 'sent';
        return b.token;
      }
      case 'sent': {
        if (!inToken?.length)
          throw new KerberosError('the server completed Kerberos without an AP-REP: mutual authentication is impossible');
        this.security = checkApRep(inToken, this.pending!, this.tickets.service ? principalString(this.tickets.service.server) : undefined);
        this.state = 'done';
        return undefined;
      }
      case 'done':
        return undefined;
    }
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    if (!this.security) throw new LocalProtocolError('Kerberos is not complete: cannot seal messages yet');
    return this.security.wrapWinrm(data);
  }
  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    if (!this.security) throw new LocalProtocolError('Kerberos is not complete: cannot unseal messages yet');
    return this.security.unwrapWinrm(header, data);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Acceptor
// ------------------------------------------------------------------------------------------------------------

export interface KerberosAcceptorOptions {
  keytab: KeytabEntry[];
  userDb: UserDatabase;
  cbt?: 'none' | 'relaxed' | 'strict';
  channelBindings?: ChannelBindings;
  httpScheme?: string;
}

/** Extra facts a Kerberos logon carries (read by the endpoint's logon-session hook). */
export interface KerberosIdentity extends AcceptedIdentity {
  kerberosPrincipal: string;
  /** the delegated (forwarded) TGT as an MIT ccache image; never logged */
  delegatedCCache?: Uint8Array;
}

const replay = new Set<string>();

interface UserRec {
  domain: string;
  user: string;
  password?: string;
  kerberosPrincipal?: string;
  account?: string;
}

/** The users-file entry for a principal: a `kerberosPrincipal` field, or a `user@REALM` line (domain empty). */
export function findPrincipalUser(db: UserDatabase, principal: string): UserRec | undefined {
  const p = principal.toLowerCase();
  const users = (db as { users?: UserRec[] }).users;
  if (Array.isArray(users)) {
    const hit = users.find((r) => r.kerberosPrincipal?.toLowerCase() === p) ?? users.find((r) => !r.domain && r.user.toLowerCase() === p);
    if (hit) return hit;
  }
  const r = db.lookup('', principal) as UserRec | undefined;
  return r && r.user.toLowerCase() === p ? r : undefined;
}

export class KerberosAcceptor implements AcceptorContext {
  readonly protocol: AuthProtocol = 'kerberos';
  readonly httpScheme: string;
  readonly canEncrypt = true;
  readonly encryptionProtocol: string;
  private done = false;
  identity?: KerberosIdentity;
  security?: GssSecurity;

  constructor(private readonly opts: KerberosAcceptorOptions) {
    this.httpScheme = opts.httpScheme ?? 'Kerberos';
    this.encryptionProtocol = this.httpScheme === 'Negotiate' ? SPNEGO_ENCRYPTION_PROTOCOL : KERBEROS_ENCRYPTION_PROTOCOL;
  }
  get complete(): boolean {
    return this.done;
  }
  newContext(): KerberosAcceptor {
    return new KerberosAcceptor(this.opts);
  }

  async step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined> {
    return this.stepSync(inToken, opts);
  }

  stepSync(inToken?: Uint8Array, opts?: StepOptions): Uint8Array | undefined {
    if (this.done) throw new KerberosError('unexpected Kerberos token: this connection already authenticated');
    if (!inToken?.length) throw new KerberosError('the Kerberos acceptor got an empty token');
    const cb = opts?.channelBindings ?? this.opts.channelBindings;
    const mode = this.opts.cbt ?? 'relaxed';
    const a = acceptApReq(inToken, {
      keytab: this.opts.keytab,
      replay,
      ...(cb && mode !== 'none' ? { channelBindings: cb, requireBindings: mode === 'strict' } : {}),
    });
    const principal = principalText(a.client.name, a.client.realm);
    const rec = findPrincipalUser(this.opts.userDb, principal);
    if (!rec)
      throw new KerberosError(
        `Kerberos principal ${principal} is not allowed on this endpoint: add a line "${principal}:*" to the users file`,
      );
    const user = rec.account ?? a.client.name.nameString[0] ?? principal;
    const ccache = a.delegated?.length ? encodeCCache({ defaultPrincipal: a.delegated[0]!.client, credentials: a.delegated }) : undefined;
    this.identity = {
      domain: a.client.realm.split('.')[0]!.toUpperCase(),
      user,
      logonType: 'network',
      mechanism: 'kerberos',
      kerberosPrincipal: principal,
      ...(ccache ? { delegatedCCache: ccache } : {}),
    };
    this.security = a.security;
    this.done = true;
    return a.reply;
  }

  async wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array }> {
    if (!this.security) throw new LocalProtocolError('Kerberos is not complete');
    return this.security.wrapWinrm(data);
  }
  async unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    if (!this.security) throw new LocalProtocolError('Kerberos is not complete');
    return this.security.unwrapWinrm(header, data);
  }
}

/** Keytab of the endpoint: --keytab, else KRB5_KTNAME; read once per path. */
const keytabCache = new Map<string, KeytabEntry[]>();
export function acceptorKeytab(path: string | undefined, env: NodeJS.ProcessEnv = process.env): KeytabEntry[] | undefined {
  const p = path ?? env.KRB5_KTNAME;
  if (!p) return undefined;
  let kt = keytabCache.get(p);
  if (!kt) {
    kt = readKeytab(p);
    keytabCache.set(p, kt);
  }
  return kt;
}
