/**
 * A throw-away MIT Kerberos realm for `winrm-ts demo`: realm EXAMPLE.TEST, its KDC on a free loopback port, in a
 * private temporary directory (nothing in /etc, no DNS). Needs MIT's KDC tools (Debian: krb5-kdc krb5-admin-server);
 * `findRealmTools()` says which are missing so the demo can name the packages instead of failing.
 * Principals: alice (the demo's password, pre-authentication required) and HTTP/localhost (random key,
 * ok-as-delegate) whose key goes to a keytab for the endpoints. The password reaches kadmin.local on its stdin,
 * never in argv or the environment.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const DEMO_REALM = 'EXAMPLE.TEST';
const TOOLS = ['krb5kdc', 'kdb5_util', 'kadmin.local'] as const;
/** where Debian puts the KDC tools (not always on a user's PATH) */
const SBIN = ['/usr/sbin', '/sbin'];

export interface DemoRealm {
  /** KRB5_CONFIG for clients and the endpoints' logon sessions */
  krb5Conf: string;
  /** the keytab of HTTP/localhost (the endpoints' service key) */
  keytab: string;
  /** a credential cache path nobody has written yet (so a caller's own ccache is not used) */
  emptyCcache: string;
  stop(): void;
}

/**
 * The KDC tools missing from PATH (and the usual sbin directories); empty when a realm can be made here.
 * `klist` (krb5-user) is reported too: the demo uses it when present.
 */
export function findRealmTools(): { found: Record<string, string>; missing: string[]; klist?: string } {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN];
  const found: Record<string, string> = {};
  for (const t of TOOLS) {
    for (const d of dirs) {
      const p = join(d, t);
      try {
        accessSync(p, constants.X_OK);
        found[t] = p;
        break;
      } catch {
        /* next */
      }
    }
  }
  const klist = dirs
    .map((d) => join(d, 'klist'))
    .find((p) => {
      try {
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  return { found, missing: TOOLS.filter((t) => !found[t]), klist };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = execFile(file, args, { env, timeout: 30_000 }, (e, _out, err) => {
      if (e) reject(new Error(`${file.split('/').pop()} failed: ${String(err).trim().split('\n').pop() || e.message}`));
      else resolve();
    });
    if (input !== undefined) c.stdin?.end(input);
  });
}

/** Create the realm and start its KDC; `password` becomes alice's. Call stop() to end the KDC and remove the files. */
export async function startDemoRealm(password: string): Promise<DemoRealm> {
  const { found, missing } = findRealmTools();
  if (missing.length) throw new Error(`MIT Kerberos KDC tools not found: ${missing.join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-demo-krb-'));
  let pid: number | undefined;
  const stop = () => {
    if (pid) {
      try {
        process.kill(pid);
      } catch {
        /* gone */
      }
      pid = undefined;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const krb5Conf = join(dir, 'krb5.conf');
    const kdcConf = join(dir, 'kdc.conf');
    writeFileSync(
      krb5Conf,
      [
        '[libdefaults]',
        `  default_realm = ${DEMO_REALM}`,
        '  dns_lookup_kdc = false',
        '  dns_lookup_realm = false',
        '  dns_canonicalize_hostname = false',
        '  rdns = false',
        '  forwardable = true',
        '  udp_preference_limit = 1',
        '[realms]',
        `  ${DEMO_REALM} = {`,
        `    kdc = 127.0.0.1:${port}`,
        '  }',
        '[domain_realm]',
        `  localhost = ${DEMO_REALM}`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      kdcConf,
      [
        '[kdcdefaults]',
        `  kdc_listen = 127.0.0.1:${port}`,
        `  kdc_tcp_listen = 127.0.0.1:${port}`,
        '[realms]',
        `  ${DEMO_REALM} = {`,
        `    database_name = ${join(dir, 'principal')}`,
        `    key_stash_file = ${join(dir, 'stash')}`,
        `    acl_file = ${join(dir, 'kadm5.acl')}`,
        '    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal',
        '    default_principal_flags = +forwardable',
        '  }',
        '[logging]',
        `  kdc = FILE:${join(dir, 'kdc.log')}`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'kadm5.acl'), '');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, KRB5_CONFIG: krb5Conf, KRB5_KDC_PROFILE: kdcConf };
    const keytab = join(dir, 'http.keytab');
    await run(found.kdb5_util!, ['create', '-s', '-r', DEMO_REALM, '-P', randomBytes(12).toString('hex')], env);
    // kadmin.local reads its commands from stdin: the password is never on a command line
    await run(
      found['kadmin.local']!,
      [],
      env,
      [
        `addprinc +requires_preauth -pw ${password} alice`,
        'addprinc -randkey +ok_as_delegate HTTP/localhost',
        `ktadd -k ${keytab} HTTP/localhost`,
        '',
      ].join('\n'),
    );
    const pidFile = join(dir, 'kdc.pid');
    await new Promise<void>((resolve, reject) => {
      const c = spawn(found.krb5kdc!, ['-P', pidFile], { env, stdio: 'ignore' });
      c.once('error', reject);
      c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`krb5kdc exited with ${code}`))));
    });
    for (let i = 0; i < 50 && pid === undefined; i++) {
      try {
        pid = Number(readFileSync(pidFile, 'utf8').trim()) || undefined;
      } catch {
        /* not yet */
      }
      if (pid === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    if (pid === undefined) throw new Error('krb5kdc did not start');
    return { krb5Conf, keytab, emptyCcache: join(dir, 'no-ccache'), stop };
  } catch (e) {
    stop();
    throw e;
  }
}
