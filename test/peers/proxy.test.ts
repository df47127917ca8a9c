/**
 * Proxies and jump hosts against real peers:
 * - tinyproxy (Debian) as an HTTP CONNECT proxy: NTLM and CredSSP over HTTPS with channel binding strict end to end,
 *   Negotiate with message encryption over HTTP, proxy Basic authentication (none / wrong / right, the password from
 *   env for the CLI), a proxy's 403 and 5xx reported as the proxy's, HTTPS_PROXY / HTTP_PROXY / NO_PROXY in the CLI;
 * - OpenSSH `ssh -D` against the local sshd peer as a SOCKS5 proxy (socks5:// and socks5h://);
 * - the local sshd as an SSH jump host for PSRP over SSH (`jump`, `ps --ssh --ssh-jump`);
 * - Apache as a CONNECT proxy with mod_auth_gssapi + gss-ntlmssp: NTLM proxy authentication.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConnectError,
  HttpStatusError,
  ProxyError,
  Session,
  connect,
  parseUsers,
  serve,
  toPlain,
  type ConnectOptions,
  type ServerHandle,
} from '../../src/index.js';
import { hasCommand, hasDebPackage, peerSkip } from '../helpers/peers.js';
import { runCli } from '../helpers/cli.js';
import { selfSigned } from '../helpers/server-fixture.js';
import { sshdPresent, startSshd, type SshdPeer, sshSessionOptions } from './fixtures/sshd/sshd.js';

const USER = 'EXAMPLE\\alice';
const PASSWORD = 'Passw0rd!';
const skipTiny = peerSkip('tinyproxy (HTTP CONNECT proxy)', hasCommand('tinyproxy'), 'apt-get install tinyproxy (npm run peers:install)');
const skipSsh = peerSkip(
  'sshd + ssh (SOCKS5 via ssh -D, jump host)',
  sshdPresent() && hasCommand('ssh'),
  'apt-get install openssh-server openssh-client, npm run peers:install, run as root',
);

const work = mkdtempSync(join(tmpdir(), 'winrm-ts-proxy-test-'));
let httpsEp: ServerHandle;
let httpEp: ServerHandle;
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
async function waitPort(port: number, what: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}: ${what()}`);
}

interface Tiny {
  url: string;
  port: number;
  log: () => string;
}
/** A private tinyproxy on a free loopback port; `extra` = more config lines. */
async function tinyproxy(name: string, extra: string[] = []): Promise<Tiny> {
  const port = await freePort();
  const logFile = join(work, `${name}.log`);
  writeFileSync(logFile, '');
  writeFileSync(
    join(work, `${name}.conf`),
    [`Port ${port}`, 'Listen 127.0.0.1', 'Allow 127.0.0.1', `LogFile "${logFile}"`, 'LogLevel Connect', 'MaxClients 20', ...extra].join(
      '\n',
    ) + '\n',
  );
  const p = spawn('tinyproxy', ['-d', '-c', join(work, `${name}.conf`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => {
    out += d;
  });
  p.stderr!.on('data', (d) => {
    out += d;
  });
  children.push(p);
  await waitPort(port, () => out);
  return { url: `http://127.0.0.1:${port}`, port, log: () => readFileSync(logFile, 'utf8') };
}

before(async () => {
  if (skipTiny) return;
  const c = selfSigned();
  httpsEp = await serve({
    listen: '127.0.0.1:0',
    https: true,
    cert: c.cert,
    key: c.key,
    cbt: 'strict',
    userDb: parseUsers(`${USER}:${PASSWORD}\n`),
    auth: ['negotiate', 'credssp'],
    name: 'hostA',
  });
  httpEp = await serve({ listen: '127.0.0.1:0', userDb: parseUsers(`${USER}:${PASSWORD}\n`), auth: ['negotiate'], name: 'hostB' });
});
after(async () => {
  for (const c of children) c.kill();
  await httpsEp?.close();
  await httpEp?.close();
  rmSync(work, { recursive: true, force: true });
});

const viaHttps = (o: Partial<ConnectOptions>) =>
  connect({ host: `127.0.0.1:${httpsEp.port}`, https: true, ca: selfSigned().cert, username: USER, password: PASSWORD, ...o });
const echo = async (o: Partial<ConnectOptions>, https = true): Promise<string> => {
  const c = https ? viaHttps(o) : connect({ host: `127.0.0.1:${httpEp.port}`, username: USER, password: PASSWORD, ...o });
  try {
    const r = await c.exec('echo', ['through']);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    return r.stdout.toString().trim();
  } finally {
    c.close();
  }
};

describe('tinyproxy: HTTP CONNECT', { skip: skipTiny }, () => {
  let tp: Tiny;
  before(async () => {
    tp = await tinyproxy('open');
  });

  test('NTLM over HTTPS with channel binding strict works end to end through the tunnel', async () => {
    assert.equal(await echo({ auth: 'ntlm', proxy: tp.url }), 'through');
    assert.match(tp.log(), new RegExp(`CONNECT.*127\\.0\\.0\\.1:${httpsEp.port}`, 'i'));
  });

  test('CredSSP over HTTPS (TLS inside TLS, pubKeyAuth bound to the host certificate) works through the tunnel', async () => {
    assert.equal(await echo({ auth: 'credssp', delegateTo: ['wsman/127.0.0.1'], proxy: tp.url }), 'through');
  });

  test('Negotiate with message encryption over plain HTTP goes through CONNECT too', async () => {
    const before = (tp.log().match(new RegExp(`127\\.0\\.0\\.1:${httpEp.port}`, 'g')) ?? []).length;
    assert.equal(await echo({ proxy: tp.url }, false), 'through');
    assert.ok((tp.log().match(new RegExp(`127\\.0\\.0\\.1:${httpEp.port}`, 'g')) ?? []).length > before, tp.log());
  });

  test("a closed target port: the proxy's 5xx is reported as the proxy's", async () => {
    const dead = await freePort();
    const c = connect({ host: `127.0.0.1:${dead}`, username: USER, password: PASSWORD, proxy: tp.url });
    try {
      await assert.rejects(c.exec('true'), (e: unknown) => {
        assert.ok(e instanceof ProxyError, String(e));
        assert.ok(!(e instanceof HttpStatusError));
        assert.ok((e as ProxyError).status! >= 500, String((e as ProxyError).status));
        assert.match(
          (e as Error).message,
          new RegExp(`the proxy http://127\\.0\\.0\\.1:${tp.port} refused to connect to 127\\.0\\.0\\.1:${dead}`),
        );
        return true;
      });
    } finally {
      c.close();
    }
  });

  test('a proxy that is not there: ProxyError naming the proxy', async () => {
    const dead = await freePort();
    await assert.rejects(
      echo({ proxy: `http://127.0.0.1:${dead}` }),
      (e: unknown) => e instanceof ProxyError && /could not connect to the proxy/.test((e as Error).message),
    );
  });
});

describe('tinyproxy: access rules and Basic proxy authentication', { skip: skipTiny }, () => {
  let strict: Tiny;
  let authed: Tiny;
  before(async () => {
    strict = await tinyproxy('strict', ['ConnectPort 443']);
    authed = await tinyproxy('authed', ['BasicAuth proxyuser Pr0xy-Secret']);
  });

  test("403 (CONNECT to a port the proxy does not allow) is the proxy's refusal, not the host's", async () => {
    await assert.rejects(echo({ proxy: strict.url }), (e: unknown) => {
      assert.ok(e instanceof ProxyError && !(e instanceof HttpStatusError), String(e));
      assert.equal((e as ProxyError).status, 403);
      assert.match((e as Error).message, /access rules/);
      return true;
    });
  });

  test('407 without credentials says how to give them', async () => {
    await assert.rejects(
      echo({ proxy: authed.url }),
      (e: unknown) => e instanceof ProxyError && e.status === 407 && /requires authentication.*Basic/.test(e.message),
    );
  });

  test('407 with a wrong password: the proxy rejected the credentials (the password is never shown)', async () => {
    await assert.rejects(echo({ proxy: `http://proxyuser:wrong-Guess-2@127.0.0.1:${authed.port}` }), (e: unknown) => {
      // tinyproxy answers 401 here (407 without credentials): both are the proxy's authentication refusal
      assert.ok(e instanceof ProxyError && (e.status === 407 || e.status === 401), String(e));
      assert.match((e as Error).message, /rejected the credentials of proxyuser/);
      assert.doesNotMatch((e as Error).message, /wrong-Guess-2/);
      return true;
    });
  });

  test('the right credentials open the tunnel (NTLM to the host through it)', async () => {
    assert.equal(await echo({ auth: 'ntlm', proxy: `http://proxyuser:Pr0xy-Secret@127.0.0.1:${authed.port}` }), 'through');
  });

  test('CLI: --proxy http://user@host:port with the password from WINRM_PROXY_PASSWORD', async () => {
    const r = await runCli(
      [
        'run',
        '-H',
        `127.0.0.1:${httpEp.port}`,
        '-u',
        USER,
        '--proxy',
        `http://proxyuser@127.0.0.1:${authed.port}`,
        '--',
        'echo',
        'cli-through',
      ],
      { env: { ...process.env, WINRM_PASSWORD: PASSWORD, WINRM_PROXY_PASSWORD: 'Pr0xy-Secret' } },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'cli-through');
  });
});

describe('CLI: HTTPS_PROXY / HTTP_PROXY / NO_PROXY', { skip: skipTiny }, () => {
  let tp: Tiny;
  before(async () => {
    tp = await tinyproxy('env');
  });
  const env = (extra: Record<string, string>) => {
    const e: Record<string, string | undefined> = { ...process.env, WINRM_PASSWORD: PASSWORD };
    for (const k of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY'])
      delete e[k];
    return { ...e, ...extra };
  };
  // tinyproxy logs each request as "Request (file descriptor N): CONNECT host:port HTTP/1.1"
  const connects = () => (tp.log().match(/Request \(file descriptor \d+\): CONNECT /g) ?? []).length;

  test('HTTPS_PROXY is used for an https:// target, and NO_PROXY (IP match) bypasses it', async () => {
    const args = [
      'run',
      '-H',
      `127.0.0.1:${httpsEp.port}`,
      '--https',
      '--ca',
      selfSigned().certFile,
      '-u',
      USER,
      '--',
      'echo',
      'env-https',
    ];
    const n0 = connects();
    const r = await runCli(args, { env: env({ HTTPS_PROXY: tp.url, HTTP_PROXY: 'http://127.0.0.1:1' }) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'env-https');
    const n1 = connects();
    assert.ok(n1 > n0, 'the proxy saw no CONNECT');
    const direct = await runCli(args, { env: env({ https_proxy: tp.url, NO_PROXY: 'example.test, 127.0.0.1' }) });
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(connects(), n1, 'NO_PROXY did not bypass the proxy');
  });

  test('http_proxy (lower case) is used for an http:// target; --noproxy "*" bypasses it', async () => {
    const args = ['run', '-H', `127.0.0.1:${httpEp.port}`, '-u', USER, '--', 'echo', 'env-http'];
    const n0 = connects();
    const r = await runCli(args, { env: env({ http_proxy: tp.url }) });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(connects() > n0);
    const n1 = connects();
    const d = await runCli([...args.slice(0, 5), '--noproxy', '*', ...args.slice(5)], { env: env({ http_proxy: tp.url }) });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(connects(), n1);
  });
});

describe('SOCKS5 (OpenSSH ssh -D) and an SSH jump host (the local sshd)', { skip: skipTiny || skipSsh }, () => {
  let peer: SshdPeer;
  let socksPort: number;
  let sshOut = '';
  before(async () => {
    peer = await startSshd();
    socksPort = await freePort();
    const p = spawn(
      'ssh',
      [
        '-v',
        '-N',
        '-D',
        `127.0.0.1:${socksPort}`,
        '-p',
        String(peer.port),
        '-i',
        peer.keyPath,
        '-o',
        `UserKnownHostsFile=${peer.knownHosts}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'ExitOnForwardFailure=yes',
        `${peer.user}@127.0.0.1`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    p.stderr!.on('data', (d) => {
      sshOut += d;
    });
    children.push(p);
    await waitPort(socksPort, () => sshOut.slice(-2000));
  });
  after(async () => {
    await peer?.stop();
  });

  test('socks5:// carries NTLM over HTTPS (channel binding strict) through ssh -D', async () => {
    assert.equal(await echo({ auth: 'ntlm', proxy: `socks5://127.0.0.1:${socksPort}` }), 'through');
    assert.match(sshOut, new RegExp(`Connection to port ${socksPort} forwarding to socks port`));
  });

  test('socks5h:// lets the proxy resolve the name (localhost)', async () => {
    const c = connect({ host: `localhost:${httpEp.port}`, username: USER, password: PASSWORD, proxy: `socks5h://127.0.0.1:${socksPort}` });
    try {
      assert.equal((await c.exec('echo', ['named'])).stdout.toString().trim(), 'named');
    } finally {
      c.close();
    }
  });

  test('SOCKS to a closed port: ProxyError from the SOCKS proxy', async () => {
    const dead = await freePort();
    const c = connect({ host: `127.0.0.1:${dead}`, username: USER, password: PASSWORD, proxy: `socks5://127.0.0.1:${socksPort}` });
    try {
      await assert.rejects(c.exec('true'), (e: unknown) => e instanceof ProxyError && /SOCKS proxy/.test((e as Error).message));
    } finally {
      c.close();
    }
  });

  test('PSRP over SSH through a jump host (ssh -J): two SSH logons, one session', async () => {
    const accepted = () => (readFileSync(join(peer.dir, 'sshd.log'), 'utf8').match(/Accepted publickey/g) ?? []).length;
    const n0 = accepted();
    const s = await Session.open({
      ...sshSessionOptions(peer),
      jump: { host: '127.0.0.1', port: peer.port },
    });
    try {
      const r = await s.invoke('whoami');
      assert.deepEqual(
        r.output.map((v) => toPlain(v)),
        [peer.user],
      );
    } finally {
      await s.close();
    }
    const log = readFileSync(join(peer.dir, 'sshd.log'), 'utf8');
    assert.ok(accepted() - n0 >= 2, `expected a logon on the jump host and one on the target:\n${log.slice(-1500)}`);
  });

  test('a jump host that cannot reach the target: ConnectError naming the jump host', async () => {
    const dead = await freePort();
    await assert.rejects(
      Session.open({
        transport: 'ssh',
        computerName: `127.0.0.1:${dead}`,
        username: peer.user,
        privateKeyPath: peer.keyPath,
        knownHostsPath: peer.knownHosts,
        jump: { host: '127.0.0.1', port: peer.port },
      }),
      (e: unknown) =>
        e instanceof ConnectError &&
        new RegExp(`jump host \\[127\\.0\\.0\\.1\\]:${peer.port} could not open a connection`).test((e as Error).message),
    );
  });

  test('CLI: ps --ssh --ssh-jump user@host:port', async () => {
    const r = await runCli(
      [
        'ps',
        '--ssh',
        '-H',
        `127.0.0.1:${peer.port}`,
        '-u',
        peer.user,
        '--ssh-key',
        peer.keyPath,
        '--known-hosts',
        peer.knownHosts,
        '--ssh-jump',
        `${peer.user}@127.0.0.1:${peer.port}`,
        '-c',
        '"jumped"',
      ],
      { timeoutMs: 90_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'jumped');
  });
});

/**
 * NTLM proxy authentication against an independent acceptor: Apache 2.4 as a CONNECT forward proxy (mod_proxy_connect)
 * guarded by mod_auth_gssapi + gss-ntlmssp, which answers `407` with `Proxy-Authenticate: Negotiate` / `NTLM`.
 */
const apachePresent =
  hasDebPackage('apache2') &&
  hasDebPackage('libapache2-mod-auth-gssapi') &&
  hasDebPackage('gss-ntlmssp') &&
  existsSync('/usr/sbin/apache2');
const skipApache = peerSkip('apache2 + mod_auth_gssapi + gss-ntlmssp (NTLM proxy)', apachePresent);

describe('Apache mod_proxy_connect + mod_auth_gssapi: NTLM proxy authentication', { skip: skipTiny || skipApache }, () => {
  // Apache's workers (www-data) read the NTLM users file: a directory of its own that they can enter
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-apache-proxy-'));
  let port = 0;
  const conf = () => join(dir, 'httpd.conf');
  before(async () => {
    chmodSync(dir, 0o755);
    port = await freePort();
    writeFileSync(join(dir, 'users'), 'EXAMPLE:proxyuser:Pr0xy-Secret\n', { mode: 0o644 });
    const mods = ['mpm_event', 'authz_core', 'authn_core', 'authz_user', 'auth_gssapi', 'proxy', 'proxy_connect'];
    writeFileSync(
      conf(),
      [
        'ServerRoot "/etc/apache2"',
        `PidFile "${dir}/httpd.pid"`,
        `Listen 127.0.0.1:${port}`,
        'ServerName localhost',
        'User www-data',
        'Group www-data',
        ...mods.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`),
        `ErrorLog "${dir}/error.log"`,
        'LogFormat "%h %u \\"%r\\" %>s" common',
        `CustomLog "${dir}/access.log" common`,
        'KeepAlive On',
        'ProxyRequests On',
        'AllowCONNECT 1-65535',
        '<Proxy "*">',
        '  AuthType GSSAPI',
        '  AuthName "winrm-ts proxy"',
        '  GssapiAllowedMech ntlmssp',
        '  GssapiConnectionBound On',
        '  GssapiBasicAuth Off',
        '  Require valid-user',
        '</Proxy>',
      ].join('\n') + '\n',
    );
    execFileSync('/usr/sbin/apache2', ['-f', conf(), '-k', 'start'], {
      env: { ...process.env, NETBIOS_DOMAIN_NAME: 'EXAMPLE', NETBIOS_COMPUTER_NAME: 'PROXY', NTLM_USER_FILE: join(dir, 'users') },
    });
    await waitPort(port, () => {
      try {
        return readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    });
  });
  after(() => {
    try {
      execFileSync('/usr/sbin/apache2', ['-f', conf(), '-k', 'stop']);
    } catch {
      /* not running */
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('407 Negotiate/NTLM: the NTLM legs share the proxy connection, the tunnel opens as EXAMPLE\\proxyuser', async () => {
    assert.equal(await echo({ auth: 'ntlm', proxy: `http://EXAMPLE%5Cproxyuser:Pr0xy-Secret@127.0.0.1:${port}` }), 'through');
    // Apache logs a CONNECT when the tunnel ends
    const want = new RegExp(`EXAMPLE\\\\\\\\proxyuser "CONNECT 127\\.0\\.0\\.1:${httpsEp.port} HTTP/1\\.1" 200`);
    const log = () => readFileSync(join(dir, 'access.log'), 'utf8');
    for (let i = 0; i < 100 && !want.test(log()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(log(), want);
  });

  test('a wrong password: the proxy rejected the NTLM credentials (407), nothing reached the host', async () => {
    await assert.rejects(echo({ proxy: `http://EXAMPLE%5Cproxyuser:wrong-Guess-3@127.0.0.1:${port}` }), (e: unknown) => {
      assert.ok(e instanceof ProxyError && e.status === 407, String(e));
      assert.match((e as Error).message, /rejected the NTLM credentials of EXAMPLE\\proxyuser/);
      assert.doesNotMatch((e as Error).message, /wrong-Guess-3/);
      return true;
    });
  });
});
