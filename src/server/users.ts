/**
 * The endpoint's users file. One logon per line; `#` comments and blank lines are ignored:
 *
 *   DOMAIN\user:password[:account]            password logon (NTLM, Negotiate, Basic, CredSSP)
 *   user:password[:account]                   the same, in the endpoint's own domain (any domain matches)
 *   DOMAIN\user:cert:<upn-or-email>[:account] certificate-mapped logon (no password)
 *   user@REALM:*[:account]                    Kerberos-only principal (no password)
 *
 * Fields are separated by ':'. In the password field `\:` stands for a colon and `\\` for a backslash (any other
 * backslash is literal), so a password with a colon is written `pa\:ss`; the words `cert` and `*` in the second
 * field are keywords (a password that is exactly `cert` or `*` is not possible). `account` is the local Unix
 * account the logon's processes run as (see src/server/accounts.ts); without it they run as the endpoint's own
 * account. Lookup is case-insensitive on domain and user; an empty domain (or ".") matches any domain (Windows'
 * local-account form). Passwords stay in memory only; the file itself must be private (`loadUsersFile` refuses a
 * group/world-accessible file, as sshd does with host keys).
 */
import { readFileSync, statSync } from 'node:fs';
import type { UserDatabase } from '../auth/types.js';
import { InvalidArgumentError } from '../errors.js';

export interface UserRecord {
  domain: string;
  user: string;
  /** absent for certificate-mapped and Kerberos-only logons: password acceptors never match such a record */
  password?: string;
  /** the local Unix account this logon runs as (absent: the endpoint's own account) */
  account?: string;
  /** certificate-mapped logon: the UPN or e-mail address the client certificate must carry */
  certName?: string;
  /** Kerberos-only logon: the principal as written, `user@REALM` */
  kerberosPrincipal?: string;
}

/** A record that can be checked against a password (what NTLM, Basic and CredSSP acceptors may see). */
export type PasswordRecord = UserRecord & { password: string };

/** Unix account names as useradd accepts them (plus upper case, as NSS sources allow), at most 32 characters. */
export const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,30}\$?$/;

export class MemoryUserDatabase implements UserDatabase {
  private readonly byKey = new Map<string, UserRecord>();
  private readonly withPassword = new Map<string, PasswordRecord>();
  private readonly lines = new Map<UserRecord, number>();
  constructor(
    readonly users: UserRecord[],
    readonly defaultDomain = users[0]?.domain || 'WORKGROUP',
    lines?: number[],
  ) {
    users.forEach((u, i) => {
      const k = `${u.domain.toLowerCase()}\\${u.user.toLowerCase()}`;
      if (!this.byKey.has(k)) this.byKey.set(k, u);
      if (u.password !== undefined && !this.withPassword.has(k)) this.withPassword.set(k, u as PasswordRecord);
      if (lines?.[i] !== undefined) this.lines.set(u, lines[i]!);
    });
  }

  /** The record a password logon checks against (records without a password are never returned). */
  lookup(domain: string, user: string): PasswordRecord | undefined {
    return find(
      this.withPassword,
      this.users.filter((r): r is PasswordRecord => r.password !== undefined),
      domain,
      user,
    );
  }

  /** Any record for DOMAIN\user (password, certificate or Kerberos). */
  find(domain: string, user: string): UserRecord | undefined {
    return find(this.byKey, this.users, domain, user);
  }

  /** The Kerberos-only record of a principal (`user@REALM`, case-insensitive). */
  findPrincipal(principal: string): UserRecord | undefined {
    const p = principal.toLowerCase();
    return this.users.find((r) => r.kerberosPrincipal?.toLowerCase() === p);
  }

  /** The certificate-mapped record whose name (UPN or e-mail) is `name` (case-insensitive). */
  findCertificate(name: string): UserRecord | undefined {
    const n = name.toLowerCase();
    return this.users.find((r) => r.certName?.toLowerCase() === n);
  }

  /** UserDatabase: the user a client certificate name (SAN UPN / e-mail) maps to. */
  lookupCertificate(name: string): UserRecord | undefined {
    return this.findCertificate(name);
  }

  /** "line N" of the file the record came from (for start-up messages). */
  where(r: UserRecord): string {
    const n = this.lines.get(r);
    return n ? `line ${n}` : 'entry';
  }
}

function find<R extends UserRecord>(byKey: Map<string, R>, all: R[], domain: string, user: string): R | undefined {
  const d = domain.toLowerCase();
  const u = user.toLowerCase();
  if (d && d !== '.') {
    const hit = byKey.get(`${d}\\${u}`);
    if (hit) return hit;
    // "EXAMPLE.COM" style DNS domain names: compare the first label with the NetBIOS name
    const first = d.split('.')[0]!;
    return first !== d ? byKey.get(`${first}\\${u}`) : undefined;
  }
  return all.find((r) => r.user.toLowerCase() === u);
}

