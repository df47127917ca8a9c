// Independent peer: pypsrp 0.9.1's Client with Basic over HTTPS (certificate checked against the endpoint's CA file)
// against our endpoint and the real pwsh 7.6.9: execute_cmd, execute_ps, a WinRS Process fed on stdin up to
// End="True", copy + fetch with the same bytes back. The HTTP authentications are in pypsrp-client.test.ts.
//
// Platform differences from a Windows host (the only deviations allowed; also listed in the README):
//  - there is no cmd.exe: WinRS commands run through /bin/sh, so `echo hi` prints "hi\n", not "hi\r\n";
//  - paths are POSIX paths (/tmp/...), not C:\...; copy/fetch take them as pypsrp passes them through;
//  - $env:USERNAME is the logon's user name (the endpoint sets it; there is no Windows profile).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { findPwsh, peerSkip, pypsrpPath } from '../helpers/peers.js';
import { selfSigned, startEndpoint } from '../helpers/server-fixture.js';
import { checkClient, runPypsrp, type ClientResult } from './fixtures/pypsrp/run.js';

const pwsh = findPwsh();
const py = pypsrpPath();
const skip = peerSkip(
  'pypsrp 0.9.1 (../shared/peers/python) + python3-requests + pwsh',
  !!py && !!pwsh,
  'run `npm run peers:install`; pypsrp comes from ../shared/peers/python',
);

let ps: PsrpEndpoint;
let https: Awaited<ReturnType<typeof startEndpoint>>;
let dir: string;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-pypsrp-'));
  ps = new PsrpEndpoint({ pwsh });
  const c = selfSigned();
  https = await startEndpoint({
    auth: ['basic'],
    allowUnencrypted: false,
    https: true,
    cert: c.cert,
    key: c.key,
    resources: ps.resources(),
  });
});
after(async () => {
  if (skip) return;
  await ps.close();
  await https.close();
  rmSync(dir, { recursive: true, force: true });
});

test('pypsrp Client with Basic over HTTPS: execute_cmd, execute_ps, WinRS stdin to EOF, copy + fetch', { skip }, async () => {
  const r = await runPypsrp<ClientResult>(py!, 'client', https.port, ['basic', 'https', selfSigned().certFile, dir, 'copy']);
  checkClient(r, true);
  assert.ok(
    https.lines.some((l) => /auth ok EXAMPLE\\alice via basic/.test(l)),
    https.lines.join('\n'),
  );
  assert.ok(!https.lines.some((l) => l.includes('Passw0rd!')), 'no password in the endpoint log');
});
