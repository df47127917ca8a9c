// `winrm-ts demo` through the CLI: no arguments, no Windows, no network; plays the double-hop story with real output
// and exits 0. Not a TTY here: no colour codes. The demo password never appears. The Kerberos step needs MIT's KDC
// tools: with WINRM_TS_REQUIRE_PEERS=1 (CI) it must be played; elsewhere it may say what to install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { hasCommand, REQUIRE_PEERS } from '../helpers/peers.js';

const kerberos = REQUIRE_PEERS || (hasCommand('krb5kdc') && hasCommand('kadmin.local'));

test('winrm-ts demo: the story (ANONYMOUS LOGON, the CredSSP fix, the guard, Kerberos delegation) with real output, exit 0', async () => {
  const r = await runCli(['demo', ...(kerberos ? ['--kerberos', 'require'] : [])], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const out = r.stdout;
  for (let n = 1; n <= 6; n++) assert.match(out, new RegExp(`Step ${n}/6`));
  // step 1: Negotiate to hostA -> example\alice
  assert.match(out, /\$ winrm-ts run -H 127\.0\.0\.1:\d+ -u 'EXAMPLE\\alice' --auth negotiate -- whoami\n\s+example\\alice\n/);
  // step 2: the real error of the real second-hop process
  assert.match(out, /winrm-ts: Access is denied.*NT AUTHORITY\\ANONYMOUS LOGON.*network logon/);
  // step 3: CredSSP with the delegate list -> hostB answers example\alice
  assert.match(
    out,
    /--auth credssp --delegate-to 'wsman\/127\.0\.0\.1' -- winrm-ts run -H 127\.0\.0\.1:\d+ -- whoami\n\s+example\\alice\n/,
  );
  assert.match(out, /Enable-WSManCredSSP -Role Client -DelegateComputer/);
  assert.match(out, /Get-WSManCredSSP/);
  assert.match(out, /Allow delegating fresh credentials with NTLM-only server authentication/);
  // step 4: the guard
  assert.match(out, /CredSSP refused: delegating your credentials to wsman\/127\.0\.0\.1 is not allowed/);
  // step 5: Kerberos delegation: anonymous without a forwarded TGT, alice on hostB with one, klist sees it
  if (kerberos) {
    assert.match(out, /--auth kerberos -- winrm-ts run -H localhost:\d+ --auth kerberos -- whoami\n\s+winrm-ts: .*ANONYMOUS LOGON/);
    assert.match(
      out,
      /--auth kerberos --kerberos-delegate -- winrm-ts run -H localhost:\d+ --auth kerberos -- whoami\n\s+example\\alice\n/,
    );
    assert.match(out, /hostB log: auth ok EXAMPLE\\alice via kerberos/);
    if (hasCommand('klist')) assert.match(out, /krbtgt\/EXAMPLE\.TEST@EXAMPLE\.TEST/);
  } else assert.match(out, /skipped: MIT Kerberos KDC tools not installed/);
  assert.match(out, /Every step behaved as expected/);
  assert.doesNotMatch(out, /UNEXPECTED/);
  assert.doesNotMatch(out, /\x1b\[/, 'no colour codes when stdout is not a terminal');
  assert.ok(!out.includes('Passw0rd') && !r.stderr.includes('Passw0rd'), 'the demo password is never printed');
});
