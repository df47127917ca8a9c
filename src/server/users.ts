/**
 * The endpoint's users file: one `DOMAIN\user:password` per line (`user:password` = domain of the endpoint),
 * `#` comments and blank lines allowed. Lookup is case-insensitive on domain and user; an empty domain (or ".")
 * matches any domain (Windows' local-account form). Passwords stay in memory only.
 */
import { readFileSync } from 'node:fs';
import type { UserDatabase } from '../auth/types.js';
import { InvalidArgumentError } from '../errors.js';

export interface UserRecord {
  domain: string; user: string; password: string;
  /** `DOMAIN\\user:cert:NAME`: a certificate-mapping entry (no password); NAME = the certificate's SAN UPN or e-mail */
  certName?: string;
}

export class MemoryUserDatabase implements UserDatabase {
  private readonly byKey = new Map<string, UserRecord>();
  constructor(readonly users: UserRecord[], readonly defaultDomain = users[0]?.domain || 'WORKGROUP') {
    for (const u of users) if (u.certName === undefined) this.byKey.set(`${u.domain.toLowerCase()}\\${u.user.toLowerCase()}`, u);
  }
  /** The user a client certificate name (SAN UPN / e-mail) maps to. */
  lookupCertificate(name: string): UserRecord | undefined {
    const n = name.toLowerCase();
    return this.users.find((r) => r.certName !== undefined && r.certName.toLowerCase() === n);
  }
  lookup(domain: string, user: string): UserRecord | undefined {
    const d = domain.toLowerCase(); const u = user.toLowerCase();
    if (d && d !== '.') {
      const hit = this.byKey.get(`${d}\\${u}`);
      if (hit) return hit;
      // "EXAMPLE.COM" style DNS domain names: compare the first label with the NetBIOS name
      const first = d.split('.')[0]!;
      return first !== d ? this.byKey.get(`${first}\\${u}`) : undefined;
    }
    return this.users.find((r) => r.certName === undefined && r.user.toLowerCase() === u);
  }
}

export function parseUsers(text: string, source = 'users file'): MemoryUserDatabase {
  const users: UserRecord[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new InvalidArgumentError(`${source} line ${i + 1}: expected DOMAIN\\user:password`);
    const name = line.slice(0, colon);
    const password = raw.trimStart().slice(colon + 1).replace(/\r$/, '');
    const bs = name.indexOf('\\');
    const domain = bs >= 0 ? name.slice(0, bs) : '';
    const user = bs >= 0 ? name.slice(bs + 1) : name;
    if (!user) throw new InvalidArgumentError(`${source} line ${i + 1}: empty user name`);
    const cert = /^cert:([^:]+)/.exec(password);
    if (cert) { users.push({ domain, user, password: '', certName: cert[1]!.trim() }); return; }
    users.push({ domain, user, password });
  });
  if (!users.length) throw new InvalidArgumentError(`${source} has no users (one DOMAIN\\user:password per line)`);
  return new MemoryUserDatabase(users);
}

export function loadUsersFile(path: string): MemoryUserDatabase {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new InvalidArgumentError(`cannot read the users file ${path}: ${(e as Error).message}`); }
  return parseUsers(text, path);
}
