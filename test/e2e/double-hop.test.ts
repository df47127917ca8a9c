// The seed's double hop end to end, through the CLI (acceptance C1/C2 shapes): two `winrm-ts serve` endpoints on
// loopback with the same users file; a command on hostA runs `winrm-ts run -H hostB ...` with NO credentials.
// Negotiate (a network logon on hostA) -> hostB sees NT AUTHORITY\ANONYMOUS LOGON; CredSSP with hostA on the delegate
// list, or Basic over HTTPS (interactive logons) -> hostB sees alice, authenticated by hostA's logon-session broker.
// No password in either endpoint's log, nor in the environment / command line of a process on hostA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, runCli } from '../helpers/cli.js';
import { PROJECT_ROOT } from '../helpers/peers.js';
import { selfSigned } from '../helpers/server-fixture.js';

const USER = 'EXAMPLE\\alice';
const PASSWORD = 'Passw0rd!';
const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-double-hop-'));
const usersFile = join(dir, 'users');
writeFileSync(usersFile, `${USER}:${PASSWORD}\n`);

interface Endpoint { name: string; port: number; log: () => string; child: ChildProcess }
const endpoints: Endpoint[] = [];

function startServe(name: string, args: string[]): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(['serve', '--listen', '127.0.0.1:0', '--users', usersFile, '--name', name, ...args]), {
      cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const ep: Endpoint = { name, port: 0, log: () => out, child };
    const onData = (d: Buffer) => {
      out += d.toString('utf8');
      const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m && !ep.port) { ep.port = Number(m[1]); endpoints.push(ep); resolve(ep); }
    };
    child.stdout!.on('data', onData); child.stderr!.on('data', onData);
    child.once('exit', (code) => { if (!ep.port) reject(new Error(`serve ${name} exited with ${code}: ${out}`)); });
  });
}

let A: Endpoint, B: Endpoint, AS: Endpoint;
before(async () => {
  const c = selfSigned();
  [A, B, AS] = await Promise.all([
    startServe('hostA', ['--auth', 'negotiate,credssp']),
    startServe('hostB', ['--auth', 'negotiate,credssp']),
    startServe('hostA-https', ['--auth', 'basic,negotiate', '--https', '--cert', c.certFile, '--key', join(c.dir, 'k.pem')]),
  ]);
});
after(() => {
  for (const e of endpoints) e.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const hop1 = (ep: Endpoint, auth: string[], inner: string) =>
  runCli(['run', '-H', `127.0.0.1:${ep.port}`, '-u', USER, '-p', PASSWORD, ...auth, '--', inner], { timeoutMs: 90_000 });

test('double hop with Negotiate: hostB refuses NT AUTHORITY\\ANONYMOUS LOGON and the error says why', async () => {
  const r = await hop1(A, ['--auth', 'negotiate'], `winrm-ts run -H 127.0.0.1:${B.port} -- whoami`);
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /NT AUTHORITY\\ANONYMOUS LOGON/);
  assert.match(r.stderr, /network logon/);
  assert.match(r.stderr, /--auth credssp/);
  assert.match(A.log(), /auth ok EXAMPLE\\alice via negotiate \(network\)/);
  assert.match(B.log(), /anonymous request \(NT AUTHORITY\\ANONYMOUS LOGON\) refused/);
});

test('double hop with CredSSP (--delegate-to wsman/127.0.0.1): hostB answers example\\alice / alice', async () => {
  const r = await hop1(A, ['--auth', 'credssp', '--delegate-to', 'wsman/127.0.0.1'],
    `winrm-ts run -H 127.0.0.1:${B.port} -- "whoami; printenv USERNAME"`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.replace(/\r/g, '').trim().split('\n'), ['example\\alice', 'alice']);
  assert.match(A.log(), /auth ok EXAMPLE\\alice via credssp \(interactive\)/);
  assert.match(B.log(), /auth ok EXAMPLE\\alice via negotiate/);
});

test('double hop with Basic over HTTPS: the password reached hostA (an interactive logon), so it works too', async () => {
  const r = await hop1(AS, ['--auth', 'basic', '--https', '--ca', selfSigned().certFile], `winrm-ts run -H 127.0.0.1:${B.port} -- whoami`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.replace(/\r/g, '').trim(), 'example\\alice');
});

test('a process on hostA holds a broker socket and capability, never the password (environ, cmdline, logs)', async () => {
  // the command on hostA is a shell started for the CredSSP logon session: print its own /proc entries
  const r = await hop1(A, ['--auth', 'credssp', '--delegate-to', 'wsman/127.0.0.1'],
    'tr "\\0" "\\n" < /proc/$$/environ; echo ---; tr "\\0" " " < /proc/$$/cmdline; echo; echo ---; ls -ld "$(dirname "$WINRM_TS_LOGON_BROKER")"');
  assert.equal(r.code, 0, r.stderr);
  const [environ, cmdline, ls] = r.stdout.split('---\n');
  assert.match(environ!, /^WINRM_TS_LOGON_BROKER=\//m);
  assert.match(environ!, /^WINRM_TS_LOGON_TOKEN=\S{20,}/m);
  assert.match(environ!, /^USERNAME=alice$/m);
  assert.match(environ!, /^WINRM_TS_LOGON_TYPE=interactive$/m);
  assert.match(ls!, /^drwx------/, 'the broker socket lives in a private 0700 directory');
  for (const [what, text] of [['environ', environ], ['cmdline', cmdline], ['hostA log', A.log()], ['hostB log', B.log()], ['hostA-https log', AS.log()]] as const) {
    assert.ok(!text!.includes(PASSWORD), `the password appears in ${what}`);
  }
});

test('CredSSP to a host outside the delegate list: refused before any secret leaves; hostA saw no CredSSP', async () => {
  const before = A.log().length;
  const r = await hop1(A, ['--auth', 'credssp', '--delegate-to', 'wsman/*.corp.example'], 'echo x');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /delegat/i);
  assert.match(r.stderr, /--delegate-to wsman\/127\.0\.0\.1/);
  const fresh = A.log().slice(before);
  assert.doesNotMatch(fresh, /credssp/i, `hostA log after the refusal: ${fresh}`);
});
