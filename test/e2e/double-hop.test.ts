// The seed's double hop end to end, through the CLI (acceptance C1/C2 shapes): two `winrm-ts serve` endpoints on
// loopback with the same users file; a command on hostA runs `winrm-ts run -H hostB ...` with NO credentials.
// Negotiate (a network logon on hostA) -> hostB sees NT AUTHORITY\\ANONYMOUS LOGON; CredSSP with hostA on the delegate
// list (an interactive logon) -> hostB sees alice, authenticated by hostA's logon-session broker.
// No password in either endpoint's log, nor in the environment / command line of a process on hostA.
// (Basic over HTTPS and a third hop: double-hop-more.test.ts; inside PSRP: double-hop-psrp.test.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Hosts, hop1, PASSWORD, type Endpoint } from './double-hop-helpers.js';

const hosts = new Hosts();
let A: Endpoint, B: Endpoint;
before(async () => {
  [A, B] = await Promise.all([
    hosts.start('hostA', ['--auth', 'negotiate,credssp']),
    hosts.start('hostB', ['--auth', 'negotiate,credssp']),
  ]);
});
after(() => hosts.stop());

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
  const r = await hop1(
    A,
    ['--auth', 'credssp', '--delegate-to', 'wsman/127.0.0.1'],
    `winrm-ts run -H 127.0.0.1:${B.port} -- "whoami; printenv USERNAME"`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.replace(/\r/g, '').trim().split('\n'), ['example\\alice', 'alice']);
  assert.match(A.log(), /auth ok EXAMPLE\\alice via credssp \(interactive\)/);
  assert.match(B.log(), /auth ok EXAMPLE\\alice via negotiate/);
});

test('a process on hostA holds a broker socket and capability, never the password (environ, cmdline, logs)', async () => {
  // the command on hostA is a shell started for the CredSSP logon session: print its own /proc entries
  const r = await hop1(
    A,
    ['--auth', 'credssp', '--delegate-to', 'wsman/127.0.0.1'],
    'tr "\\0" "\\n" < /proc/$$/environ; echo ---; tr "\\0" " " < /proc/$$/cmdline; echo; echo ---; ls -ld "$(dirname ' +
      '"$WINRM_TS_LOGON_BROKER")"',
  );
  assert.equal(r.code, 0, r.stderr);
  const [environ, cmdline, ls] = r.stdout.split('---\n');
  assert.match(environ!, /^WINRM_TS_LOGON_BROKER=\//m);
  assert.match(environ!, /^WINRM_TS_LOGON_TOKEN=\S{20,}/m);
  assert.match(environ!, /^USERNAME=alice$/m);
  assert.match(environ!, /^WINRM_TS_LOGON_TYPE=interactive$/m);
  assert.match(ls!, /^drwx------/, 'the broker socket lives in a private 0700 directory');
  // the logon session ended with the client's shell and connections: its broker is gone
  const brokerDir = dirname(/^WINRM_TS_LOGON_BROKER=(.+)$/m.exec(environ!)![1]!);
  for (let i = 0; i < 100 && existsSync(brokerDir); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(existsSync(brokerDir), false, 'the broker is torn down when the logon session ends');
  for (const [what, text] of [['environ', environ], ['cmdline', cmdline], ...hosts.logs()] as const) {
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
