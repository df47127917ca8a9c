/**
 * The second hop to a real SMB share with Kerberos: a standalone Samba smbd (no AD join) accepting Kerberos with a
 * dedicated keytab from the MIT KDC, reached by `smbclient --use-kerberos=required` run inside the endpoint's logon
 * session. With --kerberos-delegate the forwarded TGT in the session's ccache gets alice in; without it the
 * session has no ticket and smbclient fails, as a Windows share refuses the double hop.
 * Samba needs, for Kerberos without a domain: `kerberos method = dedicated keytab`, a service ticket without a PAC
 * (MIT KDC: +no_auth_data_required on cifs/HOST; standalone smbd refuses a PAC), a Unix account and passdb entry for
 * the user, and a host name other than "localhost" (smbclient never tries Kerberos to localhost or an IP address).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { hasCommand, peerSkip } from '../helpers/peers.js';
import { runCli } from '../helpers/cli.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';

const root = process.getuid?.() === 0;
const skip =
  kdcSkip() ||
  peerSkip(
    'Samba smbd + smbclient (Debian samba smbclient), run as root (Unix account alice)',
    hasCommand('smbd') && hasCommand('smbclient') && root,
  );
const HOST = 'smb.example.test';
let kdc: Kdc;
let smbPort: number;
let smbDir: string;
let share: string;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
let env: NodeJS.ProcessEnv;

before(async () => {
  if (skip) return;
  kdc = await startKdc();
  const kenv = { ...process.env, ...kdc.env };
  const keytab = join(kdc.dir, 'cifs.keytab');
  execFileSync('kadmin.local', ['-q', `addprinc -randkey +no_auth_data_required cifs/${HOST}`], { env: kenv, stdio: 'ignore' });
  execFileSync('kadmin.local', ['-q', `ktadd -k ${keytab} cifs/${HOST}`], { env: kenv, stdio: 'ignore' });
  smbDir = join(kdc.dir, 'smb');
  for (const d of ['private', 'lock', 'state', 'cache', 'pid', 'log']) mkdirSync(join(smbDir, d), { recursive: true });
  smbPort = await freePort();
  // the share outside the private (0700) work directory, so that alice may enter it
  share = mkdtempSync(join(tmpdir(), 'winrm-ts-smb-'));
  chmodSync(share, 0o755);
  const conf = join(smbDir, 'smb.conf');
  writeFileSync(
    conf,
    [
      '[global]',
      'workgroup = EXAMPLE',
      'realm = EXAMPLE.TEST',
      'server role = standalone server',
      'kerberos method = dedicated keytab',
      `dedicated keytab file = FILE:${keytab}`,
      'interfaces = lo',
      'bind interfaces only = yes',
      `smb ports = ${smbPort}`,
      'disable netbios = yes',
      ...['private', 'lock', 'state', 'cache', 'pid'].map((d) => `${d} ${d === 'private' ? 'dir' : 'directory'} = ${join(smbDir, d)}`),
      `passdb backend = tdbsam:${join(smbDir, 'private', 'passdb.tdb')}`,
      `ncalrpc dir = ${join(smbDir, 'state', 'ncalrpc')}`,
      `log file = ${join(smbDir, 'log', 'log.%m')}`,
      'log level = 3',
      'map to guest = Never',
      'restrict anonymous = 2',
      'server min protocol = SMB2_10',
      'load printers = no',
      'printing = bsd',
      'printcap name = /dev/null',
      'disable spoolss = yes',
      '[secure]',
      `path = ${share}`,
      'read only = yes',
      'guest ok = no',
      'valid users = alice',
      '',
    ].join('\n'),
  );
  try {
    execFileSync('id', ['alice'], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-M', '-s', '/usr/sbin/nologin', 'alice'], { stdio: 'ignore' });
  }
  const uid = Number(execFileSync('id', ['-u', 'alice'], { encoding: 'utf8' }).trim());
  writeFileSync(join(share, 'hello.txt'), 'hello over SMB with Kerberos\n');
  chownSync(share, uid, -1);
  // a passdb entry maps the Kerberos principal to the account (its password is not used by Kerberos logons)
  execFileSync('smbpasswd', ['-c', conf, '-s', '-a', 'alice'], { input: 'Unused-1!\nUnused-1!\n', stdio: ['pipe', 'ignore', 'ignore'] });
  // a daemon in its own session (it signals its whole process group when it stops); its pid in pid/smbd.pid
  execFileSync('smbd', ['-D', '-s', conf], { env: { ...process.env, KRB5_CONFIG: kdc.krb5Conf }, stdio: 'ignore' });
  const net = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(smbPort, '127.0.0.1', () => (s.end(), r(true))).on('error', () => r(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  process.env.KRB5_CONFIG = kdc.krb5Conf; // the endpoint's machine configuration (for the logon sessions' ccaches)
  ep = await startEndpoint({
    auth: ['kerberos'],
    allowUnencrypted: false,
    keytab: kdc.httpKeytab,
    userDb: parseUsers('alice@EXAMPLE.TEST:*\n'),
  });
  env = { ...process.env, ...kdc.env };
  delete env.KRB5_KTNAME;
  delete env.KRB5_CLIENT_KTNAME;
  execFileSync('kinit', ['-f', 'alice@EXAMPLE.TEST'], { env, input: 'Passw0rd!\n', stdio: ['pipe', 'ignore', 'ignore'] });
});
after(async () => {
  await ep?.close();
  if (smbDir) {
    try {
      process.kill(Number(readFileSync(join(smbDir, 'pid', 'smbd.pid'), 'utf8').trim()), 'SIGTERM');
    } catch {
      /* not started, or gone */
    }
  }
  if (share) rmSync(share, { recursive: true, force: true });
  kdc?.stop();
});

const smbclient = ['smbclient', '--use-kerberos=required', '-N', '-I', '127.0.0.1', '-p', '', `//${HOST}/secure`, '-c', 'get hello.txt -'];
const hop = (...flags: string[]) =>
  runCli(
    ['run', '-H', `localhost:${new URL(ep.url).port}`, '--auth', 'kerberos', ...flags, '--', ...smbclient.map((a) => a || String(smbPort))],
    {
      env,
      timeoutMs: 120_000,
    },
  );
const smbLog = () =>
  readdirSync(join(smbDir, 'log'))
    .filter((f) => f.startsWith('log.'))
    .map((f) => readFileSync(join(smbDir, 'log', f), 'utf8'))
    .join('\n');

test('without delegation the logon session has no ticket: smbclient --use-kerberos=required cannot reach the share', { skip }, async () => {
  const r = await hop();
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stdout + r.stderr, /CONNECTION_REFUSED/, 'smbd is up: the failure is the missing ticket');
  assert.doesNotMatch(r.stdout, /hello over SMB/);
  assert.doesNotMatch(smbLog(), /Kerberos ticket principal name is \[alice@EXAMPLE\.TEST\]/);
});

test('with --kerberos-delegate the forwarded TGT takes alice to the Samba share by Kerberos', { skip }, async () => {
  const r = await hop('--kerberos-delegate');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /hello over SMB with Kerberos/);
  assert.match(smbLog(), /Kerberos ticket principal name is \[alice@EXAMPLE\.TEST\]/);
});
