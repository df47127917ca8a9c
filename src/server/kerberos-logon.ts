/**
 * The second hop for any program (on Windows, LSASS serves every program): each logon session of the endpoint gets
 * its own MIT credential cache, and child processes get KRB5CCNAME pointing at it:
 *  - a Kerberos logon with delegation: the forwarded TGT from the client's KRB-CRED;
 *  - a Basic / CredSSP logon (the password was delegated): a TGT from an AS exchange with that password, when a KDC
 *    is known for the user's realm;
 *  - otherwise an empty cache (MIT tools then say "no credentials"; winrm-ts names the double hop), so that the
 *    endpoint's own KRB5CCNAME never leaks into a user's session.
 * The cache lives in a private 0700 directory, is written 0600, and is removed when the session ends. For a logon
 * that runs as another local account, the cache file belongs to that account (its programs read and renew it) and
 * the directory stays the endpoint's (0710, the account's group may enter it), so the endpoint never deletes a
 * directory another account controls.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogonSession } from './logon.js';
import { debug } from '../util/debug.js';
import { encodeCCache } from '../auth/kerberos/ccache.js';
import { getInitialCredential } from '../auth/kerberos/client.js';
import { kdcsForRealm, loadKrb5Config } from '../auth/kerberos/config.js';
import { networkKdc } from '../kdc/network.js';
import { NameType } from '../auth/kerberos/messages.js';

const perSession = new WeakMap<LogonSession, Promise<Record<string, string>>>();

async function prepare(session: LogonSession): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-krb5cc-'));
  session.onClose(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ccache');
  const id = session.identity as typeof session.identity & { delegatedCCache?: Uint8Array };
  if (id.delegatedCCache) {
    writeFileSync(path, id.delegatedCCache, { mode: 0o600 });
  } else if (id.password !== undefined) {
    try {
      const cfg = loadKrb5Config();
      let user = id.user;
      let realm: string | undefined;
      const at = user.lastIndexOf('@');
      if (at > 0) {
        realm = user.slice(at + 1).toUpperCase();
        user = user.slice(0, at);
      } else if (id.domain) {
        const d = id.domain.toUpperCase();
        realm = d.includes('.')
          ? d
          : [cfg.libdefaults.default_realm, ...Object.keys(cfg.realms)].find((r) => r && r.split('.')[0]!.toUpperCase() === d);
      }
      if (realm && kdcsForRealm(cfg, realm).length) {
        const tgt = await getInitialCredential(
          { send: networkKdc({ config: cfg, timeoutMs: 5000 }) },
          { name: { nameType: NameType.PRINCIPAL, nameString: [user] }, realm },
          { password: id.password },
        );
        writeFileSync(path, encodeCCache({ defaultPrincipal: tgt.client, credentials: [tgt] }), { mode: 0o600 });
      }
    } catch (e) {
      debug('kerberos: no TGT for the logon session of %s: %s', session.name, (e as Error).message);
    }
  }
  const acct = session.account;
  if (acct && !acct.own) {
    if (existsSync(path)) chownSync(path, acct.uid, acct.gid);
    chownSync(dir, process.getuid?.() ?? 0, acct.gid);
    chmodSync(dir, 0o710);
  }
  // the machine's Kerberos configuration (what /etc/krb5.conf is for every program on a real host)
  return { KRB5CCNAME: `FILE:${path}`, ...(process.env.KRB5_CONFIG ? { KRB5_CONFIG: process.env.KRB5_CONFIG } : {}) };
}

/** childEnv hook (src/server/logon.ts): KRB5CCNAME for the session's own credential cache. */
export function kerberosLogonEnv(session: LogonSession): Promise<Record<string, string>> {
  let p = perSession.get(session);
  if (!p) {
    p = prepare(session);
    perSession.set(session, p);
  }
  return p;
}
