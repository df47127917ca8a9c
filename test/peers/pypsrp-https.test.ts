// Independent peer: pypsrp 0.9.1's Client with Basic over HTTPS (certificate checked against the endpoint's CA file)
// against our endpoint and the real pwsh 7.6.9: execute_cmd, execute_ps, a WinRS Process fed on stdin up to
// End="True", copy + fetch with the same bytes back. The HTTP authentications are in pypsrp-client.test.ts.
//
// Platform differences from a Windows host (the only deviations allowed; also listed in the README):
//  - there is no cmd.exe: WinRS commands run through /bin/sh, so `echo hi` prints "hi\n", not "hi\r\n";
//  - paths are POSIX paths (/tmp/...), not C:\...; copy/fetch take them as pypsrp passes them through;
//  - $env:USERNAME is the logon's user name (the endpoint sets it; there is no Windows profile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selfSigned } from '../helpers/server-fixture.js';
import { checkClient, pypsrpFixture, runPypsrp, type ClientResult } from './fixtures/pypsrp/run.js';

const f = pypsrpFixture(() => {
  const c = selfSigned();
  return { auth: ['basic'], allowUnencrypted: false, https: true, cert: c.cert, key: c.key };
});
const { skip, py } = f;

test('pypsrp Client with Basic over HTTPS: execute_cmd, execute_ps, WinRS stdin to EOF, copy + fetch', { skip }, async () => {
  const r = await runPypsrp<ClientResult>(py!, 'client', f.endpoint.port, ['basic', 'https', selfSigned().certFile, f.dir, 'copy']);
  checkClient(r, true);
  assert.ok(
    f.endpoint.lines.some((l) => /auth ok EXAMPLE\\alice via basic/.test(l)),
    f.endpoint.lines.join('\n'),
  );
  assert.ok(!f.endpoint.lines.some((l) => l.includes('Passw0rd!')), 'no password in the endpoint log');
});
