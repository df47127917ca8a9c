/**
 * Which local (Unix) account each logon's processes run as — sshd's model after authentication.
 *
 *  - An entry of the users file may name an account (third field, src/server/users.ts). When the endpoint runs as
 *    root, that logon's WinRS commands and pwsh run as the account: uid, gid, supplementary groups, HOME, USER,
 *    LOGNAME, SHELL (src/server/spawn.ts).
 *  - Entries without an account run as the endpoint's own account. That is allowed without a flag only when the
 *    file has one user (a test or demo endpoint); with several users each entry must name an account, or
 *    `singleAccount` (`--single-account`) must be given.
 *  - An endpoint that is not root cannot switch accounts: an entry naming another account refuses the start.
 *
 * `planAccounts` checks all this once at start-up and returns the mapping plus the lines `serve` prints.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { AcceptedIdentity, UserDatabase } from '../auth/types.js';
import { InvalidArgumentError } from '../errors.js';
import { MemoryUserDatabase, type UserRecord } from './users.js';

export interface LocalAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** the endpoint's own account: processes are started without switching */
  own: boolean;
}

/** The account the endpoint itself runs as. */
export function ownAccount(): LocalAccount {
  const u = userInfo();
  return { name: u.username, uid: u.uid, gid: u.gid, home: u.homedir, shell: u.shell || '/bin/sh', own: true };
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function fromPasswdLine(line: string, self: LocalAccount): LocalAccount | undefined {
  const f = line.trim().split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: f[0]!, uid, gid, home: f[5] || '/', shell: f[6] || '/bin/sh', own: uid === self.uid };
}

