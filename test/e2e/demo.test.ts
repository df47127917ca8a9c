// `winrm-ts demo` through the CLI (acceptance C3): no arguments, no Windows, no network; plays the double-hop story
// with real output and exits 0. Not a TTY here: no colour codes. The demo password never appears.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

test('winrm-ts demo: the story (ANONYMOUS LOGON, the CredSSP fix, the guard) with real output, exit 0', async () => {
  const r = await runCli(['demo'], { timeoutMs: 50_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const out = r.stdout;
  for (let n = 1; n <= 5; n++) assert.match(out, new RegExp(`Step ${n}/5`));
  // step 1: Negotiate to hostA -> example\alice
  assert.match(out, /\$ winrm-ts run -H 127\.0\.0\.1:\d+ -u 'EXAMPLE\\alice' --auth negotiate -- whoami\n\s+example\\alice\n/);
  // step 2: the real error of the real second-hop process
  assert.match(out, /winrm-ts: Access is denied.*NT AUTHORITY\\ANONYMOUS LOGON.*network logon/);
  // step 3: CredSSP with the delegate list -> hostB answers example\alice
  assert.match(out, /--auth credssp --delegate-to 'wsman\/127\.0\.0\.1' -- winrm-ts run -H 127\.0\.0\.1:\d+ -- whoami\n\s+example\\alice\n/);
  assert.match(out, /Enable-WSManCredSSP -Role Client -DelegateComputer/);
  assert.match(out, /Get-WSManCredSSP/);
  assert.match(out, /Allow delegating fresh credentials with NTLM-only server authentication/);
  // step 4: the guard
  assert.match(out, /CredSSP refused: delegating your credentials to wsman\/127\.0\.0\.1 is not allowed/);
  assert.match(out, /Every step behaved as expected/);
  assert.doesNotMatch(out, /UNEXPECTED/);
  assert.doesNotMatch(out, /\x1b\[/, 'no colour codes when stdout is not a terminal');
  assert.ok(!out.includes('Passw0rd') && !r.stderr.includes('Passw0rd'), 'the demo password is never printed');
});
