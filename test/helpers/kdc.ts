/**
 * Starts a private MIT KDC (scripts/kdc-start.sh) for a test file: realm EXAMPLE.TEST on a free loopback port,
 * alice/bob with password Passw0rd!, HTTP/localhost in http.keytab. `kdcSkip` follows the peers rules.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, hasCommand, peerSkip } from './peers.js';

export const kdcSkip = () =>
  peerSkip(
    'MIT krb5 KDC (krb5-kdc krb5-admin-server krb5-user)',
    hasCommand('krb5kdc') && hasCommand('kadmin.local') && hasCommand('kinit'),
  );

export interface Kdc {
  dir: string;
  port: number;
  env: Record<string, string>;
  krb5Conf: string;
  httpKeytab: string;
  aliceKeytab: string;
  stop(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export async function startKdc(
  o: {
    udpLimit?: number;
    enctypes?: string;
    libdefaults?: string;
    /** another realm name than EXAMPLE.TEST */
    realm?: string;
    /** realms this one trusts both ways (krbtgt/OTHER@THIS and krbtgt/THIS@OTHER, the same password in both KDCs) */
    trust?: string[];
    /** extra [domain_realm] lines of the KDC's krb5.conf (it answers referrals for those hosts) */
    domainRealm?: string;
  } = {},
): Promise<Kdc> {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-kdc-'));
  const port = await freePort();
  const w = join(dir, 'krb');
  execFileSync('bash', [join(PROJECT_ROOT, 'scripts', 'kdc-start.sh'), w], {
    env: {
      ...process.env,
      KDC_PORT: String(port),
      ...(o.udpLimit !== undefined ? { UDP_LIMIT: String(o.udpLimit) } : {}),
      ...(o.enctypes ? { ENCTYPES: o.enctypes } : {}),
      ...(o.libdefaults ? { KRB5_LIBDEFAULTS_EXTRA: o.libdefaults } : {}),
      ...(o.realm ? { REALM: o.realm } : {}),
      ...(o.trust ? { TRUST_REALMS: o.trust.join(' ') } : {}),
      ...(o.domainRealm ? { DOMAIN_REALM_EXTRA: o.domainRealm } : {}),
    },
    stdio: 'pipe',
  });
  const pid = Number(readFileSync(join(w, 'kdc.pid'), 'utf8').trim());
  const env = { KRB5_CONFIG: join(w, 'krb5.conf'), KRB5_KDC_PROFILE: join(w, 'kdc.conf'), KRB5CCNAME: `FILE:${join(w, 'ccache')}` };
  return {
    dir: w,
    port,
    env,
    krb5Conf: env.KRB5_CONFIG,
    httpKeytab: join(w, 'http.keytab'),
    aliceKeytab: join(w, 'alice.keytab'),
    stop() {
      try {
        process.kill(pid);
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