/** Split a line at colons that are not escaped; `\:` and `\\` are unescaped, other backslashes kept. */
export function splitFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && (line[i + 1] === ':' || line[i + 1] === '\\')) {
      cur += line[++i];
      continue;
    }
    if (c === ':') {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

const FORMS = 'DOMAIN\\user:password[:account], DOMAIN\\user:cert:<upn-or-email>[:account] or user@REALM:*[:account]';

export function parseUsers(text: string, source = 'users file'): MemoryUserDatabase {
  const users: UserRecord[] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trimStart().replace(/\r$/, '');
    if (!line.trim() || line.startsWith('#')) return;
    const at = `${source} line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new InvalidArgumentError(`${at}: expected ${FORMS}`);
    const name = line.slice(0, colon).trim();
    // the name is taken literally (DOMAIN\user keeps its backslash); escapes apply to the fields after it
    const rest = splitFields(line.slice(colon + 1));
    const bs = name.indexOf('\\');
    let domain = bs >= 0 ? name.slice(0, bs) : '';
    let user = bs >= 0 ? name.slice(bs + 1) : name;
    if (!user) throw new InvalidArgumentError(`${at}: empty user name`);
    const account = (field: string | undefined): { account?: string } => {
      if (field === undefined) return {};
      const a = field.trim();
      if (!ACCOUNT_NAME.test(a)) {
        throw new InvalidArgumentError(
          `${at}: '${a.slice(0, 40)}' is not a local account name (the field after the password names the Unix account the ` +
            `logon runs as; a ':' inside a password is written '\\:')`,
        );
      }
      return { account: a };
    };
    const keyword = rest[0];
    let rec: UserRecord;
    if (keyword === 'cert') {
      if (rest.length < 2 || !rest[1]!.trim())
        throw new InvalidArgumentError(
          `${at}: a certificate mapping needs the certificate's UPN or e-mail: DOMAIN\\user:cert:alice@example.com[:account]`,
        );
      if (rest.length > 3) throw new InvalidArgumentError(`${at}: too many fields (expected DOMAIN\\user:cert:<upn-or-email>[:account])`);
      rec = { domain, user, certName: rest[1]!.trim(), ...account(rest[2]) };
    } else if (keyword === '*') {
      const m = /^([^@\\\s]+)@([^@\\\s]+)$/.exec(name);
      if (!m) throw new InvalidArgumentError(`${at}: a Kerberos-only entry names a principal: user@REALM:*[:account]`);
      if (rest.length > 2) throw new InvalidArgumentError(`${at}: too many fields (expected user@REALM:*[:account])`);
      user = m[1]!;
      domain = m[2]!.split('.')[0]!.toUpperCase();
      rec = { domain, user, kerberosPrincipal: name, ...account(rest[1]) };
    } else {
      if (rest.length > 2)
        throw new InvalidArgumentError(
          `${at}: too many ':' (expected DOMAIN\\user:password[:account]; a ':' inside a password is written '\\:')`,
        );
      rec = { domain, user, password: rest[0]!, ...account(rest[1]) };
    }
    users.push(rec);
    lines.push(i + 1);
  });
  if (!users.length) throw new InvalidArgumentError(`${source} has no users (one ${FORMS} per line)`);
  return new MemoryUserDatabase(users, undefined, lines);
}

/**
 * Refuse a users file that other accounts may read or write (it holds passwords and decides which account each
 * logon runs as), as sshd refuses private keys: mode must be 0600 or stricter and the owner the endpoint's
 * account or root.
 */
export function checkUsersFilePermissions(path: string): void {
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return;
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new InvalidArgumentError(`cannot read the users file ${path}: ${(e as Error).message}`);
  }
  if (st.mode & 0o077) {
    throw new InvalidArgumentError(
      `the users file ${path} is accessible by other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); it holds ` +
        `passwords: run \`chmod 600 ${path}\``,
    );
  }
  const me = process.getuid();
  if (st.uid !== me && st.uid !== 0) {
    throw new InvalidArgumentError(
      `the users file ${path} belongs to uid ${st.uid}, not to this endpoint's account (uid ${me}) or root: whoever owns it ` +
        `decides who logs on as what; run \`chown ${me} ${path}\``,
    );
  }
}

export function loadUsersFile(path: string): MemoryUserDatabase {
  checkUsersFilePermissions(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read the users file ${path}: ${(e as Error).message}`);
  }
  return parseUsers(text, path);
}
