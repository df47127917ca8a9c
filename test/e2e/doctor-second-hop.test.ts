// `winrm-ts doctor --second-hop` on two `winrm-ts serve` endpoints (the double-hop fixture): with Negotiate the second
// hop arrives as NT AUTHORITY\ANONYMOUS LOGON and doctor lists the fixes with their flags and PowerShell commands; with
// CredSSP and the host on the delegate list it arrives as alice. Through the CLI, as a user runs it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Hosts, USER, PASSWORD, type Endpoint } from './double-hop-helpers.js';
import { runCli } from '../helpers/cli.js';
import type { Report } from '../../src/cli/doctor/checks.js';

const hosts = new Hosts();
let A: Endpoint, B: Endpoint;
before(async () => {
  [A, B] = await Promise.all([
    hosts.start('hostA', ['--auth', 'negotiate,credssp']),
    hosts.start('hostB', ['--auth', 'negotiate,credssp']),
  ]);
});
after(() => hosts.stop());

const doctor = (auth: string[], extra: string[] = []) =>
  runCli(['doctor', '-H', `127.0.0.1:${A.port}`, '-u', USER, '-p', PASSWORD, ...auth, '--second-hop', `127.0.0.1:${B.port}`, ...extra], {
    timeoutMs: 90_000,
  });

test(
  'Negotiate: the second hop is ANONYMOUS LOGON; the fixes name ' + 'CredSSP, Kerberos delegation, RunAs/JEA and a passed ' + 'credential',
  async () => {
    const r = await doctor(['--auth', 'negotiate']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAILED +second hop: from 127\.0\.0\.1, 127\.0\.0\.1:\d+ sees NT AUTHORITY\\ANONYMOUS LOGON/m);
    assert.match(
      r.stdout,
      /fix: CredSSP .*--auth credssp --delegate-to wsman\/127\.0\.0\.1.*Enable-WSManCredSSP -Role Server.*Allow delegating fresh credentials.*wsman\/127\.0\.0\.1/,
    );
    assert.match(r.stdout, /fix: Kerberos delegation .*--kerberos-delegate.*TrustedForDelegation/);
    assert.match(r.stdout, /fix: a RunAs \/ JEA session configuration .*Register-PSSessionConfiguration.*--configuration-name/);
    assert.match(r.stdout, /fix: pass a credential into the script: Invoke-Command .*-Credential/);
    // the first hop itself was fine, and hostB saw the anonymous request
    assert.match(r.stdout, /^ok +authenticated round trip: .*example\\alice/m);
    assert.match(B.log(), /anonymous request \(NT AUTHORITY\\ANONYMOUS LOGON\) refused/);
    for (const [what, text] of [['stdout', r.stdout], ['stderr', r.stderr], ...hosts.logs()] as const)
      assert.ok(!text.includes(PASSWORD), `password in ${what}`);
  },
);

test('CredSSP with --delegate-to wsman/127.0.0.1: the second hop arrives as alice (--json)', async () => {
  const r = await doctor(['--auth', 'credssp', '--delegate-to', 'wsman/127.0.0.1'], ['--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  const hop = rep.checks.find((c) => c.id === 'second-hop')!;
  assert.equal(hop.status, 'ok', hop.detail);
  assert.equal(hop.data?.identity, 'example\\alice');
  assert.equal(rep.checks.find((c) => c.id === 'credssp-service')?.status, 'ok');
  assert.match(A.log(), /auth ok EXAMPLE\\alice via credssp \(interactive\)/);
});