/** The passwd entry of an account by name: `getent passwd` (NSS: files, LDAP, sssd...), else /etc/passwd. */
export function lookupAccount(name: string, self: LocalAccount = ownAccount()): LocalAccount | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(name)) return undefined;
  let text: string | undefined;
  try {
    text = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch (e) {
    // exit status 2 = no such key; anything else (no getent): read the file
    if ((e as { status?: number }).status === 2) return undefined;
    try {
      text = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${name}:`));
    } catch {
      text = undefined;
    }
  }
  if (!text) return undefined;
  const a = fromPasswdLine(text.split('\n')[0]!, self);
  return a && a.name === name ? a : undefined;
}

/** setpriv (util-linux) switches uid, gid and supplementary groups (initgroups) before exec. */
export function findSetpriv(): string | undefined {
  return ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'].find((p) => existsSync(p));
}

export interface AccountPlan {
  /** the endpoint's own account */
  readonly own: LocalAccount;
  /** the account a logon runs as; undefined = the logon matches no entry and may not share the endpoint's account */
  accountFor(identity: AcceptedIdentity): LocalAccount | undefined;
  /** what `serve` prints at start-up */
  readonly summary: string[];
  /** some logon's processes run as root: `serve` says so loudly */
  readonly rootLogons: boolean;
  /** setpriv's path when some logon switches accounts */
  readonly setpriv?: string;
}

export interface PlanOptions {
  /** every entry without an account shares the endpoint's account, even with several users */
  singleAccount?: boolean;
  /** injected for tests */
  lookup?: (name: string) => LocalAccount | undefined;
  self?: LocalAccount;
  root?: boolean;
  setpriv?: string | undefined;
}

const describe = (a: LocalAccount) => `'${a.name}' (uid ${a.uid})`;
const recName = (r: UserRecord) => r.kerberosPrincipal ?? (r.domain ? `${r.domain}\\${r.user}` : r.user);

/** Check the users database against the rules above; throws InvalidArgumentError with the reason. */
export function planAccounts(db: UserDatabase, o: PlanOptions = {}): AccountPlan {
  const self = o.self ?? ownAccount();
  const root = o.root ?? isRoot();
  const lookup = o.lookup ?? ((n: string) => lookupAccount(n, self));
  if (!(db instanceof MemoryUserDatabase)) {
    // a caller's own database (library use): no mapping, every logon is the endpoint's account
    return {
      own: self,
      accountFor: () => self,
      rootLogons: self.uid === 0,
      summary: [`every logon runs as this endpoint's own account ${describe(self)}`],
    };
  }
  const records = db.users;
  const mapped = new Map<UserRecord, LocalAccount>();
  for (const r of records) {
    if (!r.account) continue;
    const a = lookup(r.account);
    if (!a)
      throw new InvalidArgumentError(
        `users file ${db.where(r)}: ${recName(r)} runs as '${r.account}', but there is no such local account (create it, e.g. ` +
          `\`useradd -r -M ${r.account}\`, or fix the name)`,
      );
    if (!root && a.uid !== self.uid) {
      throw new InvalidArgumentError(
        `users file ${db.where(r)}: ${recName(r)} runs as '${r.account}', but this endpoint runs as ${describe(self)}, not ` +
          `root, and cannot start processes as another account: run serve as root, or remove the account field`,
      );
    }
    mapped.set(r, a.uid === self.uid ? { ...a, own: true } : a);
  }
  const unmapped = records.filter((r) => !r.account);
  // one user may have several entries (password, certificate, Kerberos principal: EXAMPLE\alice and alice@EXAMPLE.TEST
  // are one account, as on Windows); what must not share an OS account is two different users
  const users = new Set(records.map(userIdentity)).size;
  if (users > 1 && unmapped.length && !o.singleAccount) {
    const names = unmapped.slice(0, 3).map(recName).join(', ') + (unmapped.length > 3 ? ` and ${unmapped.length - 3} more` : '');
    throw new InvalidArgumentError(
      `the users file has ${users} users and ${names} name${unmapped.length === 1 ? 's' : ''} no local account: ` +
        `each would run as this endpoint's own account ${describe(self)} and could read the others' processes. Give each entry ` +
        `its own account ` +
        '(DOMAIN\\user:password:account), or pass --single-account to run them all as this account',
    );
  }
  const switching = [...mapped.values()].some((a) => !a.own);
  const setpriv = switching ? ('setpriv' in o ? o.setpriv : findSetpriv()) : undefined;
  if (switching && !setpriv)
    throw new InvalidArgumentError(
      'the users file maps logons to other accounts, but setpriv (util-linux) is not installed: install util-linux',
    );
  const summary: string[] = [];
  if (unmapped.length) {
    summary.push(
      users === 1
        ? `logons of ${recName(unmapped[0]!)} run as this endpoint's own account ${describe(self)}`
        : `${unmapped.length} user${unmapped.length === 1 ? '' : 's'} without an account ` +
            `(${unmapped.map(recName).slice(0, 5).join(', ')}${unmapped.length > 5 ? ', ...' : ''}) share this endpoint's own ` +
            `account ${describe(self)} (--single-account)`,
    );
  }
  for (const [r, a] of mapped)
    summary.push(`logons of ${recName(r)} run as ${describe(a)}${a.own ? " (this endpoint's own account)" : ''}`);
  const rootLogons = (unmapped.length > 0 && self.uid === 0) || [...mapped.values()].some((a) => a.uid === 0);
  return {
    own: self,
    summary,
    rootLogons,
    setpriv,
    accountFor(identity: AcceptedIdentity): LocalAccount | undefined {
      const r = recordFor(db, identity);
      if (r) return mapped.get(r) ?? self;
      // a logon that matches no entry (should not happen: the acceptors check the file) never gets a mapped
      // user's account, and gets the endpoint's own only where unmapped entries may have it
      return unmapped.length && (records.length === 1 || o.singleAccount) ? self : undefined;
    },
  };
}

/** The users-file record a logon came from: the one its acceptor checked (password, principal or certificate). */
export function recordFor(db: MemoryUserDatabase, id: AcceptedIdentity): UserRecord | undefined {
  switch (id.mechanism) {
    case 'kerberos':
      return db.findPrincipal(`${id.user}@${id.domain}`) ?? db.find(id.domain, id.user);
    case 'certificate':
      return db.find(id.domain, id.user);
    default:
      return db.lookup(id.domain, id.user) ?? db.find(id.domain, id.user);
  }
}

/**
 * Who an entry is, for the account rule: DOMAIN\user, lower case. A password entry written as a UPN
 * (`alice@EXAMPLE.TEST:password`) is the realm's short name + user, as a Kerberos-only entry of that principal is.
 */
function userIdentity(r: UserRecord): string {
  const upn = !r.domain ? /^([^@]+)@([^@.]+)/.exec(r.user) : null;
  return upn ? `${upn[2]!.toLowerCase()}\\${upn[1]!.toLowerCase()}` : `${r.domain.toLowerCase()}\\${r.user.toLowerCase()}`;
}
